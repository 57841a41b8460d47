// Part of the CounterStore contract (registered by counter-store.contract.ts): budget
// reservations, and the concurrency proofs: 200 acquires at once never overrun a limit.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AcquireRequest, CounterStore } from '../../src/limits/counter-store.ts';
import { LATE_SETTLE_GRACE_MS } from '../../src/limits/sliding-window.ts';
import { withStore, type OpenCounterStore, type OpenedCounterStore } from './counter-store.contract.ts';
import { DAY, HOUR, MINUTE, T0, acquireAt, budget, concurrency, granted, refused, settleAt, window } from './counter-fixtures.ts';

const settleBudget = (now: number, lease: string, id: string, actual: number, periodEndsAt = T0 + 30 * DAY) =>
  settleAt(now, lease, { budgets: [{ id, actual, periodEndsAt }] });

/** Runs the requests all at once (spread over `stores`, interleaved) and counts the successes. */
async function race(stores: readonly CounterStore[], requests: readonly AcquireRequest[]): Promise<{ ok: AcquireRequest[]; refusals: string[] }> {
  const results = await Promise.all(requests.map((r, i) => stores[i % stores.length].acquire(r)));
  return {
    ok: requests.filter((_, i) => results[i].ok),
    refusals: results.flatMap((r) => (r.ok ? [] : [`${r.refused.kind}:${r.refused.id}`])),
  };
}

