// Deployment health across replicas and from background checks, end to end over real HTTP.
// Two gateways share the machine's Redis (TOLLGATE_TEST_REDIS_URL, default 127.0.0.1:6379)
// under a key prefix of this run's own, deleted at the end: failures that cool a deployment on
// gateway A make gateway B route around it, and a replica started later finds the cooldown in
// force. GET /health/providers shows state, cooldown, last error and latency averages. With
// router.health_checks on, a deployment failing its checks is 'unhealthy' and gets no traffic
// until a check passes again. Unreachable Redis: the replica cases are skipped with the reason
// (or fail when CI is set); the health-check cases need no Redis.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { chatWire, eventually, providerRows, type WireAnswer } from '../helpers/sse-wire.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { openTestRedis, type TestRedis } from '../helpers/test-redis.ts';

const MASTER_KEY = 'sk-master-reliability-replicas-0001';
const UPSTREAM_KEY = 'sk-upstream-reliability-replicas-0001';

let upstream: FaultUpstream;
let redis: TestRedis;
let prefix: string;
const gateways: TestGateway[] = [];

function dep(id: string, extra = ''): string {
  return `      - { id: ${id}, provider: openai_compatible, model: ${id}, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY}${extra ? `, ${extra}` : ''} }`;
}

async function start(yaml: string): Promise<TestGateway> {
  const gw = await startTestGateway(yaml);
  gateways.push(gw);
  return gw;
}

function replicaYaml(): string {
  return `
general_settings:
  master_key: ${MASTER_KEY}
redis: { url: "${redis.url}", key_prefix: "${prefix}" }
limits: { backend: memory }
router: { num_retries: 1, allowed_fails: 1, cooldown_ms: 60000, backoff: { initial_ms: 0, max_ms: 0 } }
models:
  shared:
    routing: { strategy: ordered }
    deployments:
${dep('rep-bad')}
${dep('rep-good')}
`;
}

async function call(gw: TestGateway, model: string): Promise<WireAnswer> {
  const answer = await chatWire(gw.baseURL, MASTER_KEY, { model });
  assert.equal(answer.status, 200, answer.text);
  return answer;
}

before(async () => {
  upstream = await startFaultUpstream();
  redis = await openTestRedis('the reliability replica tests');
  prefix = redis.prefix();
});

after(async () => {
  for (const gw of gateways) await gw.shutdown();
  await upstream?.close();
  await redis?.cleanup();
});

