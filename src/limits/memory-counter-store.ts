// The in-memory CounterStore: one instance, the embedded default. Every operation runs
// synchronously inside its async method, so it is atomic with respect to every other call.
// Its semantics mirror the Lua scripts of the Redis backend (src/limits/redis-scripts.ts) step
// for step, including the order of lazy expiry; the contract suite holds the two to the same
// results.
//
// Memory stays bounded by the live traffic: windows older than the previous one, expired
// leases and reservations, and budgets past periodEndsAt + BUDGET_RETENTION_MS are dropped when
// touched and by a sweep of everything every `sweepIntervalMs` of the injected clock (no timer:
// an idle store does not grow).

import { validateAcquire, validateBudgetQuery, validateCharge, validateClaim, validateSettle } from './counter-input.ts';
import type { AcquireRequest, AcquireResult, BudgetState, ChargeRequest, CounterStore, Refusal, SettleRequest, WindowState } from './counter-store.ts';
import { BUDGET_RETENTION_MS, LATE_SETTLE_GRACE_MS, UNKNOWN_RETRY_MS, checkWindow, isCorrectable, reportWindow, windowIndex } from './sliding-window.ts';

interface WindowSlot {
  count: number;
  /** Leases counted here with a correctable cost and not settled yet. */
  pending?: Set<string>;
}

interface WindowCounter {
  windowMs: number;
  /** By window index; at most the current and the previous one after a prune. */
  slots: Map<number, WindowSlot>;
}

interface Budget {
  /** The limit of the last acquire that reserved from it (what budgets() reports). */
  limit: number;
  spent: number;
  reserved: number;
  periodEndsAt: number;
  reservations: Map<string, { amount: number; expiresAt: number }>;
  /** Reservations that expired unsettled: lease → when to forget it. */
  expired: Map<string, number>;
  /** No reservation or tombstone expires before this (skips the scan on the hot path). */
  nextExpiry: number;
  /** Charges applied (charge is idempotent). */
  charged?: Set<string>;
}

interface Leases {
  expiresAt: Map<string, number>;
  nextExpiry: number;
}

export interface MemoryCounterStoreOptions {
  /** How often (in the injected clock) every counter is checked for expiry. Default 60 s. */
  readonly sweepIntervalMs?: number;
}

export class MemoryCounterStore implements CounterStore {
  readonly backend = 'memory' as const;
  readonly #windows = new Map<string, WindowCounter>();
  readonly #leases = new Map<string, Leases>();
  readonly #budgets = new Map<string, Budget>();
  /** claimOnce ids → when they expire. */
  readonly #claims = new Map<string, number>();
  readonly #sweepIntervalMs: number;
  #lastSweep = -Infinity;

