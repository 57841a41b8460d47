// Rate limits, concurrency limits, cost caps and budgets end to end, as a platform team uses
// them: limits set on teams, keys and tenants through the admin API, applications calling with
// the official SDKs, and every refusal a 429 (or 400 for the cost cap) that says which limit
// tripped. In-memory counters; the Redis backend has its own suites.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { fakeAliasesYaml, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-limits-e2e-0001';
const UPSTREAM_KEY = 'sk-upstream-limits-0001';
const PRICES = 'input_cost_per_token: 0.000001\noutput_cost_per_token: 0.000002';
// Deployment prices, as micro-dollars per token.
const IN_MICRO = 1;
const OUT_MICRO = 2;

let gw: TestGateway;
let upstream: FakeOpenAIUpstream;
let n = 0;

const admin = (method: string, path: string, body?: unknown) => adminRequest(gw.url, MASTER_KEY, method, path, body);

/** A fresh team and key (own counters for each test), with limits on either. */
async function keyWith(keyLimits: Record<string, unknown> = {}, teamLimits: Record<string, unknown> = {}): Promise<{ key_id: string; key: string; team_id: string }> {
  const team_id = `team-${++n}`;
  assert.equal((await admin('POST', '/admin/teams', { team_id, ...teamLimits })).status, 201);
  const created = await admin('POST', '/admin/keys', { team_id, ...keyLimits });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  return { key_id: created.json.key_id, key: created.json.key, team_id };
}

function openai(key: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0, defaultHeaders: headers });
}

const hi = (model = 'sim', maxTokens = 8) => ({ model, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: maxTokens });

async function refusal(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  assert.fail('the call succeeded');
}

async function spend(kind: 'keys' | 'teams' | 'tenants', id: string): Promise<Array<Record<string, any>>> {
  const report = await admin('GET', `/admin/${kind}/${id}/spend`);
  assert.equal(report.status, 200, JSON.stringify(report.json));
  return report.json.budgets;
}

