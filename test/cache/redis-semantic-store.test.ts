// The SemanticCacheStore contract on the machine's real Redis (TOLLGATE_TEST_REDIS_URL, default
// 127.0.0.1:6379) under a key prefix per run, removed afterwards; three stores sharing a prefix
// as three replicas (a store on one is found by the others once their tailers caught up; an
// invalidation on one is seen by all at once); a replica started later loads the stream; a
// payload gone from Redis is a miss; local memory stays bounded; the key layout; and calls
// failing when Redis is down. Syncs are awaited by polling with a deadline, never by sleeping.
// Unreachable Redis: the tests that need it are skipped, or fail under CI.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient } from '@redis/client';
import { RedisSemanticStore, type RedisSemanticStoreOptions } from '../../src/cache/redis-semantic-store.ts';
import { CacheStoreUnavailable } from '../../src/cache/redis-cache-connection.ts';
import { freePort } from '../helpers/free-port.ts';
import { openTestRedis } from '../helpers/test-redis.ts';
import { MINUTE, T0, embed, eventually, find, ns, put, semanticStoreContract } from './semantic-store.contract.ts';

const redis = await openTestRedis('the Redis semantic cache tests');
const skip = redis.unreachable ?? false;
let admin: ReturnType<typeof createClient> | undefined;
before(async () => {
  if (skip) return;
  admin = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
  admin.on('error', () => undefined);
  await admin.connect();
});
after(async () => {
  if (admin?.isOpen) await admin.close();
  await redis.cleanup();
});

const open = (keyPrefix: string, extra: Partial<RedisSemanticStoreOptions> = {}) => new RedisSemanticStore({ url: redis.url, keyPrefix, ...extra });