export function budgetContract(open: OpenCounterStore): void {
  const it = (title: string, work: (store: CounterStore, opened: OpenedCounterStore) => Promise<void>) => test(title, withStore(open, work));

  it('budget: reserves up to the limit, refuses beyond until the period ends; settle records the actual, once', async (store) => {
    const id = 'usd:team:p:2026-01';
    const endsAt = T0 + 31 * DAY;
    const now = T0 + HOUR;
    const leases: string[] = [];
    for (const reserved of [250, 500, 750, 1000]) {
      const request = acquireAt(now, { budgets: [budget(id, 1000, 250, endsAt)] });
      leases.push(request.leaseId);
      assert.deepEqual(granted(await store.acquire(request)).budgets, [{ id, limit: 1000, spent: 0, reserved }]);
    }
    assert.deepEqual(refused(await store.acquire(acquireAt(now, { budgets: [budget(id, 1000, 1, endsAt)] }))), { kind: 'budget', id, limit: 1000, used: 1000, retryAfterMs: endsAt - now });

    // Settled below the reservation: the rest is free again.
    await store.settle(settleBudget(now, leases[0], id, 100, endsAt));
    assert.deepEqual(await store.budgets([id], now), [{ id, limit: 1000, spent: 100, reserved: 750 }]);
    assert.deepEqual(granted(await store.acquire(acquireAt(now, { budgets: [budget(id, 1000, 150, endsAt)] }))).budgets, [{ id, limit: 1000, spent: 100, reserved: 900 }]);
    refused(await store.acquire(acquireAt(now, { budgets: [budget(id, 1000, 1, endsAt)] })));
    // Settled at 0 (the upstream failed): released, nothing spent.
    await store.settle(settleBudget(now, leases[1], id, 0, endsAt));
    assert.deepEqual(await store.budgets([id], now), [{ id, limit: 1000, spent: 100, reserved: 650 }]);
    // A second settle of either changes nothing.
    await store.settle(settleBudget(now, leases[0], id, 100, endsAt));
    await store.settle(settleBudget(now, leases[1], id, 50, endsAt));
    assert.deepEqual(await store.budgets([id], now), [{ id, limit: 1000, spent: 100, reserved: 650 }]);
    // Settled above its reservation (the estimate was low): spent may pass the limit; nothing more fits.
    await store.settle(settleBudget(now, leases[2], id, 400, endsAt));
    assert.deepEqual(await store.budgets([id], now), [{ id, limit: 1000, spent: 500, reserved: 400 }]);
    assert.equal(refused(await store.acquire(acquireAt(now, { budgets: [budget(id, 1000, 101, endsAt)] }))).kind, 'budget');
  });

  it('budget: an unsettled reservation expires after its TTL; a late settle still records its spend, once', async (store) => {
    const id = 'usd:key:q:2026-01';
    const t = T0 + HOUR;
    const first = acquireAt(t, { budgets: [budget(id, 1000, 600)] });
    const second = acquireAt(t + 5 * MINUTE, { budgets: [budget(id, 1000, 400)] });
    granted(await store.acquire(first));
    granted(await store.acquire(second));
    refused(await store.acquire(acquireAt(t + 10 * MINUTE - 1, { budgets: [budget(id, 1000, 1)] })));
    // At t + 10 min the first reservation (TTL 10 min) is released.
    assert.deepEqual(await store.budgets([id], t + 10 * MINUTE), [{ id, limit: 1000, spent: 0, reserved: 400 }]);
    const third = acquireAt(t + 10 * MINUTE, { budgets: [budget(id, 1000, 600)] });
    granted(await store.acquire(third));
    // The first request finishes late: its spend counts even though its reservation is gone.
    await store.settle(settleBudget(t + 20 * MINUTE, first.leaseId, id, 550));
    await store.settle(settleBudget(t + 20 * MINUTE, first.leaseId, id, 550));
    assert.deepEqual(await store.budgets([id], t + 20 * MINUTE), [{ id, limit: 1000, spent: 550, reserved: 0 }]);
    // More than LATE_SETTLE_GRACE_MS after its expiry a reservation is forgotten: the second's
    // settle records nothing. The third expired 5 min later and still counts.
    await store.settle(settleBudget(t + 15 * MINUTE + LATE_SETTLE_GRACE_MS, second.leaseId, id, 400));
    await store.settle(settleBudget(t + 15 * MINUTE + LATE_SETTLE_GRACE_MS, third.leaseId, id, 300));
    assert.deepEqual(await store.budgets([id], t + 15 * MINUTE + LATE_SETTLE_GRACE_MS), [{ id, limit: 1000, spent: 850, reserved: 0 }]);
  });

  it('budget: a new period id starts at zero; budgets() reports known and unknown ids in order', async (store) => {
    const january = 'usd:tenant:acme:2026-01';
    const february = 'usd:tenant:acme:2026-02';
    const now = T0 + 31 * DAY - 1;
    const spend = acquireAt(now, { budgets: [budget(january, 500, 500, T0 + 31 * DAY)] });
    granted(await store.acquire(spend));
    await store.settle(settleBudget(now, spend.leaseId, january, 480, T0 + 31 * DAY));
    const next = T0 + 31 * DAY;
    assert.deepEqual(await store.budgets([february, january, 'usd:unknown'], next), [
      { id: february, limit: 0, spent: 0, reserved: 0 },
      { id: january, limit: 500, spent: 480, reserved: 0 },
      { id: 'usd:unknown', limit: 0, spent: 0, reserved: 0 },
    ]);
    assert.deepEqual(granted(await store.acquire(acquireAt(next, { budgets: [budget(february, 500, 500, T0 + 59 * DAY)] }))).budgets, [{ id: february, limit: 500, spent: 0, reserved: 500 }]);
  });

  it('proof: 200 acquires at once against a budget worth 50 take exactly 50; settling them all leaves the true spend', async (store) => {
    const id = 'usd:global:2026-01';
    const amount = 1_234_567;
    const requests = Array.from({ length: 200 }, (_, i) => acquireAt(T0 + HOUR + (i % 7), { budgets: [budget(id, 50 * amount, amount)] }));
    const { ok, refusals } = await race([store], requests);
    assert.equal(ok.length, 50);
    assert.deepEqual(new Set(refusals), new Set([`budget:${id}`]));
    assert.deepEqual(await store.budgets([id], T0 + HOUR + 10), [{ id, limit: 50 * amount, spent: 0, reserved: 50 * amount }]);
    // Every success settles twice, all at once: each counts once, every reservation is released.
    const settles = ok.flatMap((r) => [r, r]).map((r) => store.settle(settleBudget(T0 + HOUR + 20, r.leaseId, id, amount - 1000)));
    await Promise.all(settles);
    assert.deepEqual(await store.budgets([id], T0 + HOUR + 30), [{ id, limit: 50 * amount, spent: 50 * (amount - 1000), reserved: 0 }]);
  });

  it('proof: 200 acquires at once take exactly 100 of a window limit of 100 and 30 of a concurrency limit of 30', async (store) => {
    const windowed = Array.from({ length: 200 }, (_, i) => acquireAt(T0 + 1_000 + i, { windows: [window('rpm:global', 100)] }));
    const w = await race([store], windowed);
    assert.equal(w.ok.length, 100);
    assert.deepEqual(new Set(w.refusals), new Set(['window:rpm:global']));
    const concurrent = Array.from({ length: 200 }, () => acquireAt(T0 + 2_000, { concurrency: [concurrency('cc:global', 30)] }));
    const c = await race([store], concurrent);
    assert.equal(c.ok.length, 30);
    assert.deepEqual(new Set(c.refusals), new Set(['concurrency:cc:global']));
  });

  test('proof: 200 acquires interleaved over two store instances (two connections) take exactly 50 and 100', async (t) => {
    const opened = await open();
    let sibling: CounterStore | undefined;
    try {
      if (!opened.sibling) return t.skip('needs a backend that two store instances share');
      sibling = await opened.sibling();
      const stores = [opened.store, sibling];
      const amount = 7;
      const budgets = Array.from({ length: 200 }, () => acquireAt(T0 + HOUR, { budgets: [budget('usd:shared', 50 * amount, amount)] }));
      assert.equal((await race(stores, budgets)).ok.length, 50);
      const windows = Array.from({ length: 200 }, (_, i) => acquireAt(T0 + 1_000 + i, { windows: [window('rpm:shared', 100), window('tpm:shared', 10_000, 50)] }));
      const { ok, refusals } = await race(stores, windows);
      assert.equal(ok.length, 100);
      assert.equal(refusals.length, 100);
      assert.deepEqual(await sibling.budgets(['usd:shared'], T0 + HOUR), [{ id: 'usd:shared', limit: 50 * amount, spent: 0, reserved: 50 * amount }]);
    } finally {
      await sibling?.close();
      await opened.cleanup();
    }
  });
}
