// Policy stage, after route: rate limits, concurrency limits, the per-request cost cap and
// budget reservations for one request, in one atomic acquire (one Redis round trip).
//
// Scopes: the key, its team, the tenant, the tenant on this alias (model_limits), the
// deployment (its share of a vendor key's quota) and the global section. Token counts are
// estimated only when some limit needs them (a real tokenizer, plus the most output tokens the
// request allows), and the worst-case cost is reserved against dollar budgets. The returned
// Admission settles to the actual usage when the call ends, releasing what was not used.

import { GatewayError } from '../errors/gateway-error.ts';
import { deploymentRateLimits, LIMIT_FIELDS, type Limits, type LimitPolicy } from '../identity/records.ts';
import type { LimitPolicySource } from '../limits/limit-policies.ts';
import type { Logger } from '../logging/logger.ts';
import type { BudgetAlerts } from '../limits/budget-alerts.ts';
import { cachedBudgetPeriod } from '../limits/budget-period.ts';
import { MICRO, plainUsage, worstCaseMicroUsd } from '../limits/cost.ts';
import { createPriceTable, type PriceTable } from '../ledger/pricing/price-table.ts';
import { CounterStoreUnavailable, type AcquireResult, type CounterStore, type Refusal } from '../limits/counter-store.ts';
import { buildPlan, costCap, planNeeds, UNLIMITED, type Amounts, type CounterMeta, type LimitPlan, type LimitScope, type ScopeLimits } from '../limits/limit-plan.ts';
import { rateLimitHeaders } from '../limits/ratelimit-headers.ts';
import type { Deployment, Usage } from '../providers/types.ts';
import type { AttemptRecord } from '../routing/attempt-log.ts';
import { randomHex } from './random-ids.ts';
import type { RequestContext } from './request-context.ts';

/** The request's token estimate, computed only when a limit needs it. */
export interface TokenDemand {
  readonly inputTokens: number;
  readonly maxOutputTokens: number;
}

/** How the call ended, for settlement. */
export interface Outcome {
  /** The provider's usage, when it reported one. */
  readonly usage?: Usage;
  /** The provider accepted the request (2xx), so it may bill for it even without usage. */
  readonly accepted: boolean;
  /** Without usage: output tokens estimated from what a broken stream had delivered. */
  readonly partialOutputTokens?: number;
  /** Every attempt made for the request (retries, fallbacks), for the ledger. */
  readonly attempts?: readonly AttemptRecord[];
}

/** A request let through: its headers, and the settlement of what it reserved. */
export interface Admission {
  /** x-ratelimit-* for the response (empty when no window applies). */
  readonly headers: Readonly<Record<string, string>>;
  /** Releases leases and settles reservations to the actual usage. Idempotent, never throws, never awaited on the response path. */
  settle(outcome: Outcome): void;
}

export interface PolicyOptions {
  readonly store: CounterStore;
  /** limits.global from config, when no policy source says otherwise. */
  readonly global: Readonly<Limits>;
  /** Global and deployment limits in effect (config and /admin/limits); without it, config only. */
  readonly policies?: LimitPolicySource;
  readonly trackSpend: boolean;
  readonly logger: Logger;
  readonly alerts?: BudgetAlerts;
  /**
   * Prices for dollar budgets and cost caps (the one the ledger uses, built from the config's
   * deployments); without it, a table resolving each deployment on first use.
   */
  readonly prices?: PriceTable;
  /** Epoch ms (tests inject a clock to cross period boundaries). */
  readonly now: () => number;
}

/**
 * `demand` is called only when a limit needs token counts; `maxCostHeader` is X-Max-Cost-Usd;
 * `stream` lengthens how long leases and reservations are held (a stream may outlast its timeout).
 */
export type Policy = (ctx: RequestContext, alias: string, dep: Deployment, demand: () => TokenDemand, maxCostHeader: string | undefined, stream?: boolean) => Promise<Admission | undefined>;

/** The request header's cap, as a pseudo-scope for planNeeds and costCap only (it has no counters). */
const HEADER_CAP = 'X-Max-Cost-Usd';
const TRACKED: ReadonlySet<LimitScope> = new Set(['key', 'team', 'tenant']);
const NOTHING: ReadonlySet<LimitScope> = new Set();
/** The longest wait a concurrency refusal suggests. */
const CONCURRENCY_RETRY_MS = 1_000;
/** Leases and reservations outlive the call's own timeout by this much before they expire unsettled. */
const HOLD_GRACE_MS = 60_000;
/**
 * A stream's timeout bounds the pause between chunks, not its length, so a stream's leases and
 * reservations are held at least this long. Only a replica that crashes mid-call leaves them
 * held until then; every other end of a call settles them at once.
 */
