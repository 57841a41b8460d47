// The secret.credential detector's checks on the credentials redact() finds by context
// (src/redaction/patterns/credential-patterns.ts): bearer and basic Authorization values,
// passwords in URLs, values assigned to secret-sounding names. A log redactor can afford to hide
// `token: string`; a guardrail that blocks or rewrites prompts cannot, so values that are
// placeholders, types, code, URLs, base64 of prose (an encoded instruction, not a key) or
// references to where the secret lives are not reported.

import { findAssignedSecrets, findBasicAuth, findBearerTokens, findUrlPasswords } from '../../redaction/patterns/credential-patterns.ts';
import { decodesToText } from './high-entropy.ts';
import type { Candidate } from './pii-secret-scan.ts';

/** Values that stand for a secret without being one: masks, templates, environment lookups, our own placeholders. */
const PLACEHOLDER =
  /^(?:(.)\1*|<[^>]*>|\{\{.*\}\}|\$\{.*\}|\$\(.*\)|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_]+%|\[[A-Z_]+\]|\[[A-Z_]+_\d+\])$|^(?:process\.env|os\.environ|os\.getenv|env\(|getenv|secrets\.|vault:|ref\+|arn:aws:secretsmanager)|your[_-]|redacted|placeholder|changeme|\*{3}|x{4}/i;

/** Words a schema, a type annotation or a flag puts where a value would be. */
const WORD = /^(?:string|str|number|int|integer|boolean|bool|bytes|null|none|nil|true|false|undefined|required|optional|secret|password|token|text|hidden|empty|any|object)$/i;

const URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** A dotted reference (config.apiKey, self.token, settings.SECRET_KEY). */
const REFERENCE = /^[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+$/;

/** Whether an assigned value looks like a secret rather than a name, a type or a placeholder. */
export function secretLikeValue(name: string, value: string, quoted: boolean): boolean {
  if (value.length < 6 || PLACEHOLDER.test(value) || WORD.test(value) || REFERENCE.test(value) || URL.test(value)) return false;
  if (decodesToText(value)) return false;
  const passwordName = /pass/i.test(name);
  if (/\s/.test(value) && !passwordName) return false;
  if (/^[a-z]+$/.test(value) && !(quoted && passwordName && value.length >= 10)) return false;
  if (/^[0-9]+$/.test(value) && value.length < 12) return false;
  return true;
}

/** Whether a Basic credential decodes to user:password. */
function basicCredential(value: string): boolean {
  try {
    return Buffer.from(value, 'base64').toString('latin1').includes(':');
  } catch {
    return false;
  }
}

export function findCredentials(text: string): Candidate[] {
  const out: Candidate[] = [];
  for (const s of findUrlPasswords(text)) {
    const value = text.slice(s.start, s.end);
    if (value.length >= 3 && !PLACEHOLDER.test(value) && !WORD.test(value)) out.push({ ...s, score: 0.9, reason: 'password in a URL' });
  }
  for (const s of findBasicAuth(text)) {
    if (basicCredential(text.slice(s.start, s.end))) out.push({ ...s, score: 0.9, reason: 'HTTP Basic credentials' });
  }
  for (const s of findBearerTokens(text)) out.push({ ...s, score: 0.9, reason: 'bearer token' });
  for (const s of findAssignedSecrets(text)) {
    if (!s.quoted && s.next === '(') continue;
    // An unquoted value in a query string ends at the next parameter.
    const amp = s.quoted ? -1 : s.value.indexOf('&');
    const value = amp >= 0 ? s.value.slice(0, amp) : s.value;
    if (!secretLikeValue(s.name, value, s.quoted)) continue;
    out.push({ start: s.start, end: s.start + value.length, reason: `value assigned to a secret-sounding name` });
  }
  return out;
}
