// The ExactCacheStore contract on the machine's real Redis (TOLLGATE_TEST_REDIS_URL, default
// 127.0.0.1:6379) under a key prefix per run, removed afterwards; three stores sharing a prefix
// as three replicas; the key layout and expiry; and how calls fail when Redis is down, silent or
// stops answering. Unreachable Redis: the tests that need it are skipped, or fail under CI.

import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { createClient } from '@redis/client';
import { EXPIRY_GRACE_MS, RedisExactStore } from '../../src/cache/redis-exact-store.ts';
import { CacheStoreUnavailable } from '../../src/cache/redis-cache-connection.ts';
import { closedPort } from '../helpers/fake-openai-upstream.ts';
import { openTestRedis } from '../helpers/test-redis.ts';
import { MINUTE, T0, exactStoreContract, ns, put, read } from './exact-store.contract.ts';

const redis = await openTestRedis('the Redis exact cache tests');
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

const open = (keyPrefix: string, extra: { commandTimeoutMs?: number; url?: string } = {}) => new RedisExactStore({ url: redis.url, keyPrefix, ...extra });

if (skip) {
  test('ExactCacheStore contract: Redis, and the Redis-only tests', { skip: `${skip}; skipped` }, () => undefined);
} else {
  exactStoreContract('Redis', async () => {
    const keyPrefix = redis.prefix();
    const store = open(keyPrefix);
    return { store, sibling: async () => open(keyPrefix), cleanup: () => store.close() };
  });
}

