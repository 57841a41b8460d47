// US-dollar arithmetic for reports: amounts are doubles, but sums of doubles drift (ten $0.10 make
// 0.9999999999999999), so sums go through integer pico-dollars (10^-12 $) and become a double
// once. Printing uses plain decimals, never exponents (1.875e-7 prints as 0.0000001875).

const PICO_DIGITS = 12;

/** A USD double → integer pico-dollars, from its shortest decimal form (half away from zero). */
export function usdToPico(usd: number): bigint {
  if (!Number.isFinite(usd)) throw new RangeError(`a USD amount must be finite, got ${usd}`);
  const [mantissa = '0', exponent = '0'] = String(Math.abs(usd)).split('e');
  const [whole = '0', fraction = ''] = mantissa.split('.');
  const digits = BigInt(whole + fraction);
  const shift = PICO_DIGITS - fraction.length + Number(exponent);
  let pico: bigint;
  if (shift >= 0) {
    pico = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    pico = digits / divisor + ((digits % divisor) * 2n >= divisor ? 1n : 0n);
  }
  return usd < 0 ? -pico : pico;
}

/** Integer pico-dollars → the exact decimal text, trailing zeros dropped ("-0.0000001875", "12.5", "0"). */
export function picoText(pico: bigint): string {
  const negative = pico < 0n;
  const digits = (negative ? -pico : pico).toString().padStart(PICO_DIGITS + 1, '0');
  const fraction = digits.slice(-PICO_DIGITS).replace(/0+$/, '');
  const text = `${digits.slice(0, -PICO_DIGITS)}${fraction ? `.${fraction}` : ''}`;
  return negative && text !== '0' ? `-${text}` : text;
}

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
