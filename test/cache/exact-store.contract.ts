// The one contract every ExactCacheStore backend passes (memory and Redis): hits and misses,
// expiry by the caller's clock, namespaces that never leak into each other (however their names
// are built), invalidation by owner and by owner + alias, writes from before an invalidation
// dropped, and large values returned intact. Every time is injected (offsets from T0); nothing
// sleeps.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CacheNamespace, ExactCacheStore } from '../../src/cache/cache-store.ts';

export interface OpenedExactStore {
  store: ExactCacheStore;
  /** A second store over the same entries on its own connection (shared backends only). The test closes it. */
  sibling?: () => Promise<ExactCacheStore>;
  /** Closes the store and removes its entries. */
  cleanup: () => Promise<void>;
}

export const T0 = Date.UTC(2030, 0, 1);
export const MINUTE = 60_000;

export function ns(owner: string, alias = 'gpt', version = '0'): CacheNamespace {
  return { owner, alias, version };
}

/** Sets `value` under the generation a get sees now, as the pipeline does after a miss. */
export async function put(store: ExactCacheStore, space: CacheNamespace, key: string, value: string, now = T0, ttlMs = 10 * MINUTE): Promise<void> {
  const { generation } = await store.get(space, key, now);
  await store.set(space, key, value, ttlMs, now, generation);
}

export async function read(store: ExactCacheStore, space: CacheNamespace, key: string, now = T0 + 1): Promise<string | undefined> {
  return (await store.get(space, key, now)).value;
}

/** Namespaces whose parts, joined naively with ":" or otherwise, collide: each must stay apart. */
export const LOOKALIKES: readonly CacheNamespace[] = [
  ns('tenant:a', 'b:c', '0'),
  ns('tenant:a:b', 'c', '0'),
  ns('tenant', 'a:b:c', '0'),
  ns('tenant:a', 'b', 'c:0'),
  ns('tenant:a', 'b%3Ac', '0'),
  ns('tenant:a%3Ab', 'c', '0'),
  ns('tenant:a}', 'b:c', '0'),
  ns('tenant:{a}', 'b:c', '0'),
  ns('tenant:a', 'b|c', '0'),
  ns('tenant:a', 'b', 'c'),
  ns('tenant:ab', 'c', '0'),
  ns('team:a', 'b:c', '0'),
  ns('key:a', 'b:c', '0'),
  ns('tenant:a', 'b:c', '1'),
  ns('tenant:a', 'b:c', ''),
  ns('tenant:a', '', 'b:c:0'),
];

