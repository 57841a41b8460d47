// tollgate_budget_utilization_ratio{scope, id, budget}: settled spend over the limit, per
// budget of each key, team, tenant or the global scope that has one (usd: max_budget, tokens:
// token_budget, daily_tokens: daily_token_cap), in the current period. It is the same
// fraction budget alerts compare with their thresholds, read when /metrics is scraped: one
// counter-store round trip per scrape for all budgets, nothing per request. Spend reserved by
// calls in flight is left out (it is released or settled within a call's time).
//
// Which scopes are shown is the caller's choice (`targets`): every one is a set of series, so
// keep it to the teams and tenants operators watch. budgetTargetsFromAdmin() lists the teams
// and tenants (and, if asked, active keys) that have a budget, refreshed once a minute.

import type { AdminService } from '../admin/admin-service.ts';
import type { Limits } from '../identity/records.ts';
import type { CounterStore } from '../limits/counter-store.ts';
import { scopeBudgets, type ScopeBudget } from '../limits/limit-plan.ts';
import type { Metrics } from './metrics.ts';

export interface BudgetTarget {
  readonly scope: 'key' | 'team' | 'tenant' | 'global';
  readonly id: string;
  readonly limits: Readonly<Limits>;
}

export interface BudgetUtilizationGaugeOptions {
  /** The limits' counter store (LimitsRuntime.store). */
  readonly store: Pick<CounterStore, 'budgets'>;
  /** The scopes to show, read at each scrape. */
  readonly targets: () => Iterable<BudgetTarget> | Promise<Iterable<BudgetTarget>>;
  /** Epoch ms (LimitsRuntime.now): budget periods are counted by it. */
  readonly now?: () => number;
}

/** Spend tracking without a limit is not a budget: no ratio to show. */
const TRACK_NONE: ReadonlySet<never> = new Set();

function budgetKind(b: ScopeBudget): 'usd' | 'tokens' | 'daily_tokens' {
  if (b.id.startsWith('tokd:')) return 'daily_tokens';
  return b.unit === 'usd' ? 'usd' : 'tokens';
}

export function registerBudgetUtilizationGauge(metrics: Metrics, options: BudgetUtilizationGaugeOptions): void {
  const now = options.now ?? Date.now;
  metrics.stateGauge(
    'tollgate_budget_utilization_ratio',
    'Settled spend over the limit of each budget (usd, tokens, daily_tokens) of a key, team, tenant or the global scope, in its current period; 1 is exhausted.',
    ['scope', 'id', 'budget'],
    async (set) => {
      const at = now();
      const shown: { labels: { scope: string; id: string; budget: string }; limit: number }[] = [];
      const ids: string[] = [];
      for (const target of await options.targets()) {
        for (const b of scopeBudgets(target, at, TRACK_NONE)) {
          if (!b.enforced || !(b.limit > 0)) continue;
          ids.push(b.id);
          shown.push({ labels: { scope: target.scope, id: target.id, budget: budgetKind(b) }, limit: b.limit });
        }
      }
      if (ids.length === 0) return;
      const states = await options.store.budgets(ids, at);
      for (let i = 0; i < shown.length; i++) set(shown[i].labels, (states[i]?.spent ?? 0) / shown[i].limit);
    },
  );
}

export interface AdminBudgetTargetsOptions {
  /** Which objects are listed; keys can be many, so they are left out unless asked for. Default team and tenant. */
  readonly scopes?: readonly ('team' | 'tenant' | 'key')[];
  /** The global scope's limits (LimitsRuntime.global), shown when it has a budget. */
  readonly global?: () => Readonly<Limits>;
  /** The list is read again at most this often. Default 60 000 ms. */
  readonly refreshMs?: number;
  /** Scopes shown at most (each is up to three series). Default 1 000. */
  readonly maxTargets?: number;
  /** Epoch ms, for the refresh interval. */
  readonly now?: () => number;
}

function hasBudget(l: Readonly<Limits>): boolean {
  return l.max_budget !== undefined || l.token_budget !== undefined || l.daily_token_cap !== undefined;
}

/** Teams, tenants (and active keys) with a budget, from the admin service; cached between refreshes. */
export function budgetTargetsFromAdmin(admin: Pick<AdminService, 'listTeams' | 'listTenants' | 'listKeys'>, options: AdminBudgetTargetsOptions = {}): () => Promise<BudgetTarget[]> {
  const scopes = options.scopes ?? ['team', 'tenant'];
  const refreshMs = options.refreshMs ?? 60_000;
  const max = options.maxTargets ?? 1000;
  const now = options.now ?? Date.now;
  let listed: BudgetTarget[] | undefined;
  let listedAt = 0;
  let listing: Promise<BudgetTarget[]> | undefined;

  async function list(): Promise<BudgetTarget[]> {
    const out: BudgetTarget[] = [];
    const pages = async <T>(next: (after: string | undefined) => Promise<{ data: T[]; next?: string }>, take: (row: T) => BudgetTarget | undefined) => {
      let after: string | undefined;
      do {
        const page = await next(after);
        for (const row of page.data) {
          const target = take(row);
          if (target && hasBudget(target.limits)) out.push(target);
          if (out.length >= max) return;
        }
        after = page.next;
      } while (after !== undefined);
    };
    for (const scope of scopes) {
      if (out.length >= max) break;
      if (scope === 'team') await pages((after) => admin.listTeams({ limit: 1000, ...(after ? { after } : {}) }), (t) => ({ scope, id: t.team_id, limits: t }));
      else if (scope === 'tenant') await pages((after) => admin.listTenants({ limit: 1000, ...(after ? { after } : {}) }), (t) => ({ scope, id: t.tenant_id, limits: t }));
      else await pages((after) => admin.listKeys({ limit: 1000, status: 'active', ...(after ? { after } : {}) }), (k) => ({ scope, id: k.key_id, limits: k }));
    }
    return out;
  }

  return async () => {
    const global = options.global?.();
    const withGlobal = (targets: BudgetTarget[]) => (global && hasBudget(global) ? [{ scope: 'global' as const, id: 'global', limits: global }, ...targets] : targets);
    if (listed !== undefined && now() - listedAt < refreshMs) return withGlobal(listed);
    // One listing at a time, whatever the number of scrapes waiting on it.
    listing ??= list().then((targets) => {
      listed = targets;
      listedAt = now();
      return targets;
    }).finally(() => {
      listing = undefined;
    });
    return withGlobal(await listing);
  };
}
