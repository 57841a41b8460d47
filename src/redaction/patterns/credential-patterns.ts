// Credentials recognised by where they stand rather than by their format, shared by redact() and
// the secret.credential detector: bearer and basic Authorization values, the password in a URL,
// and values assigned to secret-sounding names. Each finder returns the span of the secret value
// only: the name, the scheme and the quotes around it stay.

import type { Span } from './spans.ts';

/** Bearer tokens (with a digit somewhere, so "bearer instruments" stays). */
export const BEARER = /(?<![A-Za-z0-9_-])(bearer)(\s+)(?=[A-Za-z._~+\/-]*[0-9])[A-Za-z0-9._~+\/-]{8,}=*/gi;

/** Authorization: Basic base64(user:password). */
export const BASIC_AUTH = /(authorization["']?\s*[:=]\s*["']?basic\s+)[A-Za-z0-9+\/]{6,}={0,2}/gi;

/** scheme://user:password@host: the password. */
export const URL_PASSWORD = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{1,20}:\/\/[^\s\/:@?#]{1,256}:)[^\s\/@?#]{1,256}@/g;

/**
 * A value assigned to a secret-sounding name: `password: hunter22`, `"api_key": "…"`, `TOKEN=…`.
 * A quoted value runs to its closing quote, an unquoted one up to a space or punctuation (and
 * only from 6 characters, so `tokens: 4096` stays). Groups: 1 the name and the assignment,
 * 2 a double-quoted value, 3 a single-quoted one, 4 a bare one.
 */
export const ASSIGNED_SECRET = new RegExp(
  '(?<![A-Za-z0-9])((?:' +
    [
      'api[_-]?key',
      'apikey',
      'access[_-]?key(?:[_-]?id)?',
      'secret[_-]?access[_-]?key',
      'secret[_-]?key',
      'client[_-]?secret',
      '(?:auth|access|refresh|id|session|bearer)[_-]?token',
      'private[_-]?key',
      'password',
      'passwd',
      'passphrase',
      'secret',
      'token',
    ].join('|') +
    ')["\']?\\s{0,8}[:=]\\s{0,8})' +
    '(?:"((?:[^"\\\\\\n]|\\\\.){1,256})"|\'((?:[^\'\\\\\\n]|\\\\.){1,256})\'|([^\\s"\'`,;{}()\\[\\]<>]{6,}))',
  'gi',
);

export function findBearerTokens(text: string): Span[] {
  if (!/bearer/i.test(text)) return [];
  const out: Span[] = [];
  BEARER.lastIndex = 0;
  for (let m = BEARER.exec(text); m !== null; m = BEARER.exec(text)) {
    out.push({ start: m.index + m[1]!.length + m[2]!.length, end: m.index + m[0].length });
  }
  return out;
}

export function findBasicAuth(text: string): Span[] {
  if (!/basic/i.test(text)) return [];
  const out: Span[] = [];
  BASIC_AUTH.lastIndex = 0;
  for (let m = BASIC_AUTH.exec(text); m !== null; m = BASIC_AUTH.exec(text)) {
    out.push({ start: m.index + m[1]!.length, end: m.index + m[0].length });
  }
  return out;
}

export function findUrlPasswords(text: string): Span[] {
  if (!text.includes('://')) return [];
  const out: Span[] = [];
  URL_PASSWORD.lastIndex = 0;
  for (let m = URL_PASSWORD.exec(text); m !== null; m = URL_PASSWORD.exec(text)) {
    out.push({ start: m.index + m[1]!.length, end: m.index + m[0].length - 1 });
  }
  return out;
}

export interface AssignedSecretSpan extends Span {
  /** The name the value is assigned to, e.g. "password" or "API_KEY" (without the assignment). */
  readonly name: string;
  readonly value: string;
  readonly quoted: boolean;
  /** The character right after the match (an unquoted value followed by "(" is a call, not a secret). */
  readonly next: string;
}

/** Every assigned value; the caller decides which to keep. */
export function findAssignedSecrets(text: string): AssignedSecretSpan[] {
  if (!text.includes(':') && !text.includes('=')) return [];
  const out: AssignedSecretSpan[] = [];
  ASSIGNED_SECRET.lastIndex = 0;
  for (let m = ASSIGNED_SECRET.exec(text); m !== null; m = ASSIGNED_SECRET.exec(text)) {
    const [, prefix, doubleQuoted, singleQuoted, bare] = m;
    const value = doubleQuoted ?? singleQuoted ?? bare ?? '';
    const quoted = bare === undefined;
    const start = m.index + prefix!.length + (quoted ? 1 : 0);
    const name = /^[A-Za-z_-]+/.exec(prefix!)?.[0] ?? prefix!;
    out.push({ start, end: start + value.length, name, value, quoted, next: text[m.index + m[0].length] ?? '' });
  }
  return out;
}
