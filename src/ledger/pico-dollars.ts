// Exact US-dollar arithmetic in integer pico-dollars (USD × 10^12), shared by the ledger's rows
// and its reports. Amounts arrive as doubles, and sums of doubles drift (ten $0.10 make
// 0.9999999999999999), so sums go through integer pico-dollars and become a double once.

export const PICO_DIGITS = 12;

/** USD → integer pico-dollars, from the shortest decimal that round-trips the double (half away from zero). */
export function usdToPico(usd: number): bigint {
  if (!Number.isFinite(usd)) throw new RangeError(`a USD amount must be finite, got ${usd}`);
  // Fast path, same answer: below $1000 a double's spacing is under 10^-12 $, so when a whole
  // number of pico-dollars converts back to this very double, it is the one the digits name.
  const scaled = Math.round(usd * 1e12);
  if (Math.abs(usd) < 1000 && scaled / 1e12 === usd) return BigInt(scaled);
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

/** Integer pico-dollars → USD, correctly rounded (one rounding, whatever the size). */
export function picoToUsd(pico: bigint): number {
  const negative = pico < 0n;
  const digits = (negative ? -pico : pico).toString().padStart(PICO_DIGITS + 1, '0');
  return Number(`${negative ? '-' : ''}${digits.slice(0, -PICO_DIGITS)}.${digits.slice(-PICO_DIGITS)}`);
}

/** Integer pico-dollars → the exact decimal text, trailing zeros dropped ("-0.0000001875", "12.5", "0"). */
export function picoText(pico: bigint): string {
  const negative = pico < 0n;
  const digits = (negative ? -pico : pico).toString().padStart(PICO_DIGITS + 1, '0');
  const fraction = digits.slice(-PICO_DIGITS).replace(/0+$/, '');
  const text = `${digits.slice(0, -PICO_DIGITS)}${fraction ? `.${fraction}` : ''}`;
  return negative && text !== '0' ? `-${text}` : text;
}