test('Redis: three stores on one prefix (three replicas) see each other’s writes and invalidations at once', { skip }, async () => {
  const keyPrefix = redis.prefix();
  const [a, b, c] = [open(keyPrefix), open(keyPrefix), open(keyPrefix)];
  try {
    const space = ns('tenant:acme', 'chat');
    await put(a, space, 'k', 'written by a');
    assert.equal(await read(b, space, 'k'), 'written by a');
    assert.equal(await read(c, space, 'k'), 'written by a');
    // b starts computing an answer; c invalidates; b's write is dropped and nobody serves the old entry.
    const seen = await b.get(space, 'k2', T0);
    await c.invalidate({ owner: 'tenant:acme', alias: 'chat' });
    await b.set(space, 'k2', 'computed before the invalidation', MINUTE, T0, seen.generation);
    for (const store of [a, b, c]) {
      assert.equal(await read(store, space, 'k'), undefined);
      assert.equal(await read(store, space, 'k2'), undefined);
    }
    // Concurrent writes from all three, for many owners, land in their own namespaces.
    const owners = Array.from({ length: 60 }, (_, i) => `tenant:r${i}`);
    await Promise.all(owners.map((owner, i) => put([a, b, c][i % 3], ns(owner, 'chat'), 'same', owner)));
    const values = await Promise.all(owners.map((owner, i) => read([c, a, b][i % 3], ns(owner, 'chat'), 'same')));
    assert.deepEqual(values, owners);
    await a.invalidate({ owner: 'tenant:r1' });
    assert.equal(await read(c, ns('tenant:r1', 'chat'), 'same'), undefined);
    assert.equal(await read(c, ns('tenant:r2', 'chat'), 'same'), 'tenant:r2');
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('Redis: key layout under the prefix; entries expire by PX ttl + grace; generation keys never expire', { skip }, async () => {
  const keyPrefix = redis.prefix();
  const store = open(keyPrefix);
  try {
    await put(store, ns('tenant:a', 'b:c', '0'), 'k:1', 'v', T0, 2 * MINUTE);
    await store.invalidate({ owner: 'tenant:a', alias: 'b:c' });
    await store.invalidate({ owner: 'tenant:{x}' });
    await put(store, ns('tenant:a', 'b:c', '0'), 'k:1', 'v2', T0, 2 * MINUTE);
    const ttls = new Map<string, number>();
    for await (const keys of admin!.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
      for (const key of keys) ttls.set(key.slice(keyPrefix.length), await admin!.pTTL(key));
    }
    assert.deepEqual([...ttls.keys()].sort(), ['cache:x:{tenant%3Aa}:e:b%3Ac:0:k%3A1', 'cache:x:{tenant%3Aa}:g:b%3Ac', 'cache:x:{tenant%3A%7Bx%7D}:g'].sort());
    const pttl = ttls.get('cache:x:{tenant%3Aa}:e:b%3Ac:0:k%3A1')!;
    assert.ok(pttl <= 2 * MINUTE + EXPIRY_GRACE_MS && pttl > 2 * MINUTE, `${pttl}`);
    assert.equal(ttls.get('cache:x:{tenant%3Aa}:g:b%3Ac'), -1);
    assert.equal(await admin!.get(`${keyPrefix}cache:x:{tenant%3Aa}:g:b%3Ac`), '1');
    assert.equal(await admin!.get(`${keyPrefix}cache:x:{tenant%3Aa}:e:b%3Ac:0:k%3A1`), `0.1|${T0 + 2 * MINUTE}|v2`);
  } finally {
    await store.close();
  }
});

test('Redis: after SCRIPT FLUSH (a restarted server) the scripts are sent again', { skip }, async () => {
  const store = open(redis.prefix());
  try {
    await put(store, ns('tenant:flush'), 'k', 'v');
    await admin!.scriptFlush();
    assert.equal(await read(store, ns('tenant:flush'), 'k'), 'v');
    await admin!.scriptFlush();
    await put(store, ns('tenant:flush'), 'k2', 'v2');
    assert.equal(await read(store, ns('tenant:flush'), 'k2'), 'v2');
  } finally {
    await store.close();
  }
});

async function assertUnavailableWithin(call: Promise<unknown>, minMs: number, maxMs: number, message: RegExp): Promise<void> {
  const started = performance.now();
  await assert.rejects(call, (error: Error) => {
    assert.ok(error instanceof CacheStoreUnavailable, `${error.name}: ${error.message}`);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= minMs - 5 && elapsed < maxMs, `failed after ${Math.round(elapsed)} ms`);
}

test('Redis: a closed port fails every call as CacheStoreUnavailable, at once after the first; close() is prompt', async () => {
  const port = await closedPort();
  const store = new RedisExactStore({ url: `redis://user:s3cret@127.0.0.1:${port}`, keyPrefix: 'tg-test-closed:' });
  const where = new RegExp(`127\\.0\\.0\\.1:${port} is unavailable`);
  await assertUnavailableWithin(store.get(ns('tenant:a'), 'k', T0), 0, 1500, where);
  await assertUnavailableWithin(store.set(ns('tenant:a'), 'k', 'v', MINUTE, T0, '0.0'), 0, 100, where);
  await assertUnavailableWithin(store.invalidate({ owner: 'tenant:a' }), 0, 100, where);
  const started = performance.now();
  await store.close();
  assert.ok(performance.now() - started < 200, 'close() returned promptly');
  await assertUnavailableWithin(store.get(ns('tenant:a'), 'k', T0), 0, 100, /closed/);
});

test('Redis: a server that accepts but never answers fails within the timeouts, then at once', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  const store = new RedisExactStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'tg-test-silent:', connectTimeoutMs: 300, commandTimeoutMs: 300 });
  try {
    await assertUnavailableWithin(store.get(ns('tenant:a'), 'k', T0), 150, 1500, /unavailable/);
    await assertUnavailableWithin(store.get(ns('tenant:a'), 'k', T0), 0, 400, /unavailable/);
  } finally {
    await store.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('Redis: a connected server that stops answering fails calls within commandTimeoutMs', { skip }, async () => {
  // A TCP proxy to Redis that can stop forwarding.
  let paused = false;
  const sockets = new Set<Socket>();
  const target = new URL(redis.url);
  const proxy = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('data', (chunk) => paused || to.write(chunk));
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  const store = open(redis.prefix(), { url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 300 });
  try {
    await put(store, ns('tenant:p'), 'k', 'v');
    paused = true;
    await assertUnavailableWithin(store.get(ns('tenant:p'), 'k', T0), 300, 800, /no reply to cache get within 300 ms/);
    await assertUnavailableWithin(store.set(ns('tenant:p'), 'k', 'v', MINUTE, T0, '0.0'), 300, 800, /no reply to cache set/);
    await assertUnavailableWithin(store.invalidate({ owner: 'tenant:p' }), 300, 800, /no reply to cache invalidate/);
  } finally {
    const started = performance.now();
    await store.close();
    assert.ok(performance.now() - started < 800, 'close() returned promptly');
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  }
});
