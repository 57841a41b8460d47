// Input checks both CounterStore backends run before touching a counter. Counters hold integers
// (Redis HINCRBY refuses anything else), so a fractional amount is a caller bug: it fails here,
// the same way on both backends, instead of surfacing from Redis as an outage.

import type { AcquireRequest, ChargeRequest, SettleRequest } from './counter-store.ts';

function integer(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer ≥ ${min}, got ${value}`);
  }
}

function signedInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer, got ${value}`);
}

function present(id: string, what: string): void {
  if (typeof id !== 'string' || id === '') throw new RangeError(`${what} must be a non-empty string`);
}

export function validateAcquire(request: AcquireRequest): void {
  present(request.leaseId, 'leaseId');
  integer(request.now, 'now', 0);
  for (const w of request.windows) {
    present(w.id, 'window id');
    integer(w.limit, `window ${w.id} limit`, 0);
    integer(w.windowMs, `window ${w.id} windowMs`, 1);
    integer(w.cost, `window ${w.id} cost`, 0);
  }
  for (const c of request.concurrency) {
    present(c.id, 'concurrency id');
    integer(c.limit, `concurrency ${c.id} limit`, 0);
    integer(c.leaseMs, `concurrency ${c.id} leaseMs`, 1);
  }
  for (const b of request.budgets) {
    present(b.id, 'budget id');
    integer(b.limit, `budget ${b.id} limit`, 0);
    integer(b.amount, `budget ${b.id} amount`, 0);
    integer(b.periodEndsAt, `budget ${b.id} periodEndsAt`, 0);
    integer(b.reservationTtlMs, `budget ${b.id} reservationTtlMs`, 1);
  }
}

export function validateSettle(request: SettleRequest): void {
  present(request.leaseId, 'leaseId');
  integer(request.now, 'now', 0);
  for (const w of request.windows) {
    present(w.id, 'window id');
    integer(w.windowMs, `window ${w.id} windowMs`, 1);
    integer(w.acquiredAt, `window ${w.id} acquiredAt`, 0);
    signedInteger(w.delta, `window ${w.id} delta`);
  }
  for (const id of request.concurrency) present(id, 'concurrency id');
  for (const b of request.budgets) {
    present(b.id, 'budget id');
    integer(b.actual, `budget ${b.id} actual`, 0);
    integer(b.periodEndsAt, `budget ${b.id} periodEndsAt`, 0);
  }
}

export function validateBudgetQuery(ids: readonly string[], now: number): void {
  for (const id of ids) present(id, 'budget id');
  integer(now, 'now', 0);
}

export function validateClaim(id: string, now: number, expiresAt: number): void {
  present(id, 'claim id');
  integer(now, 'now', 0);
  integer(expiresAt, 'expiresAt', 0);
}

export function validateCharge(request: ChargeRequest): void {
  present(request.chargeId, 'chargeId');
  integer(request.now, 'now', 0);
  for (const b of request.budgets) {
    present(b.id, 'budget id');
    integer(b.amount, `budget ${b.id} amount`, 0);
    integer(b.periodEndsAt, `budget ${b.id} periodEndsAt`, 0);
  }
}
