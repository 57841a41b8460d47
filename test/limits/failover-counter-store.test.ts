// FailoverCounterStore: the fail-open / fail-closed policy around the shared store. The primary
// here is a test double of our own CounterStore interface: a MemoryCounterStore that can be
// switched to throw CounterStoreUnavailable (as the Redis store does while Redis is down). Real
// Redis outages are covered in redis-counter-store.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CounterStoreUnavailable, type AcquireRequest, type AcquireResult, type BudgetState, type ChargeRequest, type CounterStore, type SettleRequest } from '../../src/limits/counter-store.ts';
import { FailoverCounterStore, type FailoverOptions } from '../../src/limits/failover-counter-store.ts';
import { MemoryCounterStore } from '../../src/limits/memory-counter-store.ts';
import type { Logger, LogLevel } from '../../src/logging/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { DAY, MINUTE, T0, acquireAt, budget, concurrency, granted, refused, settleAt, window } from './counter-fixtures.ts';

/** A primary store we can take down: delegates to memory, or throws while `down`. */
class SwitchableStore implements CounterStore {
  readonly backend = 'redis' as const;
  readonly inner = new MemoryCounterStore();
  down = false;
  /** Thrown instead of CounterStoreUnavailable when set (a bug, not an outage). */
  failWith: Error | undefined;
  /** While set, settles wait for it (after the down check) before reaching the store. */
  gate: Promise<void> | undefined;
  closed = false;
  readonly calls: string[] = [];
  readonly settled: string[] = [];
  readonly charged: string[] = [];

  #check(method: string): void {
    this.calls.push(method);
    if (this.failWith) throw this.failWith;
    if (this.down) throw new CounterStoreUnavailable('Redis counter store at test:6379 is unavailable: ECONNREFUSED');
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#check('acquire');
    return this.inner.acquire(request);
  }

  async settle(request: SettleRequest): Promise<void> {
    this.#check('settle');
    if (this.gate) await this.gate;
    await this.inner.settle(request);
    this.settled.push(request.leaseId);
  }

  async charge(request: ChargeRequest): Promise<void> {
    this.#check('charge');
    await this.inner.charge(request);
    this.charged.push(request.chargeId);
  }

  async budgets(ids: readonly string[], now: number): Promise<BudgetState[]> {
    this.#check('budgets');
    return this.inner.budgets(ids, now);
  }

  async claimOnce(id: string, now: number, expiresAt: number): Promise<boolean> {
    this.#check('claimOnce');
    return this.inner.claimOnce(id, now, expiresAt);
  }

  async close(): Promise<void> {
    this.calls.push('close');
    this.closed = true;
  }
}

interface Line { level: LogLevel; msg: string; fields?: Record<string, unknown> }

function captureLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => { lines.push({ level, msg, ...(fields ? { fields } : {}) }); };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), enabled: () => true, flush: () => {} };
}

const DEGRADED_HELP = '1 while the shared limits store (Redis) cannot be reached.';
const FAILURES_HELP = 'Calls to the shared limits store that failed.';