const STREAM_HOLD_MS = 30 * 60_000;

function isEmpty(limits: Readonly<Limits>): boolean {
  for (const field of LIMIT_FIELDS) if (limits[field] !== undefined) return false;
  return true;
}

export function createPolicy(options: PolicyOptions): Policy {
  const { store, logger } = options;
  const configGlobal: ScopeLimits | undefined = isEmpty(options.global) ? undefined : { scope: 'global', id: 'global', limits: options.global };
  const depScopes = new WeakMap<Deployment, ScopeLimits | null>();
  /** Scopes for policies from the source, made once per policy object (a policy is replaced, never changed). */
  const policyScopes = new WeakMap<LimitPolicy, ScopeLimits | null>();
  const unpricedWarned = new Set<string>();
  const trackSpend = options.trackSpend ? TRACKED : NOTHING;
  const periodOf = cachedBudgetPeriod();
  const leaseIds = leaseIdSource();
  const prices = options.prices ?? createPriceTable([], { now: options.now, logger });

  function policyScope(policy: LimitPolicy, scope: 'global' | 'deployment', id: string): ScopeLimits | undefined {
    let made = policyScopes.get(policy);
    if (made === undefined) {
      made = isEmpty(policy) ? null : { scope, id, limits: policy };
      policyScopes.set(policy, made);
    }
    return made ?? undefined;
  }

  function globalScope(): ScopeLimits | undefined {
    const policy = options.policies?.get('global');
    return policy ? policyScope(policy, 'global', 'global') : configGlobal;
  }

  function deploymentScope(dep: Deployment): ScopeLimits | undefined {
    const policy = options.policies?.get(`deployment:${dep.id}`);
    if (policy) return policyScope(policy, 'deployment', dep.id);
    let scope = depScopes.get(dep);
    if (scope === undefined) {
      const limits = deploymentRateLimits(dep);
      scope = isEmpty(limits) ? null : { scope: 'deployment', id: dep.id, limits };
      depScopes.set(dep, scope);
    }
    return scope ?? undefined;
  }

  function scopesOf(ctx: RequestContext, alias: string, dep: Deployment): ScopeLimits[] {
    const scopes: ScopeLimits[] = [];
    const principal = ctx.principal;
    if (principal.kind === 'virtual') {
      const { key, team } = principal.resolved;
      scopes.push({ scope: 'key', id: key.key_id, limits: key });
      if (team) scopes.push({ scope: 'team', id: team.team_id, limits: team });
    }
    const tenant = ctx.tenant?.tenant;
    if (tenant) {
      scopes.push({ scope: 'tenant', id: tenant.tenant_id, limits: tenant });
      const perAlias = tenant.model_limits?.[alias];
      if (perAlias) scopes.push({ scope: 'tenant_model', id: `${tenant.tenant_id}|${alias}`, limits: perAlias });
    }
    const depScope = deploymentScope(dep);
    if (depScope) scopes.push(depScope);
    const global = globalScope();
    if (global) scopes.push(global);
    return scopes;
  }

  return async function policy(ctx, alias, dep, demand, maxCostHeader, stream = false) {
    const scopes = scopesOf(ctx, alias, dep);
    const headerCap = parseMaxCost(maxCostHeader);
    const capped = headerCap === undefined ? scopes : [...scopes, { scope: 'key' as const, id: HEADER_CAP, limits: { max_cost_per_request: headerCap } }];
    const needs = planNeeds(capped);
    let tokens: TokenDemand = { inputTokens: 0, maxOutputTokens: 0 };
    if (needs.tokens) tokens = countable(demand());
    const amounts: Amounts = {
      tokens: Math.min(UNLIMITED, tokens.inputTokens + tokens.maxOutputTokens),
      microUsd: needs.cost ? units(worstCaseMicroUsd(prices, dep, tokens.inputTokens, tokens.maxOutputTokens)) : 0,
    };
    if (needs.cost && !prices.isPriced(dep) && !unpricedWarned.has(dep.id)) {
      unpricedWarned.add(dep.id);
      logger.warn('deployment has no price (none in the price table, none in config): its calls count as $0 against dollar budgets and cost caps', { deployment: dep.id });
    }
    const cap = costCap(capped);
    if (cap && amounts.microUsd > cap.microUsd) {
      const from = cap.scopeId === HEADER_CAP ? 'the X-Max-Cost-Usd header' : `the ${cap.scope} ${cap.scopeId}`;
      throw new GatewayError('cost_cap_exceeded',
        `The request's worst-case cost is ${dollars(amounts.microUsd)} (${tokens.inputTokens} input tokens estimated plus up to ${tokens.maxOutputTokens} output tokens on deployment ${dep.id}), above the per-request cap of ${dollars(cap.microUsd)} set by ${from}. Lower max_tokens, shorten the input, or raise the cap.`,
        { limit: { type: 'cost_cap', scope: cap.scope, id: cap.scopeId, limit_usd: cap.microUsd / MICRO, worst_case_usd: amounts.microUsd / MICRO } });
    }
    const holdMs = Math.max(dep.timeoutMs, dep.streamTimeoutMs, stream ? STREAM_HOLD_MS : 0) + HOLD_GRACE_MS;
    const plan = buildPlan(scopes, amounts, { now: options.now(), leaseId: leaseIds(), holdMs, trackSpend, periodOf });
    if (!plan) return undefined;
    let result: AcquireResult;
    try {
      result = await store.acquire(plan.request);
    } catch (error) {
      if (error instanceof CounterStoreUnavailable) {
        throw new GatewayError('limits_unavailable', 'Rate limits and budgets cannot be checked: the shared limits store is unavailable and limits.on_store_failure is closed. Retry shortly.', { retryAfterSeconds: 1, cause: error });
      }
      throw error;
    }
    const headers = rateLimitHeaders(result.windows, plan.meta);
    if (!result.ok) throw refusal(result.refused, plan, amounts, headers);
    return admission(plan, result, needs.tokens ? tokens : demand, headers, dep);
  };

  /** `demand`: the estimate made for the plan, or the function to make it if a call ends without usage. */
  function admission(plan: LimitPlan, acquired: AcquireResult & { ok: true }, demand: TokenDemand | (() => TokenDemand), headers: Record<string, string>, dep: Deployment): Admission {
    let settled = false;
    return {
      headers,
      settle(outcome) {
        if (settled) return;
        settled = true;
        try {
          settleNow(outcome);
        } catch (error) {
          // Runs in the routes' finally blocks: a bug here must not replace the request's own outcome.
          logger.error('limits settle failed', { lease_id: plan.request.leaseId, error: (error as Error).message });
        }
      },
    };

    function settleNow(outcome: Outcome): void {
      // Without usage, a call the provider accepted is charged its estimated input (the prompt
      // was processed; the output that streamed before a break is unknown); a refused one costs nothing.
      const usage = outcome.usage;
      const inputTokens = usage ? units(usage.inputTokens) : outcome.accepted ? (typeof demand === 'function' ? countable(demand()) : demand).inputTokens : 0;
      const outputTokens = units(usage ? usage.outputTokens : outcome.partialOutputTokens ?? 0);
      const tokens = Math.min(UNLIMITED, inputTokens + outputTokens);
      // Dollars from the real usage: cached input at the cache-read price, cache writes at theirs.
      const charged: Usage = usage
        ? { inputTokens, outputTokens, cachedInputTokens: units(usage.cachedInputTokens), cacheWriteTokens: units(usage.cacheWriteTokens), reasoningTokens: units(usage.reasoningTokens), totalTokens: tokens }
        : plainUsage(inputTokens, outputTokens);
      const microUsd = usage || outcome.accepted ? units(prices.costMicroUsd(dep, charged)) : 0;
      const request = plan.request;
      const windows = request.windows.filter((w) => plan.meta.get(w.id)!.unit === 'tokens')
        .map((w) => ({ id: w.id, windowMs: w.windowMs, acquiredAt: request.now, delta: tokens - w.cost }));
      const budgets = request.budgets.map((b) => ({ id: b.id, periodEndsAt: b.periodEndsAt, actual: plan.meta.get(b.id)!.unit === 'usd' ? microUsd : tokens }));
      store.settle({ leaseId: request.leaseId, now: options.now(), windows, concurrency: request.concurrency.map((c) => c.id), budgets })
        .catch((error: Error) => logger.error('limits settle failed', { lease_id: request.leaseId, error: error.message }));
      if (options.alerts) observeBudgets(plan, acquired, budgets);
    }
  }

  function observeBudgets(plan: LimitPlan, acquired: AcquireResult & { ok: true }, settled: ReadonlyArray<{ id: string; actual: number }>): void {
    acquired.budgets.forEach((state, i) => {
      const meta = plan.meta.get(state.id)!;
      if (!meta.enforced || meta.scope === 'tenant_model' || meta.scope === 'deployment') return;
      options.alerts!.observe({
        budgetId: state.id, scope: meta.scope, scopeId: meta.scopeId, unit: meta.unit === 'usd' ? 'usd' : 'tokens',
        spent: state.spent + settled[i]!.actual, limit: state.limit, periodId: meta.period!.id, periodEndsAt: meta.period!.endsAt,
      });
    });
  }
}