describe('cooldowns shared through Redis', () => {
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    if (redis.unreachable) return;
    a = await start(replicaYaml());
    b = await start(replicaYaml());
  });

  test('failures that cool a deployment on gateway A make gateway B route around it', { skip: redis?.unreachable }, async (t) => {
    if (redis.unreachable) return t.skip(redis.unreachable);
    // Both replicas route to rep-bad first while it is healthy.
    assert.equal((await call(b, 'shared')).headers.get('x-gateway-deployment'), 'rep-bad');
    const servedByBadOnB = upstream.count('rep-bad');

    upstream.standing('rep-bad', { kind: 'status', status: 500 });
    for (let i = 0; i < 2; i++) {
      const answer = await call(a, 'shared');
      assert.equal(answer.headers.get('x-gateway-deployment'), 'rep-good');
      assert.equal(answer.headers.get('x-gateway-attempts'), '2', 'tried rep-bad, then rep-good');
    }
    const onA = (await providerRows(a.url, MASTER_KEY)).get('rep-bad');
    assert.equal(onA.state, 'cooling', JSON.stringify(onA));

    // B never saw rep-bad fail; it learns of the cooldown from A through Redis.
    const rows = await eventually('gateway B sees rep-bad cooling', () => providerRows(b.url, MASTER_KEY), (r) => r.get('rep-bad').state === 'cooling', 3_000);
    const onB = rows.get('rep-bad');
    assert.equal(onB.cooldown_until, onA.cooldown_until, 'the same cooldown end on both replicas');
    assert.equal(onB.cooldown_reason, 'upstream_error');
    assert.equal(onB.last_error, undefined, 'B itself never called it');

    const before = upstream.count('rep-bad');
    assert.equal(before, servedByBadOnB + 2, 'rep-bad got only the two failing calls from A');
    for (let i = 0; i < 10; i++) {
      const answer = await call(b, 'shared');
      assert.equal(answer.headers.get('x-gateway-deployment'), 'rep-good');
      assert.equal(answer.headers.get('x-gateway-attempts'), '1', 'B did not try the cooling deployment');
    }
    assert.equal(upstream.count('rep-bad'), before, 'no request from B reached rep-bad');
  });

  test('a replica started while the cooldown is in force finds it in Redis at once', { skip: redis?.unreachable }, async (t) => {
    if (redis.unreachable) return t.skip(redis.unreachable);
    const c = await start(replicaYaml());
    const row = (await providerRows(c.url, MASTER_KEY)).get('rep-bad');
    assert.equal(row.state, 'cooling', JSON.stringify(row));
    const before = upstream.count('rep-bad');
    assert.equal((await call(c, 'shared')).headers.get('x-gateway-deployment'), 'rep-good');
    assert.equal(upstream.count('rep-bad'), before);
  });

  test('the shared state lives under the configured key prefix only', { skip: redis?.unreachable }, async (t) => {
    if (redis.unreachable) return t.skip(redis.unreachable);
    const client = createClient({ url: redis.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const field = await client.hGet(`${prefix}routing:cooldowns`, 'rep-bad');
      assert.ok(field, 'the cooldown is in the shared hash');
      assert.ok(JSON.parse(field).until > Date.now());
      assert.equal(await client.hGet(`${prefix}routing:cooldowns`, 'rep-good'), null);
    } finally {
      await client.close();
    }
  });
});

describe('GET /health/providers', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await start(`
general_settings:
  master_key: ${MASTER_KEY}
router: { num_retries: 1, allowed_fails: 0, cooldown_ms: 60000, backoff: { initial_ms: 0, max_ms: 0 } }
models:
  report:
    routing: { strategy: ordered }
    deployments:
${dep('report-bad')}
${dep('report-good')}
  other:
    deployments:
${dep('other-1')}
`);
  });

  test('each deployment: state, cooldown_until and cooldown_reason, last_error, latency_ewma_ms, in_flight', async () => {
    upstream.standing('report-bad', { kind: 'status', status: 503 });
    upstream.standing('report-good', { kind: 'ok', latencyMs: 20 });
    const startedAt = Date.now();
    const answer = await call(gw, 'report');
    assert.equal(answer.headers.get('x-gateway-deployment'), 'report-good');

    const res = await fetch(`${gw.url}/health/providers`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.equal(res.status, 200);
    const body = await res.json() as { deployments: any[]; checks: any };
    assert.deepEqual(body.deployments.map((d) => d.deployment), ['report-bad', 'report-good', 'other-1'], 'aliases and deployments in config order');
    assert.deepEqual(body.checks, { enabled: false, interval_ms: 60_000 });

    const bad = body.deployments[0];
    assert.equal(bad.state, 'cooling');
    assert.equal(bad.alias, 'report');
    assert.equal(bad.provider, 'openai_compatible');
    const until = Date.parse(bad.cooldown_until);
    assert.ok(until >= startedAt + 59_000 && until <= Date.now() + 60_000, `cooldown_until ${bad.cooldown_until}`);
    assert.equal(bad.cooldown_reason, 'upstream_overloaded');
    assert.equal(bad.last_error.code, 'upstream_overloaded');
    assert.match(bad.last_error.message, /report-bad .* returned 503/);
    assert.ok(Date.parse(bad.last_error.at) >= startedAt - 1);
    assert.equal(bad.latency_ewma_ms, undefined, 'no success measured');
    assert.equal(bad.in_flight, 0);

    const good = body.deployments[1];
    assert.equal(good.state, 'healthy');
    assert.equal(good.cooldown_until, undefined);
    assert.equal(good.last_error, undefined);
    assert.equal(typeof good.latency_ewma_ms, 'number');
    assert.ok(good.latency_ewma_ms >= 15, `latency_ewma_ms ${good.latency_ewma_ms} for a 20 ms upstream`);
    assert.equal(good.in_flight, 0);

    assert.equal(body.deployments[2].state, 'healthy');
    assert.equal(body.deployments[2].latency_ewma_ms, undefined);
  });

  test('?alias= keeps one alias; an unknown alias is 404 model_not_found; it needs an admin key', async () => {
    const one = await fetch(`${gw.url}/health/providers?alias=other`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.deepEqual(((await one.json()) as any).deployments.map((d: any) => d.deployment), ['other-1']);
    const unknown = await fetch(`${gw.url}/health/providers?alias=nope`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as any).error.code, 'model_not_found');
    const anonymous = await fetch(`${gw.url}/health/providers`);
    assert.equal(anonymous.status, 401);
  });
});