/** Opens stores on one prefix, runs, closes them all. */
async function replicas(count: number, work: (stores: RedisSemanticStore[], prefix: string) => Promise<void>, extra: Partial<RedisSemanticStoreOptions> = {}): Promise<void> {
  const prefix = redis.prefix();
  const stores = Array.from({ length: count }, () => open(prefix, extra));
  try {
    await work(stores, prefix);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

const QUESTION = 'How do I rotate the signing key of the staging project?';

if (skip) {
  test('SemanticCacheStore contract: Redis, and the Redis-only tests', { skip: `${skip}; skipped` }, () => undefined);
} else {
  semanticStoreContract('Redis', async () => {
    const store = open(redis.prefix());
    return { store, cleanup: () => store.close() };
  });

  test('redis: three replicas — a store on one is found by the others once synced; an invalidation on one is seen by all at once', () =>
    replicas(3, async ([a, b, c]) => {
      const space = ns('tenant:a');
      await put(a, space, QUESTION, 'from a');
      assert.equal(await find(a, space, QUESTION), 'from a');
      for (const other of [b, c]) await eventually('the other replicas find the entry', async () => (await find(other, space, QUESTION.toLowerCase())) === 'from a');
      // Stores on b and c, found everywhere.
      await put(b, ns('tenant:b'), QUESTION, 'from b');
      await put(c, space, 'Which regions does the invoice export run in?', 'from c');
      for (const store of [a, b, c]) {
        await eventually('every replica finds every entry', async () => (await find(store, ns('tenant:b'), QUESTION)) === 'from b' && (await find(store, space, 'which regions does the invoice export run in')) === 'from c');
        assert.equal(await find(store, ns('tenant:c'), QUESTION, T0 + 1, 0.01), undefined);
      }
      // A lookup on c before the invalidation, then the invalidation on b: at once, nobody hits,
      // and c's store with its old generation is dropped.
      const { generation } = await c.lookup(space, embed(QUESTION), 0.95, T0);
      await b.invalidate({ owner: 'tenant:a' });
      for (const store of [a, b, c]) assert.equal(await find(store, space, QUESTION), undefined);
      await c.store(space, embed(QUESTION), 'stale', 10 * MINUTE, T0, generation);
      for (const store of [a, b, c]) assert.equal(await find(store, space, QUESTION), undefined);
      // tenant:b is untouched; the invalidation event empties every replica's local index of tenant:a.
      for (const store of [a, b, c]) assert.equal(await find(store, ns('tenant:b'), QUESTION), 'from b');
      await eventually('the invalidation event reaches every replica', async () => [a, b, c].every((store) => store.size().namespaces === 1));
    }));

  test('redis: a replica started later loads the recent entries from the stream', () =>
    replicas(1, async ([first], prefix) => {
      for (let i = 0; i < 300; i++) await put(first, ns(`tenant:${i % 3}`), `question ${i} about the deployment pipeline`, `answer ${i}`);
      await first.invalidate({ owner: 'tenant:2' });
      const late = open(prefix);
      try {
        await eventually('the late replica loads the stream', async () => late.size().entries === 200);
        assert.equal(await find(late, ns('tenant:1'), 'question 151 about the deployment pipeline'), 'answer 151');
        assert.equal(await find(late, ns('tenant:2'), 'question 152 about the deployment pipeline'), undefined);
      } finally {
        await late.close();
      }
    }));

  test('redis: a payload gone from Redis (expired, evicted) is a miss, and the local entry goes too', () =>
    replicas(1, async ([store], prefix) => {
      await put(store, ns('tenant:a'), QUESTION, 'answer');
      assert.equal(store.size().entries, 1);
      const keys = await admin!.keys(`${prefix}cache:s:e:*`);
      assert.equal(keys.length, 1);
      await admin!.del(keys);
      assert.equal(await find(store, ns('tenant:a'), QUESTION), undefined);
      assert.equal(store.size().entries, 0);
    }));

  test('redis: local memory stays within its bounds while 20 000 distinct entries stream past', () =>
    replicas(2, async ([writer, reader]) => {
      const bounds = { maxEntries: 1000, maxNamespaces: 20, maxEntriesPerNamespace: 400 };
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(Array.from({ length: 1000 }, (_, j) => {
          const i = batch * 1000 + j;
          return writer.store(ns(`tenant:${i % 50}`), embed(`distinct prompt ${i} on subject ${i % 331}`), `answer ${i}`, 10 * MINUTE, T0, '0.0');
        }));
        for (const store of [writer, reader]) {
          const size = store.size();
          assert.ok(size.entries <= bounds.maxEntries && size.namespaces <= bounds.maxNamespaces, JSON.stringify(size));
        }
      }
      await eventually('the reader catches up with the last entry', async () => (await find(reader, ns('tenant:49'), 'distinct prompt 19999 on subject 139')) === 'answer 19999');
    }, { maxEntries: 1000, maxNamespaces: 20, maxEntriesPerNamespace: 400, streamMaxLength: 2000 }));

  test('redis: the key layout — payloads with a TTL, generations without, one capped stream', () =>
    replicas(1, async ([store], prefix) => {
      await put(store, ns('tenant:a:b', 'gpt{x}', 'v%1'), QUESTION, 'answer', T0, MINUTE);
      await store.invalidate({ owner: 'tenant:z', alias: 'gpt' });
      const keys = (await admin!.keys(`${prefix}*`)).map((key) => key.slice(prefix.length)).sort();
      assert.equal(keys.length, 3, keys.join(' '));
      assert.equal(keys[0], 'cache:s:e:tenant%3Aa%3Ab:gpt%7Bx%7D:v%251:' + keys[0].split(':').at(-1));
      assert.deepEqual(keys.slice(1), ['cache:s:g:tenant%3Az:gpt', 'cache:s:log']);
      const ttl = await admin!.pTTL(`${prefix}${keys[0]}`);
      assert.ok(ttl > MINUTE && ttl <= MINUTE + 5_000, String(ttl));
      assert.equal(await admin!.pTTL(`${prefix}cache:s:g:tenant%3Az:gpt`), -1);
      assert.equal(await admin!.xLen(`${prefix}cache:s:log`), 2);
    }));

  test('redis: Redis down — calls fail fast as CacheStoreUnavailable, and close() returns', async () => {
    const port = await freePort();
    const store = new RedisSemanticStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'tg-test-down:', connectTimeoutMs: 200, commandTimeoutMs: 200 });
    await assert.rejects(store.lookup(ns('tenant:a'), embed(QUESTION), 0.95, T0), CacheStoreUnavailable);
    await assert.rejects(store.store(ns('tenant:a'), embed(QUESTION), 'v', MINUTE, T0, '0.0'), CacheStoreUnavailable);
    await assert.rejects(store.invalidate({ owner: 'tenant:a' }), CacheStoreUnavailable);
    await store.close();
    await assert.rejects(store.lookup(ns('tenant:a'), embed(QUESTION), 0.95, T0), CacheStoreUnavailable);
  });
}
