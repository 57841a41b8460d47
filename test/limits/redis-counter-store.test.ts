// The CounterStore contract on a real Redis (TOLLGATE_TEST_REDIS_URL, default
// redis://127.0.0.1:6379) under a key prefix of its own, deleted at the end; the same random
// sequence of calls against Redis and memory gives the same answers; key expiry; and how the
// store fails when Redis is down, silent or stops answering. Unreachable Redis: the tests that
// need it are skipped with the reason, or fail when CI is set.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@redis/client';
import { CounterStoreUnavailable, type CounterStore } from '../../src/limits/counter-store.ts';
import { MemoryCounterStore } from '../../src/limits/memory-counter-store.ts';
import { RedisCounterStore } from '../../src/limits/redis-counter-store.ts';
import { counterStoreContract } from './counter-store.contract.ts';
import { DAY, MINUTE, T0, acquireAt, budget, concurrency, granted, settleAt, window } from './counter-fixtures.ts';
import { randomCalls } from './random-calls.ts';
import { closedPort } from '../helpers/fake-openai-upstream.ts';

const URL = process.env.TOLLGATE_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const PREFIX = `tg-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
const admin = createClient({ url: URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
admin.on('error', () => undefined);
let stores = 0;

async function reachability(): Promise<string | undefined> {
  try {
    await admin.connect();
    await admin.ping();
    return undefined;
  } catch (error) {
    return `Redis at ${URL} unreachable: ${(error as Error).message || (error as Error).name}`;
  }
}

const unreachable = await reachability();
if (unreachable && process.env.CI) throw new Error(`${unreachable} (CI is set, so the Redis counter store tests fail instead of skipping)`);

after(async () => {
  if (!admin.isReady) return;
  for await (const keys of admin.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) if (keys.length > 0) await admin.del(keys);
  await admin.close();
});

function openStore(keyPrefix = `${PREFIX}${++stores}:`): RedisCounterStore {
  return new RedisCounterStore({ url: URL, keyPrefix });
}

async function keysUnder(prefix: string): Promise<Map<string, number>> {
  const ttls = new Map<string, number>();
  for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    for (const key of keys) ttls.set(key.slice(prefix.length), await admin.pTTL(key));
  }
  return ttls;
}

if (unreachable) {
  test('CounterStore contract: Redis, and the Redis-only tests', { skip: `${unreachable}; skipped` }, () => undefined);
} else {
  counterStoreContract('Redis', async () => {
    const keyPrefix = `${PREFIX}${++stores}:`;
    const store = openStore(keyPrefix);
    return { store, sibling: async () => openStore(keyPrefix), cleanup: () => store.close() };
  });

  test('Redis: close() sends and waits for settles still deferred, so a replica shutting down leaks no lease', async () => {
    const keyPrefix = `${PREFIX}${++stores}:`;
    const store = openStore(keyPrefix);
    const first = acquireAt(T0, { concurrency: [concurrency('cc:close', 1)] });
    granted(await store.acquire(first));
    const settling = store.settle(settleAt(T0 + 1, first.leaseId, { concurrency: ['cc:close'] }));
    await store.close();
    await settling;
    const next = openStore(keyPrefix);
    try {
      granted(await next.acquire(acquireAt(T0 + 2, { concurrency: [concurrency('cc:close', 1)] })));
    } finally {
      await next.close();
    }
  });

  test('Redis: the same random calls give the same answers as the memory store', async () => {
    const redis = openStore();
    const memory = new MemoryCounterStore();
    try {
      const calls = randomCalls(0x7011_6a7e, 800);
      for (const [i, call] of calls.entries()) {
        const [fromRedis, fromMemory] = await Promise.all([call(redis), call(memory)]);
        assert.deepEqual(fromRedis, fromMemory, `call ${i} differs`);
      }
    } finally {
      await redis.close();
    }
  });

  test('Redis: every key lives under the prefix and expires (windows 2 × windowMs, leases, budgets past the period)', async () => {
    const keyPrefix = `${PREFIX}${++stores}:`;
    const store = openStore(keyPrefix);
    try {
      const now = Date.now();
      const endsAt = now + 2 * DAY;
      granted(await store.acquire(acquireAt(now, { windows: [window('rpm:k', 10, 1, MINUTE)], concurrency: [concurrency('cc:k', 5, 20_000)], budgets: [budget('usd:k', 100, 10, endsAt)] })));
      const ttls = await keysUnder(keyPrefix);
      const index = Math.floor(now / MINUTE);
      assert.deepEqual([...ttls.keys()].sort(), ['b:usd:k', 'bz:usd:k', 'c:cc:k', `w:rpm:k:${index}`]);
      const near = (actual: number | undefined, expected: number) => assert.ok(actual !== undefined && actual <= expected && actual > expected - 5_000, `${actual} ≉ ${expected}`);
      near(ttls.get(`w:rpm:k:${index}`), 2 * MINUTE);
      near(ttls.get('c:cc:k'), 20_000);
      near(ttls.get('b:usd:k'), 3 * DAY);
      near(ttls.get('bz:usd:k'), 3 * DAY);
    } finally {
      await store.close();
    }
  });

  test('Redis: close() right after construction leaves no socket open (the process can exit)', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    await openStore().close();
    await delay(200);
    // ≤: a socket of an earlier test may still be closing when `before` is counted.
    assert.ok(sockets() <= before, `${sockets()} sockets open, ${before} before`);
  });

  test('Redis: after SCRIPT FLUSH (a restarted server) the scripts are sent again', async () => {
    const store = openStore();
    try {
      granted(await store.acquire(acquireAt(T0, { windows: [window('rpm:flush', 2)] })));
      await admin.scriptFlush();
      granted(await store.acquire(acquireAt(T0, { windows: [window('rpm:flush', 2)] })));
      assert.equal((await store.acquire(acquireAt(T0, { windows: [window('rpm:flush', 2)] }))).ok, false);
    } finally {
      await store.close();
    }
  });

  test('Redis: a server that stops answering fails calls within commandTimeoutMs; close() does not wait for it', async () => {
    const proxy = await startProxy(new globalThis.URL(URL));
    const store = new RedisCounterStore({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: `${PREFIX}${++stores}:`, commandTimeoutMs: 300 });
    try {
      granted(await store.acquire(acquireAt(T0, { windows: [window('rpm:p', 5)] })));
      proxy.paused = true;
      await assertUnavailableWithin(store.acquire(acquireAt(T0, { windows: [window('rpm:p', 5)] })), 300, 800, /no reply to acquire within 300 ms/);
      await assertUnavailableWithin(store.budgets(['usd:p'], T0), 300, 800, /no reply to budgets/);
      const started = performance.now();
      await store.close();
      assert.ok(performance.now() - started < 800, 'close() returned promptly');
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  test('Redis: a dropped connection fails calls at once, and the store recovers by itself', async () => {
    const proxy = await startProxy(new globalThis.URL(URL));
    const store = new RedisCounterStore({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: `${PREFIX}${++stores}:` });
    try {
      granted(await store.acquire(acquireAt(T0, { concurrency: [concurrency('cc:r', 5)] })));
      proxy.refusing = true;
      proxy.dropAll();
      await delay(50);
      await assertUnavailableWithin(store.acquire(acquireAt(T0, { concurrency: [concurrency('cc:r', 5)] })), 0, 100, /unavailable/);
      proxy.refusing = false;
      let recovered = false;
      for (let i = 0; i < 100 && !recovered; i++) {
        recovered = await store.acquire(acquireAt(T0, { concurrency: [concurrency('cc:r', 5)] })).then((r) => r.ok, () => false);
        if (!recovered) await delay(30);
      }
      assert.ok(recovered, 'calls succeed again after the reconnect');
    } finally {
      await store.close();
      await proxy.close();
    }
  });
}

async function assertUnavailableWithin(call: Promise<unknown>, minMs: number, maxMs: number, message: RegExp): Promise<void> {
  const started = performance.now();
  await assert.rejects(call, (error: Error) => {
    assert.ok(error instanceof CounterStoreUnavailable, `${error.name}: ${error.message}`);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= minMs - 5 && elapsed < maxMs, `failed after ${Math.round(elapsed)} ms`);
}

test('Redis: a closed port fails every call as CounterStoreUnavailable within 1.5 s; close() is prompt', async () => {
  const port = await closedPort();
  const store: CounterStore = new RedisCounterStore({ url: `redis://user:s3cret@127.0.0.1:${port}`, keyPrefix: 'tg-test-closed:' });
  const where = new RegExp(`127\\.0\\.0\\.1:${port} is unavailable: .*ECONNREFUSED`);
  await assertUnavailableWithin(store.acquire(acquireAt(T0, { windows: [window('rpm:x', 1)] })), 0, 1500, where);
  await assertUnavailableWithin(store.settle({ leaseId: 'x', now: T0, windows: [], concurrency: ['cc:x'], budgets: [] }), 0, 100, where);
  await assertUnavailableWithin(store.budgets(['usd:x'], T0), 0, 100, where);
  const started = performance.now();
  await store.close();
  assert.ok(performance.now() - started < 200, 'close() returned promptly');
  await assert.rejects(store.acquire(acquireAt(T0, {})), /closed/);
});

