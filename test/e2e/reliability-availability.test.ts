// Reliability routing end to end, what the circuit breaker does to traffic (non-streaming):
// allowed_fails failures within the window cool a deployment down (GET /health/providers,
// GET /metrics, the log) and the alias's other deployment takes the traffic; every deployment
// cooling gives 503 no_healthy_deployment; a deployment's own rate limit moves the request to
// its sibling; 50 concurrent requests against a primary failing in bursts all get 200.
//
// cooldown_ms is long here (30 s, never waited out), so "still cooling" never depends on how
// fast the machine runs. test/e2e/reliability-cooldowns.test.ts covers the end of a cooldown
// (the half-open probe) with a short one.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFaultUpstream, type Fault, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { chat, faultAlias, fastRouterYaml, logLines, metric, providers, type ChatAnswer } from '../helpers/reliability.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-reliability-availability-01';
const COOLDOWN_MS = 30_000;

let up: FaultUpstream;
let gw: TestGateway;

before(async () => {
  up = await startFaultUpstream();
  const yaml = `${fastRouterYaml(MASTER_KEY, `backoff: { initial_ms: 5, max_ms: 20 }\nallowed_fails: 1\nallowed_fails_window_ms: 60000\ncooldown_ms: ${COOLDOWN_MS}`)}models:
${faultAlias('pair', ['a', 'b'])}
${faultAlias('solo', ['a'], '{ num_retries: 0 }')}
${faultAlias('guarded', ['a'], '{ num_retries: 0, fallbacks: [guard] }')}
${faultAlias('guard', ['a'], '{ num_retries: 0 }')}
${faultAlias('limited', ['a', 'b'], '', { a: { rpm: 1 } })}
${faultAlias('capped', ['a'], '', { a: { rpm: 1 } })}
${faultAlias('burst', ['p', 's'], '{ strategy: simple-shuffle }')}
${faultAlias('storm', ['p', 's'], '{ strategy: simple-shuffle }')}
`.replaceAll('BASE', up.baseURL);
  gw = await startTestGateway(yaml);
});

after(async () => {
  await gw?.shutdown();
  await up?.close();
});

const call = (model: string) => chat(gw, MASTER_KEY, model);
const health = () => providers(gw, MASTER_KEY);

