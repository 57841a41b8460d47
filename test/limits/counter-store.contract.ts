// The one contract every CounterStore backend passes (memory and Redis): sliding windows,
// concurrency leases, all-or-nothing acquires and their refusal order. Budget reservations and
// the concurrency proofs are in budget-reservations.contract.ts, registered from here. Every
// time is injected (offsets from T0); nothing sleeps.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CounterStore } from '../../src/limits/counter-store.ts';
import { budgetContract } from './budget-reservations.contract.ts';
import { MINUTE, T0, acquireAt, assertRetryExact, budget, concurrency, granted, refused, settleAt, window } from './counter-fixtures.ts';

export interface OpenedCounterStore {
  store: CounterStore;
  /** A second store on the same counters over its own connection (shared backends only). The test closes it. */
  sibling?: () => Promise<CounterStore>;
  /** Closes the store and removes its counters. */
  cleanup: () => Promise<void>;
}

export type OpenCounterStore = () => Promise<OpenedCounterStore>;

export function withStore(open: OpenCounterStore, work: (store: CounterStore, opened: OpenedCounterStore) => Promise<void>): () => Promise<void> {
  return async () => {
    const opened = await open();
    try {
      await work(opened.store, opened);
    } finally {
      await opened.cleanup();
    }
  };
}

