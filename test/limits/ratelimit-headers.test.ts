// x-ratelimit-* headers: OpenAI's reset format, and the tightest window of each unit.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WindowState } from '../../src/limits/counter-store.ts';
import type { CounterMeta, LimitUnit } from '../../src/limits/limit-plan.ts';
import { formatReset, rateLimitHeaders } from '../../src/limits/ratelimit-headers.ts';

test('formatReset: OpenAI durations', () => {
  const cases: Array<[number, string]> = [
    [0, '0ms'], [999, '999ms'], [1000, '1s'], [1500, '1.5s'], [59_999, '59.999s'],
    [60_000, '1m0s'], [360_500, '6m0.5s'], [61_001, '1m1.001s'], [3_599_999, '59m59.999s'],
  ];
  for (const [ms, text] of cases) assert.equal(formatReset(ms), text, `${ms} ms`);
});

test('formatReset: fractions round up, negatives are 0ms', () => {
  assert.equal(formatReset(0.2), '1ms');
  assert.equal(formatReset(999.5), '1s');
  assert.equal(formatReset(59_999.5), '1m0s');
  assert.equal(formatReset(-5), '0ms');
});

const meta = (entries: Array<[string, LimitUnit]>): Map<string, CounterMeta> =>
  new Map(entries.map(([id, unit]) => [id, { kind: unit === 'usd' ? 'budget' : 'window', scope: 'key', scopeId: 'k', unit, enforced: true }]));

const state = (id: string, limit: number, remaining: number, resetMs: number): WindowState => ({ id, limit, remaining, resetMs });

test('the tightest window per unit wins (fewest remaining), tokens and requests both set', () => {
  const m = meta([['rpm:key:k', 'requests'], ['rpm:team:t', 'requests'], ['tpm:key:k', 'tokens'], ['tpm:global:global', 'tokens']]);
  const headers = rateLimitHeaders([
    state('rpm:key:k', 100, 40, 90_000),
    state('tpm:key:k', 10_000, 9_000, 61_000),
    state('rpm:team:t', 1_000, 12, 1_500),
    state('tpm:global:global', 1_000_000, 2_000, 120_000),
  ], m);
  assert.deepEqual(headers, {
    'x-ratelimit-limit-requests': '1000',
    'x-ratelimit-remaining-requests': '12',
    'x-ratelimit-reset-requests': '1.5s',
    'x-ratelimit-limit-tokens': '1000000',
    'x-ratelimit-remaining-tokens': '2000',
    'x-ratelimit-reset-tokens': '2m0s',
  });
});

test('equal remaining: the later reset wins, whatever the order', () => {
  const m = meta([['rpm:key:k', 'requests'], ['rpm:team:t', 'requests']]);
  const a = state('rpm:key:k', 10, 3, 5_000);
  const b = state('rpm:team:t', 20, 3, 70_000);
  for (const windows of [[a, b], [b, a]]) {
    const headers = rateLimitHeaders(windows, m);
    assert.equal(headers['x-ratelimit-limit-requests'], '20');
    assert.equal(headers['x-ratelimit-reset-requests'], '1m10s');
  }
});

test('only requests windows: no token headers, and the reverse', () => {
  assert.deepEqual(Object.keys(rateLimitHeaders([state('rpm:key:k', 5, 4, 120_000)], meta([['rpm:key:k', 'requests']]))).sort(),
    ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests']);
  assert.deepEqual(Object.keys(rateLimitHeaders([state('tpm:key:k', 5, 4, 120_000)], meta([['tpm:key:k', 'tokens']]))).sort(),
    ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens']);
});

test('nothing set without a window (or for windows without meta)', () => {
  assert.deepEqual(rateLimitHeaders([], new Map()), {});
  assert.deepEqual(rateLimitHeaders([state('rpm:unknown', 5, 1, 1_000)], new Map()), {});
  const into = { 'x-request-id': 'r1' };
  assert.equal(rateLimitHeaders([], new Map(), into), into);
  assert.deepEqual(into, { 'x-request-id': 'r1' });
});

test('headers are added to `into`', () => {
  const into: Record<string, string> = { 'x-request-id': 'r1' };
  const out = rateLimitHeaders([state('rpm:key:k', 5, 0, 0)], meta([['rpm:key:k', 'requests']]), into);
  assert.equal(out, into);
  assert.deepEqual(into, { 'x-request-id': 'r1', 'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '0ms' });
});