describe('cooldowns', () => {
  test('allowed_fails: 1 → the second failure cools the deployment: /health/providers, /metrics and the log show it; the sibling takes the traffic', async () => {
    up.script('pair-a', { kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const first = await call('pair');
    assert.equal(first.servedBy, 'pair-b', 'the first failure is retried on the sibling');
    assert.equal(first.headers.get('x-gateway-attempts'), '2');
    assert.equal((await health()).get('dep-pair-a')!.state, 'healthy', 'one failure is within allowed_fails: 1');
    const startedAt = Date.now();
    const second = await call('pair');
    assert.equal(second.servedBy, 'pair-b');
    assert.equal(second.headers.get('x-gateway-attempts'), '2');

    const rows = await health();
    const a = rows.get('dep-pair-a')!;
    assert.equal(a.state, 'cooling');
    const until = Date.parse(a.cooldown_until!);
    assert.ok(until >= startedAt + COOLDOWN_MS && until <= Date.now() + COOLDOWN_MS, `cooldown_until ${a.cooldown_until}`);
    assert.equal(a.cooldown_reason, 'upstream_error');
    assert.equal(a.last_error?.code, 'upstream_error');
    assert.equal(rows.get('dep-pair-b')!.state, 'healthy');
    assert.equal(await metric(gw, 'tollgate_deployment_cooldowns_total', { deployment: 'dep-pair-a' }), 1);
    assert.equal(await metric(gw, 'tollgate_deployment_cooling', { deployment: 'dep-pair-a' }), 1);
    const lines = logLines(gw, 'deployment entered cooldown', (l) => l.deployment === 'dep-pair-a');
    assert.deepEqual(lines.map((l) => [l.reason, Date.parse(l.until)]), [['upstream_error', until]]);

    for (let i = 0; i < 3; i++) {
      const answer = await call('pair');
      assert.equal(answer.servedBy, 'pair-b');
      assert.equal(answer.headers.get('x-gateway-attempts'), '1', 'the cooling deployment is not even tried');
      assert.equal(answer.headers.get('x-gateway-deployment'), 'dep-pair-b');
    }
    assert.equal(up.count('pair-a'), 2);
  });
});

describe('no healthy deployment', () => {
  test('every deployment cooling and no fallback → 503 no_healthy_deployment naming the alias, with Retry-After; nothing sent upstream', async () => {
    up.script('solo-a', { kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    assert.equal((await call('solo')).status, 502);
    assert.equal((await call('solo')).status, 502);
    assert.equal((await health()).get('dep-solo-a')!.state, 'cooling');
    const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
    const err = await client.chat.completions.create({ model: 'solo', messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 503);
    assert.equal(err.code, 'no_healthy_deployment');
    assert.equal(err.type, 'overloaded_error');
    assert.match(err.message, /"solo"/);
    const retryAfter = Number(err.headers?.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= COOLDOWN_MS / 1000, `retry-after ${err.headers?.get('retry-after')}`);
    assert.equal(up.count('solo-a'), 2);
  });

  test('the primary and its fallback both cooling → no_healthy_deployment naming both', async () => {
    up.script('guard-a', { kind: 'status', status: 429, retryAfter: '5' });
    up.script('guarded-a', { kind: 'status', status: 429, retryAfter: '5' });
    assert.equal((await call('guard')).status, 429);
    const throttled = await call('guarded');
    assert.equal(throttled.status, 429, 'the fallback is cooling: the primary\'s own error');
    assert.equal(throttled.body.error.code, 'upstream_rate_limited');
    const answer = await call('guarded');
    assert.equal(answer.status, 503);
    assert.equal(answer.body.error.code, 'no_healthy_deployment');
    assert.match(answer.body.error.message, /"guarded"/);
    assert.match(answer.body.error.message, /\bguard\b/);
    const retryAfter = Number(answer.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 5, `retry-after ${answer.headers.get('retry-after')}`);
    assert.deepEqual([up.count('guarded-a'), up.count('guard-a')], [1, 1]);
  });
});

describe('deployment limits', () => {
  test('a deployment at its own rpm moves the request to the alias\'s other deployment', async () => {
    const first = await call('limited');
    assert.equal(first.servedBy, 'limited-a');
    const second = await call('limited');
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.servedBy, 'limited-b');
    assert.equal(second.headers.get('x-gateway-deployment'), 'dep-limited-b');
    assert.equal(second.headers.get('x-gateway-fallback-used'), 'false');
    assert.deepEqual([up.count('limited-a'), up.count('limited-b')], [1, 1]);
    assert.equal((await health()).get('dep-limited-a')!.state, 'healthy', 'a limit refusal is not a deployment failure');
  });

  test('with no other deployment the client gets 429 rate_limited for the deployment scope', async () => {
    assert.equal((await call('capped')).status, 200);
    const refused = await call('capped');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'rate_limited');
    assert.equal(refused.body.error.limit?.scope, 'deployment');
    assert.equal(up.count('capped-a'), 1);
  });
});

describe('no request lost while a healthy deployment exists', () => {
  async function fifty(name: string): Promise<ChatAnswer[]> {
    return Promise.all(Array.from({ length: 50 }, () => call(name)));
  }

  test('50 concurrent requests while the primary answers in 503 bursts and connection resets: all 200', async () => {
    const faults: Fault[] = [];
    for (let i = 0; i < 30; i++) faults.push(i % 3 === 2 ? { kind: 'reset' } : { kind: 'status', status: 503 });
    up.script('burst-p', ...faults);
    up.standing('burst-s', { kind: 'ok', latencyMs: 5 });
    const answers = await fifty('burst');
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => a.body), []);
    const served = answers.map((a) => a.servedBy);
    assert.ok(served.every((m) => m === 'burst-p' || m === 'burst-s'));
    assert.ok(up.count('burst-p') >= 1, 'the primary got traffic');
    assert.ok(await metric(gw, 'tollgate_deployment_cooldowns_total', { deployment: 'dep-burst-p' }) >= 1);
    // Every request the primary failed was retried on the sibling: nothing answered twice, nothing lost.
    const failedAtPrimary = up.requests.filter((r) => r.model === 'burst-p' && r.fault.kind !== 'ok').length;
    const answeredByPrimary = served.filter((m) => m === 'burst-p').length;
    assert.equal(up.count('burst-p'), failedAtPrimary + answeredByPrimary);
    assert.equal(up.count('burst-s'), 50 - answeredByPrimary);
  });

  test('50 concurrent requests while the primary resets every connection: all 200', async () => {
    up.standing('storm-p', { kind: 'reset' });
    const answers = await fifty('storm');
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => a.body), []);
    assert.ok(answers.every((a) => a.servedBy === 'storm-s'));
    assert.ok(up.count('storm-p') >= 1);
    assert.equal(up.count('storm-s'), 50);
  });
});
