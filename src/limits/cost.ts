// Dollar amounts for budgets, in integer micro-dollars (USD × 1e6) so counters never drift.
// Prices are the deployment's input_cost_per_token / output_cost_per_token from config; the
// ledger's full price table replaces them later. A deployment without prices costs 0 (the
// config loader warns when dollar limits are declared and a deployment has no prices).

import type { Deployment } from '../providers/types.ts';

export const MICRO = 1_000_000;

export function isPriced(dep: Pick<Deployment, 'inputCostPerToken' | 'outputCostPerToken'>): boolean {
  return dep.inputCostPerToken !== undefined || dep.outputCostPerToken !== undefined;
}

/** Cost of `inputTokens` and `outputTokens` on `dep`, rounded up to a whole micro-dollar. */
export function costMicroUsd(dep: Pick<Deployment, 'inputCostPerToken' | 'outputCostPerToken'>, inputTokens: number, outputTokens: number): number {
  const dollars = inputTokens * (dep.inputCostPerToken ?? 0) + outputTokens * (dep.outputCostPerToken ?? 0);
  // Rounding noise (0.1 + 0.2) must not add a micro-dollar: round to 1e-6 µ$ first, then up.
  return Math.ceil(Math.round(dollars * MICRO * 1e6) / 1e6);
}

/** US dollars → micro-dollars (a configured limit), rounded down so a limit is never exceeded. */
export function dollarsToMicro(dollars: number): number {
  return Math.floor(Math.round(dollars * MICRO * 1e3) / 1e3);
}
