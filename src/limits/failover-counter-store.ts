// The shared (Redis) counter store with a policy for when it cannot be reached:
// - open (default): requests are counted in a local in-memory store, so each replica still
//   enforces every limit on its own traffic; a loud log line, a metric and /health/ready say so;
// - closed: the request is refused (the policy stage answers 503 limits_unavailable).
// Every call tries the shared store first (it fails at once while down), so recovery needs no
// probe. A lease is settled where it was acquired; what a locally settled call spent is also
// charged to the shared budgets once they can be reached, so an outage's spend is not lost from
// them. A settle or charge that fails is queued and retried (both are idempotent), so a blip
// between acquire and settle loses no spend; past the queue bound, reservations still expire by
// their TTL in the store.

import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { CounterStoreUnavailable, type AcquireRequest, type AcquireResult, type BudgetState, type ChargeRequest, type CounterStore, type SettleRequest } from './counter-store.ts';
import { MemoryCounterStore } from './memory-counter-store.ts';

export interface FailoverOptions {
  readonly primary: CounterStore;
  readonly mode: 'open' | 'closed';
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Most settles kept for retry while the shared store is down. */
  readonly maxPendingSettles?: number;
  readonly retryIntervalMs?: number;
}

/** A call the shared store still owes: a settle, or spend counted locally during an outage. */
type Pending = { readonly settle: SettleRequest } | { readonly charge: ChargeRequest };

export class FailoverCounterStore implements CounterStore {
  readonly backend: CounterStore['backend'];
  readonly #primary: CounterStore;
  readonly #local = new MemoryCounterStore();
  readonly #mode: 'open' | 'closed';
  readonly #logger: Logger;
  readonly #degraded;
  readonly #failures;
  /** Leases acquired in the local store while the shared one was down. */
  readonly #localLeases = new Set<string>();
  readonly #pending: Pending[] = [];
  readonly #maxPending: number;
  readonly #retryIntervalMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #down: string | undefined;
  /** The drain in progress: one at a time, or two would shift each other's entries off the queue. */
  #flushing: Promise<void> | undefined;
  #closed = false;

  constructor(options: FailoverOptions) {
    this.#primary = options.primary;
    this.backend = options.primary.backend;
    this.#mode = options.mode;
    this.#logger = options.logger;
    this.#maxPending = options.maxPendingSettles ?? 100_000;
    this.#retryIntervalMs = options.retryIntervalMs ?? 1_000;
    this.#degraded = options.metrics.gauge('tollgate_limits_store_degraded', '1 while the shared limits store (Redis) cannot be reached.');
    this.#failures = options.metrics.counter('tollgate_limits_store_failures_total', 'Calls to the shared limits store that failed.');
    this.#degraded.set(undefined, 0);
  }

  /** Why limits are degraded right now (for /health/ready), or undefined. */
  degraded(): string | undefined {
    if (!this.#down) return undefined;
    return this.#mode === 'open'
      ? `the ${this.backend} limits store is unavailable; limits are enforced per instance until it is back`
      : `the ${this.backend} limits store is unavailable; requests with limits are refused until it is back`;
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    try {
      const result = await this.#primary.acquire(request);
      this.#up();
      return result;
    } catch (error) {
      if (!(error instanceof CounterStoreUnavailable)) throw error;
      this.#fail(error);
      if (this.#mode === 'closed') throw error;
      const result = await this.#local.acquire(request);
      if (result.ok) this.#localLeases.add(request.leaseId);
      return result;
    }
  }

  async settle(request: SettleRequest): Promise<void> {
    if (this.#localLeases.delete(request.leaseId)) {
      await this.#local.settle(request);
      // The shared store's acquire failed, but it may have been applied all the same (a reply
      // that timed out): release whatever it holds there, with no spend, then charge the spend
      // once. Both are idempotent, so either way the shared budget ends up counting it once.
      await this.#send({ settle: { ...request, windows: [], budgets: request.budgets.map((b) => ({ ...b, actual: 0 })) } });
      const spent = request.budgets.filter((b) => b.actual > 0).map((b) => ({ id: b.id, amount: b.actual, periodEndsAt: b.periodEndsAt }));
      if (spent.length > 0) await this.#send({ charge: { chargeId: request.leaseId, now: request.now, budgets: spent } });
      return;
    }
    await this.#send({ settle: request });
  }

  async charge(request: ChargeRequest): Promise<void> {
    await this.#send({ charge: request });
  }

  /** One call to the shared store; queued for a retry when it cannot be reached. */
  async #send(call: Pending): Promise<void> {
    try {
      await this.#call(call);
      this.#up();
    } catch (error) {
      if (!(error instanceof CounterStoreUnavailable)) throw error;
      this.#fail(error);
      this.#queue(call);
    }
  }

  #call(call: Pending): Promise<void> {
    return 'settle' in call ? this.#primary.settle(call.settle) : this.#primary.charge(call.charge);
  }

  async budgets(ids: readonly string[], now: number): Promise<BudgetState[]> {
    return this.#primary.budgets(ids, now);
  }

  async claimOnce(id: string, now: number, expiresAt: number): Promise<boolean> {
    return this.#primary.claimOnce(id, now, expiresAt);
  }

  /** Settles and charges waiting for the shared store. */
  pendingSettles(): number {
    return this.#pending.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#flushPending();
    await Promise.all([this.#primary.close(), this.#local.close()]);
  }

  #fail(error: Error): void {
    this.#failures.inc();
    if (this.#down) return;
    this.#down = error.message;
    this.#degraded.set(undefined, 1);
    this.#logger.error(this.#mode === 'open'
      ? 'limits store unavailable: failing open, each instance enforces limits on its own traffic'
      : 'limits store unavailable: failing closed, requests with limits get 503', { backend: this.backend, error: error.message });
  }

  #up(): void {
    if (!this.#down) return;
    this.#down = undefined;
    this.#degraded.set(undefined, 0);
    this.#logger.warn('limits store available again', { backend: this.backend, pending_settles: this.#pending.length });
    void this.#flushPending();
  }

  #queue(call: Pending): void {
    if (this.#pending.length >= this.#maxPending) {
      const id = 'settle' in call ? call.settle.leaseId : call.charge.chargeId;
      this.#logger.warn('limits settle dropped: retry queue full; its reservations expire by their TTL', { lease_id: id });
      return;
    }
    this.#pending.push(call);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#flushPending();
    }, this.#retryIntervalMs);
    this.#retryTimer.unref();
  }

  #flushPending(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      try {
        await this.#call(next);
        this.#up();
      } catch (error) {
        if (error instanceof CounterStoreUnavailable) {
          this.#scheduleRetry();
          return;
        }
        this.#logger.error('limits settle failed', { lease_id: 'settle' in next ? next.settle.leaseId : next.charge.chargeId, error: (error as Error).message });
      }
      this.#pending.shift();
    }
  }
}
