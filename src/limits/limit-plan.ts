// Which counters one request touches. Pure: scopes and their limits in, an AcquireRequest and
// a description of every counter out. The policy stage (src/pipeline/policy.ts) gathers the
// scopes from the request context and the route, and runs the plan through the counter store.
//
// Counter ids name the kind, scope and scope id, and budgets their period:
//   rpm:key:<key_id>   tpm:tenant_model:<tenant>|<alias>   cc:deployment:<id>
//   usd:team:<team_id>:<period>   tok:global:global:<period>   tokd:tenant:<id>:<day>
// Ids never hold '|' or a period separator ambiguously: object ids cannot contain '|'.

import type { Limits, RateLimits } from '../identity/records.ts';
import { budgetPeriod, type Period, type PeriodOf } from './budget-period.ts';
import { dollarsToMicro } from './cost.ts';
import type { AcquireRequest, BudgetLimit, ConcurrencyLimit, WindowLimit } from './counter-store.ts';

export type LimitScope = 'key' | 'team' | 'tenant' | 'tenant_model' | 'deployment' | 'global';
export type LimitUnit = 'requests' | 'tokens' | 'usd';

/** One scope's limits: a key, team or tenant record, a tenant's model_limits entry, a deployment, the global section. */
export interface ScopeLimits {
  readonly scope: LimitScope;
  readonly id: string;
  readonly limits: Readonly<Limits> | Readonly<RateLimits>;
}

/** What a counter is, for headers, error bodies, alerts and the admin API. */
export interface CounterMeta {
  readonly kind: 'window' | 'concurrency' | 'budget';
  readonly scope: LimitScope;
  readonly scopeId: string;
  readonly unit: LimitUnit;
  /** Budgets: the period the counter covers. */
  readonly period?: Period;
  /** Budgets: false for spend tracking without a limit (never refuses). */
  readonly enforced: boolean;
}

/** How much the request may take, worst case (the policy stage estimates it when needed). */
export interface Amounts {
  /** Estimated input tokens plus the most output tokens the request allows. */
  readonly tokens: number;
  /** Worst-case cost in micro-dollars. */
  readonly microUsd: number;
}

export interface PlanOptions {
  readonly now: number;
  readonly leaseId: string;
  /** How long leases and reservations live if never settled (a crashed replica). */
  readonly holdMs: number;
  /** Scopes whose spend is counted even without a budget (for spend-so-far). */
  readonly trackSpend: ReadonlySet<LimitScope>;
  /** Budget periods (default budgetPeriod; the policy stage passes a cached one). */
  readonly periodOf?: PeriodOf;
}

export interface LimitPlan {
  readonly request: AcquireRequest;
  readonly meta: ReadonlyMap<string, CounterMeta>;
}

const MINUTE = 60_000;
/** The limit of a tracking-only budget: never reached, and exact in both backends. */
export const UNLIMITED = 2 ** 52;

const has = (limits: Readonly<Limits>, field: keyof Limits) => limits[field] !== undefined;

/** Whether building the plan needs the token estimate and the worst-case cost (tokenizing is skipped otherwise). */
export function planNeeds(scopes: readonly ScopeLimits[]): { tokens: boolean; cost: boolean } {
  let tokens = false;
  let cost = false;
  for (const { limits } of scopes) {
    const l = limits as Limits;
    if (has(l, 'tpm_limit') || has(l, 'token_budget') || has(l, 'daily_token_cap')) tokens = true;
    if (has(l, 'max_budget') || has(l, 'max_cost_per_request')) cost = true;
  }
  return { tokens: tokens || cost, cost };
}

/** The smallest per-request cost cap among the scopes, in micro-dollars (undefined: no cap). */
export function costCap(scopes: readonly ScopeLimits[]): { microUsd: number; scope: LimitScope; scopeId: string } | undefined {
  let cap: { microUsd: number; scope: LimitScope; scopeId: string } | undefined;
  for (const { scope, id, limits } of scopes) {
    const dollars = (limits as Limits).max_cost_per_request;
    if (dollars === undefined) continue;
    const microUsd = dollarsToMicro(dollars);
    if (!cap || microUsd < cap.microUsd) cap = { microUsd, scope, scopeId: id };
  }
  return cap;
}

