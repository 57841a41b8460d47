// The sliding windows on their own: what a window holds as time moves, and the p95.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyWindow, RateWindow, WINDOW_SLOTS } from '../../src/alerts/sliding-window.ts';

const T = 1_800_000_000_000; // on a 10 s step
const WINDOW = 300_000; // 30 steps of 10 s

test('a rate window counts calls and hits of the last window, and forgets older steps', () => {
  const w = new RateWindow(WINDOW);
  assert.deepEqual(w.counts(T), { total: 0, hits: 0 });
  for (let i = 0; i < 10; i++) w.add(T, i < 3);
  w.add(T + 120_000, true);
  assert.deepEqual(w.counts(T + 120_000), { total: 11, hits: 4 });
  // The first step leaves the window once 30 steps have started after it.
  assert.deepEqual(w.counts(T + WINDOW - 1), { total: 11, hits: 4 });
  assert.deepEqual(w.counts(T + WINDOW), { total: 1, hits: 1 });
  assert.deepEqual(w.counts(T + 120_000 + WINDOW), { total: 0, hits: 0 });
});

test('a slot reused by a later step starts from zero', () => {
  const w = new RateWindow(WINDOW);
  w.add(T, true);
  w.add(T + WINDOW, false); // same slot, one window later
  assert.deepEqual(w.counts(T + WINDOW), { total: 1, hits: 0 });
  assert.equal(WINDOW_SLOTS, 30);
});

test('p95: nearest rank, in the right bucket, the slowest bucket topped by the slowest sample', () => {
  const w = new LatencyWindow(WINDOW);
  assert.deepEqual(w.summary(T), { count: 0 });
  for (let i = 0; i < 95; i++) w.add(T, 90);
  for (let i = 0; i < 5; i++) w.add(T, 20_000);
  const fast = w.summary(T);
  assert.equal(fast.count, 100);
  assert.ok(fast.p95! > 50 && fast.p95! <= 100, `p95 ${fast.p95} is in 90's bucket (50, 100]`);

  w.add(T, 400_000); // 101 samples: rank 96 is a slow one
  const slow = w.summary(T);
  assert.ok(slow.p95! > 15_000 && slow.p95! <= 20_000, `p95 ${slow.p95}`);

  const tail = new LatencyWindow(WINDOW);
  for (let i = 0; i < 20; i++) tail.add(T, 400_000 + i);
  const p95 = tail.summary(T).p95!;
  assert.ok(p95 > 300_000 && p95 <= 400_019, `beyond the last bound, capped by the slowest sample: ${p95}`);
});

test('a threshold given to the window is a bucket bound, so p95 > threshold is exact', () => {
  const w = new LatencyWindow(WINDOW, [5_500]);
  for (let i = 0; i < 20; i++) w.add(T, 5_400);
  assert.ok(w.summary(T).p95! <= 5_500, 'all at 5400: p95 is not above 5500');
  const v = new LatencyWindow(WINDOW, [5_500]);
  for (let i = 0; i < 20; i++) v.add(T, 5_600);
  assert.ok(v.summary(T).p95! > 5_500, 'all at 5600: p95 is above 5500');
  const exact = new LatencyWindow(WINDOW, [5_500]);
  for (let i = 0; i < 20; i++) exact.add(T, 5_500);
  assert.ok(exact.summary(T).p95! <= 5_500, 'a sample equal to the threshold is not over it');
});

test('latency samples leave with their step; bad samples are ignored', () => {
  const w = new LatencyWindow(WINDOW);
  w.add(T, 1_000);
  w.add(T, Number.NaN);
  w.add(T, -5);
  assert.equal(w.summary(T).count, 1);
  assert.equal(w.summary(T + WINDOW).count, 0);
});