export function exactStoreContract(name: string, open: () => Promise<OpenedExactStore>): void {
  const it = (title: string, work: (store: ExactCacheStore, opened: OpenedExactStore) => Promise<void>) =>
    test(title, async () => {
      const opened = await open();
      try {
        await work(opened.store, opened);
      } finally {
        await opened.cleanup();
      }
    });

  describe(`ExactCacheStore contract: ${name}`, () => {
    it('miss, then a hit of what was set; a set replaces; another key misses', async (store) => {
      const space = ns('tenant:hit');
      const miss = await store.get(space, 'k1', T0);
      assert.equal(miss.value, undefined);
      assert.equal(typeof miss.generation, 'string');
      await store.set(space, 'k1', 'first', MINUTE, T0, miss.generation);
      assert.deepEqual(await store.get(space, 'k1', T0 + 1), { value: 'first', generation: miss.generation });
      await store.set(space, 'k1', 'second', MINUTE, T0 + 2, miss.generation);
      assert.equal(await read(store, space, 'k1', T0 + 3), 'second');
      assert.equal(await read(store, space, 'k2', T0 + 3), undefined);
      assert.equal(await read(store, space, 'k1', T0 + 4), 'second', 'a hit does not consume the entry');
      await put(store, space, 'empty', '');
      assert.equal(await read(store, space, 'empty'), '', 'an empty value is a hit, not a miss');
    });

    it('expiry by the caller clock: a hit until now reaches set time + ttl, a miss from then on', async (store) => {
      const space = ns('tenant:ttl');
      await put(store, space, 'k', 'v', T0, MINUTE);
      assert.equal(await read(store, space, 'k', T0 + MINUTE - 1), 'v');
      assert.equal(await read(store, space, 'k', T0 + MINUTE), undefined);
      assert.equal(await read(store, space, 'k', T0 + 2 * MINUTE), undefined);
      // A new set starts a new lifetime.
      await put(store, space, 'k', 'again', T0 + 2 * MINUTE, 30_000);
      assert.equal(await read(store, space, 'k', T0 + 2 * MINUTE + 29_999), 'again');
      assert.equal(await read(store, space, 'k', T0 + 2 * MINUTE + 30_000), undefined);
      // A ttl of 0 (or less) stores nothing.
      await put(store, space, 'zero', 'v', T0, 0);
      await put(store, space, 'negative', 'v', T0, -5);
      assert.equal(await read(store, space, 'zero', T0), undefined);
      assert.equal(await read(store, space, 'negative', T0), undefined);
    });

    it('namespaces never share an entry: same key, owners, aliases and versions built from separators', async (store) => {
      // All written at once, all under the same request key.
      await Promise.all(LOOKALIKES.map((space, i) => put(store, space, 'same-key', `value ${i}`)));
      const values = await Promise.all(LOOKALIKES.map((space) => read(store, space, 'same-key')));
      assert.deepEqual(values, LOOKALIKES.map((_, i) => `value ${i}`));
      // Keys that would complete another namespace's name.
      await put(store, ns('tenant:k', 'b'), 'c:key', 'alias b, key c:key');
      assert.equal(await read(store, ns('tenant:k', 'b:c'), 'key'), undefined);
      assert.equal(await read(store, ns('tenant:k', 'b', 'c'), 'key'), undefined);
      assert.equal(await read(store, ns('tenant:k', 'b'), 'c:key'), 'alias b, key c:key');
      // Nobody else sees them.
      assert.equal(await read(store, ns('tenant:other'), 'same-key'), undefined);
    });

    it('namespaces stay apart under concurrent sets and gets from many owners', async (store) => {
      const owners = Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? `tenant:t${i}` : i % 3 === 1 ? `team:t${i}:x` : `key:t${i}`));
      await Promise.all(owners.flatMap((owner) => ['a', 'b'].map((alias) => put(store, ns(owner, alias), 'shared', `${owner}/${alias}`))));
      const seen = await Promise.all(owners.flatMap((owner) => ['a', 'b'].map((alias) => read(store, ns(owner, alias), 'shared'))));
      assert.deepEqual(seen, owners.flatMap((owner) => ['a', 'b'].map((alias) => `${owner}/${alias}`)));
    });

    it('invalidate(owner): every alias and version of that owner misses; every other owner still hits', async (store) => {
      const gone = [ns('tenant:a', 'x', '0'), ns('tenant:a', 'x', '7'), ns('tenant:a', 'y', '0')];
      const kept = [ns('tenant:ab', 'x'), ns('tenant:a:b', 'x'), ns('tenant', 'a'), ns('team:a', 'x'), ns('tenant:A', 'x')];
      for (const space of [...gone, ...kept]) await put(store, space, 'k', `${space.owner}/${space.alias}/${space.version}`);
      const before = (await store.get(gone[0], 'k', T0 + 1)).generation;
      await store.invalidate({ owner: 'tenant:a' });
      for (const space of gone) assert.equal(await read(store, space, 'k'), undefined, JSON.stringify(space));
      for (const space of kept) assert.equal(await read(store, space, 'k'), `${space.owner}/${space.alias}/${space.version}`, JSON.stringify(space));
      const after = await store.get(gone[0], 'k', T0 + 2);
      assert.notEqual(after.generation, before);
      // Under the new generation the owner caches again.
      await store.set(gone[0], 'k', 'fresh', MINUTE, T0 + 2, after.generation);
      assert.equal(await read(store, gone[0], 'k', T0 + 3), 'fresh');
      assert.equal(await read(store, gone[1], 'k', T0 + 3), undefined);
    });

    it('invalidate(owner, alias): that alias (every version) misses; the owner’s other aliases and other owners’ same alias hit', async (store) => {
      const gone = [ns('tenant:a', 'b', '0'), ns('tenant:a', 'b', '1')];
      const kept = [ns('tenant:a', 'b:c'), ns('tenant:a', 'bb'), ns('tenant:a', 'c'), ns('tenant:b', 'b'), ns('tenant:a:b', 'b'), ns('tenant', 'a:b')];
      for (const space of [...gone, ...kept]) await put(store, space, 'k', `${space.owner}/${space.alias}/${space.version}`);
      await store.invalidate({ owner: 'tenant:a', alias: 'b' });
      for (const space of gone) assert.equal(await read(store, space, 'k'), undefined, JSON.stringify(space));
      for (const space of kept) assert.equal(await read(store, space, 'k'), `${space.owner}/${space.alias}/${space.version}`, JSON.stringify(space));
      // And an owner invalidation after an alias one still covers that alias.
      await put(store, gone[0], 'k', 'again', T0 + 5);
      assert.equal(await read(store, gone[0], 'k', T0 + 6), 'again');
      await store.invalidate({ owner: 'tenant:a' });
      for (const space of [gone[0], ...kept.slice(0, 3)]) assert.equal(await read(store, space, 'k', T0 + 7), undefined, JSON.stringify(space));
      assert.equal(await read(store, kept[3], 'k', T0 + 7), 'tenant:b/b/0');
    });

    it('a set carrying the generation from before an invalidation is dropped, as is an unknown generation', async (store) => {
      const space = ns('tenant:race', 'm');
      const { generation } = await store.get(space, 'k', T0);
      await store.invalidate({ owner: 'tenant:race', alias: 'm' });
      await store.set(space, 'k', 'computed before the invalidation', MINUTE, T0 + 1, generation);
      assert.equal(await read(store, space, 'k', T0 + 2), undefined);
      // Nor does it displace an entry written since under the current generation.
      await put(store, space, 'k', 'current', T0 + 3);
      await store.set(space, 'k', 'late and stale', MINUTE, T0 + 4, generation);
      assert.equal(await read(store, space, 'k', T0 + 5), 'current');
      const owner = await store.get(space, 'k2', T0);
      await store.invalidate({ owner: 'tenant:race' });
      await store.set(space, 'k2', 'stale', MINUTE, T0 + 1, owner.generation);
      assert.equal(await read(store, space, 'k2', T0 + 2), undefined);
      for (const made of ['', 'bogus', '99.99', '99.99.99', `${generation}|x`]) await store.set(space, 'k3', made, MINUTE, T0, made);
      assert.equal(await read(store, space, 'k3', T0 + 1), undefined);
      // Another namespace's invalidation leaves this generation current.
      const current = await store.get(space, 'k4', T0);
      await store.invalidate({ owner: 'tenant:race', alias: 'other' });
      await store.invalidate({ owner: 'tenant:racer' });
      await store.set(space, 'k4', 'kept', MINUTE, T0 + 1, current.generation);
      assert.equal(await read(store, space, 'k4', T0 + 2), 'kept');
    });

    it('large values (hundreds of KB, any characters) come back exactly', async (store) => {
      const space = ns('tenant:big');
      const ascii = JSON.stringify({ choices: [{ message: { content: 'x'.repeat(64 * 1024) } }] });
      const mixed = Array.from({ length: 20_000 }, (_, i) => `${i}|é漢字🚀"\\\n\u0000%:{}`).join('');
      await put(store, space, 'ascii', ascii);
      await put(store, space, 'mixed', mixed);
      assert.equal(await read(store, space, 'ascii'), ascii);
      assert.equal(await read(store, space, 'mixed'), mixed);
    });

    it('stores sharing the entries see each other’s sets and invalidations (shared backends)', async (store, opened) => {
      if (!opened.sibling) return;
      const sibling = await opened.sibling();
      try {
        const space = ns('tenant:shared', 'm');
        await put(store, space, 'k', 'from the first');
        assert.equal(await read(sibling, space, 'k'), 'from the first');
        const { generation } = await store.get(space, 'k2', T0);
        await sibling.invalidate({ owner: 'tenant:shared' });
        assert.equal(await read(store, space, 'k'), undefined);
        await store.set(space, 'k2', 'stale', MINUTE, T0, generation);
        assert.equal(await read(sibling, space, 'k2'), undefined);
      } finally {
        await sibling.close();
      }
    });
  });
}