/** Settlement happens after the response: wait until nothing is reserved. */
async function settledSpend(kind: 'keys' | 'teams' | 'tenants', id: string): Promise<Record<string, any>> {
  const deadline = performance.now() + 2_000;
  for (;;) {
    const [usd] = await spend(kind, id);
    if (usd!.reserved === 0 || performance.now() > deadline) return usd!;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

before(async () => {
  upstream = await startFakeOpenAIUpstream();
  gw = await startTestGateway(`
# These tests are about how one failure is reported: no retries, no cooldowns (test/e2e/reliability-*.test.ts cover those).
router: { num_retries: 0, disable_cooldowns: true }
general_settings:
  master_key: ${MASTER_KEY}
models:
  sim: { deployments: [{ id: sim-1, provider: simulator, model: sim-a, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }] }
  sim-b: { deployments: [{ id: sim-b-1, provider: simulator, model: sim-b, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }] }
  slow:
    deployments:
      - { id: slow-1, provider: simulator, model: sim-slow, simulator: { latency_ms: 300 }, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }
  quota: { deployments: [{ id: quota-1, provider: simulator, model: sim-q, rpm: 2 }] }
${fakeAliasesYaml(upstream.baseURL, UPSTREAM_KEY, ['ok', 'server-error', 'hang', 'hang-stream', 'rate-limited'], {
    ok: PRICES, 'server-error': PRICES, hang: `${PRICES}\ntimeout_ms: 300`, 'hang-stream': PRICES, 'rate-limited': PRICES,
  })}tenants:
  acme: { model_limits: { sim: { rpm_limit: 1 } } }
`);
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

describe('rate limits', () => {
  test('rpm on a key: the 4th call in the minute is 429 rate_limited, with Retry-After, x-ratelimit-* and which limit tripped', async () => {
    const { key, key_id } = await keyWith({ rpm_limit: 3 });
    const client = openai(key);
    for (const remaining of ['2', '1', '0']) {
      const { response } = await client.chat.completions.create(hi()).withResponse();
      assert.equal(response.headers.get('x-ratelimit-limit-requests'), '3');
      assert.equal(response.headers.get('x-ratelimit-remaining-requests'), remaining);
      assert.match(response.headers.get('x-ratelimit-reset-requests')!, /^\d+m[\d.]+s$|^[\d.]+s$/);
    }
    const error = await refusal(client.chat.completions.create(hi()));
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limited');
    assert.ok(Number(error.headers?.get('retry-after')) >= 1);
    assert.equal(error.headers?.get('x-ratelimit-remaining-requests'), '0');
    assert.equal(error.headers?.get('x-gateway-error-code'), 'rate_limited');
    const limit = (error.error as { limit: Record<string, unknown> }).limit;
    assert.deepEqual({ type: limit.type, scope: limit.scope, id: limit.id, limit: limit.limit, used: limit.used }, { type: 'requests_per_minute', scope: 'key', id: key_id, limit: 3, used: 3 });
    assert.match(error.message, new RegExp(`Rate limit of 3 requests per minute for key ${key_id} reached`));
  });

  test('rpm on the team counts every key of the team', async () => {
    const first = await keyWith({}, { rpm_limit: 2 });
    const second = await admin('POST', '/admin/keys', { team_id: first.team_id });
    await openai(first.key).chat.completions.create(hi());
    await openai(second.json.key).chat.completions.create(hi());
    const error = await refusal(openai(first.key).chat.completions.create(hi()));
    assert.equal(error.code, 'rate_limited');
    assert.equal((error.error as any).limit.scope, 'team');
  });

  test('tpm counts estimated input plus max_tokens; a request that alone exceeds the limit says to lower max_tokens', async () => {
    const { key } = await keyWith({ tpm_limit: 200 });
    const { response } = await openai(key).chat.completions.create(hi('sim', 50)).withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-tokens'), '200');
    const remaining = Number(response.headers.get('x-ratelimit-remaining-tokens'));
    assert.ok(remaining < 150 && remaining > 100, `remaining ${remaining}: 50 output plus a few input tokens were taken`);
    const error = await refusal(openai(key).chat.completions.create(hi('sim', 500)));
    assert.equal(error.code, 'rate_limited');
    assert.equal((error.error as any).limit.type, 'tokens_per_minute');
    assert.match(error.message, /alone needs \d+ tokens .* lower max_tokens/);
  });

  test('tenant × alias (model_limits) limits only that alias for that tenant', async () => {
    const { key } = await keyWith();
    const acme = openai(key, { 'x-tenant-id': 'acme' });
    await acme.chat.completions.create(hi('sim'));
    const error = await refusal(acme.chat.completions.create(hi('sim')));
    assert.equal(error.code, 'rate_limited');
    assert.deepEqual([(error.error as any).limit.scope, (error.error as any).limit.id], ['tenant_model', 'acme|sim']);
    await acme.chat.completions.create(hi('sim-b'));
    await openai(key, { 'x-tenant-id': 'someone-else' }).chat.completions.create(hi('sim'));
  });

  test('deployment rpm protects the vendor key for every caller, the master key included', async () => {
    const client = openai(MASTER_KEY);
    await client.chat.completions.create(hi('quota'));
    await client.chat.completions.create(hi('quota'));
    const error = await refusal(client.chat.completions.create(hi('quota')));
    assert.deepEqual([error.code, (error.error as any).limit.scope, (error.error as any).limit.id], ['rate_limited', 'deployment', 'quota-1']);
  });

  test('max_parallel_requests: the third concurrent call is 429 concurrency_limited; a slot frees when one finishes', async () => {
    const { key, team_id } = await keyWith({}, { max_parallel_requests: 2 });
    const client = openai(key);
    const running = [client.chat.completions.create(hi('slow')), client.chat.completions.create(hi('slow'))];
    await new Promise((resolve) => setTimeout(resolve, 50));
    const error = await refusal(client.chat.completions.create(hi('slow')));
    assert.equal(error.code, 'concurrency_limited');
    assert.deepEqual([(error.error as any).limit.scope, (error.error as any).limit.id, (error.error as any).limit.limit], ['team', team_id, 2]);
    await Promise.all(running);
    await client.chat.completions.create(hi('slow'));
  });

  test('the Messages API refuses in Anthropic\'s envelope, which the Anthropic SDK raises as RateLimitError', async () => {
    const { key } = await keyWith({ rpm_limit: 1 });
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0 });
    await anthropic.messages.create({ model: 'sim', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    const error = await anthropic.messages.create({ model: 'sim', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof Anthropic.RateLimitError, String(error));
    assert.match((error as InstanceType<typeof Anthropic.RateLimitError>).message, /\[rate_limited\]/);
    assert.equal(((error as any).error.error.limit as Record<string, unknown>).scope, 'key');
  });
});

describe('cost cap and budgets', () => {
  test('X-Max-Cost-Usd below the worst case is 400 cost_cap_exceeded before any provider call; a key cap works the same', async () => {
    const { key } = await keyWith({ max_cost_per_request: 0.0001 });
    const before = upstream.requests.length;
    const header = await refusal(openai(key, { 'x-max-cost-usd': '0.000005' }).chat.completions.create(hi('up-ok', 4)));
    assert.equal(header.status, 400);
    assert.equal(header.code, 'cost_cap_exceeded');
    assert.match(header.message, /X-Max-Cost-Usd header/);
    const keyCap = await refusal(openai(key).chat.completions.create(hi('up-ok', 100)));
    assert.equal(keyCap.code, 'cost_cap_exceeded');
    assert.match(keyCap.message, /the key /);
    assert.equal(upstream.requests.length, before, 'the provider was never called');
    const bad = await refusal(openai(key, { 'x-max-cost-usd': 'lots' }).chat.completions.create(hi('up-ok', 4)));
    assert.deepEqual([bad.status, bad.code, bad.param], [400, 'invalid_request', 'X-Max-Cost-Usd']);
    await openai(key, { 'x-max-cost-usd': '1' }).chat.completions.create(hi('up-ok', 4));
  });

  test('a dollar budget: spend settles to actual usage; at 100% the call is 429 budget_exceeded naming spend, limit and reset', async () => {
    // Worst case of one call: ~9 input tokens × $1e-6 + 8 output × $2e-6 ≈ $0.000025; 3 calls fit.
    const { key, key_id } = await keyWith({ max_budget: 0.00008, budget_duration: '1d' });
    const client = openai(key);
    let expected = 0;
    for (;;) {
      const result = await client.chat.completions.create(hi('sim', 8)).then((r) => r, (e: unknown) => e);
      if (result instanceof OpenAI.APIError) {
        assert.equal(result.status, 429);
        assert.equal(result.code, 'budget_exceeded');
        const limit = (result.error as any).limit;
        assert.equal(limit.type, 'budget_usd');
        assert.equal(limit.scope, 'key');
        assert.equal(limit.limit, 0.00008);
        assert.equal(limit.unit, 'usd');
        assert.match(limit.reset_at, /T00:00:00.000Z$/);
        assert.match(result.message, new RegExp(`Budget of key ${key_id} exhausted: spend \\$[\\d.]+ .* of \\$0\\.00008`));
        break;
      }
      const usage = (result as OpenAI.ChatCompletion).usage!;
      expected += usage.prompt_tokens * IN_MICRO + usage.completion_tokens * OUT_MICRO;
      assert.ok(expected <= 80, 'never more settled than the budget');
    }
    const usd = await settledSpend('keys', key_id);
    assert.equal(Math.round(usd.spent * 1e6), expected);
    assert.equal(usd.limit, 0.00008);
    assert.equal(usd.period_ends_at.slice(11), '00:00:00.000Z');
  });

  test('streams settle to the usage in the stream, and carry the x-ratelimit headers', async () => {
    const { key, key_id } = await keyWith({ rpm_limit: 10, max_budget: 1 });
    const { data: stream, response } = await openai(key).chat.completions.create({ ...hi('sim', 6), stream: true, stream_options: { include_usage: true } }).withResponse();
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '9');
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const usd = await settledSpend('keys', key_id);
    assert.equal(Math.round(usd.spent * 1e6), usage!.prompt_tokens * IN_MICRO + usage!.completion_tokens * OUT_MICRO);
  });

  test('nothing leaks: an upstream 500, a timeout and a client that disconnects mid-stream release their reservations', async () => {
    const { key, key_id, team_id } = await keyWith({ max_budget: 1, max_parallel_requests: 1 });
    const client = openai(key);
    assert.equal((await refusal(client.chat.completions.create(hi('up-server-error')))).status, 502);
    assert.equal((await refusal(client.chat.completions.create(hi('up-hang')))).code, 'upstream_timeout');
    let usd = await settledSpend('keys', key_id);
    assert.deepEqual([usd.spent, usd.reserved], [0, 0], 'failed calls cost nothing and hold nothing');

    const controller = new AbortController();
    const stream = await client.chat.completions.create({ ...hi('up-hang-stream', 50), stream: true }, { signal: controller.signal });
    const reading = (async () => {
      for await (const _ of stream) controller.abort();
    })().catch(() => undefined);
    await reading;
    usd = await settledSpend('keys', key_id);
    assert.equal(usd.reserved, 0);
    // The provider accepted the call, so its input is charged (the output is unknown): far below the worst case.
    assert.ok(usd.spent > 0 && usd.spent < 0.00005, `spent ${usd.spent}`);
    // The concurrency lease was released too: the next call gets the one slot.
    await client.chat.completions.create(hi('up-ok'));
    assert.equal((await settledSpend('teams', team_id)).reserved, 0);
  });

  test('a vendor 429 is never passed through raw: it is upstream_rate_limited, recorded against the deployment', async () => {
    const error = await refusal(openai(MASTER_KEY).chat.completions.create(hi('up-rate-limited')));
    assert.equal(error.status, 429);
    assert.equal(error.code, 'upstream_rate_limited');
    assert.equal(error.headers?.get('x-gateway-deployment'), 'fake-rate-limited');
    assert.ok(!(error.error as any).limit, 'no gateway limit tripped');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /tollgate_upstream_throttled_total\{deployment="fake-rate-limited"\} 1/);
    assert.equal(gw.gateway.app !== undefined, true);
  });

  test('spend is visible per key, team and tenant through the admin API, and none of it is reserved once calls end', async () => {
    const { key, key_id, team_id } = await keyWith();
    assert.equal((await admin('POST', '/admin/tenants', { tenant_id: `tenant-${n}`, max_budget: 5, budget_duration: '1mo' })).status, 201);
    const completion = await openai(key, { 'x-tenant-id': `tenant-${n}` }).chat.completions.create(hi('sim', 4));
    const cost = (completion.usage!.prompt_tokens * IN_MICRO + completion.usage!.completion_tokens * OUT_MICRO) / 1e6;
    for (const [kind, id] of [['keys', key_id], ['teams', team_id], ['tenants', `tenant-${n}`]] as const) {
      const usd = await settledSpend(kind, id);
      assert.equal(usd.spent, cost, `${kind} ${id}`);
      assert.equal(usd.budget, 'usd');
    }
    const tenant = (await spend('tenants', `tenant-${n}`))[0]!;
    assert.equal(tenant.limit, 5);
    assert.match(tenant.period, /^\d{4}-\d{2}$/);
  });
});

describe('global and deployment limits through the admin API', () => {
  const seg = encodeURIComponent;

  /** Policy changes reach the request path through the change notification: wait until a call is refused. */
  async function untilRefused(call: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
    const deadline = performance.now() + 3_000;
    for (;;) {
      const result = await call().then(() => undefined, (error: unknown) => error);
      if (result instanceof OpenAI.APIError) return result;
      if (performance.now() > deadline) assert.fail('the new limit never applied');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  test('a deployment limit set at run time applies to every caller; config-set ones are read-only', async () => {
    const created = await admin('POST', '/admin/limits', { scope: 'deployment:sim-b-1', rpm_limit: 2 });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    try {
      const error = await untilRefused(() => openai(MASTER_KEY).chat.completions.create(hi('sim-b')));
      assert.deepEqual([error.code, (error.error as any).limit.scope, (error.error as any).limit.id], ['rate_limited', 'deployment', 'sim-b-1']);
      const listed = await admin('GET', '/admin/limits');
      assert.deepEqual(listed.json.data.map((p: { scope: string; source: string }) => [p.scope, p.source]), [['deployment:quota-1', 'config'], ['deployment:sim-b-1', 'api']]);
      const readOnly = await admin('PATCH', `/admin/limits/${seg('deployment:quota-1')}`, { rpm_limit: 100 });
      assert.deepEqual([readOnly.status, readOnly.json.error.code], [409, 'managed_by_config']);
      const budget = await admin('PATCH', `/admin/limits/${seg('deployment:sim-b-1')}`, { max_budget: 5 });
      assert.deepEqual([budget.status, budget.json.error.code, budget.json.error.param], [400, 'invalid_request', 'max_budget']);
      const unknown = await admin('POST', '/admin/limits', { scope: 'deployment:nope', rpm_limit: 1 });
      assert.deepEqual([unknown.status, unknown.json.error.param], [400, 'scope']);
    } finally {
      assert.equal((await admin('DELETE', `/admin/limits/${seg('deployment:sim-b-1')}`)).status, 200);
    }
  });

  test('a global limit set at run time counts every call, and deleting it lifts it', async () => {
    assert.equal((await admin('POST', '/admin/limits', { scope: 'global', rpm_limit: 3 })).status, 201);
    const error = await untilRefused(() => openai(MASTER_KEY).chat.completions.create(hi('sim')));
    assert.deepEqual([(error.error as any).limit.scope, error.headers?.get('x-ratelimit-limit-requests')], ['global', '3']);
    assert.equal((await admin('DELETE', '/admin/limits/global')).status, 200);
    const deadline = performance.now() + 3_000;
    for (;;) {
      const ok = await openai(MASTER_KEY).chat.completions.create(hi('sim')).then(() => true, () => false);
      if (ok) break;
      if (performance.now() > deadline) assert.fail('the deleted global limit still applies');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