export function counterStoreContract(name: string, open: OpenCounterStore): void {
  const it = (title: string, work: (store: CounterStore, opened: OpenedCounterStore) => Promise<void>) => test(title, withStore(open, work));

  describe(`CounterStore contract: ${name}`, () => {
    it('window: takes up to the limit exactly, then refuses; remaining and resetMs', async (store) => {
      const now = T0 + 10_000;
      const rpm = window('rpm:key:a', 3);
      for (const remaining of [2, 1, 0]) {
        const result = granted(await store.acquire(acquireAt(now, { windows: [rpm] })));
        // The current window holds requests: used falls to 0 at the end of the next window.
        assert.deepEqual(result.windows, [{ id: 'rpm:key:a', limit: 3, remaining, resetMs: 2 * MINUTE - 10_000 }]);
      }
      const result = await store.acquire(acquireAt(now, { windows: [rpm] }));
      assert.deepEqual(refused(result), { kind: 'window', id: 'rpm:key:a', limit: 3, used: 3, retryAfterMs: 70_000 });
      assert.deepEqual(result.windows, [{ id: 'rpm:key:a', limit: 3, remaining: 0, resetMs: 2 * MINUTE - 10_000 }]);
      // 20 s into the next window the 3 weigh 3 × 40/60 = 2, so one more fits.
      assert.equal(await assertRetryExact(store, acquireAt(now, { windows: [rpm] })), 70_000);
    });

    it('window: slides; the previous window weighs by the part of it still inside the window', async (store) => {
      const rpm = window('rpm:key:b', 10);
      for (let i = 0; i < 10; i++) granted(await store.acquire(acquireAt(T0 + 30_000, { windows: [rpm] })));
      refused(await store.acquire(acquireAt(T0 + 59_999, { windows: [rpm] })));
      // 15 s into the next window: used = 10 × 45/60 = 7.5.
      const at = T0 + MINUTE + 15_000;
      let result = granted(await store.acquire(acquireAt(at, { windows: [rpm] })));
      assert.deepEqual(result.windows[0], { id: 'rpm:key:b', limit: 10, remaining: 1, resetMs: 2 * MINUTE - 15_000 });
      result = granted(await store.acquire(acquireAt(at, { windows: [rpm] })));
      assert.equal(result.windows[0].remaining, 0);
      // used = 2 + 7.5; one more needs 10 × (W − e) / W ≤ 7, i.e. 3 s more.
      const refusal = refused(await store.acquire(acquireAt(at, { windows: [rpm] })));
      assert.deepEqual(refusal, { kind: 'window', id: 'rpm:key:b', limit: 10, used: 10, retryAfterMs: 3_000 });
      assert.equal(await assertRetryExact(store, acquireAt(at, { windows: [rpm] })), 3_000);
      // Two windows on, the first no longer counts: only the 3 of the second, weighted 45/60.
      result = granted(await store.acquire(acquireAt(T0 + 2 * MINUTE + 15_000, { windows: [rpm] })));
      assert.deepEqual(result.windows[0], { id: 'rpm:key:b', limit: 10, remaining: 6, resetMs: 2 * MINUTE - 15_000 });
      // Only the previous window holds anything: used is 0 at the end of this one. (A limit of
      // 0 refuses, so this request takes nothing.)
      const idle = await store.acquire(acquireAt(T0 + 3 * MINUTE + 20_000, { windows: [rpm, window('rpm:zero', 0)] }));
      assert.equal(refused(idle).id, 'rpm:zero');
      assert.deepEqual(idle.windows, [
        { id: 'rpm:key:b', limit: 10, remaining: 9, resetMs: MINUTE - 20_000 },
        { id: 'rpm:zero', limit: 0, remaining: 0, resetMs: 0 },
      ]);
    });

    it('window: costs above 1 (tokens); a refused cost leaves what remains', async (store) => {
      const now = T0 + 6_000;
      const tpm = (cost: number) => window('tpm:key:c', 1000, cost);
      assert.equal(granted(await store.acquire(acquireAt(now, { windows: [tpm(400)] }))).windows[0].remaining, 600);
      assert.equal(granted(await store.acquire(acquireAt(now, { windows: [tpm(400)] }))).windows[0].remaining, 200);
      const result = await store.acquire(acquireAt(now, { windows: [tpm(300)] }));
      // In the next window 800 × (W − e) / W + 300 ≤ 1000 once e ≥ 7.5 s.
      assert.deepEqual(refused(result), { kind: 'window', id: 'tpm:key:c', limit: 1000, used: 800, retryAfterMs: 61_500 });
      assert.equal(result.windows[0].remaining, 200);
      assert.equal(await assertRetryExact(store, acquireAt(now, { windows: [tpm(300)] })), 61_500);
      assert.equal(granted(await store.acquire(acquireAt(now, { windows: [tpm(200)] }))).windows[0].remaining, 0);
    });

    it('window: a cost above the limit never fits (retryAfterMs = windowMs) and takes nothing', async (store) => {
      const now = T0 + 1_000;
      const result = await store.acquire(acquireAt(now, { windows: [window('rpm:d', 5), window('tpm:d', 100, 101)], concurrency: [concurrency('cc:d', 1)], budgets: [budget('usd:d', 1000, 10)] }));
      assert.deepEqual(refused(result), { kind: 'window', id: 'tpm:d', limit: 100, used: 0, retryAfterMs: MINUTE });
      assert.deepEqual(result.windows, [
        { id: 'rpm:d', limit: 5, remaining: 5, resetMs: 0 },
        { id: 'tpm:d', limit: 100, remaining: 100, resetMs: 0 },
      ]);
      assert.deepEqual(await store.budgets(['usd:d'], now), [{ id: 'usd:d', limit: 0, spent: 0, reserved: 0 }]);
      // The concurrency slot and all 5 requests are still free.
      const ok = granted(await store.acquire(acquireAt(now, { windows: [window('rpm:d', 5)], concurrency: [concurrency('cc:d', 1)] })));
      assert.equal(ok.windows[0].remaining, 4);
      refused(await store.acquire(acquireAt(now + 10 * MINUTE, { windows: [window('tpm:d', 100, 101)] })));
    });

    it('all or nothing: one refusing limit takes nothing from the others', async (store) => {
      const now = T0 + 5_000;
      const limits = (amount: number) => ({
        windows: [window('rpm:e', 5), window('tpm:e', 1000, 300)],
        concurrency: [concurrency('cc:e', 2)],
        budgets: [budget('usd:e', 100, amount)],
      });
      const first = granted(await store.acquire(acquireAt(now, limits(60))));
      assert.deepEqual(first.budgets, [{ id: 'usd:e', limit: 100, spent: 0, reserved: 60 }]);
      const result = await store.acquire(acquireAt(now, limits(41)));
      assert.deepEqual(refused(result), { kind: 'budget', id: 'usd:e', limit: 100, used: 60, retryAfterMs: 30 * 24 * 60 * MINUTE - 5_000 });
      // The windows report their state without the refused request.
      assert.deepEqual(result.windows.map((w) => w.remaining), [4, 700]);
      assert.deepEqual(await store.budgets(['usd:e'], now), [{ id: 'usd:e', limit: 100, spent: 0, reserved: 60 }]);
      // The second concurrency slot, 4 requests and 700 tokens are still there: this one fits exactly.
      const ok = granted(await store.acquire(acquireAt(now, { ...limits(40), windows: [window('rpm:e', 5), window('tpm:e', 1000, 700)] })));
      assert.deepEqual(ok.windows.map((w) => w.remaining), [3, 0]);
      assert.deepEqual(ok.budgets, [{ id: 'usd:e', limit: 100, spent: 0, reserved: 100 }]);
    });

    it('refusal order: windows, then concurrency, then budgets; the first listed of each', async (store) => {
      const now = T0 + 1_000;
      const full = { windows: [window('rpm:f1', 1), window('rpm:f2', 1)], concurrency: [concurrency('cc:f1', 1), concurrency('cc:f2', 1)], budgets: [budget('usd:f1', 1, 1), budget('usd:f2', 1, 1)] };
      granted(await store.acquire(acquireAt(now, full)));
      const order = async (parts: Partial<typeof full>) => {
        const refusal = refused(await store.acquire(acquireAt(now, { ...parts })));
        return `${refusal.kind}:${refusal.id}`;
      };
      assert.equal(await order(full), 'window:rpm:f1');
      assert.equal(await order({ ...full, windows: [full.windows[1], full.windows[0]] }), 'window:rpm:f2');
      assert.equal(await order({ ...full, windows: [window('rpm:free', 9)] }), 'concurrency:cc:f1');
      assert.equal(await order({ concurrency: [concurrency('cc:free', 9), full.concurrency[1]], budgets: full.budgets }), 'concurrency:cc:f2');
      assert.equal(await order({ budgets: [budget('usd:free', 9, 1), full.budgets[1], full.budgets[0]] }), 'budget:usd:f2');
    });

    it('concurrency: limit, release by settle, expiry of a lease frees its slot', async (store) => {
      const t = T0 + 1_000;
      // A limit of 0 with no lease to wait for.
      assert.equal(refused(await store.acquire(acquireAt(t, { concurrency: [concurrency('cc:none', 0)] }))).retryAfterMs, 1000);
      const cc = concurrency('cc:key:g', 2, 30_000);
      const a = acquireAt(t, { concurrency: [cc] });
      granted(await store.acquire(a));
      granted(await store.acquire(acquireAt(t + 1_000, { concurrency: [cc] })));
      // Refused until the earliest lease (a, taken at t) expires.
      assert.deepEqual(refused(await store.acquire(acquireAt(t + 2_000, { concurrency: [cc] }))), { kind: 'concurrency', id: 'cc:key:g', limit: 2, used: 2, retryAfterMs: 28_000 });
      await store.settle(settleAt(t + 2_000, a.leaseId, { concurrency: ['cc:key:g'] }));
      await store.settle(settleAt(t + 2_000, a.leaseId, { concurrency: ['cc:key:g'] }));
      granted(await store.acquire(acquireAt(t + 2_000, { concurrency: [cc] })));
      const refusal = refused(await store.acquire(acquireAt(t + 3_000, { concurrency: [cc] })));
      assert.equal(refusal.retryAfterMs, 28_000, 'the lease taken at t + 1 s expires at t + 31 s');
      // The wait is never longer than this request's own leaseMs.
      assert.equal(refused(await store.acquire(acquireAt(t + 3_000, { concurrency: [concurrency('cc:key:g', 2, 5_000)] }))).retryAfterMs, 5_000);
      // A lease is dead at its expiry: at t + 31 s the second one is gone.
      refused(await store.acquire(acquireAt(t + 30_999, { concurrency: [cc] })));
      granted(await store.acquire(acquireAt(t + 31_000, { concurrency: [cc] })));
      refused(await store.acquire(acquireAt(t + 31_000, { concurrency: [cc] })));
    });

    it('settle: window deltas correct the window the request was counted in; never below 0; once per lease', async (store) => {
      const tpm = (cost: number) => ({ ...window('tpm:key:h', 1000, cost), correctable: true });
      const first = acquireAt(T0 + 1_000, { windows: [tpm(600)] });
      granted(await store.acquire(first));
      const correction = settleAt(T0 + 2_000, first.leaseId, { windows: [{ id: 'tpm:key:h', windowMs: MINUTE, acquiredAt: T0 + 1_000, delta: -400 }] });
      await store.settle(correction);
      await store.settle(correction);
      assert.equal(granted(await store.acquire(acquireAt(T0 + 3_000, { windows: [tpm(800)] }))).windows[0].remaining, 0);
      // Now 1000 in window 0. In window 1, 30 s in, they weigh 500; a −1500 correction of the
      // previous window floors it at 0 and frees the whole limit.
      const second = acquireAt(T0 + 4_000, { windows: [tpm(0)] });
      granted(await store.acquire(second));
      refused(await store.acquire(acquireAt(T0 + MINUTE + 30_000, { windows: [tpm(1000)] })));
      await store.settle(settleAt(T0 + MINUTE + 30_000, second.leaseId, { windows: [{ id: 'tpm:key:h', windowMs: MINUTE, acquiredAt: T0 + 4_000, delta: -1500 }] }));
      granted(await store.acquire(acquireAt(T0 + MINUTE + 30_000, { windows: [tpm(1000)] })));
      // A window two back no longer matters: its correction is ignored, not applied elsewhere.
      await store.settle(settleAt(T0 + 3 * MINUTE, first.leaseId + '-late', { windows: [{ id: 'tpm:key:h', windowMs: MINUTE, acquiredAt: T0 + MINUTE + 30_000, delta: 5000 }] }));
      await store.settle(settleAt(T0 + 3 * MINUTE, first.leaseId + '-old', { windows: [{ id: 'tpm:key:h', windowMs: MINUTE, acquiredAt: T0 + 1_000, delta: 5000 }] }));
      const later = granted(await store.acquire(acquireAt(T0 + 3 * MINUTE, { windows: [tpm(1000)] })));
      assert.equal(later.windows[0].remaining, 0);
    });

    it('settle: only a lease a window counted as correctable is corrected (a stray or repeated settle changes nothing)', async (store) => {
      const plain = acquireAt(T0, { windows: [window('tpm:key:s', 1000, 600)] });
      granted(await store.acquire(plain));
      const correctable = acquireAt(T0, { windows: [{ ...window('tpm:key:c', 1000, 600), correctable: true }] });
      granted(await store.acquire(correctable));
      const correct = (id: string, leaseId: string) => settleAt(T0 + 1, leaseId, { windows: [{ id, windowMs: MINUTE, acquiredAt: T0, delta: -500 }] });
      await store.settle(correct('tpm:key:s', plain.leaseId));
      await store.settle(correct('tpm:key:c', 'a-lease-never-acquired'));
      assert.equal(granted(await store.acquire(acquireAt(T0 + 2, { windows: [window('tpm:key:s', 1000, 0)] }))).windows[0].remaining, 400, 'not correctable: unchanged');
      assert.equal(granted(await store.acquire(acquireAt(T0 + 2, { windows: [window('tpm:key:c', 1000, 0)] }))).windows[0].remaining, 400, 'unknown lease: unchanged');
      await store.settle(correct('tpm:key:c', correctable.leaseId));
      await store.settle(correct('tpm:key:c', correctable.leaseId));
      assert.equal(granted(await store.acquire(acquireAt(T0 + 3, { windows: [window('tpm:key:c', 1000, 0)] }))).windows[0].remaining, 900, 'corrected once');
    });

    it('settle: unknown leases and ids change nothing', async (store) => {
      await store.settle(settleAt(T0, 'never-acquired', { windows: [], concurrency: ['cc:none'], budgets: [{ id: 'usd:none', actual: 0, periodEndsAt: T0 + MINUTE }] }));
      assert.deepEqual(await store.budgets(['usd:none'], T0), [{ id: 'usd:none', limit: 0, spent: 0, reserved: 0 }]);
      assert.deepEqual(await store.budgets([], T0), []);
    });

    it('acquire and settle refuse amounts that are not integers (counters stay exact)', async (store) => {
      await assert.rejects(store.acquire(acquireAt(T0, { windows: [window('tpm:i', 10, 1.5)] })), RangeError);
      await assert.rejects(store.acquire(acquireAt(T0, { budgets: [budget('usd:i', 10, -1)] })), RangeError);
      await assert.rejects(store.settle(settleAt(T0, 'x', { budgets: [{ id: 'usd:i', actual: 0.5, periodEndsAt: T0 }] })), RangeError);
    });

    it('claimOnce: one caller per id until it expires, across stores sharing the counters', async (store, opened) => {
      const until = T0 + 10 * MINUTE;
      assert.equal(await store.claimOnce('alert:usd:team:a:p1:0.8', T0, until), true);
      assert.equal(await store.claimOnce('alert:usd:team:a:p1:0.8', T0 + 1, until), false);
      assert.equal(await store.claimOnce('alert:usd:team:a:p2:0.8', T0 + 1, until), true);
      const claims = await Promise.all(Array.from({ length: 20 }, () => store.claimOnce('alert:race', T0, until)));
      assert.equal(claims.filter(Boolean).length, 1, 'exactly one of 20 concurrent claims wins');
      if (opened.sibling) {
        const sibling = await opened.sibling();
        try {
          assert.equal(await sibling.claimOnce('alert:usd:team:a:p1:0.8', T0 + 2, until), false);
        } finally {
          await sibling.close();
        }
      }
      await assert.rejects(store.claimOnce('', T0, until), RangeError);
    });

    it('charge: adds spend without a reservation, once per chargeId; the budget then refuses what no longer fits', async (store, opened) => {
      const ends = T0 + 10 * MINUTE;
      const charge = { chargeId: 'outage-lease-1', now: T0, budgets: [{ id: 'usd:team:c', amount: 70, periodEndsAt: ends }] };
      await store.charge(charge);
      await store.charge(charge);
      assert.deepEqual(await store.budgets(['usd:team:c'], T0), [{ id: 'usd:team:c', limit: 0, spent: 70, reserved: 0 }]);
      refused(await store.acquire(acquireAt(T0, { budgets: [budget('usd:team:c', 100, 40, ends)] })));
      granted(await store.acquire(acquireAt(T0, { budgets: [budget('usd:team:c', 100, 30, ends)] })));
      if (opened.sibling) {
        const sibling = await opened.sibling();
        try {
          await sibling.charge(charge);
          assert.equal((await sibling.budgets(['usd:team:c'], T0))[0]!.spent, 70, 'a retry from another connection adds nothing');
        } finally {
          await sibling.close();
        }
      }
      await assert.rejects(store.charge({ chargeId: 'x', now: T0, budgets: [{ id: 'usd:team:c', amount: 0.5, periodEndsAt: ends }] }), RangeError);
    });

    budgetContract(open);
  });
}