  constructor(options: MemoryCounterStoreOptions = {}) {
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    validateAcquire(request);
    const { now, leaseId } = request;
    this.#maybeSweep(now);
    let refused: Refusal | undefined;

    const counts = request.windows.map((w) => {
      const counter = this.#windowCounter(w.id, w.windowMs, now);
      const index = windowIndex(now, w.windowMs);
      const slots = counter.slots;
      const current = slots.get(index)?.count ?? 0;
      const previous = slots.get(index - 1)?.count ?? 0;
      const check = checkWindow(w.limit, w.windowMs, w.cost, now, current, previous);
      if (!check.fits && !refused) refused = { kind: 'window', id: w.id, limit: w.limit, used: check.used, retryAfterMs: check.retryAfterMs };
      return { counter, index, current, previous };
    });

    const leaseSets = request.concurrency.map((c) => {
      const leases = this.#liveLeases(c.id, now);
      if (leases.expiresAt.size >= c.limit && !refused) {
        let earliest = Infinity;
        for (const at of leases.expiresAt.values()) earliest = Math.min(earliest, at);
        const retryAfterMs = earliest === Infinity ? UNKNOWN_RETRY_MS : Math.min(earliest - now, c.leaseMs);
        refused = { kind: 'concurrency', id: c.id, limit: c.limit, used: leases.expiresAt.size, retryAfterMs };
      }
      return leases;
    });

    const budgets = request.budgets.map((b) => {
      const budget = this.#liveBudget(b.id, now, b.periodEndsAt);
      const used = budget.spent + budget.reserved;
      if (used + b.amount > b.limit && !refused) {
        refused = { kind: 'budget', id: b.id, limit: b.limit, used, retryAfterMs: Math.max(1, b.periodEndsAt - now) };
      }
      return budget;
    });

    if (refused) {
      const windows = request.windows.map((w, i) => windowState(w.id, w.limit, w.windowMs, now, counts[i].current, counts[i].previous));
      return { ok: false, refused, windows };
    }

    const windows = request.windows.map((w, i) => {
      const { counter, index, current, previous } = counts[i];
      const slot = counter.slots.get(index) ?? { count: 0 };
      slot.count += w.cost;
      if (w.correctable) (slot.pending ??= new Set()).add(leaseId);
      counter.slots.set(index, slot);
      this.#windows.set(w.id, counter);
      return windowState(w.id, w.limit, w.windowMs, now, current + w.cost, previous);
    });
    request.concurrency.forEach((c, i) => {
      const leases = leaseSets[i];
      leases.expiresAt.set(leaseId, now + c.leaseMs);
      leases.nextExpiry = Math.min(leases.nextExpiry, now + c.leaseMs);
      this.#leases.set(c.id, leases);
    });
    const states = request.budgets.map((b, i): BudgetState => {
      const budget = budgets[i];
      // A leaseId is unique per acquire; should one come twice, its reservation is replaced.
      const old = budget.reservations.get(leaseId)?.amount ?? 0;
      const expiresAt = now + b.reservationTtlMs;
      budget.reservations.set(leaseId, { amount: b.amount, expiresAt });
      budget.reserved += b.amount - old;
      budget.nextExpiry = Math.min(budget.nextExpiry, expiresAt);
      budget.periodEndsAt = b.periodEndsAt;
      budget.limit = b.limit;
      this.#budgets.set(b.id, budget);
      return { id: b.id, limit: b.limit, spent: budget.spent, reserved: budget.reserved };
    });
    return { ok: true, windows, budgets: states };
  }

  async settle(request: SettleRequest): Promise<void> {
    validateSettle(request);
    const { now, leaseId } = request;
    this.#maybeSweep(now);
    for (const w of request.windows) {
      if (!isCorrectable(w, now)) continue;
      const counter = this.#windows.get(w.id);
      if (!counter || counter.windowMs !== w.windowMs) continue;
      this.#prune(counter, now);
      const slot = counter.slots.get(windowIndex(w.acquiredAt, w.windowMs));
      // Only a lease this window counted, and only once.
      if (!slot?.pending?.delete(leaseId)) continue;
      slot.count = Math.max(0, slot.count + w.delta);
    }
    for (const id of request.concurrency) {
      const leases = this.#leases.get(id);
      leases?.expiresAt.delete(leaseId);
      if (leases?.expiresAt.size === 0) this.#leases.delete(id);
    }
    for (const b of request.budgets) {
      const budget = this.#budget(b.id, now);
      if (!budget) continue;
      const reservation = budget.reservations.get(leaseId);
      if (reservation) {
        budget.reservations.delete(leaseId);
        budget.reserved -= reservation.amount;
        budget.spent += b.actual;
      } else if (budget.expired.delete(leaseId)) {
        // Expired before it was settled: the reservation was released already, the spend is real.
        budget.spent += b.actual;
      }
      budget.periodEndsAt = b.periodEndsAt;
    }
  }

  async charge(request: ChargeRequest): Promise<void> {
    validateCharge(request);
    const { now, chargeId } = request;
    this.#maybeSweep(now);
    for (const b of request.budgets) {
      const budget = this.#liveBudget(b.id, now, b.periodEndsAt);
      budget.charged ??= new Set();
      if (budget.charged.has(chargeId)) continue;
      budget.charged.add(chargeId);
      budget.spent += b.amount;
      this.#budgets.set(b.id, budget);
    }
  }

  async budgets(ids: readonly string[], now: number): Promise<BudgetState[]> {
    validateBudgetQuery(ids, now);
    this.#maybeSweep(now);
    return ids.map((id) => {
      const budget = this.#budget(id, now);
      if (!budget) return { id, limit: 0, spent: 0, reserved: 0 };
      return { id, limit: budget.limit, spent: budget.spent, reserved: budget.reserved };
    });
  }

  async claimOnce(id: string, now: number, expiresAt: number): Promise<boolean> {
    validateClaim(id, now, expiresAt);
    this.#maybeSweep(now);
    const held = this.#claims.get(id);
    if (held !== undefined && held > now) return false;
    if (expiresAt > now) this.#claims.set(id, expiresAt);
    return true;
  }

