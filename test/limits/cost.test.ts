// Micro-dollar arithmetic: costs round up (never under-count), limits round down (never exceeded),
// and floating-point noise moves neither by a micro-dollar.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPriceTable } from '../../src/ledger/pricing/price-table.ts';
import { dollarsToMicro, MICRO, plainUsage, worstCaseMicroUsd } from '../../src/limits/cost.ts';
import type { Deployment } from '../../src/providers/types.ts';

// Costs go through the price table; a vllm deployment has no list price, so config prices it alone
// (the rules below are the ones budgets always had for deployments priced in config).
const table = createPriceTable([]);
type ConfigPrices = Pick<Deployment, 'inputCostPerToken' | 'outputCostPerToken'>;
function deployment(prices: ConfigPrices): Deployment {
  return {
    id: 'd', alias: 'a', provider: 'vllm', model: 'local-model', headers: {}, weight: 1, timeoutMs: 1, streamTimeoutMs: 1,
    connectTimeoutMs: 1, order: 1, healthCheck: true, dropParams: false, modelInfo: {}, ...prices,
  };
}
function costMicroUsd(prices: ConfigPrices, inputTokens: number, outputTokens: number): number {
  const micro = table.costMicroUsd(deployment(prices), plainUsage(inputTokens, outputTokens));
  assert.equal(worstCaseMicroUsd(table, deployment(prices), inputTokens, outputTokens), micro, 'a reservation prices plain tokens the same way');
  return micro;
}
function isPriced(prices: ConfigPrices): boolean {
  return table.isPriced(deployment(prices));
}

test('costMicroUsd: input and output priced separately, exact amounts unchanged', () => {
  const dep = { inputCostPerToken: 3e-6, outputCostPerToken: 15e-6 };
  assert.equal(costMicroUsd(dep, 1_000, 500), 3_000 + 7_500);
  assert.equal(costMicroUsd(dep, 0, 0), 0);
  assert.equal(costMicroUsd(dep, 1, 0), 3);
  assert.equal(costMicroUsd(dep, 0, 1), 15);
  assert.equal(costMicroUsd({ inputCostPerToken: 1e-6 }, 1_000_000_000, 0), 1_000 * MICRO, '$1000 stays exact');
});

test('costMicroUsd: a fraction of a micro-dollar rounds up', () => {
  assert.equal(costMicroUsd({ inputCostPerToken: 1e-7 }, 1, 0), 1, '0.1 µ$ is charged 1 µ$');
  assert.equal(costMicroUsd({ inputCostPerToken: 1e-7 }, 3, 0), 1);
  assert.equal(costMicroUsd({ inputCostPerToken: 2.5e-7 }, 3, 0), 1);
  assert.equal(costMicroUsd({ inputCostPerToken: 2.5e-7 }, 5, 0), 2, '1.25 µ$ → 2');
  assert.equal(costMicroUsd({ inputCostPerToken: 1.5e-7, outputCostPerToken: 6e-7 }, 7, 3), 3, '1.05 + 1.8 = 2.85 µ$ → 3');
});

test('costMicroUsd: float noise (0.1 + 0.2) does not add a micro-dollar', () => {
  assert.notEqual(0.1 + 0.2, 0.3);
  assert.ok(Math.ceil((0.1 + 0.2) * MICRO) > 300_000, 'a naive ceil would over-count');
  assert.equal(costMicroUsd({ inputCostPerToken: 0.1, outputCostPerToken: 0.2 }, 1, 1), 300_000);
  assert.equal(costMicroUsd({ inputCostPerToken: 1.1e-6 }, 3, 0), 4, '3.3 µ$ → 4 (not 5)');
  assert.equal(costMicroUsd({ inputCostPerToken: 0.7e-6 }, 10, 0), 7, '7 µ$, however 0.7e-6 × 10 rounds');
});

test('costMicroUsd: never under-counts, never over by a whole micro-dollar (exhaustive over small counts)', () => {
  // Prices as integers of 1e-13 $ so the exact cost is computed without floating point.
  const prices = [1, 3, 7, 11, 25, 150, 600, 7_000, 11_000, 25_000, 150_000]; // × 1e-13 $/token
  for (const p of prices) {
    for (let n = 0; n <= 3_000; n += 7) {
      const exactTenthsOfPico = BigInt(n) * BigInt(p); // × 1e-13 $ = × 1e-7 µ$
      const expected = Number((exactTenthsOfPico + 9_999_999n) / 10_000_000n); // ceil to µ$
      assert.equal(costMicroUsd({ inputCostPerToken: p * 1e-13 }, n, 0), expected, `${n} tokens × ${p}e-13 $`);
    }
  }
});

test('an unpriced deployment costs 0; one price is enough to be priced', () => {
  assert.equal(costMicroUsd({}, 1_000_000, 1_000_000), 0);
  assert.equal(isPriced({}), false);
  assert.equal(isPriced({ inputCostPerToken: 0 }), true);
  assert.equal(isPriced({ outputCostPerToken: 1e-6 }), true);
  assert.equal(costMicroUsd({ outputCostPerToken: 2e-6 }, 1_000, 10), 20, 'no input price: input is free');
});

test('dollarsToMicro rounds down, ignoring float noise', () => {
  assert.equal(dollarsToMicro(0), 0);
  assert.equal(dollarsToMicro(100), 100 * MICRO);
  assert.equal(dollarsToMicro(0.3), 300_000);
  assert.equal(dollarsToMicro(0.29), 290_000);
  assert.equal(dollarsToMicro(0.1 + 0.2), 300_000);
  assert.equal(dollarsToMicro(1.005), 1_005_000);
  assert.equal(dollarsToMicro(1.9999999), 1_999_999);
  assert.equal(dollarsToMicro(0.0000019), 1);
  assert.equal(dollarsToMicro(0.0000009), 0);
  assert.equal(dollarsToMicro(12.3456789), 12_345_678);
});
