import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { openRedisChangeBus } from '../../src/identity/redis-change-bus.ts';
import type { ObjectKind } from '../../src/identity/records.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { closedPort } from '../helpers/fake-openai-upstream.ts';

const REDIS_URL = process.env.TOLLGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const quiet = createLogger({ level: 'error', write: () => {} });


test('with Redis unreachable, the bus neither throws nor keeps shutdown waiting', async () => {
  const lines: string[] = [];
  const bus = openRedisChangeBus({ url: `redis://127.0.0.1:${await closedPort()}`, keyPrefix: 'x:', logger: createLogger({ level: 'warn', write: (t) => lines.push(t), flushMs: 1 }), onChange: () => {} });
  bus.publish('key', 'k1'); // dropped, not queued
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = performance.now();
  await bus.close();
  assert.ok(performance.now() - started < 500, 'close returns at once');
  assert.equal(lines.join('').match(/redis unavailable/g)?.length, 1, 'one warning, not one per retry');
});

test('a change published by one replica reaches the others, not itself', async (t) => {
  const prefix = `tg-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
  const got: Record<string, Array<[ObjectKind, string]>> = { a: [], b: [] };
  const a = openRedisChangeBus({ url: REDIS_URL, keyPrefix: prefix, logger: quiet, onChange: (k, id) => got.a!.push([k, id]) });
  const b = openRedisChangeBus({ url: REDIS_URL, keyPrefix: prefix, logger: quiet, onChange: (k, id) => got.b!.push([k, id]) });
  t.after(async () => { await a.close(); await b.close(); });
  // Both subscribed before anything is published.
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    a.publish('tenant', 'probe');
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (got.b!.length > 0) break;
  }
  if (got.b!.length === 0) {
    if (process.env.CI) assert.fail(`Redis at ${REDIS_URL} unreachable`);
    t.skip(`Redis at ${REDIS_URL} unreachable`);
    return;
  }
  got.b!.length = 0;
  a.publish('key', 'key_1');
  b.publish('team', 'payments');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(got.b, [['key', 'key_1']]);
  assert.deepEqual(got.a, [['team', 'payments']]);
});

test('close() right after open, or while Redis is down, leaves no socket behind (the process can exit)', async () => {
  const { spawnSync } = await import('node:child_process');
  const bus = new URL('../../src/identity/redis-change-bus.ts', import.meta.url).href;
  const logger = new URL('../../src/logging/logger.ts', import.meta.url).href;
  for (const url of [REDIS_URL, `redis://127.0.0.1:${await closedPort()}`]) {
    const script = `import { openRedisChangeBus } from '${bus}'; import { createLogger } from '${logger}';
      const b = openRedisChangeBus({ url: '${url}', keyPrefix: 'x:', logger: createLogger({ level: 'error' }), onChange: () => {} });
      await b.close();`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 8_000 });
    assert.equal(run.status, 0, `${url}: the process did not exit (${run.signal ?? run.stderr.toString()})`);
  }
});
