// E-mail addresses and phone numbers, shared by redact() and the pii.email / pii.phone detectors.
// Every pattern is linear in the length of the text: each group of a phone number starts with a
// character the previous group cannot end with, so matching never backtracks far.

import { countDigits, hasDigit, matchSpans, type Span } from './spans.ts';

export const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;

/** The longest EMAIL match: 64 + "@" + 8 labels of 63 and their dots + a 24-letter TLD. */
export const EMAIL_MAX_LENGTH = 64 + 1 + 8 * 64 + 24;

export function findEmails(text: string): Span[] {
  return text.includes('@') ? matchSpans(EMAIL, text) : [];
}

/**
 * +CC and the number: compact (+14155552671), or in groups that each start with a separator or a
 * parenthesis (+1 (555) 123-4567, +44 (0)20 7946 0958, +33 1 23 45 67 89).
 */
export const PHONE_INTERNATIONAL =
  /(?<![A-Za-z0-9_+])\+[1-9](?:[0-9]{6,14}|[0-9]{0,3}(?:[ .-]?\([0-9]{1,4}\)|[ .-][0-9]{1,10}|(?<=\))[0-9]{1,10}){1,8})(?![A-Za-z0-9_])/g;

/** North American: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567, 1-800-555-0199. */
export const PHONE_NANP = /(?<![A-Za-z0-9_+.-])(?:1[ .-]?)?(?:\([0-9]{3}\)[ .-]?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}(?![A-Za-z0-9_]|[.-][0-9])/g;

/** Trunk-prefixed national numbers with one kind of separator: 020 7946 0958, 01 23 45 67 89, 030/1234567. */
export const PHONE_NATIONAL = /(?<![A-Za-z0-9_+.,\/-])0[0-9]{1,4}([ .\/-])[0-9]{2,8}(?:\1[0-9]{2,8}){0,4}(?![A-Za-z0-9_]|[.,\/-][0-9])/g;

/**
 * The longest phone number the patterns keep: 17 digits (00-prefixed national) or 16 (+CC with
 * "(0)"), each group adding at most three characters of separators and parentheses.
 */
export const PHONE_MAX_LENGTH = 48;

/** +CC numbers of 8-15 digits (16 with a "(0)" trunk prefix written in). */
export function findInternationalPhones(text: string): Span[] {
  if (!text.includes('+')) return [];
  return matchSpans(PHONE_INTERNATIONAL, text, (m) => {
    const digits = countDigits(m[0]);
    return digits >= 8 && digits <= (m[0].includes('(0)') ? 16 : 15);
  });
}

export function findNanpPhones(text: string): Span[] {
  return hasDigit(text) ? matchSpans(PHONE_NANP, text) : [];
}

/** National numbers of 9-12 digits, or 11-17 with the 00 international prefix (0044 20 7946 0958). */
export function findNationalPhones(text: string): Span[] {
  if (!hasDigit(text)) return [];
  return matchSpans(PHONE_NATIONAL, text, (m) => {
    const digits = countDigits(m[0]);
    return m[0].startsWith('00') ? digits >= 11 && digits <= 17 : digits >= 9 && digits <= 12;
  });
}
