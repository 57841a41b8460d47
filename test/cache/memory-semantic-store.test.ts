// The SemanticCacheStore contract on the in-memory backend, and its bounds: namespaces,
// entries and bytes stay within their limits under 100 000 distinct entries, and the
// generation counters are bounded without ever letting a stale store through.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySemanticStore } from '../../src/cache/memory-semantic-store.ts';
import { MINUTE, T0, embed, find, ns, put, semanticStoreContract } from './semantic-store.contract.ts';

semanticStoreContract('memory', async () => {
  const store = new MemorySemanticStore();
  return { store, cleanup: () => store.close() };
});

/** A unit vector with one component: distinct ids give orthogonal vectors (no replacement, no hashing cost). */
function basis(i: number, dims = 64): Float32Array {
  const v = new Float32Array(dims);
  v[i % dims] = i % 2 ? 0.6 : -0.6;
  v[(i * 7 + 3) % dims] = 0.8;
  return v;
}

test('memory: 100 000 distinct entries over 500 namespaces stay within maxEntries, maxBytes and maxNamespaces', async () => {
  const store = new MemorySemanticStore({ maxEntries: 5000, maxBytes: 8_000_000, maxNamespaces: 100, maxEntriesPerNamespace: 2000 });
  let peak = { namespaces: 0, entries: 0, bytes: 0 };
  for (let i = 0; i < 100_000; i++) {
    const space = ns(`tenant:${i % 500}`);
    await store.store(space, embed(`distinct prompt number ${i} about topic ${i % 977}`), `answer ${i} `.repeat(20), 10 * MINUTE, T0 + i, '0.0');
    const size = store.size();
    peak = { namespaces: Math.max(peak.namespaces, size.namespaces), entries: Math.max(peak.entries, size.entries), bytes: Math.max(peak.bytes, size.bytes) };
  }
  assert.ok(peak.namespaces <= 100, JSON.stringify(peak));
  assert.ok(peak.entries <= 5000, JSON.stringify(peak));
  assert.ok(peak.bytes <= 8_000_000, JSON.stringify(peak));
  // The most recent entries are the ones kept.
  assert.equal(await find(store, ns(`tenant:${99_999 % 500}`), `distinct prompt number 99999 about topic ${99_999 % 977}`, T0 + 100_000), `answer 99999 `.repeat(20));
  assert.equal(await find(store, ns('tenant:0'), `distinct prompt number 0 about topic 0`, T0 + 100_000), undefined);
  await store.close();
});

test('memory: bytes bound big payloads; an entry bigger than maxBytes alone is not stored', async () => {
  const store = new MemorySemanticStore({ maxBytes: 1_000_000 });
  for (let i = 0; i < 50; i++) await store.store(ns('tenant:a'), basis(i), 'x'.repeat(100_000), MINUTE, T0, '0.0');
  assert.ok(store.size().bytes <= 1_000_000 && store.size().entries < 5, JSON.stringify(store.size()));
  await store.store(ns('tenant:b'), basis(1), 'y'.repeat(600_000), MINUTE, T0, '0.0');
  assert.equal(store.size().namespaces, 1);
  assert.equal((await store.lookup(ns('tenant:b'), basis(1), 0.95, T0)).hit, undefined);
  await store.close();
});

test('memory: the least recently used namespace goes first; a lookup is a use', async () => {
  const store = new MemorySemanticStore({ maxNamespaces: 2 });
  await put(store, ns('tenant:a'), 'alpha question', 'A');
  await put(store, ns('tenant:b'), 'beta question', 'B');
  assert.equal(await find(store, ns('tenant:a'), 'alpha question'), 'A');
  await put(store, ns('tenant:c'), 'gamma question', 'C');
  assert.equal(await find(store, ns('tenant:b'), 'beta question'), undefined);
  assert.equal(await find(store, ns('tenant:a'), 'alpha question'), 'A');
  assert.equal(await find(store, ns('tenant:c'), 'gamma question'), 'C');
  await store.close();
});

test('memory: bounded generation counters never let a store from before its invalidation through', async () => {
  const store = new MemorySemanticStore({ maxGenerations: 4 });
  const vector = embed('the question');
  for (let round = 0; round < 50; round++) {
    const space = ns(`tenant:${round % 7}`, `alias${round % 3}`);
    const { generation } = await store.lookup(space, vector, 0.95, T0);
    await store.invalidate(round % 2 ? { owner: space.owner } : { owner: space.owner, alias: space.alias });
    // Other owners' invalidations push this one's counter out of the bounded map.
    for (let other = 0; other < 6; other++) await store.invalidate({ owner: `tenant:other${round}-${other}` });
    await store.store(space, vector, 'stale', MINUTE, T0, generation);
    assert.equal((await store.lookup(space, vector, 0.95, T0)).hit, undefined, `round ${round}`);
  }
  await store.close();
});

test('memory: a vector of another length misses, and replaces the namespace’s index when stored', async () => {
  const store = new MemorySemanticStore();
  await store.store(ns('tenant:a'), basis(1, 64), 'short', MINUTE, T0, '0.0');
  assert.equal((await store.lookup(ns('tenant:a'), basis(1, 128), 0.5, T0)).hit, undefined);
  await store.store(ns('tenant:a'), basis(1, 128), 'long', MINUTE, T0, '0.0');
  assert.equal((await store.lookup(ns('tenant:a'), basis(1, 128), 0.95, T0)).hit?.value, 'long');
  assert.equal((await store.lookup(ns('tenant:a'), basis(1, 64), 0.5, T0)).hit, undefined);
  await store.close();
});

test('memory: bad input and a closed store are refused', async () => {
  const store = new MemorySemanticStore();
  await assert.rejects(store.lookup(ns('tenant:a'), new Float32Array(0), 0.95, T0), TypeError);
  await assert.rejects(store.lookup(ns('tenant:a'), basis(1), 0.95, NaN), RangeError);
  await assert.rejects(store.store(ns('tenant:a'), basis(1), 'v', 0, T0, '0.0'), RangeError);
  assert.throws(() => new MemorySemanticStore({ maxEntries: 0 }), RangeError);
  await store.close();
  await assert.rejects(store.lookup(ns('tenant:a'), basis(1), 0.95, T0));
});
