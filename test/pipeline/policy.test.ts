// The policy stage: scopes from the request context and route, one acquire per request, refusals
// as GatewayErrors with x-ratelimit-* headers and `error.limit`, and settlement to actual usage.
// A real MemoryCounterStore, a capture logger and an injected clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { createPriceTable } from '../../src/ledger/pricing/price-table.ts';
import type { ResolvedKey, TenantPolicy } from '../../src/identity/key-directory.ts';
import type { Limits, RateLimits } from '../../src/identity/records.ts';
import type { BudgetAlerts } from '../../src/limits/budget-alerts.ts';
import { periodAt } from '../../src/limits/budget-period.ts';
import { CounterStoreUnavailable, type CounterStore } from '../../src/limits/counter-store.ts';
import { UNLIMITED } from '../../src/limits/limit-plan.ts';
import { MemoryCounterStore } from '../../src/limits/memory-counter-store.ts';
import type { Logger, LogLevel } from '../../src/logging/logger.ts';
import { createPolicy, type Admission, type PolicyOptions, type TokenDemand } from '../../src/pipeline/policy.ts';
import { ClientWatchSlot, type RequestContext } from '../../src/pipeline/request-context.ts';
import type { Deployment, Usage } from '../../src/providers/types.ts';
import { newTimeline } from '../../src/telemetry/finished-call.ts';

const T0 = Date.UTC(2026, 11, 15, 12); // noon UTC, the start of a minute

interface Line { level: LogLevel; msg: string; fields?: Record<string, unknown> }

function captureLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => { lines.push({ level, msg, ...(fields ? { fields } : {}) }); };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), enabled: () => true, flush: () => {} };
}

function deployment(over: Partial<Deployment> = {}): Deployment {
  return {
    id: 'openai-main', alias: 'chat', provider: 'openai', model: 'gpt-test', headers: {}, weight: 1,
    timeoutMs: 30_000, streamTimeoutMs: 60_000, connectTimeoutMs: 10_000, order: 1, healthCheck: true, dropParams: false, modelInfo: {},
    inputCostPerToken: 1e-6, outputCostPerToken: 2e-6, // 1 µ$ in, 2 µ$ out per token
    ...over,
  };
}

interface ContextOptions {
  key?: Limits;
  team?: Limits;
  tenant?: Limits & { model_limits?: Record<string, RateLimits> };
}