/** One budget counter of a scope: what it counts, its limit and period. */
export interface ScopeBudget {
  readonly id: string;
  readonly unit: 'usd' | 'tokens';
  /** Micro-dollars or tokens; UNLIMITED for spend tracking. */
  readonly limit: number;
  readonly period: Period;
  readonly enforced: boolean;
}

/**
 * The budget counters of one scope at `now`: dollars per budget_duration (or spend tracking),
 * tokens per budget_duration, tokens per UTC day. The admin API reads spend with the same ids.
 */
export function scopeBudgets(s: ScopeLimits, now: number, trackSpend: ReadonlySet<LimitScope>, periodOf: PeriodOf = budgetPeriod): ScopeBudget[] {
  const l = s.limits as Limits;
  const out: ScopeBudget[] = [];
  const at = (prefix: string, period: Period) => `${prefix}:${s.scope}:${s.id}:${period.id}`;
  const needsPeriod = l.max_budget !== undefined || l.token_budget !== undefined || trackSpend.has(s.scope);
  const period = needsPeriod ? periodOf(l.budget_duration, now) : undefined;
  if (l.max_budget !== undefined) out.push({ id: at('usd', period!), unit: 'usd', limit: dollarsToMicro(l.max_budget), period: period!, enforced: true });
  else if (trackSpend.has(s.scope)) out.push({ id: at('usd', period!), unit: 'usd', limit: UNLIMITED, period: period!, enforced: false });
  if (l.token_budget !== undefined) out.push({ id: at('tok', period!), unit: 'tokens', limit: l.token_budget, period: period!, enforced: true });
  if (l.daily_token_cap !== undefined) {
    const day = periodOf('1d', now);
    out.push({ id: at('tokd', day), unit: 'tokens', limit: l.daily_token_cap, period: day, enforced: true });
  }
  return out;
}

export function buildPlan(scopes: readonly ScopeLimits[], amounts: Amounts, options: PlanOptions): LimitPlan | undefined {
  const windows: WindowLimit[] = [];
  const concurrency: ConcurrencyLimit[] = [];
  const budgets: BudgetLimit[] = [];
  const meta = new Map<string, CounterMeta>();
  const { now, holdMs } = options;

  for (const s of scopes) {
    const l = s.limits as Limits;
    const key = `${s.scope}:${s.id}`;
    if (l.rpm_limit !== undefined) {
      windows.push({ id: `rpm:${key}`, limit: l.rpm_limit, windowMs: MINUTE, cost: 1 });
      meta.set(`rpm:${key}`, { kind: 'window', scope: s.scope, scopeId: s.id, unit: 'requests', enforced: true });
    }
    if (l.tpm_limit !== undefined) {
      windows.push({ id: `tpm:${key}`, limit: l.tpm_limit, windowMs: MINUTE, cost: amounts.tokens, correctable: true });
      meta.set(`tpm:${key}`, { kind: 'window', scope: s.scope, scopeId: s.id, unit: 'tokens', enforced: true });
    }
    if (l.max_parallel_requests !== undefined) {
      concurrency.push({ id: `cc:${key}`, limit: l.max_parallel_requests, leaseMs: holdMs });
      meta.set(`cc:${key}`, { kind: 'concurrency', scope: s.scope, scopeId: s.id, unit: 'requests', enforced: true });
    }
    for (const b of scopeBudgets(s, now, options.trackSpend, options.periodOf)) {
      budgets.push({ id: b.id, limit: b.limit, amount: b.unit === 'usd' ? amounts.microUsd : amounts.tokens, periodEndsAt: b.period.endsAt, reservationTtlMs: holdMs });
      meta.set(b.id, { kind: 'budget', scope: s.scope, scopeId: s.id, unit: b.unit, period: b.period, enforced: b.enforced });
    }
  }
  if (windows.length === 0 && concurrency.length === 0 && budgets.length === 0) return undefined;
  return { request: { leaseId: options.leaseId, now, windows, concurrency, budgets }, meta };
}
