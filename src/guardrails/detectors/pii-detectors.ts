// The PII detectors: pii.email, pii.phone, pii.card, pii.iban, pii.ssn and pii.ip. Each is a
// view on the shared PII/secret pass (pii-secret-pass.ts, stages in pii-finders.ts), so a span is
// reported once, by the most specific detector, however many detectors run. maxMatchLength is
// the longest match each can make (an SSN is 11 characters).

import { CARD_MAX_LENGTH, IBAN_MAX_LENGTH } from '../../redaction/patterns/bank-card-patterns.ts';
import { EMAIL_MAX_LENGTH, PHONE_MAX_LENGTH } from '../../redaction/patterns/contact-patterns.ts';
import type { Detector } from '../detector.ts';
import { IP_MAX_LENGTH } from './ip-address.ts';
import { passDetector } from './pii-secret-pass.ts';

/**
 * Numbers printed in spaced groups can only be open from their first digit (or the `lead`
 * characters before it: "+" or "(" of a phone, the country letters of an IBAN): the first digit in
 * the last `max` characters, else only the last `lead` characters.
 */
function fromFirstDigit(max: number, lead: number): (text: string) => number {
  return (text) => {
    for (let i = Math.max(0, text.length - max); i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) return Math.max(0, i - lead);
    }
    return Math.max(0, text.length - lead);
  };
}

export const piiDetectors: readonly Detector[] = [
  // Addresses never contain whitespace; numbers may be printed in spaced groups.
  passDetector('pii.email', 'pii', EMAIL_MAX_LENGTH, { maxSpacedLength: 0 }),
  passDetector('pii.phone', 'pii', PHONE_MAX_LENGTH, { openFrom: fromFirstDigit(PHONE_MAX_LENGTH, 2) }),
  passDetector('pii.card', 'pii', CARD_MAX_LENGTH, { openFrom: fromFirstDigit(CARD_MAX_LENGTH, 0) }),
  passDetector('pii.iban', 'pii', IBAN_MAX_LENGTH, { openFrom: fromFirstDigit(IBAN_MAX_LENGTH, 2) }),
  passDetector('pii.ssn', 'pii', 11, { openFrom: fromFirstDigit(11, 0) }),
  passDetector('pii.ip', 'pii', IP_MAX_LENGTH, { maxSpacedLength: 0 }),
];
