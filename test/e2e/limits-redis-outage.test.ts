// The shared limits store (Redis) goes down and comes back, with no gateway restart. Redis is a
// throwaway redis-server on a port of its own (test/helpers/throwaway-redis.ts), killed with
// SIGKILL as a crash would and restarted empty on the same port; each test stops its own.
//
// Fail open (the default): requests keep being served and each instance enforces the limits on
// its own traffic (a key with rpm_limit 5 gets its 6th request in the minute refused); one
// error line, /health/ready "degraded" with the reason, and tollgate_limits_store_degraded 1 say
// so. When Redis is back, requests count in Redis again, readiness is "ready", the gauge 0, and
// a recovery line is logged.
// Fail closed: requests with limits get 503 limits_unavailable with Retry-After until Redis is
// back, then succeed again.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@redis/client';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { startThrowawayRedis, throwawayRedisUnavailable, type ThrowawayRedis } from '../helpers/throwaway-redis.ts';
import { jsonOrText } from '../helpers/admin-request.ts';

const MASTER_KEY = 'sk-master-limits-redis-outage-e2e-01';
const LIMITED_SECRET = 'sk-tg-declared-limited-outage-0123456789abcdefghij';
const RPM = 5;
const RECOVERY_BOUND_MS = 10_000;
const POLL_EVERY_MS = 50;
const OPEN_ERROR = 'limits store unavailable: failing open, each instance enforces limits on its own traffic';
const CLOSED_ERROR = 'limits store unavailable: failing closed, requests with limits get 503';
const RECOVERED = 'limits store available again';

const unavailable = throwawayRedisUnavailable();
if (unavailable && process.env.CI) test('limits store outage (needs redis-server)', () => assert.fail(`CI is set but ${unavailable}`));
const skip = unavailable ? `skipped: ${unavailable}` : false;

function yaml(redisUrl: string, prefix: string, limits: string): string {
  return `
general_settings:
  master_key: ${MASTER_KEY}
redis: { url: "${redisUrl}", key_prefix: "${prefix}" }
${limits}
models:
  chat: { deployments: [{ provider: simulator, model: sim-chat, simulator: { output_tokens: 4 } }] }
teams:
  outage: { team_alias: Outage }
keys:
  limited:
    key: os.environ/LIMITED_KEY
    team_id: outage
    rpm_limit: ${RPM}
`;
}

interface Answer {
  status: number;
  code: string | undefined;
  body: any;
  headers: Headers;
}

async function chat(gw: TestGateway, key: string): Promise<Answer> {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
  });
  const body = await jsonOrText(res);
  return { status: res.status, code: res.status === 200 ? undefined : body?.error?.code, body, headers: res.headers };
}

const show = (a: Answer) => `${a.status} ${JSON.stringify(a.body)}`;

