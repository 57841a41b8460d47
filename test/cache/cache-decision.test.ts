// Which requests may use the response cache, and how: modes of alias, team and tenant, the
// request's controls (headers and LiteLLM's body field), the default skips, and the namespace.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheControls } from '../../src/cache/cache-controls.ts';
import { decideCache } from '../../src/cache/cache-decision.ts';
import { cacheSchema, cacheSettings } from '../../src/config/cache-schema.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';

function settings(input: Record<string, unknown> = {}, aliases: Record<string, Record<string, unknown> | undefined> = { faq: undefined }) {
  return cacheSettings(cacheSchema.parse({ enabled: true, ...input }), false, new Map(Object.entries(aliases)) as never);
}
const chat = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: 'hi' }], ...extra });
const none = cacheControls({}, {});

test('the namespace owner is the tenant, else the team, else the key; the version comes from the header or config', () => {
  const s = settings({ namespace_version: 'kb-7' });
  const d = decideCache(s, 'faq', { tenantId: 'acme', teamId: 't', keyId: 'k' }, none, chat());
  assert.ok(d.use);
  assert.deepEqual(d.ns, { owner: 'tenant:acme', alias: 'faq', version: 'kb-7' });
  const team = decideCache(s, 'faq', { teamId: 't', keyId: 'k' }, cacheControls({ 'x-cache-namespace-version': 'kb-8' }, {}), chat());
  assert.ok(team.use);
  assert.deepEqual(team.ns, { owner: 'team:t', alias: 'faq', version: 'kb-8' });
  const key = decideCache(s, 'faq', { keyId: 'k' }, cacheControls({}, { cache: { namespace: 'docs' } }), chat());
  assert.ok(key.use);
  assert.deepEqual(key.ns, { owner: 'key:k', alias: 'faq', version: 'kb-7 docs' });
  assert.deepEqual(decideCache(s, 'faq', {}, none, chat()), { use: false, reason: 'no_owner' });
});

test('modes: off anywhere wins, a never tenant cannot be opted in, default_off needs an opt-in', () => {
  const s = settings({ teams: { research: 'default_off', legacy: 'off' }, tenants: { hospital: 'never', calm: 'on' } }, { faq: undefined, raw: { mode: 'off' } });
  assert.deepEqual(decideCache(s, 'raw', { tenantId: 'calm' }, none, chat()), { use: false, reason: 'mode_off' });
  assert.deepEqual(decideCache(s, 'faq', { tenantId: 'calm', teamId: 'legacy' }, none, chat()), { use: false, reason: 'mode_off' });
  const optIn = cacheControls({ 'x-gateway-cache': 'use' }, {});
  assert.deepEqual(decideCache(s, 'faq', { tenantId: 'hospital' }, optIn, chat()), { use: false, reason: 'tenant_never' });
  assert.deepEqual(decideCache(s, 'faq', { teamId: 'research' }, none, chat()), { use: false, reason: 'not_opted_in' });
  assert.equal(decideCache(s, 'faq', { teamId: 'research' }, optIn, chat()).use, true);
  assert.equal(decideCache(s, 'faq', { teamId: 'research' }, cacheControls({}, { cache: { 'use-cache': true } }), chat()).use, true);
  assert.equal(decideCache(settings({ mode: 'default_off' }), 'faq', { tenantId: 'x' }, none, chat()).use, false);
});

test('skipped by default: tools offered, a tool turn, n > 1, a temperature above the limit', () => {
  const s = settings({ max_temperature: 0.5 });
  const who = { tenantId: 'acme' };
  assert.deepEqual(decideCache(s, 'faq', who, none, chat({ tools: [{ type: 'function', function: { name: 'f' } }] })), { use: false, reason: 'tool_call' });
  assert.deepEqual(decideCache(s, 'faq', who, none, { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ id: '1' }] }, { role: 'tool', content: 'r' }] }), { use: false, reason: 'tool_call' });
  assert.deepEqual(decideCache(s, 'faq', who, none, { messages: [{ role: 'user', content: [{ type: 'tool_result', content: 'r' }] }] }), { use: false, reason: 'tool_call' });
  assert.deepEqual(decideCache(s, 'faq', who, none, chat({ n: 2 })), { use: false, reason: 'n_above_1' });
  assert.deepEqual(decideCache(s, 'faq', who, none, chat({ temperature: 0.7 })), { use: false, reason: 'temperature' });
  assert.equal(decideCache(s, 'faq', who, none, chat({ temperature: 0.5, n: 1, tools: [] })).use, true);
});

