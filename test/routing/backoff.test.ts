// Full-jitter backoff: the wait for retry n is random · min(max, initial · 2^n).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../src/providers/simulator/simulator-text.ts';
import { fullJitterMs } from '../../src/routing/backoff.ts';

const ALMOST_ONE = 1 - Number.EPSILON;

test('random 0 waits 0 for every retry', () => {
  for (let n = 0; n < 12; n++) assert.equal(fullJitterMs(n, 100, 5_000, () => 0), 0);
});

test('random near 1 waits just under min(max, initial · 2^n)', () => {
  const caps = [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000];
  caps.forEach((cap, n) => {
    const wait = fullJitterMs(n, 100, 5_000, () => ALMOST_ONE);
    assert.ok(wait < cap && wait > cap - 1e-9, `retry ${n}: ${wait} vs cap ${cap}`);
  });
});

test('the wait scales linearly with the random draw', () => {
  assert.equal(fullJitterMs(2, 100, 5_000, () => 0.5), 200);
  assert.equal(fullJitterMs(2, 100, 5_000, () => 0.25), 100);
  assert.equal(fullJitterMs(10, 100, 5_000, () => 0.5), 2_500);
});

test('caps are monotone in the retry number and never exceed max', () => {
  let previous = 0;
  for (let n = 0; n < 64; n++) {
    const cap = fullJitterMs(n, 7, 1_000, () => 1);
    assert.ok(cap >= previous, `retry ${n}: cap ${cap} < ${previous}`);
    assert.ok(cap <= 1_000);
    previous = cap;
  }
  assert.equal(previous, 1_000);
});

test('every draw lies in [0, cap] for a seeded spread of randoms', () => {
  const random = seededRandom(42);
  for (let i = 0; i < 2_000; i++) {
    const n = i % 10;
    const cap = Math.min(5_000, 100 * 2 ** n);
    const wait = fullJitterMs(n, 100, 5_000, random);
    assert.ok(wait >= 0 && wait < cap, `retry ${n}: ${wait} outside [0, ${cap})`);
  }
});

test('initial 0 never waits; max 0 never waits', () => {
  assert.equal(fullJitterMs(5, 0, 5_000, () => ALMOST_ONE), 0);
  assert.equal(fullJitterMs(5, 100, 0, () => ALMOST_ONE), 0);
});

test('a huge retry number stays finite (capped at max)', () => {
  assert.equal(fullJitterMs(5_000, 100, 5_000, () => 0.5), 2_500);
});
