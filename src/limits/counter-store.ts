// The storage contract for rate limits, concurrency limits and budget reservations. Two
// backends implement it: in-memory (one instance, the embedded default) and Redis (replicas,
// one Lua script per call, so a request costs at most one round trip).
// test/limits/counter-store.contract.ts runs every method against both.
//
// All amounts are integers: requests, tokens, or micro-dollars (USD × 1e6) for money, so
// counters never drift through floating-point rounding.

/** A sliding-window limit: at most `limit` units in any `windowMs`. */
export interface WindowLimit {
  /** Counter id, unique per limit, e.g. "rpm:key:key_ab12" or "tpm:tenant-alias:acme|chat". */
  readonly id: string;
  readonly limit: number;
  readonly windowMs: number;
  /** Units this request takes: 1 for request limits, estimated tokens for token limits. */
  readonly cost: number;
  /**
   * The cost is an estimate that settle may correct (token limits). The store then remembers the
   * lease in the window until it is settled, so a correction applies once and only to a lease
   * the window counted; what it remembers is bounded by the calls in flight.
   */
  readonly correctable?: boolean;
}

/** At most `limit` requests in flight. A lease that is never released expires after `leaseMs`. */
export interface ConcurrencyLimit {
  readonly id: string;
  readonly limit: number;
  readonly leaseMs: number;
}

/**
 * A budget for one period: spent + reserved + amount may not exceed `limit`. `id` names the
 * period (e.g. "usd:team:payments:2026-12"), so a new period starts from zero by itself;
 * `periodEndsAt` (epoch ms) lets the backend expire the counter after the period.
 */
export interface BudgetLimit {
  readonly id: string;
  readonly limit: number;
  readonly amount: number;
  readonly periodEndsAt: number;
  /** A reservation not settled by then is released (a crashed replica never leaks it). */
  readonly reservationTtlMs: number;
}

export interface AcquireRequest {
  /** Unique per request: names its concurrency leases and budget reservations. */
  readonly leaseId: string;
  readonly now: number;
  readonly windows: readonly WindowLimit[];
  readonly concurrency: readonly ConcurrencyLimit[];
  readonly budgets: readonly BudgetLimit[];
}

export interface WindowState {
  readonly id: string;
  readonly limit: number;
  /** Units left after this request (never below 0). */
  readonly remaining: number;
  /** Ms until the window has room for the whole `limit` again (for x-ratelimit-reset-*). */
  readonly resetMs: number;
}

export interface BudgetState {
  readonly id: string;
  readonly limit: number;
  readonly spent: number;
  readonly reserved: number;
}

export type Refusal =
  | { readonly kind: 'window'; readonly id: string; readonly limit: number; readonly used: number; readonly retryAfterMs: number }
  | { readonly kind: 'concurrency'; readonly id: string; readonly limit: number; readonly used: number; readonly retryAfterMs: number }
  | { readonly kind: 'budget'; readonly id: string; readonly limit: number; readonly used: number; readonly retryAfterMs: number };

/**
 * All or nothing: either every window, concurrency lease and budget reservation is taken, or
 * none is and `refused` names the first limit that would be exceeded.
 */
export type AcquireResult =
  | { readonly ok: true; readonly windows: readonly WindowState[]; readonly budgets: readonly BudgetState[] }
  | { readonly ok: false; readonly refused: Refusal; readonly windows: readonly WindowState[] };

export interface SettleRequest {
  readonly leaseId: string;
  readonly now: number;
  /**
   * Correct a window's count by `delta` units (actual − estimated tokens; may be negative), for a
   * window acquired with `correctable`; applied once, then forgotten (a delta of 0 just forgets).
   */
  readonly windows: ReadonlyArray<{ readonly id: string; readonly windowMs: number; readonly acquiredAt: number; readonly delta: number }>;
  /** Concurrency leases to release. */
  readonly concurrency: readonly string[];
  /** Reservations to settle: the reserved amount is released and `actual` is added to spent (0 on failure). */
  readonly budgets: ReadonlyArray<{ readonly id: string; readonly actual: number; readonly periodEndsAt: number }>;
}

/** Spend counted elsewhere (the local store while the shared one was down), added to budgets once. */
export interface ChargeRequest {
  /** Unique per charge: a repeated charge (a retry) changes nothing. */
  readonly chargeId: string;
  readonly now: number;
  readonly budgets: ReadonlyArray<{ readonly id: string; readonly amount: number; readonly periodEndsAt: number }>;
}

export interface CounterStore {
  readonly backend: 'memory' | 'redis';
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /** Idempotent per (leaseId, id): settling twice changes nothing the second time. */
  settle(request: SettleRequest): Promise<void>;
  /** Adds spent amounts without a reservation; idempotent per chargeId. */
  charge(request: ChargeRequest): Promise<void>;
  /** Spend so far in each budget period (expired reservations already released). */
  budgets(ids: readonly string[], now: number): Promise<BudgetState[]>;
  /**
   * True for exactly one caller per `id` until `expiresAt` (epoch ms), across every instance
   * sharing the store: one budget alert per threshold and period, whichever replica sees it.
   */
  claimOnce(id: string, now: number, expiresAt: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The backend cannot be reached or failed (the caller applies its fail-open or fail-closed policy). */
export class CounterStoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CounterStoreUnavailable';
  }
}
