// The CounterStore contract on the in-memory backend, and how it keeps its memory bounded.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryCounterStore } from '../../src/limits/memory-counter-store.ts';
import { BUDGET_RETENTION_MS } from '../../src/limits/sliding-window.ts';
import { counterStoreContract } from './counter-store.contract.ts';
import { DAY, MINUTE, T0, acquireAt, budget, concurrency, granted, settleAt, window } from './counter-fixtures.ts';

counterStoreContract('memory', async () => {
  const store = new MemoryCounterStore();
  return { store, cleanup: () => store.close() };
});

test('memory: old windows, expired leases and past budgets are dropped; an idle store holds nothing', async () => {
  const store = new MemoryCounterStore({ sweepIntervalMs: MINUTE });
  const endsAt = T0 + DAY;
  for (let i = 0; i < 1000; i++) {
    const request = acquireAt(T0 + i, {
      windows: [window(`rpm:key:${i}`, 10)],
      concurrency: [concurrency(`cc:key:${i}`, 1, 30_000)],
      budgets: [budget(`usd:key:${i}`, 100, 10, endsAt)],
    });
    granted(await store.acquire(request));
    if (i % 2 === 0) await store.settle(settleAt(T0 + i, request.leaseId, { concurrency: [`cc:key:${i}`], budgets: [{ id: `usd:key:${i}`, actual: 5, periodEndsAt: endsAt }] }));
  }
  assert.deepEqual(store.size(), { windows: 1000, concurrency: 500, budgets: 1000 });
  // Two windows on, the leases have expired; spend stays visible until the period ends plus the retention.
  store.sweep(T0 + 2 * MINUTE);
  assert.deepEqual(store.size(), { windows: 0, concurrency: 0, budgets: 1000 });
  assert.deepEqual(await store.budgets(['usd:key:0', 'usd:key:1'], T0 + 2 * MINUTE), [
    { id: 'usd:key:0', limit: 100, spent: 5, reserved: 0 },
    { id: 'usd:key:1', limit: 100, spent: 0, reserved: 10 },
  ]);
  // The sweep runs by itself on the next call once sweepIntervalMs has passed.
  await store.budgets([], endsAt + BUDGET_RETENTION_MS);
  assert.deepEqual(store.size(), { windows: 0, concurrency: 0, budgets: 0 });
});

test('memory: a window counter keeps only the current and previous window', async () => {
  const store = new MemoryCounterStore({ sweepIntervalMs: DAY });
  for (let minute = 0; minute < 100; minute++) granted(await store.acquire(acquireAt(T0 + minute * MINUTE, { windows: [window('rpm:busy', 10)] })));
  assert.equal(store.size().windows, 1);
  // Both slots are visible in the reported state: 1 in the current, 1 in the previous window.
  const result = granted(await store.acquire(acquireAt(T0 + 99 * MINUTE + 30_000, { windows: [window('rpm:busy', 10)] })));
  assert.equal(result.windows[0].remaining, 7);
});
