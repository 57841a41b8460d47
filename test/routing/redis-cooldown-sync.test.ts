// Cooldowns shared through the machine's real Redis (never a mock): two or three DeploymentHealth
// instances stand for gateway replicas, each with its own sync, all under a key prefix of their
// own that is removed afterwards.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@redis/client';
import { createLogger } from '../../src/logging/logger.ts';
import type { CooldownEvent, CooldownSync } from '../../src/routing/cooldown-sync.ts';
import { DeploymentHealth } from '../../src/routing/deployment-health.ts';
import { openRedisCooldownSync } from '../../src/routing/redis-cooldown-sync.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { freePort } from '../helpers/free-port.ts';
import { openTestRedis } from '../helpers/test-redis.ts';

const redis = await openTestRedis('the Redis cooldown sync tests');
const skip = redis.unreachable ?? false;
const quiet = createLogger({ level: 'error', write: () => {} });
const FAILURE = { class: 'server_error', code: 'upstream_error', message: 'x' } as const;

let raw: ReturnType<typeof createClient> | undefined;
before(async () => {
  if (skip) return;
  raw = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
  raw.on('error', () => undefined);
  await raw.connect();
});
after(async () => {
  if (raw?.isOpen) raw.destroy();
  await redis.cleanup();
});

/** Polls `check` until it holds; fails after `ms` (a deadline for a hung test, not a latency bound). */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(5);
  }
}

interface Replica {
  readonly name: string;
  readonly sync: CooldownSync;
  readonly health: DeploymentHealth;
  /** Every event the sync handed over. */
  readonly seen: CooldownEvent[];
  /** Moves this replica's clock forward (its breakers see time pass; Redis keys do not). */
  skip(ms: number): void;
}

function replica(name: string, keyPrefix: string, url = redis.url): Replica {
  const seen: CooldownEvent[] = [];
  let health: DeploymentHealth | undefined;
  let offset = 0;
  const sync = openRedisCooldownSync({ url, keyPrefix, logger: quiet, onEvent: (event) => { seen.push(event); health?.apply(event); } });
  health = new DeploymentHealth({ metrics: new Metrics(), breaker: { enabled: true, allowedFails: 0, windowMs: 60_000, cooldownMs: 5_000 }, sync, now: () => Date.now() + offset });
  return { name, sync, health, seen, skip: (ms) => { offset += ms; } };
}

/** Resolves once each replica hears every other one (so all are connected and subscribed). */
async function connected(...replicas: Replica[]): Promise<void> {
  for (const from of replicas) {
    const marker = `warmup-${from.name}`;
    for (const to of replicas) {
      if (to === from) continue;
      await eventually(`${to.name} hears ${from.name}`, async () => {
        from.sync.publish({ deployment: marker, state: 'closed' });
        await delay(20);
        return to.seen.some((e) => e.deployment === marker);
      });
    }
  }
}

async function open(t: { after(fn: () => Promise<void>): void }, ...names: string[]): Promise<{ prefix: string; replicas: Replica[] }> {
  const prefix = redis.prefix();
  const replicas = names.map((name) => replica(name, prefix));
  t.after(async () => { for (const r of replicas) await r.health.close(); });
  await connected(...replicas);
  return { prefix, replicas };
}

test('a cooldown that trips on one replica reaches the other', { skip }, async (t) => {
  const { prefix, replicas: [a, b] } = await open(t, 'a', 'b');
  assert.equal(b!.health.availability('dep-1'), 'available');
  a!.health.recordFailure('dep-1', FAILURE);
  assert.equal(a!.health.availability('dep-1'), 'cooling');
  await eventually("b's breaker opens", () => b!.health.availability('dep-1') === 'cooling');
  assert.equal(b!.health.cooldownUntil('dep-1'), a!.health.cooldownUntil('dep-1'), 'same cooldown end on both');
  assert.equal(b!.health.report({ id: 'dep-1', alias: 'x', provider: 'p', model: 'm' } as never).cooldown_reason, 'upstream_error');
  const stored = JSON.parse((await raw!.hGet(`${prefix}routing:cooldowns`, 'dep-1'))!);
  assert.deepEqual(stored, { until: a!.health.cooldownUntil('dep-1'), reason: 'upstream_error' });
});

