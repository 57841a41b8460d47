// IBANs (ISO 13616, mod-97 checked) and payment card numbers (Luhn checked, card network
// prefixes, the groupings cards are printed in), shared by redact() and the pii.iban / pii.card
// detectors. A regex finds candidate runs in linear time; the checks run on the few runs found.

import { countDigits, hasDigit, type Span } from './spans.ts';

// ── IBAN ────────────────────────────────────────────────────────────────────

/**
 * Two letters, two check digits, then 11-30 letters or digits: compact, or in groups of four
 * (the last 1-4) as IBANs are printed.
 */
export const IBAN_RUN = /(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)(?![A-Za-z0-9])/g;
const IBAN_START = /^[A-Za-z]{2}[0-9]{2}/;

/** The longest IBAN: 34 characters, 42 when printed in groups of four. */
export const IBAN_MAX_LENGTH = 42;

/** ISO 13616 mod-97: move the first four characters to the end, letters to 10..35, remainder 1. */
export function ibanChecksumValid(iban: string): boolean {
  const compact = iban.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(compact)) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

/**
 * The IBANs in a run. A run may start before an IBAN or go on after it ("Ref AB12 DE89 3704 …",
 * "… 0130 00 IS MINE"): IBANs start at the run's start or after a space, and end at its end or
 * before a space; the longest valid one from the first possible start wins.
 */
function ibansInRun(run: string, offset: number, out: Span[]): void {
  const boundaries: number[] = [];
  for (let i = 0; i < run.length; i++) if (run[i] === ' ') boundaries.push(i);
  let from = 0;
  search: while (from < run.length) {
    const starts = [from, ...boundaries.filter((b) => b >= from).map((b) => b + 1)];
    const ends = [...boundaries, run.length].reverse();
    for (const start of starts) {
      if (!IBAN_START.test(run.slice(start, start + 4))) continue;
      for (const end of ends) {
        if (end - start < 15) break;
        const candidate = run.slice(start, end);
        // Every country's account part holds at least 8 digits: words in groups of four do not.
        if (countDigits(candidate) >= 10 && ibanChecksumValid(candidate)) {
          out.push({ start: offset + start, end: offset + end });
          from = end;
          continue search;
        }
      }
    }
    return;
  }
}

export function findIbans(text: string): Span[] {
  if (!hasDigit(text)) return [];
  const out: Span[] = [];
  IBAN_RUN.lastIndex = 0;
  for (let m = IBAN_RUN.exec(text); m !== null; m = IBAN_RUN.exec(text)) ibansInRun(m[0], m.index, out);
  return out;
}

// ── payment cards ───────────────────────────────────────────────────────────

/** A run of digits with single spaces or dashes between them; not the fraction of a decimal. */
export const DIGIT_RUN = /(?<![0-9])(?<![0-9]\.)[0-9](?:[ -]?[0-9]){12,}/g;

/** 19 digits in groups of four (4-4-4-4-3) with their separators. */
export const CARD_MAX_LENGTH = 23;

/** The Luhn (mod-10) check digit rule. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * The first digits of the card networks' numbers: Visa 4; Mastercard 51-55 and 2221-2720; Mir
 * 2200-2204; Amex 34, 37; JCB 35; Diners 30, 36, 38, 39; Discover, Maestro, UnionPay, RuPay 5, 6.
 * Years (19xx, 20xx) and most ids never start like this.
 */
export const CARD_NETWORK = /^(?:4|5|6|3[045-9]|220[0-4]|222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)/;

/**
 * Card numbers as printed: one group of 13-19 digits, in fours (the last group 1-4 digits:
 * 4-4-4-4, 4-4-4-4-3, 4-4-4-1), or 4-6-5 and 4-6-4 (American Express, Diners). `lengths` are the
 * group lengths, `sums` their prefix sums; the window is groups first..last.
 */
function cardLayout(lengths: readonly number[], sums: readonly number[], first: number, last: number): boolean {
  const total = sums[last + 1]! - sums[first]!;
  if (total < 13 || total > 19) return false;
  if (first === last) return true;
  if (last - first === 2 && lengths[first] === 4 && lengths[first + 1] === 6 && (lengths[last] === 5 || lengths[last] === 4)) return true;
  for (let k = first; k < last; k++) if (lengths[k] !== 4) return false;
  return lengths[last]! >= 1 && lengths[last]! <= 4;
}

/** The card numbers in a run of digit groups; a window that ends the run must not be a decimal's integer part. */
function cardsInRun(run: string, offset: number, followedByDecimal: boolean, out: Span[]): void {
  const groups = run.split(/[ -]/);
  const separators = run.match(/[ -]/g) ?? [];
  const lengths = groups.map((g) => g.length);
  const sums = [0];
  for (const length of lengths) sums.push(sums[sums.length - 1]! + length);
  let i = 0;
  while (i < groups.length) {
    let found = -1;
    // A card starts with a group of four (grouped) or is one group of 13-19 digits.
    if ((lengths[i] === 4 || lengths[i]! >= 13) && CARD_NETWORK.test(groups[i]!)) {
      let j = i;
      for (; j < groups.length && sums[j + 1]! - sums[i]! <= 19; j++) {
        if (j > i && separators[j - 1] !== separators[i]) break;
      }
      // Longest window first.
      for (let end = j - 1; end >= i; end--) {
        if (end === groups.length - 1 && followedByDecimal) continue;
        if (cardLayout(lengths, sums, i, end) && luhnValid(groups.slice(i, end + 1).join(''))) {
          found = end;
          break;
        }
      }
    }
    if (found >= 0) {
      // Each separator is one character: group i starts at sums[i] + i.
      out.push({ start: offset + sums[i]! + i, end: offset + sums[found + 1]! + found });
      i = found + 1;
    } else {
      i += 1;
    }
  }
}

export function findCards(text: string): Span[] {
  if (!hasDigit(text)) return [];
  const out: Span[] = [];
  DIGIT_RUN.lastIndex = 0;
  for (let m = DIGIT_RUN.exec(text); m !== null; m = DIGIT_RUN.exec(text)) {
    const next = m.index + m[0].length;
    const followedByDecimal = text[next] === '.' && /[0-9]/.test(text[next + 1] ?? '');
    cardsInRun(m[0], m.index, followedByDecimal, out);
  }
  return out;
}