/** A request context as auth leaves it; only what the policy stage reads is filled in. */
function context(options: ContextOptions = {}): RequestContext {
  const ctx: RequestContext = {
    requestId: 'req-1', receivedAt: 0, trace: { traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', flags: '01' }, timeline: newTimeline(),
    principal: { kind: 'anonymous' }, client: new ClientWatchSlot(),
  };
  if (options.key) {
    const resolved = {
      key: { key_id: 'k1', team_id: 't1', ...options.key },
      team: options.team ? { team_id: 't1', ...options.team } : undefined,
      acl: {},
    };
    ctx.principal = { kind: 'virtual', resolved: resolved as unknown as ResolvedKey };
  }
  if (options.tenant) {
    ctx.tenantId = 'acme';
    ctx.tenant = { tenant: { tenant_id: 'acme', ...options.tenant }, acl: {} } as unknown as TenantPolicy;
  }
  return ctx;
}

function setup(over: Partial<PolicyOptions> = {}) {
  const store = new MemoryCounterStore();
  const logger = captureLogger();
  let now = T0;
  const policy = createPolicy({ store, global: {}, trackSpend: false, logger, now: () => now, ...over });
  let demanded = 0;
  const demandOf = (inputTokens: number, maxOutputTokens: number) => (): TokenDemand => {
    demanded++;
    return { inputTokens, maxOutputTokens };
  };
  return {
    store, logger, policy, demandOf,
    demanded: () => demanded,
    at: (t: number) => { now = t; },
    budget: async (id: string) => (await store.budgets([id], now))[0],
  };
}

const usage = (inputTokens: number, outputTokens: number): Usage => ({ inputTokens, outputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: inputTokens + outputTokens });
/** Admission.settle does not wait for the store: let it finish. */
const settled = () => new Promise((resolve) => setImmediate(resolve));
const NO_DEMAND = (): TokenDemand => assert.fail('the token estimate was asked for although no limit needs it');

async function refusedWith(promise: Promise<Admission | undefined>, code: string): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, the request was let through`);
}

test('no limits and no spend tracking: no admission, no token estimate', async () => {
  const { policy, store } = setup();
  const dep = deployment();
  assert.equal(await policy(context(), 'chat', dep, NO_DEMAND, undefined), undefined);
  assert.equal(await policy(context({ key: {}, team: {}, tenant: { model_limits: { other: { rpm_limit: 1 } } } }), 'chat', dep, NO_DEMAND, undefined), undefined);
  assert.equal(await policy(context({ key: { budget_duration: '1d' } }), 'chat', dep, NO_DEMAND, undefined), undefined);
  assert.deepEqual(store.size(), { windows: 0, concurrency: 0, budgets: 0 });
});

test('rpm limit: rate_limited with Retry-After, x-ratelimit-* headers and error.limit', async () => {
  const { policy } = setup();
  const ctx = context({ key: { rpm_limit: 2 } });
  const dep = deployment();
  const first = (await policy(ctx, 'chat', dep, NO_DEMAND, undefined))!;
  assert.deepEqual(first.headers, { 'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '1', 'x-ratelimit-reset-requests': '2m0s' });
  const second = (await policy(ctx, 'chat', dep, NO_DEMAND, undefined))!;
  assert.equal(second.headers['x-ratelimit-remaining-requests'], '0');

  const error = await refusedWith(policy(ctx, 'chat', dep, NO_DEMAND, undefined), 'rate_limited');
  assert.equal(error.status, 429);
  // Two in the current window, limit 2: room for one more halfway through the next window.
  assert.equal(error.retryAfterSeconds, 90);
  assert.deepEqual(error.headers, { 'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '2m0s' });
  assert.deepEqual(error.limit, { type: 'requests_per_minute', scope: 'key', id: 'k1', limit: 2, used: 2, unit: 'requests', retry_after_ms: 90_000 });
  assert.match(error.message, /Rate limit of 2 requests per minute for key k1/);
  // Settling does not give requests back.
  first.settle({ accepted: true, usage: usage(1, 1) });
  await settled();
  await refusedWith(policy(ctx, 'chat', dep, NO_DEMAND, undefined), 'rate_limited');
});

test('every scope is enforced: team, tenant, deployment and global', async () => {
  const cases: Array<{ name: string; scope: string; id: string; ctx: RequestContext; dep?: Deployment; global?: Limits }> = [
    { name: 'team', scope: 'team', id: 't1', ctx: context({ key: {}, team: { rpm_limit: 1 } }) },
    { name: 'tenant', scope: 'tenant', id: 'acme', ctx: context({ tenant: { rpm_limit: 1 } }) },
    { name: 'deployment', scope: 'deployment', id: 'openai-main', ctx: context(), dep: deployment({ rpm: 1 }) },
    { name: 'global', scope: 'global', id: 'global', ctx: context(), global: { rpm_limit: 1 } },
  ];
  for (const c of cases) {
    const { policy } = setup(c.global ? { global: c.global } : {});
    const dep = c.dep ?? deployment();
    assert.ok(await policy(c.ctx, 'chat', dep, NO_DEMAND, undefined), c.name);
    const error = await refusedWith(policy(c.ctx, 'chat', dep, NO_DEMAND, undefined), 'rate_limited');
    assert.equal(error.limit!.scope, c.scope, c.name);
    assert.equal(error.limit!.id, c.id, c.name);
  }
});

test('tpm limit: tokens_per_minute refusal; a request larger than the limit is told to lower max_tokens', async () => {
  const { policy, demandOf } = setup();
  const ctx = context({ key: { tpm_limit: 1_000 } });
  const dep = deployment();
  const first = (await policy(ctx, 'chat', dep, demandOf(400, 200), undefined))!;
  assert.deepEqual(first.headers, { 'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '400', 'x-ratelimit-reset-tokens': '2m0s' });
  const error = await refusedWith(policy(ctx, 'chat', dep, demandOf(400, 200), undefined), 'rate_limited');
  assert.equal(error.limit!.type, 'tokens_per_minute');
  assert.equal(error.limit!.used, 600);
  assert.doesNotMatch(error.message, /lower max_tokens/);
  // The estimate was high: settling to 300 actual tokens makes room for the same request.
  first.settle({ accepted: true, usage: usage(200, 100) });
  await settled();
  assert.ok(await policy(ctx, 'chat', dep, demandOf(400, 200), undefined));
  const tooBig = await refusedWith(policy(ctx, 'chat', dep, demandOf(500, 600), undefined), 'rate_limited');
  assert.match(tooBig.message, /This request alone needs 1100 tokens .* lower max_tokens/);
  assert.equal(tooBig.retryAfterSeconds, 60);
});

test('tenant model_limits apply to that alias only', async () => {
  const { policy } = setup();
  const ctx = context({ tenant: { model_limits: { chat: { rpm_limit: 1 } } } });
  const dep = deployment();
  assert.ok(await policy(ctx, 'chat', dep, NO_DEMAND, undefined));
  const error = await refusedWith(policy(ctx, 'chat', dep, NO_DEMAND, undefined), 'rate_limited');
  assert.deepEqual([error.limit!.scope, error.limit!.id], ['tenant_model', 'acme|chat']);
  assert.match(error.message, /tenant × model acme\|chat/);
  for (let i = 0; i < 3; i++) assert.equal(await policy(ctx, 'embed', deployment({ alias: 'embed' }), NO_DEMAND, undefined), undefined, 'another alias has no limit');
});

test('concurrency limit: concurrency_limited until settle releases the lease', async () => {
  const { policy } = setup();
  const ctx = context({ key: { max_parallel_requests: 1 } });
  const dep = deployment();
  const first = (await policy(ctx, 'chat', dep, NO_DEMAND, undefined))!;
  assert.deepEqual(first.headers, {}, 'no window, no headers');
  const error = await refusedWith(policy(ctx, 'chat', dep, NO_DEMAND, undefined), 'concurrency_limited');
  assert.equal(error.retryAfterSeconds, 1, 'a slot frees when any call ends: retry soon, not at the lease expiry');
  assert.ok((error.limit!.retry_after_ms as number) <= 1_000);
  assert.equal(error.status, 429);
  assert.ok(error.retryAfterSeconds! >= 1);
  assert.deepEqual({ ...error.limit, retry_after_ms: undefined }, { type: 'concurrency', scope: 'key', id: 'k1', limit: 1, used: 1, unit: 'requests', retry_after_ms: undefined });
  first.settle({ accepted: false });
  await settled();
  const second = (await policy(ctx, 'chat', dep, NO_DEMAND, undefined))!;
  assert.ok(second);
  await refusedWith(policy(ctx, 'chat', dep, NO_DEMAND, undefined), 'concurrency_limited');
});

test('the token estimate is asked for only when a token or cost limit applies', async () => {
  const { policy, demandOf, demanded } = setup();
  const dep = deployment({ rpm: 100, maxParallelRequests: 10 });
  const demand = demandOf(100, 50);
  await policy(context({ key: { rpm_limit: 5, max_parallel_requests: 2, budget_duration: '1d' } }), 'chat', dep, demand, undefined);
  assert.equal(demanded(), 0);
  const withTpm = (await policy(context({ key: { tpm_limit: 1_000 } }), 'chat', dep, demand, undefined))!;
  assert.equal(demanded(), 1);
  assert.equal(withTpm.headers['x-ratelimit-remaining-tokens'], '850');
  await policy(context({ key: { max_budget: 1 } }), 'chat', dep, demand, undefined);
  await policy(context({ key: {} }), 'chat', dep, demand, '1.00');
  assert.equal(demanded(), 3);
});

test('dollar budget: the worst case is reserved, settled to the actual cost, settle twice is a no-op', async () => {
  const { policy, demandOf, budget } = setup();
  const ctx = context({ key: { max_budget: 1 } });
  const dep = deployment();
  // 1 000 input tokens × 1 µ$ + 500 max output × 2 µ$ = 2 000 µ$.
  const admission = (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!;
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 0, reserved: 2_000 });
  admission.settle({ accepted: true, usage: usage(800, 100) });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 1_000, reserved: 0 });
  admission.settle({ accepted: true, usage: usage(100_000, 100_000) });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 1_000, reserved: 0 });
});

test('budget_exceeded names the budget, its spend, limit and reset', async () => {
  const { policy, demandOf } = setup();
  const ctx = context({ team: { max_budget: 0.005, budget_duration: '1d' }, key: {} });
  const dep = deployment();
  const day = periodAt('1d', T0);
  const held = [(await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!, (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!];
  const error = await refusedWith(policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined), 'budget_exceeded');
  assert.equal(error.status, 429);
  assert.equal(error.retryAfterSeconds, (day.endsAt - T0) / 1000);
  assert.deepEqual(error.limit, {
    type: 'budget_usd', scope: 'team', id: 't1', limit: 0.005, used: 0.004, unit: 'usd',
    budget: `usd:team:t1:${day.id}`, period: day.id, reset_at: '2026-12-16T00:00:00.000Z',
  });
  assert.match(error.message, /Budget of team t1 exhausted: spend \$0.004 .* of \$0.005; this request may cost up to \$0.002\. It resets at 2026-12-16T00:00:00.000Z/);
  // Releasing one reservation makes room.
  held[0].settle({ accepted: false });
  await settled();
  assert.ok(await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined));
});

test('a lifetime budget says it does not reset and sends no Retry-After', async () => {
  const { policy, demandOf } = setup();
  const ctx = context({ key: { max_budget: 0.001 } });
  const error = await refusedWith(policy(ctx, 'chat', deployment(), demandOf(1_000, 500), undefined), 'budget_exceeded');
  assert.equal(error.retryAfterSeconds, undefined);
  assert.equal(error.limit!.period, 'all');
  assert.equal(error.limit!.reset_at, undefined);
  assert.match(error.message, /does not reset/);
});

test('settlement: a refused call costs 0, an accepted one without usage is charged its estimated input', async () => {
  const { policy, demandOf, budget } = setup();
  const ctx = context({ key: { max_budget: 1, token_budget: 1_000_000, tpm_limit: 100_000 } });
  const dep = deployment();
  const refusedCall = (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!;
  refusedCall.settle({ accepted: false });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 0, reserved: 0 });
  assert.deepEqual(await budget('tok:key:k1:all'), { id: 'tok:key:k1:all', limit: 1_000_000, spent: 0, reserved: 0 });

  const broken = (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!;
  // The window took 1 500 of this request's tokens (and 0 are left of the first's after its refund).
  assert.equal(broken.headers['x-ratelimit-remaining-tokens'], String(100_000 - 1_500));
  broken.settle({ accepted: true });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 1_000, reserved: 0 });
  assert.deepEqual(await budget('tok:key:k1:all'), { id: 'tok:key:k1:all', limit: 1_000_000, spent: 1_000, reserved: 0 });
  const next = (await policy(ctx, 'chat', dep, demandOf(0, 0), undefined))!;
  assert.equal(next.headers['x-ratelimit-remaining-tokens'], String(100_000 - 1_000), 'the tpm window was corrected to the charged tokens');
});

test('X-Max-Cost-Usd: below the worst case is cost_cap_exceeded; at it the request goes through', async () => {
  const { policy, demandOf } = setup();
  const dep = deployment();
  const error = await refusedWith(policy(context(), 'chat', dep, demandOf(1_000, 500), '0.0015'), 'cost_cap_exceeded');
  assert.equal(error.status, 400);
  assert.deepEqual(error.limit, { type: 'cost_cap', scope: 'key', id: 'X-Max-Cost-Usd', limit_usd: 0.0015, worst_case_usd: 0.002 });
  assert.match(error.message, /set by the X-Max-Cost-Usd header/);
  // At the cap: fine; with no other limit there is nothing to count.
  assert.equal(await policy(context(), 'chat', dep, demandOf(1_000, 500), ' 0.002 '), undefined);
});

test('the smallest of the header and max_cost_per_request caps applies', async () => {
  const { policy, demandOf } = setup();
  const dep = deployment();
  const ctx = context({ key: {}, team: { max_cost_per_request: 0.001 } });
  const error = await refusedWith(policy(ctx, 'chat', dep, demandOf(1_000, 500), '5'), 'cost_cap_exceeded');
  assert.deepEqual([error.limit!.scope, error.limit!.id, error.limit!.limit_usd], ['team', 't1', 0.001]);
  const byHeader = await refusedWith(policy(context({ key: { max_cost_per_request: 5 } }), 'chat', dep, demandOf(1_000, 500), '0.0019'), 'cost_cap_exceeded');
  assert.equal(byHeader.limit!.id, 'X-Max-Cost-Usd');
});

test('an invalid X-Max-Cost-Usd is invalid_request naming the header', async () => {
  const { policy, demandOf } = setup();
  for (const value of ['abc', '-1', '1e3', '', '$1', '0x10', 'Infinity', '.5']) {
    const error = await refusedWith(policy(context(), 'chat', deployment(), demandOf(1, 1), value), 'invalid_request');
    assert.equal(error.status, 400, value);
    assert.equal(error.param, 'X-Max-Cost-Usd', value);
  }
});

test('an unpriced deployment costs $0 against dollar limits, with one warning per deployment', async () => {
  const { policy, demandOf, budget, logger } = setup();
  const dep = deployment({ inputCostPerToken: undefined, outputCostPerToken: undefined });
  const ctx = context({ key: { max_budget: 0.000001 } });
  for (let i = 0; i < 3; i++) (await policy(ctx, 'chat', dep, demandOf(1_000, 500), '0'))!.settle({ accepted: true, usage: usage(1_000, 500) });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1, spent: 0, reserved: 0 });
  assert.deepEqual(logger.lines.filter((l) => l.level === 'warn').map((l) => l.fields), [{ deployment: 'openai-main' }]);
});

test('a deployment the price table lists is priced without config prices; settlement prices cached and cache-write tokens', async () => {
  // claude-haiku-4-5 in @pydantic/genai-prices: $1 in, $0.10 cache read, $1.25 cache write, $5 out per Mtok.
  const dep = deployment({ id: 'haiku', provider: 'anthropic', model: 'claude-haiku-4-5', inputCostPerToken: undefined, outputCostPerToken: undefined });
  const prices = createPriceTable([dep]);
  const { policy, demandOf, budget, logger } = setup({ prices });
  const ctx = context({ key: { max_budget: 1 } });
  const admission = (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!;
  // worst case: 1 000 × 1 µ$ + 500 × 5 µ$
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 0, reserved: 3_500 });
  // 10 000 input of which 8 000 cache reads and 1 000 cache writes, 200 output:
  // 1 000 × 1 + 8 000 × 0.1 + 1 000 × 1.25 + 200 × 5 = 1 000 + 800 + 1 250 + 1 000 µ$
  admission.settle({ accepted: true, usage: { inputTokens: 10_000, outputTokens: 200, cachedInputTokens: 8_000, cacheWriteTokens: 1_000, reasoningTokens: 0, totalTokens: 10_200 } });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 4_050, reserved: 0 });
  assert.deepEqual(logger.lines.filter((l) => l.level === 'warn'), [], 'priced: no warning');
});

test('a per-request price counts in the worst case and in settlement, not for a refused call', async () => {
  const dep = deployment({ inputCostPerRequest: 0.001 });
  const { policy, demandOf, budget } = setup({ prices: createPriceTable([dep]) });
  const ctx = context({ key: { max_budget: 1 } });
  const refusedCall = (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!;
  // 1 000 µ$ per request + 1 000 × 1 µ$ + 500 × 2 µ$
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 0, reserved: 3_000 });
  refusedCall.settle({ accepted: false });
  const served = (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!;
  served.settle({ accepted: true, usage: usage(10, 10) });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 1_030, reserved: 0 });
});

test('daily_token_cap: spend in one UTC day does not count the next', async () => {
  const { policy, demandOf, at, budget } = setup();
  const ctx = context({ key: { daily_token_cap: 1_500 } });
  const dep = deployment();
  at(Date.UTC(2026, 11, 15, 23, 59, 30));
  const first = (await policy(ctx, 'chat', dep, demandOf(600, 400), undefined))!;
  first.settle({ accepted: true, usage: usage(600, 400) });
  await settled();
  const today = periodAt('1d', Date.UTC(2026, 11, 15));
  assert.deepEqual(await budget(`tokd:key:k1:${today.id}`), { id: `tokd:key:k1:${today.id}`, limit: 1_500, spent: 1_000, reserved: 0 });
  const error = await refusedWith(policy(ctx, 'chat', dep, demandOf(600, 400), undefined), 'budget_exceeded');
  assert.equal(error.limit!.type, 'budget_tokens');
  assert.equal(error.limit!.budget, `tokd:key:k1:${today.id}`);
  assert.equal(error.retryAfterSeconds, 30);
  assert.equal(error.limit!.reset_at, '2026-12-16T00:00:00.000Z');

  at(Date.UTC(2026, 11, 16));
  const next = (await policy(ctx, 'chat', dep, demandOf(600, 400), undefined))!;
  assert.ok(next, 'a new day starts from zero');
  const tomorrow = periodAt('1d', Date.UTC(2026, 11, 16));
  assert.deepEqual(await budget(`tokd:key:k1:${tomorrow.id}`), { id: `tokd:key:k1:${tomorrow.id}`, limit: 1_500, spent: 0, reserved: 1_000 });
});

test('trackSpend: keys, teams and tenants without budgets still count their spend (never refused)', async () => {
  const { policy, demandOf, budget } = setup({ trackSpend: true });
  const ctx = context({ key: {}, team: {}, tenant: {} });
  const dep = deployment();
  const admission = (await policy(ctx, 'chat', dep, NO_DEMAND, undefined))!;
  assert.ok(admission, 'tracked even with no limit');
  assert.deepEqual(admission.headers, {});
  admission.settle({ accepted: true, usage: usage(1_000, 500) });
  await settled();
  for (const id of ['usd:key:k1:all', 'usd:team:t1:all', 'usd:tenant:acme:all']) {
    assert.deepEqual(await budget(id), { id, limit: UNLIMITED, spent: 2_000, reserved: 0 });
  }
  // Anonymous callers without a tenant have nothing to track.
  assert.equal(await policy(context(), 'chat', dep, demandOf(1, 1), undefined), undefined);
});

test('budget alerts see enforced key, team and tenant budgets after settlement', async () => {
  const observed: unknown[] = [];
  const alerts = { observe: (o: unknown) => observed.push(o) } as unknown as BudgetAlerts;
  const { policy, demandOf } = setup({ alerts, trackSpend: true });
  const ctx = context({ key: { max_budget: 1 }, team: {}, tenant: { model_limits: { chat: { rpm_limit: 5 } } } });
  const admission = (await policy(ctx, 'chat', deployment(), demandOf(1_000, 500), undefined))!;
  admission.settle({ accepted: true, usage: usage(100, 50) });
  assert.deepEqual(observed, [{
    budgetId: 'usd:key:k1:all', scope: 'key', scopeId: 'k1', unit: 'usd', spent: 200, limit: 1_000_000, periodId: 'all', periodEndsAt: Date.UTC(9999, 0, 1),
  }], 'tracking-only budgets raise no alerts');
});

test('a store that cannot be reached (fail closed) is limits_unavailable', async () => {
  const down: CounterStore = {
    backend: 'redis',
    acquire: async () => { throw new CounterStoreUnavailable('down'); },
    settle: async () => {},
    charge: async () => {},
    budgets: async () => [],
    claimOnce: async () => false,
    close: async () => {},
  };
  const { policy } = setup({ store: down });
  const error = await refusedWith(policy(context({ key: { rpm_limit: 1 } }), 'chat', deployment(), NO_DEMAND, undefined), 'limits_unavailable');
  assert.equal(error.status, 503);
  assert.equal(error.retryAfterSeconds, 1);
  assert.ok(error.cause instanceof CounterStoreUnavailable);
});

test('streams hold their lease and reservation for at least 30 minutes; other calls for their timeout plus a minute', async () => {
  const { policy, demandOf, at, budget } = setup();
  const ctx = context({ key: { max_parallel_requests: 1, max_budget: 1 } });
  const dep = deployment({ timeoutMs: 30_000, streamTimeoutMs: 10_000 });
  (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined, true))!;
  at(T0 + 29 * 60_000);
  await refusedWith(policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined), 'concurrency_limited');
  assert.equal((await budget('usd:key:k1:all'))!.reserved, 2_000, 'the running stream still holds its worst case');
  at(T0 + 31 * 60_000 + 1);
  const call = (await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined))!;
  at(T0 + 31 * 60_000 + 1 + 90_001);
  assert.ok(await policy(ctx, 'chat', dep, demandOf(1_000, 500), undefined), 'a non-stream call held 30 s + 60 s');
  call.settle({ accepted: false });
});

test('spend tracking without limits still charges an accepted call that ended without usage its estimated input', async () => {
  const { policy, demandOf, demanded, budget } = setup({ trackSpend: true });
  const admission = (await policy(context({ key: {} }), 'chat', deployment(), demandOf(700, 300), undefined))!;
  assert.equal(demanded(), 0, 'no estimate on the way in');
  admission.settle({ accepted: true });
  await settled();
  assert.equal(demanded(), 1, 'estimated once, after the call');
  assert.equal((await budget('usd:key:k1:all'))!.spent, 700);
});

test('absurd amounts (max_tokens 1e20, fractional or huge usage) are refused or settled, never a store error', async () => {
  const { policy, demandOf, budget } = setup();
  const ctx = context({ key: { tpm_limit: 100_000, max_budget: 1 } });
  const huge = await refusedWith(policy(ctx, 'chat', deployment(), demandOf(10, 1e20), undefined), 'rate_limited');
  assert.match(huge.message, /alone needs \d+ tokens/);
  const admission = (await policy(ctx, 'chat', deployment(), demandOf(10, 20), undefined))!;
  admission.settle({ accepted: true, usage: usage(10.4, 2 ** 60) });
  await settled();
  assert.deepEqual(await budget('usd:key:k1:all'), { id: 'usd:key:k1:all', limit: 1_000_000, spent: 2 ** 52, reserved: 0 }, 'settled (capped), the reservation released');
});
