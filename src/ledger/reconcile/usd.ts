// US-dollar arithmetic for reports: amounts are doubles, but sums of doubles drift (ten $0.10 make
// 0.9999999999999999), so sums go through integer pico-dollars (10^-12 $) and become a double
// once (see ../pico-dollars.ts). Printing uses plain decimals, never exponents (1.875e-7 prints
// as 0.0000001875).

import { picoText, usdToPico } from '../pico-dollars.ts';

export { picoText, usdToPico };

/** The exact sum of USD amounts, rounded once to a double. */
export function sumUsd(values: Iterable<number>): number {
  let pico = 0n;
  for (const value of values) pico += usdToPico(value);
  return Number(picoText(pico));
}

/** A USD amount as plain decimal text, to the pico-dollar. */
export function formatUsd(usd: number): string {
  return picoText(usdToPico(usd));
}
