// Reliability routing end to end, the end of a cooldown (non-streaming): exactly one half-open
// probe goes to a deployment when its cooldown ends, while concurrent requests go to its
// sibling; the probe's success makes it healthy, its failure cools it again; a vendor 429 with
// Retry-After cools a deployment at least that long; a retry never goes to a cooling deployment;
// and a probe that ends without a verdict (a 400, a client that left) must free the half-open
// slot. cooldown_ms is short (400 ms); every "while cooling" check either reads what the gateway
// logged (the cooldown's end) or uses a Retry-After several times longer than the check needs,
// so a slow machine cannot make the cooldown end under a test's feet.
// test/e2e/reliability-availability.test.ts covers entering a cooldown and its effect on traffic.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import {
  chat, faultAlias, faultDeployment, fastRouterYaml, logLines, loggedCooldownEnd, metric, providers, sleep, startGatedUpstream, until, type ChatAnswer, type GatedUpstream,
} from '../helpers/reliability.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-reliability-cooldowns-01';
const COOLDOWN_MS = 400;

let up: FaultUpstream;
let gate: GatedUpstream;
let gw: TestGateway;

before(async () => {
  up = await startFaultUpstream();
  gate = await startGatedUpstream();
  const yaml = `${fastRouterYaml(MASTER_KEY, `backoff: { initial_ms: 5, max_ms: 20 }\nallowed_fails: 1\nallowed_fails_window_ms: 60000\ncooldown_ms: ${COOLDOWN_MS}`)}models:
  pair:
    deployments:
${faultDeployment(gate.baseURL, 'dep-pair-a', 'pair-a')}
${faultDeployment('BASE', 'dep-pair-b', 'pair-b')}
${faultAlias('relapse', ['a', 'b'])}
${faultAlias('throttle', ['a', 'b'])}
${faultAlias('sticky', ['a', 'b'])}
${faultAlias('once', ['a'])}
${faultAlias('probe-400', ['a'], '{ num_retries: 0 }')}
${faultAlias('probe-gone', ['a'], '{ num_retries: 0 }')}
`.replaceAll('BASE', up.baseURL);
  gw = await startTestGateway(yaml);
});

after(async () => {
  gate?.release();
  await gw?.shutdown();
  await up?.close();
  await gate?.close();
});

const call = (model: string) => chat(gw, MASTER_KEY, model);
const health = () => providers(gw, MASTER_KEY);
const cooldownLines = (deployment: string) => logLines(gw, 'deployment entered cooldown', (l) => l.deployment === deployment);

/** Sleeps past the deployment's latest cooldown (as logged) and checks it is half-open. */
async function waitOutCooldown(deployment: string): Promise<void> {
  await sleep(Math.max(0, loggedCooldownEnd(gw, deployment) - Date.now()) + 15);
  assert.equal((await health()).get(deployment)!.state, 'half_open');
}

/** Two requests to a two-deployment alias whose `a` fails twice (allowed_fails: 1): `a` cools, `b` serves both. */
async function coolFirst(name: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const answer = await call(name);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.servedBy, `${name}-b`);
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
  }
  assert.equal(cooldownLines(`dep-${name}-a`).length, 1);
}