/** /health/ready's status code, overall status, and its limits check. */
async function ready(gw: TestGateway): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}/health/ready`);
  const body = await res.json() as { status: string; checks: { limits: { status: string; detail?: string } } };
  return { status: res.status, body: { status: body.status, limits: body.checks.limits } };
}

/** The value of an unlabelled gauge or counter in GET /metrics. */
async function metric(gw: TestGateway, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const linesAt = (gw: TestGateway, level: string) => gw.logs().filter((l) => l.level === level);
const linesNamed = (gw: TestGateway, msg: string) => gw.logs().filter((l) => l.msg === msg);

/** The request count of a rpm window counter in the throwaway Redis (summed over its minute windows). */
async function windowCount(redis: ThrowawayRedis, prefix: string, counter: string): Promise<number> {
  const client = createClient({ url: redis.url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    let n = 0;
    for await (const keys of client.scanIterator({ MATCH: `${prefix}limits:w:${counter}:*`, COUNT: 1000 })) {
      for (const key of keys) n += Number(await client.hGet(key, 'n') ?? 0);
    }
    return n;
  } finally {
    await client.close();
  }
}

/**
 * Calls `probe` every POLL_EVERY_MS until `done` says so (returning that answer); every answer
 * before then must pass `meanwhile`. Fails after RECOVERY_BOUND_MS.
 */
async function until(what: string, probe: () => Promise<Answer>, done: (a: Answer) => Promise<boolean>, meanwhile: (a: Answer) => void): Promise<{ answer: Answer; ms: number; tries: number }> {
  const since = performance.now();
  for (let tries = 1; ; tries++) {
    const answer = await probe();
    if (await done(answer)) return { answer, ms: Math.round(performance.now() - since), tries };
    meanwhile(answer);
    if (performance.now() - since > RECOVERY_BOUND_MS) assert.fail(`${what}: not within ${RECOVERY_BOUND_MS} ms; last answer ${show(answer)}`);
    await delay(POLL_EVERY_MS);
  }
}

/** A gateway on its own throwaway Redis; prints the gateway's log when `work` fails, and stops both. */
async function withOutageGateway(name: string, limitsYaml: string, work: (gw: TestGateway, redis: ThrowawayRedis, prefix: string) => Promise<void>): Promise<void> {
  const redis = await startThrowawayRedis();
  const prefix = `tg-test-outage-${name}-${randomBytes(4).toString('hex')}:`;
  let gw: TestGateway | undefined;
  try {
    gw = await startTestGateway(yaml(redis.url, prefix, limitsYaml), { LIMITED_KEY: LIMITED_SECRET });
    await work(gw, redis, prefix);
  } catch (error) {
    if (gw) console.log(`--- gateway log ---\n${gw.logs().filter((l) => l.msg !== 'request').map((l) => JSON.stringify(l)).join('\n')}`);
    throw error;
  } finally {
    try {
      await gw?.shutdown();
    } finally {
      await redis.destroy();
    }
  }
}

test('fail open: Redis down → each instance enforces limits locally, readiness degraded, one error line, gauge 1; Redis back → shared again', { skip }, async () => {
  await withOutageGateway('open', '', async (gw, redis, prefix) => {

    // Healthy: counted in Redis.
    const first = await chat(gw, LIMITED_SECRET);
    assert.equal(first.status, 200, show(first));
    assert.equal(first.headers.get('x-ratelimit-limit-requests'), String(RPM));
    assert.equal(first.headers.get('x-ratelimit-remaining-requests'), String(RPM - 1));
    assert.equal(await windowCount(redis, prefix, 'rpm:key:limited'), 1, 'the request is counted in Redis');
    assert.deepEqual(await ready(gw), { status: 200, body: { status: 'ready', limits: { status: 'ok', backend: 'redis' } } });
    assert.equal(await metric(gw, 'tollgate_limits_store_degraded'), 0);
    assert.deepEqual(linesAt(gw, 'error'), []);

    // Redis crashes: the key's limit is enforced by this instance alone, from a fresh local count.
    await redis.stop();
    for (let i = 1; i <= RPM; i++) {
      const served = await chat(gw, LIMITED_SECRET);
      assert.equal(served.status, 200, `request ${i} with Redis down: ${show(served)}`);
      assert.equal(served.headers.get('x-ratelimit-limit-requests'), String(RPM));
      assert.equal(served.headers.get('x-ratelimit-remaining-requests'), String(RPM - i), `request ${i}: the local count`);
    }
    const sixth = await chat(gw, LIMITED_SECRET);
    assert.equal(sixth.status, 429, `request ${RPM + 1} with Redis down: ${show(sixth)}`);
    assert.equal(sixth.code, 'rate_limited', show(sixth));
    assert.equal(sixth.body.error.limit.scope, 'key', show(sixth));
    assert.equal(sixth.body.error.limit.id, 'limited', show(sixth));
    assert.equal(sixth.body.error.limit.limit, RPM, show(sixth));
    assert.match(sixth.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'Retry-After on the local refusal');
    assert.equal(sixth.headers.get('x-ratelimit-limit-requests'), String(RPM));
    // The master key has no limits of its own: it is not affected at all.
    assert.equal((await chat(gw, MASTER_KEY)).status, 200);

    const degraded = await ready(gw);
    assert.equal(degraded.status, 200, 'a replica failing open still takes traffic');
    assert.equal(degraded.body.status, 'degraded');
    assert.equal(degraded.body.limits.status, 'degraded');
    assert.match(degraded.body.limits.detail, /redis limits store is unavailable; limits are enforced per instance/);
    assert.equal(await metric(gw, 'tollgate_limits_store_degraded'), 1);
    assert.ok((await metric(gw, 'tollgate_limits_store_failures_total'))! >= RPM + 1, 'every call to the down store is counted as a failure');

    const errors = linesAt(gw, 'error');
    assert.equal(errors.length, 1, `one error line for the whole outage, not one per request: ${JSON.stringify(errors)}`);
    assert.equal(errors[0]!.msg, OPEN_ERROR);
    assert.equal(errors[0]!.backend, 'redis');
    assert.match(errors[0]!.error, new RegExp(`127\\.0\\.0\\.1:${redis.port}`));
    assert.deepEqual(linesNamed(gw, RECOVERED), []);

    // Redis is back (empty, on the same port): within a few seconds requests count in Redis
    // again. Until then the locally exhausted key keeps getting 429; the first 200 must come
    // from Redis, whose fresh count leaves RPM - 1.
    await redis.start();
    const recovered = await until(
      'requests served through Redis again',
      () => chat(gw!, LIMITED_SECRET),
      async (a) => a.status === 200,
      (a) => assert.equal(a.code, 'rate_limited', `while Redis reconnects the local limit still holds: ${show(a)}`),
    );
    console.log(`fail open: served through Redis again ${recovered.ms} ms after the restart (${recovered.tries} tries)`);
    assert.equal(recovered.answer.headers.get('x-ratelimit-remaining-requests'), String(RPM - 1), 'counted in the restarted (empty) Redis, not locally');
    const next = await chat(gw, LIMITED_SECRET);
    assert.equal(next.status, 200, show(next));
    assert.equal(next.headers.get('x-ratelimit-remaining-requests'), String(RPM - 2));
    assert.equal(await windowCount(redis, prefix, 'rpm:key:limited'), 2, 'the requests after recovery are counted in Redis');

    assert.deepEqual(await ready(gw), { status: 200, body: { status: 'ready', limits: { status: 'ok', backend: 'redis' } } });
    assert.equal(await metric(gw, 'tollgate_limits_store_degraded'), 0);
    const recoveries = linesNamed(gw, RECOVERED);
    assert.equal(recoveries.length, 1, `one recovery line: ${JSON.stringify(recoveries)}`);
    assert.equal(recoveries[0]!.level, 'warn');
    assert.equal(recoveries[0]!.backend, 'redis');
    assert.equal(linesAt(gw, 'error').length, 1, 'still only the one error line');
  });
});

test('fail closed: Redis down → 503 limits_unavailable with Retry-After; Redis back → served again', { skip }, async () => {
  await withOutageGateway('closed', 'limits: { on_store_failure: closed, global: { rpm_limit: 1000 } }', async (gw, redis, prefix) => {

    const first = await chat(gw, MASTER_KEY);
    assert.equal(first.status, 200, show(first));
    assert.equal(first.headers.get('x-ratelimit-limit-requests'), '1000');
    assert.equal(await windowCount(redis, prefix, 'rpm:global:global'), 1);
    assert.deepEqual(await ready(gw), { status: 200, body: { status: 'ready', limits: { status: 'ok', backend: 'redis' } } });

    await redis.stop();
    for (const key of [MASTER_KEY, LIMITED_SECRET, MASTER_KEY]) {
      const refused = await chat(gw, key);
      assert.equal(refused.status, 503, show(refused));
      assert.equal(refused.code, 'limits_unavailable', show(refused));
      assert.equal(refused.body.error.type, 'overloaded_error', show(refused));
      assert.equal(refused.headers.get('retry-after'), '1');
    }
    const degraded = await ready(gw);
    assert.equal(degraded.status, 200);
    assert.equal(degraded.body.status, 'degraded');
    assert.equal(degraded.body.limits.status, 'degraded');
    assert.match(degraded.body.limits.detail, /redis limits store is unavailable; requests with limits are refused/);
    assert.equal(await metric(gw, 'tollgate_limits_store_degraded'), 1);
    const errors = linesAt(gw, 'error');
    assert.equal(errors.length, 1, `one error line for the whole outage: ${JSON.stringify(errors)}`);
    assert.equal(errors[0]!.msg, CLOSED_ERROR);

    await redis.start();
    const recovered = await until(
      'requests served again',
      () => chat(gw!, MASTER_KEY),
      async (a) => a.status === 200,
      (a) => {
        assert.equal(a.status, 503, show(a));
        assert.equal(a.code, 'limits_unavailable', show(a));
      },
    );
    console.log(`fail closed: served again ${recovered.ms} ms after the restart (${recovered.tries} tries)`);
    assert.equal(recovered.answer.headers.get('x-ratelimit-limit-requests'), '1000');
    assert.equal(recovered.answer.headers.get('x-ratelimit-remaining-requests'), '999', 'counted in the restarted (empty) Redis');
    assert.equal((await chat(gw, LIMITED_SECRET)).status, 200);
    assert.equal(await windowCount(redis, prefix, 'rpm:global:global'), 2);
    assert.deepEqual(await ready(gw), { status: 200, body: { status: 'ready', limits: { status: 'ok', backend: 'redis' } } });
    assert.equal(await metric(gw, 'tollgate_limits_store_degraded'), 0);
    assert.equal(linesNamed(gw, RECOVERED).length, 1);
    assert.equal(linesAt(gw, 'error').length, 1, 'still only the one error line');
  });
});