test('a replica that starts mid-cooldown seeds it from current(); passed and malformed entries are ignored', { skip }, async (t) => {
  const { prefix, replicas: [a] } = await open(t, 'a', 'b');
  a!.health.recordFailure('dep-1', FAILURE);
  const until = a!.health.cooldownUntil('dep-1')!;
  await eventually('the cooldown is stored', async () => (await raw!.hExists(`${prefix}routing:cooldowns`, 'dep-1')) === 1);
  await raw!.hSet(`${prefix}routing:cooldowns`, { 'dep-old': JSON.stringify({ until: Date.now() - 1, reason: 'old' }), 'dep-bad': 'not json', 'dep-nountil': '{"reason":"r"}' });

  const c = replica('c', prefix);
  t.after(() => c.sync.close());
  await c.health.useSync(c.sync);
  assert.equal(c.health.availability('dep-1'), 'cooling');
  assert.equal(c.health.cooldownUntil('dep-1'), until);
  assert.deepEqual(await c.sync.current(), [{ deployment: 'dep-1', state: 'open', until, reason: 'upstream_error' }]);
  for (const id of ['dep-old', 'dep-bad', 'dep-nountil']) assert.equal(c.health.availability(id), 'available', id);
});

test('only one replica claims the half-open probe; a close releases the claim', { skip }, async (t) => {
  const { prefix, replicas: [a, b] } = await open(t, 'a', 'b');
  const probeKey = `${prefix}routing:probe:dep-1`;
  const claims = await Promise.all([a!.sync.claimProbe('dep-1', 30_000), b!.sync.claimProbe('dep-1', 30_000)]);
  assert.deepEqual(claims.filter(Boolean).length, 1, `exactly one claim wins: ${claims}`);
  assert.equal(await a!.sync.claimProbe('dep-1', 30_000), false, 'held, even for the winner asking again');
  const ttl = await raw!.pTTL(probeKey);
  assert.ok(ttl > 0 && ttl <= 30_000, `the claim expires by itself (pttl ${ttl})`);

  a!.sync.publish({ deployment: 'dep-1', state: 'closed' });
  await eventually('the probe key is gone', async () => (await raw!.exists(probeKey)) === 0);
  assert.equal(await b!.sync.claimProbe('dep-1', 30_000), true, 'the next cooldown can be probed again');
});

test("a close on one replica closes the other's breaker and clears the stored cooldown", { skip }, async (t) => {
  const { prefix, replicas: [a, b] } = await open(t, 'a', 'b');
  a!.health.recordFailure('dep-1', FAILURE);
  await eventually("b's breaker opens", () => b!.health.availability('dep-1') === 'cooling');
  a!.skip(5_000); // a's cooldown is over: its next request is the half-open probe
  a!.health.recordSuccess('dep-1', { latencyMs: 10 }); // the probe succeeded
  assert.equal(a!.health.breakerState('dep-1'), 'closed');
  await eventually("b's breaker closes", () => b!.health.breakerState('dep-1') === 'closed');
  assert.equal(b!.health.availability('dep-1'), 'available');
  assert.equal(await raw!.hExists(`${prefix}routing:cooldowns`, 'dep-1'), 0);
  assert.deepEqual(await b!.sync.current(), []);
});