describe('half-open', () => {
  test('after cooldown_ms exactly one probe goes to the deployment; requests meanwhile go to the sibling; its success makes it healthy', async () => {
    gate.script('fail', 'fail', 'hold');
    await coolFirst('pair');
    assert.equal(gate.received, 2);
    await waitOutCooldown('dep-pair-a');

    // Six at once, right after the cooldown: one is the probe (held by the upstream), five go to pair-b.
    const settled: ChatAnswer[] = [];
    const wave = Array.from({ length: 6 }, () => call('pair').then((answer) => {
      settled.push(answer);
      return answer;
    }));
    await until(() => settled.length + gate.holding >= 6);
    assert.equal(gate.received, 3, 'exactly one request reached the half-open deployment');
    assert.equal(gate.holding, 1);
    assert.deepEqual(settled.map((a) => [a.status, a.servedBy, a.headers.get('x-gateway-attempts')]), Array(5).fill([200, 'pair-b', '1']));
    // More while the probe is still in flight: still the sibling.
    for (let i = 0; i < 3; i++) assert.equal((await call('pair')).servedBy, 'pair-b');
    assert.equal(gate.received, 3);
    const during = (await health()).get('dep-pair-a')!;
    assert.equal(during.in_flight, 1);
    assert.equal(logLines(gw, 'deployment half-open: sending a probe request', (l) => l.deployment === 'dep-pair-a').length, 1);

    gate.release();
    const probe = (await Promise.all(wave)).find((a) => a.servedBy === 'pair-a');
    assert.ok(probe, 'the probe was served by the recovering deployment');
    assert.equal(probe.headers.get('x-gateway-attempts'), '1');
    const a = (await health()).get('dep-pair-a')!;
    assert.equal(a.state, 'healthy');
    assert.equal(a.cooldown_until, undefined);
    assert.equal(await metric(gw, 'tollgate_deployment_cooling', { deployment: 'dep-pair-a' }), 0);
    assert.equal(logLines(gw, 'deployment recovered: cooldown over', (l) => l.deployment === 'dep-pair-a').length, 1);
    const next = await call('pair');
    assert.equal(next.servedBy, 'pair-a', 'ordered: the recovered deployment is first again');
    assert.equal(gate.received, 4);
  });

  test('a failed probe cools the deployment again; the probing request itself is served by the sibling', async () => {
    up.script('relapse-a', { kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    await coolFirst('relapse');
    const first = loggedCooldownEnd(gw, 'dep-relapse-a');
    await waitOutCooldown('dep-relapse-a');
    up.script('relapse-a', { kind: 'status', status: 503 });
    const probe = await call('relapse');
    assert.equal(probe.status, 200);
    assert.equal(probe.servedBy, 'relapse-b');
    assert.equal(probe.headers.get('x-gateway-attempts'), '2');
    assert.equal(up.count('relapse-a'), 3);
    const row = (await health()).get('dep-relapse-a')!;
    const second = loggedCooldownEnd(gw, 'dep-relapse-a');
    if (Date.now() < second) assert.equal(row.state, 'cooling');
    assert.ok(second > first);
    assert.deepEqual(cooldownLines('dep-relapse-a').map((l) => l.reason), ['upstream_error', 'upstream_overloaded']);
    assert.equal(await metric(gw, 'tollgate_deployment_cooldowns_total', { deployment: 'dep-relapse-a' }), 2);
  });
});

describe('Retry-After and where retries go', () => {
  test('a 429 with Retry-After: 3 cools the deployment for at least 3 s, beyond cooldown_ms', async () => {
    const t0 = Date.now();
    up.script('throttle-a', { kind: 'status', status: 429, retryAfter: '3' });
    const answer = await call('throttle');
    assert.equal(answer.servedBy, 'throttle-b');
    assert.equal(cooldownLines('dep-throttle-a').length, 1, 'one 429 with Retry-After is enough, whatever allowed_fails says');
    assert.ok(loggedCooldownEnd(gw, 'dep-throttle-a') >= t0 + 3_000, 'cools for at least the Retry-After');
    assert.equal((await health()).get('dep-throttle-a')!.vendor_throttled, 1);
    assert.equal(await metric(gw, 'tollgate_upstream_throttled_total', { deployment: 'dep-throttle-a' }), 1);
    // Past cooldown_ms, well inside the Retry-After: the sibling still serves.
    await sleep(Math.max(0, t0 + COOLDOWN_MS + 100 - Date.now()));
    assert.equal((await health()).get('dep-throttle-a')!.state, 'cooling');
    assert.equal((await call('throttle')).servedBy, 'throttle-b');
    assert.equal(up.count('throttle-a'), 1);
  });

  test('a retry never goes to a cooling deployment, and a breaker cooldown is not waited out', async () => {
    up.script('sticky-a', { kind: 'status', status: 429, retryAfter: '5' });
    assert.equal((await call('sticky')).servedBy, 'sticky-b');
    assert.equal((await health()).get('dep-sticky-a')!.state, 'cooling');
    const before = up.requests.length;
    up.script('sticky-b', { kind: 'status', status: 503 }, { kind: 'status', status: 503 }, { kind: 'ok' });
    const answer = await call('sticky');
    // The second 503 cooled sticky-b too (allowed_fails 1): with sticky-a cooling for the
    // vendor's 5 s, nothing is left to retry on, and the breaker's own cooldown (the deployment
    // keeps failing) is not worth waiting for: the client gets the last error at once.
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'upstream_overloaded');
    const sent = up.requests.slice(before);
    assert.deepEqual(sent.map((r) => r.model), ['sticky-b', 'sticky-b']);
    assert.equal(up.count('sticky-a'), 1, 'the cooling deployment got no retry');
    assert.equal((await health()).get('dep-sticky-b')!.state, 'cooling');
  });

  test('a 429 with Retry-After: 1 on a one-deployment alias (cooldowns on): the retry waits ≥ ~1 s, the client gets 200', async () => {
    const before = up.requests.length;
    up.script('once-a', { kind: 'status', status: 429, retryAfter: '1' }, { kind: 'ok' });
    const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
    const { data, response } = await client.chat.completions.create({ model: 'once', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'served by once-a');
    assert.equal(response.headers.get('x-gateway-attempts'), '2');
    const sent = up.requests.slice(before);
    assert.equal(sent.length, 2);
    assert.ok(sent[1]!.at - sent[0]!.at >= 950, `the retry came ${Math.round(sent[1]!.at - sent[0]!.at)} ms after the 429`);
    assert.equal((await health()).get('dep-once-a')!.state, 'healthy');
  });
});

// A probe that ends without saying anything about the deployment (the request's own fault, or
// the client leaving) must not keep it out of rotation: the claim on the probe has to end with
// the probe. Otherwise it lasts the deployment's timeout_ms (600 s by default), during which
// /health/providers says half_open ("the next request is the probe") yet no request gets there.
describe('a probe that proves nothing frees the half-open slot', () => {
  async function coolSolo(name: string): Promise<void> {
    assert.equal((await call(name)).status, 502);
    assert.equal((await call(name)).status, 502);
    await waitOutCooldown(`dep-${name}-a`);
  }

  test('the probe gets a 400 (the request\'s fault): the next request may probe again', async () => {
    up.script('probe-400-a', { kind: 'status', status: 500 }, { kind: 'status', status: 500 }, { kind: 'status', status: 400 });
    await coolSolo('probe-400');
    const probe = await call('probe-400');
    assert.equal(probe.status, 400);
    assert.equal(probe.body.error.code, 'upstream_bad_request');
    assert.equal(up.count('probe-400-a'), 3);
    const row = (await health()).get('dep-probe-400-a')!;
    const next = await call('probe-400');
    assert.equal(next.status, 200, `after the 400 probe, /health/providers says ${row.state} with ${row.in_flight} in flight, but the next request got ${next.status} ${next.body.error?.code}: ${next.body.error?.message}`);
    assert.equal(next.servedBy, 'probe-400-a');
  });

  test('the probing client disconnects: the next request may probe again', async () => {
    up.script('probe-gone-a', { kind: 'status', status: 500 }, { kind: 'status', status: 500 }, { kind: 'ok', latencyMs: 300 });
    await coolSolo('probe-gone');
    const controller = new AbortController();
    let ended = false;
    const gone = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'probe-gone', messages: [{ role: 'user', content: 'hi' }] }),
    }).catch((err: unknown) => err).finally(() => {
      ended = true;
    });
    await until(() => up.count('probe-gone-a') === 3 || ended);
    assert.equal(up.count('probe-gone-a'), 3, 'the probe reached the upstream');
    controller.abort();
    await gone;
    await until(async () => (await health()).get('dep-probe-gone-a')!.in_flight === 0);
    const row = (await health()).get('dep-probe-gone-a')!;
    const next = await call('probe-gone');
    assert.equal(next.status, 200, `after the abandoned probe, /health/providers says ${row.state} with ${row.in_flight} in flight, but the next request got ${next.status} ${next.body.error?.code}`);
    assert.equal(next.servedBy, 'probe-gone-a');
  });
});
