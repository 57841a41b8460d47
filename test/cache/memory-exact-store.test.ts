// The ExactCacheStore contract on the in-memory backend, and how it stays bounded: by entries,
// by bytes, least recently used first, and in its generation counters.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENTRY_OVERHEAD_BYTES, MemoryExactStore } from '../../src/cache/memory-exact-store.ts';
import { MINUTE, T0, exactStoreContract, ns, put, read } from './exact-store.contract.ts';

exactStoreContract('memory', async () => {
  const store = new MemoryExactStore({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
  return { store, cleanup: () => store.close() };
});

test('memory: 100 000 distinct inserts never take it past maxEntries or maxBytes', async () => {
  const bounds = [
    { maxEntries: 100, maxBytes: 1_000_000 },
    { maxEntries: 100_000, maxBytes: 20_000 },
  ];
  for (const { maxEntries, maxBytes } of bounds) {
    const store = new MemoryExactStore({ maxEntries, maxBytes });
    let most = { entries: 0, bytes: 0 };
    for (let i = 0; i < 100_000; i++) {
      await store.set(ns(`tenant:t${i % 97}`, `alias${i % 5}`), `key-${i}`, 'v'.repeat(i % 300), 1000 * MINUTE, T0 + i, '0.0.0');
      const { entries, bytes } = store.size();
      most = { entries: Math.max(most.entries, entries), bytes: Math.max(most.bytes, bytes) };
    }
    assert.ok(most.entries <= maxEntries, `${most.entries} entries > ${maxEntries}`);
    assert.ok(most.bytes <= maxBytes, `${most.bytes} bytes > ${maxBytes}`);
    assert.ok(most.entries > 0 && store.size().entries > 0);
    // The newest entry is there; the first long gone.
    const last = 99_999;
    assert.equal(await read(store, ns(`tenant:t${last % 97}`, `alias${last % 5}`), `key-${last}`, T0 + 100_000), 'v'.repeat(last % 300));
    assert.equal(await read(store, ns('tenant:t0', 'alias0'), 'key-0', T0 + 100_000), undefined);
  }
});

test('memory: least recently used goes first, and a hit counts as a use', async () => {
  const store = new MemoryExactStore({ maxEntries: 3, maxBytes: 1_000_000 });
  const space = ns('tenant:lru');
  for (const key of ['a', 'b', 'c']) await put(store, space, key, key);
  assert.equal(await read(store, space, 'a'), 'a');
  await put(store, space, 'd', 'd');
  assert.deepEqual(await Promise.all(['a', 'b', 'c', 'd'].map((key) => read(store, space, key))), ['a', undefined, 'c', 'd']);
  // Replacing an entry does not add one.
  await put(store, space, 'c', 'c2');
  assert.equal(store.size().entries, 3);
});

test('memory: bytes are estimated as 2 × (value + key) + overhead; a replaced or evicted entry gives its bytes back', async () => {
  const store = new MemoryExactStore({ maxEntries: 100, maxBytes: 10_000 });
  const space = ns('tenant:bytes');
  await put(store, space, 'k', 'x'.repeat(1000));
  const one = store.size().bytes;
  assert.ok(one >= 2000 + ENTRY_OVERHEAD_BYTES && one < 2200 + ENTRY_OVERHEAD_BYTES, `${one}`);
  await put(store, space, 'k', 'x'.repeat(1000));
  assert.equal(store.size().bytes, one);
  // A value bigger than maxBytes on its own is not stored, and evicts nothing.
  await put(store, space, 'huge', 'x'.repeat(6000));
  assert.equal(await read(store, space, 'huge'), undefined);
  assert.deepEqual(store.size(), { entries: 1, bytes: one, generations: 0 });
  // Four of these fit in 10 000 bytes, not five: the oldest goes.
  for (const key of ['a', 'b', 'c', 'd']) await put(store, space, key, 'y'.repeat(1000));
  assert.equal(store.size().entries, 4);
  assert.equal(await read(store, space, 'k'), undefined);
  await store.close();
  assert.deepEqual(store.size(), { entries: 0, bytes: 0, generations: 0 });
});

test('memory: stale and expired entries are dropped when read', async () => {
  const store = new MemoryExactStore({ maxEntries: 100, maxBytes: 1_000_000 });
  await put(store, ns('tenant:a'), 'k', 'v', T0, MINUTE);
  await put(store, ns('tenant:b'), 'k', 'v', T0, MINUTE);
  await store.invalidate({ owner: 'tenant:a' });
  assert.equal(store.size().entries, 2, 'invalidation is lazy');
  assert.equal(await read(store, ns('tenant:a'), 'k'), undefined);
  assert.equal(await read(store, ns('tenant:b'), 'k', T0 + MINUTE), undefined);
  assert.deepEqual(store.size(), { entries: 0, bytes: 0, generations: 1 });
});

test('memory: generation counters are bounded; past the bound all reset, and nothing from before is served or stored', async () => {
  const store = new MemoryExactStore({ maxEntries: 100, maxBytes: 1_000_000, maxGenerations: 10 });
  const space = ns('tenant:g', 'm');
  await put(store, space, 'k', 'v');
  const before = await store.get(space, 'in-flight', T0);
  for (let i = 0; i < 1000; i++) {
    await store.invalidate({ owner: `tenant:x${i}`, alias: i % 2 ? 'm' : undefined });
    assert.ok(store.size().generations <= 10);
  }
  // The reset made every earlier generation stale: the entry and the in-flight set are gone.
  assert.equal(await read(store, space, 'k'), undefined);
  await store.set(space, 'in-flight', 'computed before the reset', MINUTE, T0, before.generation);
  assert.equal(await read(store, space, 'in-flight'), undefined);
  await put(store, space, 'k', 'after');
  assert.equal(await read(store, space, 'k'), 'after');
});

test('memory: options and times are checked', async () => {
  assert.throws(() => new MemoryExactStore({ maxEntries: 0, maxBytes: 1 }), RangeError);
  assert.throws(() => new MemoryExactStore({ maxEntries: 1, maxBytes: 1.5 }), RangeError);
  const store = new MemoryExactStore({ maxEntries: 1, maxBytes: 1_000 });
  await assert.rejects(store.get(ns('tenant:a'), 'k', Number.NaN), RangeError);
  await assert.rejects(store.set(ns('tenant:a'), 'k', 'v', Number.POSITIVE_INFINITY, T0, '0.0.0'), RangeError);
});
