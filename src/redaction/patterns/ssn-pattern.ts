// US social security numbers, shared by redact() and the pii.ssn detector: 123-45-6789 or
// 123 45 6789 (one kind of separator), with the SSA's rules for the three parts.

import { hasDigit, matchSpans, type Span } from './spans.ts';

export const SSN = /(?<![0-9-])([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})(?![0-9-])/g;

/** SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000. */
export function ssnValid(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

export function findSsns(text: string): Span[] {
  return hasDigit(text) ? matchSpans(SSN, text, (m) => ssnValid(m[1]!, m[3]!, m[4]!)) : [];
}
