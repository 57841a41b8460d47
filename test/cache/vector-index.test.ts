// The in-process vector index: recall against brute force with planted near-neighbours (at
// exactly the threshold, where LSH is weakest), no wrong hits, lookup work bounded and far
// below the entry count, the LRU bound, deletion, expiry, and memory that follows the entries.
// Everything is seeded: the same vectors every run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LSH, VectorIndex } from '../../src/cache/vector-index.ts';

const DIMS = 256;

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
}

function unit(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  return v.map((x) => x / Math.sqrt(sum));
}

function cosine(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function vectors(seed: number) {
  const next = random(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  const randomUnit = () => unit(Float32Array.from({ length: DIMS }, gaussian));
  /** A unit vector at cosine exactly `c` to x (x unit). */
  const near = (x: Float32Array, c: number) => {
    const u = randomUnit();
    const d = cosine(u, x);
    const w = unit(u.map((v, i) => v - d * x[i]));
    return unit(x.map((v, i) => c * v + Math.sqrt(1 - c * c) * w[i]));
  };
  return { next, randomUnit, near };
}

const FAR = Number.MAX_SAFE_INTEGER;

test('vector index: recall ≥ 0.99 against brute force for neighbours at cosine 0.95 exactly, and at 0.95..1; never a wrong hit', (t) => {
  const { next, randomUnit, near } = vectors(1);
  const n = 10_000;
  const index = new VectorIndex<number>({ dims: DIMS, maxEntries: n });
  const stored: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    stored.push(randomUnit());
    index.add(`e${i}`, stored[i], FAR, i, 0);
  }
  const recall = (queries: number, similarity: () => number) => {
    let found = 0;
    for (let q = 0; q < queries; q++) {
      const target = Math.floor(next() * n);
      const query = near(stored[target], similarity());
      // Brute force: the best entry at ≥ 0.95 (the planted one, random vectors being near-orthogonal).
      let best = -1;
      let bestSimilarity = 0.95;
      for (let i = 0; i < n; i++) {
        const similarity = cosine(query, stored[i]);
        if (similarity >= bestSimilarity) [best, bestSimilarity] = [i, similarity];
      }
      assert.equal(best, target);
      const hit = index.nearest(query, 0.95, 1);
      if (hit) {
        assert.equal(hit.id, `e${hit.payload}`);
        assert.ok(Math.abs(hit.similarity - cosine(query, stored[hit.payload])) < 1e-5);
        assert.ok(hit.similarity >= 0.95);
      }
      if (hit?.payload === target) found++;
    }
    return found / queries;
  };
  const atThreshold = recall(700, () => 0.9501);
  const above = recall(300, () => 0.95 + 0.05 * next());
  t.diagnostic(`recall at cosine 0.95: ${atThreshold}; at 0.95..1: ${above}`);
  assert.ok(atThreshold >= 0.99, `recall at cosine 0.95: ${atThreshold}`);
  assert.ok(above >= 0.995, `recall at cosine 0.95..1: ${above}`);
  // Unrelated queries find nothing.
  for (let q = 0; q < 200; q++) assert.equal(index.nearest(randomUnit(), 0.95, 1), undefined);
});

test('vector index: a lookup examines a bounded number of entries, far fewer than it holds', (t) => {
  const { randomUnit, near } = vectors(2);
  const index = new VectorIndex<null>({ dims: DIMS, maxEntries: 50_000, maxCandidates: 500 });
  const stored: Float32Array[] = [];
  for (let i = 0; i < 20_000; i++) {
    stored.push(randomUnit());
    index.add(String(i), stored[i], FAR, null, 0);
  }
  let examined = 0;
  for (let q = 0; q < 500; q++) {
    index.nearest(q % 2 ? randomUnit() : near(stored[q], 0.97), 0.95, 1);
    assert.ok(index.lastExamined <= 500);
    examined += index.lastExamined;
  }
  t.diagnostic(`mean entries examined of 20 000: ${examined / 500}`);
  assert.ok(examined / 500 < 20, `mean entries examined: ${examined / 500}`);
  // A crowd of near-identical entries is cut off at maxCandidates.
  const crowd = new VectorIndex<null>({ dims: DIMS, maxEntries: 5000, maxCandidates: 300 });
  const centre = randomUnit();
  for (let i = 0; i < 3000; i++) crowd.add(String(i), near(centre, 0.9), FAR, null, 0);
  crowd.nearest(centre, 0.95, 1);
  assert.equal(crowd.lastExamined, 300);
});

test('vector index: holds maxEntries, evicting the least recently used; a hit is a use', () => {
  const { randomUnit } = vectors(3);
  const index = new VectorIndex<string>({ dims: DIMS, maxEntries: 3 });
  const [a, b, c, d] = [randomUnit(), randomUnit(), randomUnit(), randomUnit()];
  index.add('a', a, FAR, 'A', 0);
  index.add('b', b, FAR, 'B', 0);
  index.add('c', c, FAR, 'C', 0);
  assert.equal(index.oldest(), 'a');
  assert.equal(index.nearest(a, 0.99, 1)?.payload, 'A');
  assert.equal(index.oldest(), 'b');
  assert.equal(index.add('d', d, FAR, 'D', 0), true);
  assert.equal(index.size, 3);
  assert.equal(index.has('b'), false);
  assert.equal(index.nearest(b, 0.99, 1), undefined);
  for (const [v, p] of [[a, 'A'], [c, 'C'], [d, 'D']] as const) assert.equal(index.nearest(v, 0.99, 1)?.payload, p);
  // An id already there is not added again.
  assert.equal(index.add('d', a, FAR, 'other', 0), false);
  assert.equal(index.nearest(d, 0.99, 1)?.payload, 'D');
});

test('vector index: deletion; the nearest of several; the vector is copied; another length is refused', () => {
  const { randomUnit, near } = vectors(4);
  const index = new VectorIndex<string>({ dims: DIMS, maxEntries: 100 });
  const x = randomUnit();
  const close = near(x, 0.99);
  const closer = near(x, 0.995);
  index.add('close', close, FAR, 'close', 0);
  index.add('closer', closer, FAR, 'closer', 0);
  assert.equal(index.nearest(x, 0.95, 1)?.id, 'closer');
  assert.equal(index.delete('closer'), true);
  assert.equal(index.delete('closer'), false);
  assert.equal(index.nearest(x, 0.95, 1)?.id, 'close');
  assert.equal(index.nearest(x, 0.995, 1), undefined);
  close.fill(0);
  assert.equal(index.nearest(x, 0.95, 1)?.id, 'close');
  assert.throws(() => index.nearest(new Float32Array(DIMS + 1), 0.95, 1), RangeError);
  assert.throws(() => index.add('bad', new Float32Array(8), FAR, 'bad', 0), RangeError);
  assert.equal(index.size, 1);
});

test('vector index: an expired entry is never returned, and is dropped when met or swept by later adds', () => {
  const { randomUnit } = vectors(5);
  const index = new VectorIndex<null>({ dims: DIMS, maxEntries: 1000 });
  const x = randomUnit();
  index.add('x', x, 1000, null, 0);
  assert.equal(index.nearest(x, 0.95, 999)?.id, 'x');
  assert.equal(index.nearest(x, 0.95, 1000), undefined);
  assert.equal(index.size, 0);
  // Entries nobody looks up again go as later adds pass their slots.
  for (let i = 0; i < 100; i++) index.add(`old${i}`, randomUnit(), 2000, null, 0);
  for (let i = 0; i < 100; i++) index.add(`new${i}`, randomUnit(), FAR, null, 3000);
  assert.equal(index.size, 100);
});

test('vector index: memory follows the entries — it grows with them and shrinks when they go', () => {
  const { randomUnit } = vectors(6);
  const index = new VectorIndex<null>({ dims: DIMS, maxEntries: 10_000 });
  const empty = index.bytes;
  for (let i = 0; i < 4096; i++) index.add(String(i), randomUnit(), FAR, null, 0);
  const full = index.bytes;
  assert.ok(full > 4096 * DIMS * 4 && full < 2 * 4096 * (DIMS * 4 + 400), `${full} bytes`);
  for (let i = 0; i < 4090; i++) index.delete(String(i));
  assert.ok(index.bytes < 64 * (DIMS * 4 + 400), `${index.bytes} bytes after deleting`);
  assert.ok(index.bytes >= empty);
  for (let i = 4090; i < 4096; i++) assert.equal(index.has(String(i)), true);
  assert.equal(index.oldest(), '4090');
});

test('vector index: the default LSH parameters', () => {
  assert.deepEqual(DEFAULT_LSH, { tables: 12, bits: 22, probes: 16, seed: 0x5eed });
});
