// Dollar amounts for budgets, in integer micro-dollars (USD × 1e6) so counters never drift.
// Prices come from the price table (src/ledger/pricing/price-table.ts: @pydantic/genai-prices,
// overridden per deployment by config); this module holds the integer rules they are counted
// by. A deployment the table has no price for costs 0 (the config loader warns when dollar
// limits are declared and a deployment has no price, the policy logs it once per deployment).

import type { PriceTable } from '../ledger/pricing/price-table.ts';
import type { Deployment, Usage } from '../providers/types.ts';

export const MICRO = 1_000_000;

/** US dollars (a cost) → micro-dollars, rounded up to a whole micro-dollar. */
export function microUsdCeil(dollars: number): number {
  // Rounding noise (0.1 + 0.2) must not add a micro-dollar: round to 1e-6 µ$ first, then up.
  return Math.ceil(Math.round(dollars * MICRO * 1e6) / 1e6);
}

/** US dollars → micro-dollars (a configured limit), rounded down so a limit is never exceeded. */
export function dollarsToMicro(dollars: number): number {
  return Math.floor(Math.round(dollars * MICRO * 1e3) / 1e3);
}

/** Usage of a call that reads `inputTokens` (none cached) and writes `outputTokens`. */
export function plainUsage(inputTokens: number, outputTokens: number): Usage {
  return { inputTokens, outputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: inputTokens + outputTokens };
}

/**
 * The worst-case cost reserved before a call: the estimated input at the input price plus the
 * most output the request allows at the output price (and any per-request price), rounded up.
 */
export function worstCaseMicroUsd(prices: PriceTable, dep: Deployment, inputTokens: number, maxOutputTokens: number): number {
  return prices.costMicroUsd(dep, plainUsage(inputTokens, maxOutputTokens));
}
