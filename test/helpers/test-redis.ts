// The machine's shared Redis for tests (TOLLGATE_TEST_REDIS_URL, default 127.0.0.1:6379):
// whether it is reachable (under CI an unreachable Redis fails the suite instead of skipping),
// a key prefix per test run, and removal of every key under that prefix afterwards.

import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';

export const TEST_REDIS_URL = process.env.TOLLGATE_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

export interface TestRedis {
  readonly url: string;
  /** Why Redis cannot be used (the tests skip with it), or undefined. */
  readonly unreachable: string | undefined;
  /** A fresh key prefix under this run's prefix. */
  prefix(): string;
  /** Deletes every key this run created and disconnects. */
  cleanup(): Promise<void>;
}

function adminClient(url: string) {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  return client;
}

/** Why Redis at `url` cannot be used, or undefined when it answers PING. */
export async function redisUnreachable(url: string = TEST_REDIS_URL): Promise<string | undefined> {
  const client = adminClient(url);
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `Redis at ${url} is unreachable (${(error as Error).message || (error as Error).name})`;
  } finally {
    if (client.isOpen) await client.close().catch(() => undefined);
  }
}

export async function openTestRedis(what: string): Promise<TestRedis> {
  const runPrefix = `tg-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
  const unreachable = await redisUnreachable();
  const admin = adminClient(TEST_REDIS_URL);
  if (!unreachable) await admin.connect();
  if (unreachable && process.env.CI) throw new Error(`${unreachable} (CI is set, so ${what} fail instead of skipping)`);
  let n = 0;
  return {
    url: TEST_REDIS_URL,
    unreachable,
    prefix: () => `${runPrefix}${++n}:`,
    async cleanup() {
      if (!admin.isReady) return;
      for await (const keys of admin.scanIterator({ MATCH: `${runPrefix}*`, COUNT: 1000 })) if (keys.length > 0) await admin.del(keys);
      await admin.close();
    },
  };
}