test('malformed messages and a replica\'s own messages are ignored', { skip }, async (t) => {
  const { prefix, replicas: [a, b] } = await open(t, 'a', 'b');
  const channel = `${prefix}routing:cooldown`;
  // a's own message: once b has it, Redis has queued it for a's subscriber too.
  a!.sync.publish({ deployment: 'dep-self', state: 'closed' });
  await eventually('b hears a', () => b!.seen.some((e) => e.deployment === 'dep-self'));
  a!.seen.length = 0;
  const until = Date.now() + 60_000;
  for (const message of [
    'not json', '[]', 'null', '42', '"text"', '{}',
    JSON.stringify({ deployment: 'dep-1', state: 'open', until }), // no origin
    JSON.stringify({ origin: 'x', state: 'open', until }),
    JSON.stringify({ origin: 'x', deployment: '', state: 'closed' }),
    JSON.stringify({ origin: 'x', deployment: 42, state: 'closed' }),
    JSON.stringify({ origin: 'x', deployment: 'dep-1', state: 'open' }), // no until
    JSON.stringify({ origin: 'x', deployment: 'dep-1', state: 'open', until: 'soon' }),
    JSON.stringify({ origin: 'x', deployment: 'dep-1', state: 'half-open', until }),
  ]) await raw!.publish(channel, message);
  // Published after the rest on the same connection, so it arrives last.
  await raw!.publish(channel, JSON.stringify({ origin: 'x', deployment: 'dep-2', state: 'open', until, reason: 'r', extra: true }));
  await eventually('the valid message arrives', () => a!.seen.length > 0);
  assert.deepEqual(a!.seen, [{ deployment: 'dep-2', state: 'open', until, reason: 'r' }]);
  assert.equal(a!.health.availability('dep-1'), 'available');
  assert.equal(a!.health.availability('dep-2'), 'cooling');
});

test('with Redis unreachable: claims fail open, current is empty, publish drops, close is prompt, one warning without secrets', async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', write: (text) => lines.push(text), flushMs: 1 });
  const sync = openRedisCooldownSync({ url: `redis://user:s3cret@127.0.0.1:${await freePort()}`, keyPrefix: 'x:', logger, onEvent: () => assert.fail('no event') });
  const health = new DeploymentHealth({ metrics: new Metrics(), breaker: { enabled: true, allowedFails: 0, windowMs: 60_000, cooldownMs: 5_000 }, sync });
  await health.useSync(sync);
  assert.equal(await sync.claimProbe('dep-1', 1_000), true);
  assert.deepEqual(await sync.current(), []);
  health.recordFailure('dep-1', FAILURE); // publishes: dropped, not thrown
  assert.doesNotThrow(() => sync.publish({ deployment: 'dep-1', state: 'closed' }));
  assert.equal(health.availability('dep-1'), 'cooling', 'the local breaker works on its own');
  await delay(300); // a few reconnect attempts
  const started = performance.now();
  await health.close();
  assert.ok(performance.now() - started < 1_000, 'close returns at once');
  logger.flush();
  const log = lines.join('');
  assert.equal(log.match(/redis unavailable/g)?.length, 1, `one warning, not one per attempt:\n${log}`);
  assert.ok(!log.includes('s3cret'), 'the password is not logged');
});

test('close() right after open, or while Redis is down, leaves no socket behind (the process can exit)', async () => {
  const sync = new URL('../../src/routing/redis-cooldown-sync.ts', import.meta.url).href;
  const logger = new URL('../../src/logging/logger.ts', import.meta.url).href;
  for (const url of [redis.url, `redis://127.0.0.1:${await freePort()}`]) {
    const script = `import { openRedisCooldownSync } from '${sync}'; import { createLogger } from '${logger}';
      const s = openRedisCooldownSync({ url: '${url}', keyPrefix: 'x:', logger: createLogger({ level: 'error' }), onEvent: () => {} });
      await s.claimProbe('d', 1000); await s.current(); s.publish({ deployment: 'd', state: 'closed' });
      await s.close();`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 8_000 });
    assert.equal(run.status, 0, `${url}: the process did not exit (${run.signal ?? run.stderr.toString()})`);
  }
});