test('request controls: no-cache, no-store, max-age, ttl; both no-cache and no-store skip', () => {
  const s = settings({ ttl_seconds: 100 }, { faq: { ttl_seconds: 50, similarity_threshold: 0.97 } });
  const who = { tenantId: 'acme' };
  const d = decideCache(s, 'faq', who, cacheControls({ 'cache-control': 'no-cache, max-age=30' }, { cache: { ttl: 20 } }), chat());
  assert.ok(d.use);
  assert.deepEqual([d.lookup, d.store, d.ttlMs, d.maxAgeMs, d.threshold], [false, true, 20_000, 30_000, 0.97]);
  const plain = decideCache(s, 'faq', who, none, chat());
  assert.ok(plain.use);
  assert.deepEqual([plain.lookup, plain.store, plain.ttlMs, plain.maxAgeMs], [true, true, 50_000, Infinity]);
  const noStore = decideCache(s, 'faq', who, cacheControls({ 'cache-control': 'no-store' }, {}), chat());
  assert.ok(noStore.use && noStore.lookup && !noStore.store);
  assert.deepEqual(decideCache(s, 'faq', who, cacheControls({ 'cache-control': 'no-store' }, { cache: { 'no-cache': true } }), chat()), { use: false, reason: 'no_cache_no_store' });
  const zero = decideCache(s, 'faq', who, cacheControls({ 'cache-control': 'max-age=0' }, {}), chat());
  assert.ok(zero.use && !zero.lookup, 'max-age=0 accepts no cached answer');
  assert.equal(cacheControls({ 'cache-control': 'private, max-age=abc, no-transform' }, {}).maxAgeMs, undefined, 'unknown or bad directives are ignored');
});

test('a malformed body cache field or version header is invalid_request naming the field', () => {
  const bad = (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    try {
      cacheControls(headers, body);
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      return [err.code, err.param];
    }
    return undefined;
  };
  assert.deepEqual(bad({ cache: { ttl: -1 } }), ['invalid_request', 'cache.ttl']);
  assert.deepEqual(bad({ cache: { 'no-store': 'yes' } }), ['invalid_request', 'cache.no-store']);
  assert.deepEqual(bad({ cache: { namespace: 'a b' } }), ['invalid_request', 'cache.namespace']);
  assert.deepEqual(bad({ cache: [] }), ['invalid_request', 'cache']);
  assert.deepEqual(bad({}, { 'x-cache-namespace-version': 'x'.repeat(65) }), ['invalid_request', 'x-cache-namespace-version']);
  assert.equal(bad({ cache: null }), undefined);
});

test('config: similarity_threshold (LiteLLM) or threshold, per-alias override, redis backend by default with redis:', () => {
  const s = cacheSettings(cacheSchema.parse({ enabled: true, semantic: { enabled: true, similarity_threshold: 0.9 } }), true, new Map([['a', undefined], ['b', { similarity_threshold: 0.99, semantic: false }]]) as never);
  assert.equal(s.backend, 'redis');
  assert.equal(s.aliases.get('a')!.threshold, 0.9);
  assert.deepEqual([s.aliases.get('b')!.threshold, s.aliases.get('b')!.semantic], [0.99, false]);
  assert.equal(cacheSettings(cacheSchema.parse({}), false, new Map()).semantic.threshold, 0.95);
  assert.throws(() => cacheSchema.parse({ mode: 'sometimes' }), /on, default_off or off/);
  assert.throws(() => cacheSchema.parse({ tenants: { a: 'always' } }), /never/);
});
