import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { CounterStoreUnavailable, type CounterStore } from '../../src/limits/counter-store.ts';
import { MemoryCounterStore } from '../../src/limits/memory-counter-store.ts';
import { createSpendReader } from '../../src/limits/spend-report.ts';

const NOW = Date.UTC(2026, 11, 15, 12);

test('spend report: dollars and tokens in the current periods, settled and reserved, with what remains', async () => {
  const store = new MemoryCounterStore();
  await store.acquire({
    leaseId: 'l1', now: NOW, windows: [], concurrency: [],
    budgets: [
      { id: 'usd:team:t:2026-12', limit: 10_000_000, amount: 250_000, periodEndsAt: Date.UTC(2027, 0, 1), reservationTtlMs: 60_000 },
      { id: 'tokd:team:t:p86400-20802', limit: 1000, amount: 100, periodEndsAt: Date.UTC(2026, 11, 16), reservationTtlMs: 60_000 },
    ],
  });
  const report = await createSpendReader(store, true, () => NOW)('team', 't', { max_budget: 10, budget_duration: '1mo', daily_token_cap: 1000 });
  assert.deepEqual(report.budgets.map((b) => [b.budget, b.limit, b.spent, b.reserved, b.remaining]), [['usd', 10, 0, 0.25, 9.75], ['daily_tokens', 1000, 0, 100, 900]]);
});

test('spend report: an unreachable limits store is 503 limits_unavailable, not a 500', async () => {
  const down = { budgets: async () => { throw new CounterStoreUnavailable('Redis counter store at r:6379 is unavailable: ECONNREFUSED'); } } as unknown as CounterStore;
  await assert.rejects(createSpendReader(down, true, () => NOW)('key', 'k', {}), (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'limits_unavailable');
    assert.equal(error.status, 503);
    return true;
  });
});