/**
 * Counters hold safe integers. A request may ask for max_tokens 1e20 and a provider may report a
 * fractional or absurd usage: such amounts are rounded and capped at UNLIMITED, where they can
 * only be refused (or settled), never break the counter.
 */
function units(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.min(UNLIMITED, Math.round(n)) : 0;
}

function countable(demand: TokenDemand): TokenDemand {
  return { inputTokens: units(demand.inputTokens), maxOutputTokens: units(demand.maxOutputTokens) };
}

/** Lease ids unique across replicas and restarts: a random prefix per policy, then a counter (no crypto per request). */
function leaseIdSource(): () => string {
  const prefix = randomHex(8);
  let n = 0;
  return () => `${prefix}${(++n).toString(36)}`;
}

function dollars(micro: number): string {
  return `$${(micro / MICRO).toFixed(6).replace(/0{1,4}$/, '')}`;
}

/** X-Max-Cost-Usd: a per-request cap in US dollars. */
function parseMaxCost(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const amount = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(amount)) {
    throw new GatewayError('invalid_request', `X-Max-Cost-Usd: must be a number of US dollars such as 0.05, got ${JSON.stringify(value.slice(0, 32))}.`, { param: 'X-Max-Cost-Usd' });
  }
  return amount;
}

function refusal(refused: Refusal, plan: LimitPlan, amounts: Amounts, headers: Record<string, string>): GatewayError {
  const meta: CounterMeta = plan.meta.get(refused.id)!;
  const who = `${meta.scope === 'tenant_model' ? 'tenant × model' : meta.scope} ${meta.scopeId}`;
  const retryAfterSeconds = Math.max(1, Math.ceil(refused.retryAfterMs / 1000));
  // Dollar amounts are reported in dollars (the counters hold micro-dollars).
  const amount = (n: number) => (meta.unit === 'usd' ? n / MICRO : n);
  const limit: Record<string, unknown> = { type: limitType(meta), scope: meta.scope, id: meta.scopeId, limit: amount(refused.limit), used: amount(refused.used), unit: meta.unit };
  if (refused.kind === 'window') {
    const per = meta.unit === 'tokens' ? 'tokens per minute' : 'requests per minute';
    const cost = meta.unit === 'tokens' ? amounts.tokens : 1;
    const never = cost > refused.limit ? ` This request alone needs ${cost} tokens (estimated input plus max output), more than the limit: lower max_tokens.` : '';
    return new GatewayError('rate_limited', `Rate limit of ${refused.limit} ${per} for ${who} reached (${refused.used} used). Retry after ${retryAfterSeconds}s.${never}`,
      { retryAfterSeconds, headers, limit: { ...limit, retry_after_ms: refused.retryAfterMs } });
  }
  if (refused.kind === 'concurrency') {
    // A slot frees whenever any call in flight ends; the store only knows when the oldest lease
    // would expire (the deployment's timeout), so suggest a short retry instead.
    const retryAfterMs = Math.min(refused.retryAfterMs, CONCURRENCY_RETRY_MS);
    return new GatewayError('concurrency_limited', `${refused.used} requests of ${who} are in flight; the limit is ${refused.limit} at once (max_parallel_requests). Retry when one finishes.`,
      { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)), headers, limit: { ...limit, retry_after_ms: retryAfterMs } });
  }
  const period = meta.period!;
  const lifetime = period.id === 'all';
  const show = (n: number) => (meta.unit === 'usd' ? dollars(n) : `${n} tokens`);
  const resets = lifetime ? 'It does not reset (no budget_duration).' : `It resets at ${new Date(period.endsAt).toISOString()}.`;
  return new GatewayError('budget_exceeded',
    `Budget of ${who} exhausted: spend ${show(refused.used)} (settled plus reserved by requests in flight) of ${show(refused.limit)}; this request may cost up to ${show(meta.unit === 'usd' ? amounts.microUsd : amounts.tokens)}. ${resets}`,
    {
      ...(lifetime ? {} : { retryAfterSeconds }),
      headers,
      limit: {
        ...limit,
        budget: refused.id,
        period: period.id,
        ...(lifetime ? {} : { reset_at: new Date(period.endsAt).toISOString() }),
      },
    });
}

function limitType(meta: CounterMeta): string {
  if (meta.kind === 'concurrency') return 'concurrency';
  if (meta.kind === 'window') return meta.unit === 'tokens' ? 'tokens_per_minute' : 'requests_per_minute';
  return meta.unit === 'usd' ? 'budget_usd' : 'budget_tokens';
}