  async close(): Promise<void> {
    this.#claims.clear();
    this.#windows.clear();
    this.#leases.clear();
    this.#budgets.clear();
  }

  /** Drops everything expired as of `now`. Runs by itself every sweepIntervalMs; public for tests. */
  sweep(now: number): void {
    this.#lastSweep = now;
    for (const [id, counter] of this.#windows) {
      this.#prune(counter, now);
      if (counter.slots.size === 0) this.#windows.delete(id);
    }
    for (const id of this.#leases.keys()) this.#liveLeases(id, now);
    for (const id of this.#budgets.keys()) this.#budget(id, now);
    for (const [id, expiresAt] of this.#claims) if (expiresAt <= now) this.#claims.delete(id);
  }

  /** How many counters are held (for tests of boundedness). */
  size(): { windows: number; concurrency: number; budgets: number } {
    return { windows: this.#windows.size, concurrency: this.#leases.size, budgets: this.#budgets.size };
  }

  #maybeSweep(now: number): void {
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep(now);
  }

  /** The counter of a window limit, pruned to the current and previous window; stored by the caller when written. */
  #windowCounter(id: string, windowMs: number, now: number): WindowCounter {
    const counter = this.#windows.get(id);
    // A changed windowMs starts over, as in Redis, whose keys name the window index.
    if (!counter || counter.windowMs !== windowMs) return { windowMs, slots: new Map() };
    this.#prune(counter, now);
    return counter;
  }

  #prune(counter: WindowCounter, now: number): void {
    const oldest = windowIndex(now, counter.windowMs) - 1;
    for (const index of counter.slots.keys()) if (index < oldest) counter.slots.delete(index);
  }

  #liveLeases(id: string, now: number): Leases {
    const leases = this.#leases.get(id) ?? { expiresAt: new Map<string, number>(), nextExpiry: Infinity };
    if (now >= leases.nextExpiry) {
      leases.nextExpiry = Infinity;
      for (const [lease, at] of leases.expiresAt) {
        if (at <= now) leases.expiresAt.delete(lease);
        else leases.nextExpiry = Math.min(leases.nextExpiry, at);
      }
      if (leases.expiresAt.size === 0) this.#leases.delete(id);
    }
    return leases;
  }

  /** A stored budget with expired reservations released; undefined once past its retention (Redis's PEXPIRE). */
  #budget(id: string, now: number): Budget | undefined {
    const budget = this.#budgets.get(id);
    if (!budget) return undefined;
    if (now >= budget.periodEndsAt + BUDGET_RETENTION_MS) {
      this.#budgets.delete(id);
      return undefined;
    }
    this.#expireReservations(budget, now);
    return budget;
  }

  #liveBudget(id: string, now: number, periodEndsAt: number): Budget {
    const budget = this.#budget(id, now);
    if (!budget) return { limit: 0, spent: 0, reserved: 0, periodEndsAt, reservations: new Map(), expired: new Map(), nextExpiry: Infinity };
    return budget;
  }

  /** Mirrors expire_reservations in redis-scripts.ts: release what expired, remember it for a late settle. */
  #expireReservations(budget: Budget, now: number): void {
    if (now < budget.nextExpiry) return;
    budget.nextExpiry = Infinity;
    for (const [lease, forgetAt] of budget.expired) {
      if (forgetAt <= now) budget.expired.delete(lease);
      else budget.nextExpiry = Math.min(budget.nextExpiry, forgetAt);
    }
    for (const [lease, { amount, expiresAt }] of budget.reservations) {
      if (expiresAt > now) {
        budget.nextExpiry = Math.min(budget.nextExpiry, expiresAt);
        continue;
      }
      budget.reservations.delete(lease);
      budget.reserved -= amount;
      const forgetAt = expiresAt + LATE_SETTLE_GRACE_MS;
      if (forgetAt > now) {
        budget.expired.set(lease, forgetAt);
        budget.nextExpiry = Math.min(budget.nextExpiry, forgetAt);
      }
    }
  }
}

function windowState(id: string, limit: number, windowMs: number, now: number, current: number, previous: number): WindowState {
  return { id, limit, ...reportWindow(limit, windowMs, now, current, previous) };
}
