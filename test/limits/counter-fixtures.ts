// Builders shared by the counter-store contract files: requests with an injected clock, and
// unique lease ids. Times are offsets from T0, the start of a minute (window index boundary).

import assert from 'node:assert/strict';
import type { AcquireRequest, AcquireResult, BudgetLimit, ConcurrencyLimit, CounterStore, Refusal, SettleRequest, WindowLimit } from '../../src/limits/counter-store.ts';

export const T0 = Date.UTC(2026, 0, 1);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

let leases = 0;
export function leaseId(): string {
  return `lease-${process.pid}-${++leases}`;
}

export function window(id: string, limit: number, cost = 1, windowMs = MINUTE): WindowLimit {
  return { id, limit, windowMs, cost };
}

export function concurrency(id: string, limit: number, leaseMs = 30_000): ConcurrencyLimit {
  return { id, limit, leaseMs };
}

export function budget(id: string, limit: number, amount: number, periodEndsAt = T0 + 30 * DAY, reservationTtlMs = 10 * MINUTE): BudgetLimit {
  return { id, limit, amount, periodEndsAt, reservationTtlMs };
}

export function acquireAt(now: number, limits: Partial<Pick<AcquireRequest, 'windows' | 'concurrency' | 'budgets' | 'leaseId'>>): AcquireRequest {
  return { leaseId: leaseId(), now, windows: [], concurrency: [], budgets: [], ...limits };
}

export function settleAt(now: number, leaseId: string, parts: Partial<Pick<SettleRequest, 'windows' | 'concurrency' | 'budgets'>>): SettleRequest {
  return { leaseId, now, windows: [], concurrency: [], budgets: [], ...parts };
}

export function granted(result: AcquireResult): Extract<AcquireResult, { ok: true }> {
  assert.ok(result.ok, `expected the acquire to succeed, refused: ${JSON.stringify(!result.ok && result.refused)}`);
  return result;
}

export function refused(result: AcquireResult): Refusal {
  assert.ok(!result.ok, 'expected the acquire to be refused');
  return result.refused;
}

/** retryAfterMs is exact: one ms earlier the same request is still refused; at it, it fits (refusals take nothing). */
export async function assertRetryExact(store: CounterStore, request: AcquireRequest): Promise<number> {
  const wait = refused(await store.acquire(request)).retryAfterMs;
  assert.ok(wait >= 1);
  if (wait > 1) refused(await store.acquire({ ...request, leaseId: leaseId(), now: request.now + wait - 1 }));
  granted(await store.acquire({ ...request, leaseId: leaseId(), now: request.now + wait }));
  return wait;
}
