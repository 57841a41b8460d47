// Spend so far per key, team, tenant and the global scope, for the admin API. It reads the
// same budget counters the policy stage reserves against (ids from scopeBudgets), so what it
// shows is what limits enforce: settled spend plus what requests in flight have reserved.

import type { Limits } from '../identity/records.ts';
import { MICRO } from './cost.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { CounterStoreUnavailable, type CounterStore } from './counter-store.ts';
import { LIFETIME } from './budget-period.ts';
import { scopeBudgets, UNLIMITED, type LimitScope } from './limit-plan.ts';

export interface BudgetReport {
  /** usd: dollars per budget_duration; tokens: tokens per budget_duration; daily_tokens: per UTC day. */
  readonly budget: 'usd' | 'tokens' | 'daily_tokens';
  /** Dollars for usd, tokens otherwise. */
  readonly unit: 'usd' | 'tokens';
  readonly period: string;
  readonly period_starts_at: string | null;
  /** When the counter starts from zero again; null for a lifetime budget. */
  readonly period_ends_at: string | null;
  /** null: spend is tracked without a limit. */
  readonly limit: number | null;
  /** Settled spend in the period. */
  readonly spent: number;
  /** Held by requests in flight (released or settled when they end). */
  readonly reserved: number;
  readonly remaining: number | null;
}

export interface SpendReport {
  readonly object_type: 'key' | 'team' | 'tenant' | 'global';
  readonly object_id: string;
  readonly budgets: BudgetReport[];
}

export type SpendReader = (scope: 'key' | 'team' | 'tenant' | 'global', id: string, limits: Readonly<Limits>) => Promise<SpendReport>;

const TRACKED: ReadonlySet<LimitScope> = new Set(['key', 'team', 'tenant']);

export function createSpendReader(store: CounterStore, trackSpend: boolean, now: () => number = Date.now): SpendReader {
  const tracked = trackSpend ? TRACKED : new Set<LimitScope>();
  return async (scope, id, limits) => {
    const at = now();
    const budgets = scopeBudgets({ scope, id, limits }, at, tracked);
    let states;
    try {
      states = await store.budgets(budgets.map((b) => b.id), at);
    } catch (error) {
      if (!(error instanceof CounterStoreUnavailable)) throw error;
      throw new GatewayError('limits_unavailable', 'Spend cannot be read: the shared limits store (Redis) is unavailable. Retry when it is back.', { retryAfterSeconds: 1, cause: error });
    }
    return {
      object_type: scope,
      object_id: id,
      budgets: budgets.map((b, i): BudgetReport => {
        const state = states[i]!;
        const show = (n: number) => (b.unit === 'usd' ? n / MICRO : n);
        const limited = b.limit !== UNLIMITED;
        const lifetime = b.period === LIFETIME;
        return {
          budget: b.id.startsWith('tokd:') ? 'daily_tokens' : b.unit === 'usd' ? 'usd' : 'tokens',
          unit: b.unit,
          period: b.period.id,
          period_starts_at: lifetime ? null : new Date(b.period.startsAt).toISOString(),
          period_ends_at: lifetime ? null : new Date(b.period.endsAt).toISOString(),
          limit: limited ? show(b.limit) : null,
          spent: show(state.spent),
          reserved: show(state.reserved),
          remaining: limited ? show(Math.max(0, b.limit - state.spent - state.reserved)) : null,
        };
      }),
    };
  };
}
