// Secret and PII redaction for logged prompts and completions, and for every log line: pure, no
// I/O. Every match is replaced by a typed placeholder before anything is stored or written:
//
//   [SECRET]  provider API keys (OpenAI/Anthropic/Tollgate sk-…, Stripe sk_live_…, AWS AKIA/ASIA…,
//             GitHub ghp_…/github_pat_…, Slack xox…/xapp-… and webhook URLs, Google AIza…),
//             private key blocks (also when cut off before their END line), JWTs, bearer and
//             basic credentials, passwords in URLs, and values assigned to password/secret/token/
//             api_key-like names
//   [EMAIL]   e-mail addresses
//   [IBAN]    IBANs, mod-97 checked (compact, or in groups of four)
//   [CARD]    payment card numbers: 13-19 digits, contiguous or grouped as cards are printed
//             (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4) with spaces or dashes, starting like a card
//             network's numbers (Visa 4, Mastercard 51-55/2221-2720, Amex 34/37, …), Luhn checked
//   [SSN]     US social security numbers written 123-45-6789 or 123 45 6789 (area not 000, 666
//             or 9xx, group not 00, serial not 0000)
//   [PHONE]   +international numbers (8-15 digits), North American (555) 123-4567 / 555-123-4567,
//             and trunk-prefixed national numbers with separators (020 7946 0958, 01 23 45 67 89)
//
// Plain numbers are left alone: years, prices, decimals, dates, times, versions, IP addresses,
// ids and bare digit runs that are not Luhn-valid card numbers. Rules run in a fixed order
// (secrets, e-mail, IBAN, card, SSN, phone), each on the output of the previous one. The patterns
// live in ./patterns/ (linear in the length of the text), shared with the guardrail detectors
// (src/guardrails/detectors/), which report the same matches as findings instead.

import { findAssignedSecrets, findBasicAuth, findBearerTokens, findUrlPasswords } from './patterns/credential-patterns.ts';
import { findEmails, findInternationalPhones, findNanpPhones, findNationalPhones } from './patterns/contact-patterns.ts';
import { findCards, findIbans } from './patterns/bank-card-patterns.ts';
import { findJwts, findPrivateKeys, findSlackWebhooks, findVendorKeys } from './patterns/secret-patterns.ts';
import { findSsns } from './patterns/ssn-pattern.ts';
import { hasDigit, replaceSpans, type Span } from './patterns/spans.ts';

export { ibanChecksumValid, luhnValid } from './patterns/bank-card-patterns.ts';
export { ssnValid } from './patterns/ssn-pattern.ts';

export type RedactionKind = 'SECRET' | 'EMAIL' | 'IBAN' | 'CARD' | 'SSN' | 'PHONE';

export const PLACEHOLDERS: { readonly [K in RedactionKind]: `[${K}]` } = {
  SECRET: '[SECRET]',
  EMAIL: '[EMAIL]',
  IBAN: '[IBAN]',
  CARD: '[CARD]',
  SSN: '[SSN]',
  PHONE: '[PHONE]',
};

/** How many of each kind were replaced (added to by redact when passed). */
export type RedactionCounts = Partial<Record<RedactionKind, number>>;

interface Rule {
  readonly kind: RedactionKind;
  /** The spans to replace, in order, not overlapping (each finder skips texts it cannot match cheaply). */
  readonly find: (text: string) => Span[];
}

/** A value assigned to a secret-sounding name, unless already redacted or a call (`token = tokenizer.encode(text)`). */
function assignedSecrets(text: string): Span[] {
  return findAssignedSecrets(text).filter((s) => s.value !== PLACEHOLDERS.SECRET && (s.quoted || s.next !== '('));
}

const RULES: readonly Rule[] = [
  { kind: 'SECRET', find: findPrivateKeys },
  { kind: 'SECRET', find: findSlackWebhooks },
  { kind: 'SECRET', find: findUrlPasswords },
  { kind: 'SECRET', find: findJwts },
  { kind: 'SECRET', find: (text) => (hasDigit(text) ? findVendorKeys(text) : []) },
  { kind: 'SECRET', find: findBasicAuth },
  { kind: 'SECRET', find: findBearerTokens },
  { kind: 'SECRET', find: assignedSecrets },
  { kind: 'EMAIL', find: findEmails },
  { kind: 'IBAN', find: findIbans },
  { kind: 'CARD', find: findCards },
  { kind: 'SSN', find: findSsns },
  { kind: 'PHONE', find: findInternationalPhones },
  { kind: 'PHONE', find: findNanpPhones },
  { kind: 'PHONE', find: findNationalPhones },
];

/** `text` with every secret and every piece of PII the rules know replaced by its placeholder. */
export function redact(text: string, counts?: RedactionCounts): string {
  let out = text;
  for (const rule of RULES) {
    const spans = rule.find(out);
    if (spans.length === 0) continue;
    if (counts) counts[rule.kind] = (counts[rule.kind] ?? 0) + spans.length;
    out = replaceSpans(out, spans, PLACEHOLDERS[rule.kind]);
  }
  return out;
}

/**
 * A JSON value with every string in it (object keys included) redacted, and every integer that
 * redacts as a card number replaced by its placeholder. Returns a new value; the input is not
 * changed. Keys that redact to the same text are kept apart with a " #2" suffix.
 */
export function redactValue(value: unknown, counts?: RedactionCounts): unknown {
  if (typeof value === 'string') return redact(value, counts);
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Math.abs(value) < 1e12 || Math.abs(value) >= 1e20) return value;
    const text = String(value);
    const redacted = redact(text, counts);
    return redacted === text ? value : redacted;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, counts));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[uniqueKey(out, redact(key, counts))] = redactValue(item, counts);
    return out;
  }
  return value;
}

/** `key`, or `key #2`, `key #3`… when the object already has it. */
export function uniqueKey(object: Record<string, unknown>, key: string): string {
  if (!Object.hasOwn(object, key)) return key;
  for (let n = 2; ; n++) if (!Object.hasOwn(object, `${key} #${n}`)) return `${key} #${n}`;
}