describe('background health checks', () => {
  let gw: TestGateway;
  /** Requests for `model` that were not health-check probes (a one-token "ping"). */
  const served = (model: string) => upstream.requests.filter((r) => r.model === model && r.body?.messages?.[0]?.content !== 'ping').length;
  const probes = (model: string) => upstream.requests.filter((r) => r.model === model && r.body?.messages?.[0]?.content === 'ping').length;

  before(async () => {
    // Failing from the start: the first round of checks runs as the gateway starts.
    upstream.standing('hc-bad', { kind: 'status', status: 500 });
    gw = await start(`
general_settings:
  master_key: ${MASTER_KEY}
router:
  disable_cooldowns: true
  health_checks: { enabled: true, interval_ms: 1000, timeout_ms: 2000 }
models:
  checked:
    routing: { strategy: ordered }
    deployments:
${dep('hc-bad')}
${dep('hc-good')}
`);
  });

  test('a deployment failing its checks is unhealthy and gets no traffic', async () => {
    const rows = await eventually('hc-bad unhealthy', () => providerRows(gw.url, MASTER_KEY), (r) => r.get('hc-bad').state === 'unhealthy', 3_000);
    const bad = rows.get('hc-bad');
    assert.equal(bad.last_check.ok, false);
    assert.match(bad.last_check.error, /500/);
    assert.equal(bad.last_error.code, 'health_check_failed');
    const good = await eventually('hc-good checked', () => providerRows(gw.url, MASTER_KEY), (r) => r.get('hc-good').last_check?.ok === true, 3_000);
    assert.equal(good.get('hc-good').state, 'healthy');
    assert.equal(typeof good.get('hc-good').last_check.latency_ms, 'number', 'the check reports its own latency');
    assert.ok(probes('hc-bad') >= 1);

    for (let i = 0; i < 10; i++) {
      const answer = await call(gw, 'checked');
      assert.equal(answer.headers.get('x-gateway-deployment'), 'hc-good');
      assert.equal(answer.headers.get('x-gateway-attempts'), '1');
    }
    assert.equal(served('hc-bad'), 0, 'only health-check probes reached hc-bad');
  });

  test('once a check passes again it is healthy and back in rotation', async () => {
    upstream.standing('hc-bad', { kind: 'ok' });
    const rows = await eventually('hc-bad healthy again', () => providerRows(gw.url, MASTER_KEY), (r) => r.get('hc-bad').state === 'healthy', 4_000);
    assert.equal(rows.get('hc-bad').last_check.ok, true);
    const answer = await call(gw, 'checked');
    assert.equal(answer.headers.get('x-gateway-deployment'), 'hc-bad', 'ordered: the first deployment serves again');
    assert.equal(served('hc-bad'), 1);
  });
});