function setup(over: Partial<FailoverOptions> = {}) {
  const primary = new SwitchableStore();
  const logger = captureLogger();
  const metrics = new Metrics();
  const store = new FailoverCounterStore({ primary, mode: 'open', logger, metrics, retryIntervalMs: 5, ...over });
  return {
    primary, logger, metrics, store,
    gauge: () => metrics.gauge('tollgate_limits_store_degraded', DEGRADED_HELP).get(),
    failures: () => metrics.counter('tollgate_limits_store_failures_total', FAILURES_HELP).get(),
    logs: (level: LogLevel) => logger.lines.filter((l) => l.level === level),
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const ENDS = T0 + 30 * DAY;

test('open: while the primary is down, acquire falls back to a local store that still enforces limits', async () => {
  const { primary, store, gauge, failures, logs } = setup();
  assert.equal(store.backend, 'redis');
  assert.equal(gauge(), 0, 'the gauge exists at 0 from the start');
  assert.equal(store.degraded(), undefined);
  const rpm = () => ({ windows: [window('rpm:key:k1', 2)] });

  granted(await store.acquire(acquireAt(T0, rpm())));
  primary.down = true;
  // The local store starts empty: it does not know of the shared one's count, and enforces its own.
  granted(await store.acquire(acquireAt(T0 + 1, rpm())));
  granted(await store.acquire(acquireAt(T0 + 2, rpm())));
  const refusal = refused(await store.acquire(acquireAt(T0 + 3, rpm())));
  assert.equal(refusal.id, 'rpm:key:k1');

  assert.match(store.degraded()!, /unavailable.*per instance/);
  assert.equal(gauge(), 1);
  assert.equal(failures(), 3, 'every failed call is counted');
  assert.equal(logs('error').length, 1, 'one error line per outage, not per call');
  assert.match(logs('error')[0].msg, /failing open/);
  assert.deepEqual(logs('error')[0].fields, { backend: 'redis', error: 'Redis counter store at test:6379 is unavailable: ECONNREFUSED' });
  assert.equal(logs('warn').length, 0);

  // Back: the shared store is used again (it saw one request), the gauge drops, one warning.
  primary.down = false;
  const back = granted(await store.acquire(acquireAt(T0 + 4, rpm())));
  assert.equal(back.windows[0].remaining, 0, 'the shared window held 1 + this one');
  assert.equal(store.degraded(), undefined);
  assert.equal(gauge(), 0);
  assert.equal(logs('warn').length, 1);
  assert.match(logs('warn')[0].msg, /available again/);
  assert.equal(logs('error').length, 1);

  // A second outage is a second error line.
  primary.down = true;
  await store.acquire(acquireAt(T0 + 5, rpm()));
  await store.acquire(acquireAt(T0 + 6, rpm()));
  assert.equal(logs('error').length, 2);
  assert.equal(gauge(), 1);
  await store.close();
});

test('open: leases acquired locally are settled locally, even once the primary is back', async () => {
  const { primary, store } = setup();
  primary.down = true;
  const limits = { concurrency: [concurrency('cc:key:k1', 1)], budgets: [budget('usd:key:k1:all', 100, 60, ENDS)] };
  const first = acquireAt(T0, limits);
  granted(await store.acquire(first));
  refused(await store.acquire(acquireAt(T0 + 1, limits)));

  primary.down = false;
  granted(await store.acquire(acquireAt(T0 + 2, { windows: [window('rpm:other', 5)] }))); // recovery
  await store.settle(settleAt(T0 + 3, first.leaseId, { concurrency: ['cc:key:k1'], budgets: [{ id: 'usd:key:k1:all', actual: 10, periodEndsAt: ENDS }] }));
  // The shared store is told to release whatever a timed-out acquire might have left there (no
  // spend), then charged the spend once.
  assert.deepEqual(primary.settled, [first.leaseId]);
  assert.deepEqual(primary.charged, [first.leaseId], 'its spend is charged to the shared budget');
  assert.deepEqual(await primary.inner.budgets(['usd:key:k1:all'], T0 + 3), [{ id: 'usd:key:k1:all', limit: 0, spent: 10, reserved: 0 }]);
  assert.equal(store.pendingSettles(), 0);

  // Down again: the local store has the lease released and the reservation settled to 10.
  primary.down = true;
  const again = granted(await store.acquire(acquireAt(T0 + 4, limits)));
  assert.deepEqual(again.budgets, [{ id: 'usd:key:k1:all', limit: 100, spent: 10, reserved: 60 }]);
  await store.close();
});

test('a settle that fails on the primary is queued and retried once it is back (settle is idempotent)', async () => {
  const { primary, store, logs } = setup({ retryIntervalMs: 5 });
  const limits = { budgets: [budget('usd:team:t1:all', 1_000, 100, ENDS)] };
  const a = acquireAt(T0, limits);
  const b = acquireAt(T0, limits);
  granted(await store.acquire(a));
  granted(await store.acquire(b));

  primary.down = true;
  const settleA = settleAt(T0 + 1, a.leaseId, { budgets: [{ id: 'usd:team:t1:all', actual: 30, periodEndsAt: ENDS }] });
  await store.settle(settleA);
  await store.settle(settleAt(T0 + 1, b.leaseId, { budgets: [{ id: 'usd:team:t1:all', actual: 40, periodEndsAt: ENDS }] }));
  assert.equal(store.pendingSettles(), 2);
  assert.equal(logs('error').length, 1);
  // Retries while still down keep them queued.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(store.pendingSettles(), 2);
  assert.deepEqual(await primary.inner.budgets(['usd:team:t1:all'], T0 + 2), [{ id: 'usd:team:t1:all', limit: 1_000, spent: 0, reserved: 200 }]);

  primary.down = false;
  await until(() => store.pendingSettles() === 0, 'the queued settles to drain');
  // A retry that lands is proof enough that the store is back, even with no traffic.
  assert.equal(store.degraded(), undefined);
  assert.equal(logs('warn').filter((l) => /available again/.test(String(l.msg))).length, 1);
  assert.deepEqual(primary.settled, [a.leaseId, b.leaseId]);
  assert.deepEqual(await primary.inner.budgets(['usd:team:t1:all'], T0 + 3), [{ id: 'usd:team:t1:all', limit: 1_000, spent: 70, reserved: 0 }]);

  // The same settle again changes nothing.
  await store.settle(settleA);
  assert.deepEqual(await store.budgets(['usd:team:t1:all'], T0 + 4), [{ id: 'usd:team:t1:all', limit: 1_000, spent: 70, reserved: 0 }]);
  assert.equal(store.degraded(), undefined);
  await store.close();
});

test('queued settles also drain when the next call finds the primary back', async () => {
  const { primary, store } = setup({ retryIntervalMs: 60_000 });
  const a = acquireAt(T0, { concurrency: [concurrency('cc:key:k1', 1)] });
  granted(await store.acquire(a));
  primary.down = true;
  await store.settle(settleAt(T0 + 1, a.leaseId, { concurrency: ['cc:key:k1'] }));
  assert.equal(store.pendingSettles(), 1);
  primary.down = false;
  // The lease is still held in the shared store until the queued settle lands.
  refused(await store.acquire(acquireAt(T0 + 2, { concurrency: [concurrency('cc:key:k1', 1)] })));
  await until(() => store.pendingSettles() === 0, 'the flush on recovery');
  granted(await store.acquire(acquireAt(T0 + 3, { concurrency: [concurrency('cc:key:k1', 1)] })));
  await store.close();
});

test('past maxPendingSettles, settles are dropped with a warning', async () => {
  const { primary, store, logs } = setup({ maxPendingSettles: 2, retryIntervalMs: 60_000 });
  primary.down = true;
  for (const lease of ['l1', 'l2', 'l3', 'l4']) await store.settle(settleAt(T0, lease, { concurrency: ['cc:key:k1'] }));
  assert.equal(store.pendingSettles(), 2);
  const dropped = logs('warn').filter((l) => /dropped/.test(l.msg));
  assert.deepEqual(dropped.map((l) => l.fields?.lease_id), ['l3', 'l4']);
  assert.equal(logs('error').length, 1);
  primary.down = false;
  await store.close();
  assert.deepEqual(primary.settled, ['l1', 'l2']);
});

test('closed: acquire rethrows CounterStoreUnavailable, no local fallback', async () => {
  const { primary, store, gauge, logs } = setup({ mode: 'closed' });
  primary.down = true;
  const request = acquireAt(T0, { windows: [window('rpm:key:k1', 5)] });
  await assert.rejects(store.acquire(request), CounterStoreUnavailable);
  await assert.rejects(store.acquire(acquireAt(T0 + 1, { windows: [window('rpm:key:k1', 5)] })), CounterStoreUnavailable);
  assert.match(store.degraded()!, /refused/);
  assert.equal(gauge(), 1);
  assert.equal(logs('error').length, 1);
  assert.match(logs('error')[0].msg, /failing closed/);
  primary.down = false;
  // Nothing was counted anywhere while closed.
  const first = granted(await store.acquire(acquireAt(T0 + 2, { windows: [window('rpm:key:k1', 5)] })));
  assert.equal(first.windows[0].remaining, 4);
  assert.equal(gauge(), 0);
  assert.equal(store.degraded(), undefined);
  await store.close();
});

test('errors other than CounterStoreUnavailable propagate and are not an outage', async () => {
  const { primary, store, gauge, failures, logger } = setup();
  const bug = new RangeError('window rpm:x limit must be an integer ≥ 0, got 1.5');
  primary.failWith = bug;
  await assert.rejects(store.acquire(acquireAt(T0, { windows: [window('rpm:x', 1)] })), (error) => error === bug);
  await assert.rejects(store.settle(settleAt(T0, 'l1', { concurrency: ['cc:x'] })), (error) => error === bug);
  assert.equal(store.pendingSettles(), 0, 'a failing settle that is not an outage is not retried');
  assert.equal(store.degraded(), undefined);
  assert.equal(gauge(), 0);
  assert.equal(failures(), 0);
  assert.deepEqual(logger.lines, []);
  // Real validation errors from the store behind it propagate too.
  primary.failWith = undefined;
  await assert.rejects(store.acquire({ ...acquireAt(T0, {}), windows: [{ id: 'rpm:x', limit: 1.5, windowMs: MINUTE, cost: 1 }] }), RangeError);
  await store.close();
});

test('claimOnce and budgets go to the primary, with no fallback', async () => {
  const { primary, store } = setup();
  const a = acquireAt(T0, { budgets: [budget('usd:key:k1:all', 100, 25, ENDS)] });
  granted(await store.acquire(a));
  assert.deepEqual(await store.budgets(['usd:key:k1:all', 'usd:none'], T0), [
    { id: 'usd:key:k1:all', limit: 100, spent: 0, reserved: 25 },
    { id: 'usd:none', limit: 0, spent: 0, reserved: 0 },
  ]);
  assert.equal(await store.claimOnce('alert:x', T0, T0 + DAY), true);
  assert.equal(await store.claimOnce('alert:x', T0 + 1, T0 + DAY), false);
  assert.equal(await primary.inner.claimOnce('alert:x', T0 + 2, T0 + DAY), false, 'the claim is in the primary');
  primary.down = true;
  await assert.rejects(store.budgets(['usd:key:k1:all'], T0), CounterStoreUnavailable);
  await assert.rejects(store.claimOnce('alert:y', T0, T0 + DAY), CounterStoreUnavailable);
  assert.deepEqual(primary.calls, ['acquire', 'budgets', 'claimOnce', 'claimOnce', 'budgets', 'claimOnce']);
  primary.down = false;
  await store.close();
});

test('close() flushes pending settles, then closes the primary', async () => {
  const { primary, store } = setup({ retryIntervalMs: 60_000 });
  const a = acquireAt(T0, { budgets: [budget('usd:key:k1:all', 100, 25, ENDS)] });
  granted(await store.acquire(a));
  primary.down = true;
  await store.settle(settleAt(T0 + 1, a.leaseId, { budgets: [{ id: 'usd:key:k1:all', actual: 5, periodEndsAt: ENDS }] }));
  assert.equal(store.pendingSettles(), 1);
  primary.down = false;
  await store.close();
  assert.equal(store.pendingSettles(), 0);
  assert.deepEqual(primary.settled, [a.leaseId]);
  assert.equal(primary.closed, true);
  assert.deepEqual(primary.calls.slice(-2), ['settle', 'close'], 'settled before closing');
});

test('close() while the primary is down: no retry keeps running against the closed primary', async () => {
  const { primary, store } = setup({ retryIntervalMs: 2 });
  primary.down = true;
  await store.settle(settleAt(T0, 'l1', { concurrency: ['cc:key:k1'] }));
  await store.close();
  assert.equal(primary.closed, true);
  const callsAtClose = primary.calls.length;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(primary.calls.length, callsAtClose, `the closed primary was called again: ${primary.calls.slice(callsAtClose).join(', ')}`);
});

test('a retry drain and a recovery drain running together lose no settle when the primary fails mid-drain', async () => {
  const { primary, store } = setup({ retryIntervalMs: 5 });
  const limits = { budgets: [budget('usd:key:k1:all', 1_000, 100, ENDS)] };
  const leases = [acquireAt(T0, limits), acquireAt(T0, limits), acquireAt(T0, limits)];
  for (const l of leases) granted(await store.acquire(l));
  primary.down = true;
  for (const l of leases) await store.settle(settleAt(T0 + 1, l.leaseId, { budgets: [{ id: 'usd:key:k1:all', actual: 10, periodEndsAt: ENDS }] }));
  assert.equal(store.pendingSettles(), 3);

  // Back, but slow: the timer's drain is stuck on the first settle ...
  let release!: () => void;
  primary.gate = new Promise<void>((resolve) => { release = resolve; });
  primary.down = false;
  await until(() => primary.calls.filter((c) => c === 'settle').length === 3 + 1, 'the retry drain to start');
  // ... when a request finds the store back (starting the recovery drain) ...
  granted(await store.acquire(acquireAt(T0 + 2, { windows: [window('rpm:other', 5)] })));
  // ... and the store goes away again right after the first settle lands.
  primary.down = true;
  release();
  primary.gate = undefined;
  await new Promise((resolve) => setTimeout(resolve, 2));
  primary.down = false;
  await until(() => store.pendingSettles() === 0, 'the queue to drain');
  assert.deepEqual([...new Set(primary.settled)].sort(), leases.map((l) => l.leaseId).sort(), 'every queued settle reached the primary');
  assert.deepEqual(await primary.inner.budgets(['usd:key:k1:all'], T0 + 3), [{ id: 'usd:key:k1:all', limit: 1_000, spent: 30, reserved: 0 }]);
  await store.close();
});

test('spend counted locally during an outage is charged to the shared budgets once they are back (once, however often retried)', async () => {
  const { primary, store } = setup({ retryIntervalMs: 5 });
  const ENDS_AT = T0 + 86_400_000;
  const limits = { budgets: [budget('usd:team:t1:p1', 1_000_000, 500, ENDS_AT)] };
  primary.down = true;
  const local = acquireAt(T0, limits);
  granted(await store.acquire(local));
  await store.settle(settleAt(T0 + 1, local.leaseId, { budgets: [{ id: 'usd:team:t1:p1', actual: 120, periodEndsAt: ENDS_AT }] }));
  assert.equal(store.pendingSettles(), 2, 'the release and the charge wait for the shared store');
  primary.down = false;
  await until(() => store.pendingSettles() === 0, 'the charge to land');
  assert.deepEqual(primary.charged, [local.leaseId]);
  assert.deepEqual(await primary.inner.budgets(['usd:team:t1:p1'], T0 + 2), [{ id: 'usd:team:t1:p1', limit: 0, spent: 120, reserved: 0 }]);
  await store.charge({ chargeId: local.leaseId, now: T0 + 3, budgets: [{ id: 'usd:team:t1:p1', amount: 120, periodEndsAt: ENDS_AT }] });
  assert.deepEqual(await primary.inner.budgets(['usd:team:t1:p1'], T0 + 4), [{ id: 'usd:team:t1:p1', limit: 0, spent: 120, reserved: 0 }], 'a repeated charge adds nothing');
  await store.close();
});

test('an acquire that timed out but was applied in the shared store is released there when the local lease settles', async () => {
  const { primary, store } = setup();
  const limits = { concurrency: [concurrency('cc:key:t1', 1)], budgets: [budget('usd:key:t1:all', 1_000, 100, ENDS)] };
  const first = acquireAt(T0, limits);
  // The shared store applies the acquire, but its reply is lost (a timeout): the call falls back to local.
  granted(await primary.inner.acquire(first));
  primary.down = true;
  granted(await store.acquire(first));
  primary.down = false;
  await store.settle(settleAt(T0 + 1, first.leaseId, { concurrency: ['cc:key:t1'], budgets: [{ id: 'usd:key:t1:all', actual: 40, periodEndsAt: ENDS }] }));
  granted(await primary.inner.acquire(acquireAt(T0 + 2, { concurrency: [concurrency('cc:key:t1', 1)] })));
  assert.deepEqual(await primary.inner.budgets(['usd:key:t1:all'], T0 + 3), [{ id: 'usd:key:t1:all', limit: 1_000, spent: 40, reserved: 0 }], 'released, and the spend counted once');
  await store.close();
});
