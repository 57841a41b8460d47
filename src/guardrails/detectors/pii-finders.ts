// The PII stages of the PII/secret pass (pii-secret-scan.ts): e-mail, IBAN, card, SSN, phone and
// IP, in that order. The patterns are the ones redact() uses (src/redaction/patterns/); the
// detectors add what a guardrail needs and a log redactor does not: scores, reasons, and a few
// exclusions for look-alikes that redaction would rather over-redact.

import { findCards, findIbans } from '../../redaction/patterns/bank-card-patterns.ts';
import { findEmails, findInternationalPhones, findNanpPhones, findNationalPhones } from '../../redaction/patterns/contact-patterns.ts';
import { findSsns } from '../../redaction/patterns/ssn-pattern.ts';
import type { Span } from '../../redaction/patterns/spans.ts';
import { findIpAddresses } from './ip-address.ts';
import type { Candidate, Stage } from './pii-secret-scan.ts';

/** A number labelled as something else right before it: "order #", "Invoice no.", "EAN", "tracking number is". */
const ID_LABEL =
  /(?:^|[^A-Za-z])(?:order|invoice|tracking|ref|reference|ticket|case|sku|serial|part|isbn|ean|gtin|upc|barcode|claim|policy|booking|confirmation|transaction|shipment|po|item|model|product)s?(?:\s*(?:no|nr|num|number|id|code)\.?)?(?:\s+is)?[\s:#.=-]*$/i;

function labelledAsId(text: string, start: number): boolean {
  return ID_LABEL.test(text.slice(Math.max(0, start - 40), start));
}

/** Part of a longer run of groups: "1Z 999 AA1 01 2345 6784", "0301 2345 6789 01". */
function insideLongerRun(text: string, start: number, end: number): boolean {
  const before = text[start - 1];
  const after = text[end];
  if ((before === ' ' || before === '-') && /[A-Za-z]*[0-9][A-Za-z0-9]*$/.test(text.slice(Math.max(0, start - 12), start - 1))) return true;
  return (after === ' ' || after === '-') && /^[0-9]/.test(text[end + 1] ?? '');
}

const DIGITS_ONLY = /\D/g;

/** NANP rules: area code and exchange start with 2-9 and are not N11 service codes. */
function nanpValid(span: string): boolean {
  let digits = span.replace(DIGITS_ONLY, '');
  if (digits.length === 11) digits = digits.slice(1);
  const area = digits.slice(0, 3);
  const exchange = digits.slice(3, 6);
  return area[0]! >= '2' && exchange[0]! >= '2' && area.slice(1) !== '11' && exchange.slice(1) !== '11';
}

const RETINA_ASSET = /@\d+(?:\.\d+)?x\./;

const email: Stage = {
  detector: 'pii.email',
  kind: 'pii',
  type: 'EMAIL',
  score: 0.95,
  reason: 'e-mail address',
  // Not image names (logo@2x.png) or SSH remotes (git@github.com:org/repo).
  find: (text) =>
    findEmails(text).filter((s) => {
      const value = text.slice(s.start, s.end);
      return !RETINA_ASSET.test(value) && !(text[s.end] === ':' && /[A-Za-z0-9~\/_.-]/.test(text[s.end + 1] ?? ''));
    }),
};

const iban: Stage = { detector: 'pii.iban', kind: 'pii', type: 'IBAN', score: 0.97, reason: 'IBAN with a valid mod-97 check', find: findIbans };

function cardNetwork(first: string): string {
  if (first.startsWith('4')) return 'Visa';
  if (/^(?:5[1-5]|222[1-9]|22[3-9]|2[3-6]|27[01]|2720)/.test(first)) return 'Mastercard';
  if (/^3[47]/.test(first)) return 'American Express';
  if (/^(?:6011|65|64[4-9])/.test(first)) return 'Discover';
  if (first.startsWith('35')) return 'JCB';
  if (first.startsWith('62')) return 'UnionPay';
  if (/^3[0689]/.test(first)) return 'Diners Club';
  if (first.startsWith('220')) return 'Mir';
  return 'card network';
}

const card: Stage = {
  detector: 'pii.card',
  kind: 'pii',
  type: 'CARD',
  score: 0.95,
  reason: 'payment card number',
  find: (text) =>
    findCards(text)
      .filter((s) => !labelledAsId(text, s.start))
      .map((s) => ({ ...s, reason: `Luhn-valid ${cardNetwork(text.slice(s.start, s.start + 4))} card number` })),
};

const SSN_CONTEXT = /\b(?:ssn|social security|soc\.? sec|ssa)\b/i;

const ssn: Stage = {
  detector: 'pii.ssn',
  kind: 'pii',
  type: 'SSN',
  score: 0.8,
  reason: 'US social security number (SSA area/group/serial rules)',
  find: (text) =>
    findSsns(text)
      .filter((s) => !labelledAsId(text, s.start))
      .map((s) => (SSN_CONTEXT.test(text.slice(Math.max(0, s.start - 48), s.start)) ? { ...s, score: 0.95, reason: 'US social security number, labelled as one' } : s)),
};

const phone: Stage = {
  detector: 'pii.phone',
  kind: 'pii',
  type: 'PHONE',
  score: 0.8,
  reason: 'phone number',
  find: (text) => {
    const out: Candidate[] = findInternationalPhones(text).map((s) => ({ ...s, score: 0.9, reason: 'international phone number' }));
    const standalone = (s: Span) => !labelledAsId(text, s.start) && !insideLongerRun(text, s.start, s.end);
    for (const s of findNanpPhones(text)) {
      if (standalone(s) && nanpValid(text.slice(s.start, s.end))) out.push({ ...s, reason: 'North American phone number' });
    }
    for (const s of findNationalPhones(text)) if (standalone(s)) out.push({ ...s, score: 0.75, reason: 'national phone number' });
    return out;
  },
};

const ip: Stage = { detector: 'pii.ip', kind: 'pii', type: 'IP', score: 0.8, reason: 'IP address', find: findIpAddresses };

/** In pass order: IBANs before cards and phones (their digits would match both). */
export const piiStages: readonly Stage[] = [email, iban, card, ssn, phone, ip];