test('Redis: a server that accepts but never answers fails within the timeouts, then at once', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  const store = new RedisCounterStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'tg-test-silent:', connectTimeoutMs: 300, commandTimeoutMs: 300 });
  try {
    await assertUnavailableWithin(store.acquire(acquireAt(T0, { windows: [window('rpm:s', 1)] })), 150, 1500, /unavailable/);
    await assertUnavailableWithin(store.acquire(acquireAt(T0, { windows: [window('rpm:s', 1)] })), 0, 400, /unavailable/);
  } finally {
    const started = performance.now();
    await store.close();
    assert.ok(performance.now() - started < 500, 'close() returned promptly');
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});


interface Proxy {
  readonly port: number;
  /** While set, bytes in both directions are dropped: a server that hangs. */
  paused: boolean;
  /** While set, new connections are closed at once: a server that is down. */
  refusing: boolean;
  dropAll(): void;
  close(): Promise<void>;
}

/** A TCP proxy to Redis that can hang or drop its connections. */
async function startProxy(target: globalThis.URL): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (proxy.refusing) return client.destroy();
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('data', (chunk) => proxy.paused || to.write(chunk));
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: Proxy = {
    port: (server.address() as { port: number }).port,
    paused: false,
    refusing: false,
    dropAll: () => sockets.forEach((s) => s.destroy()),
    close: async () => {
      proxy.dropAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return proxy;
}
