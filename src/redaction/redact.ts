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
// (secrets, e-mail, IBAN, card, SSN, phone), each on the output of the previous one, and every
// pattern is linear in the length of the text (no nested unbounded quantifiers).

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
  /** A cheap test: when false, the rule cannot match and is skipped. */
  readonly mayMatch: (text: string) => boolean;
  readonly apply: (text: string, hit: () => void) => string;
}

const HAS_DIGIT = /\d/;
const hasDigit = (text: string) => HAS_DIGIT.test(text);

/** A rule whose every match becomes `replacement` (which may use $1.. groups). */
function replaceAll(kind: RedactionKind, mayMatch: Rule['mayMatch'], pattern: RegExp, replacement: string): Rule {
  return {
    kind,
    mayMatch,
    apply: (text, hit) =>
      text.replace(pattern, (...args: unknown[]) => {
        hit();
        return replacement.replace(/\$(\d)/g, (_, n: string) => String(args[Number(n)] ?? ''));
      }),
  };
}

/**
 * A rule that decides per match: `decide` gets the match, its groups and what follows it, and
 * returns the replacement, or undefined to keep the match.
 */
function replaceChecked(
  kind: RedactionKind,
  mayMatch: Rule['mayMatch'],
  pattern: RegExp,
  decide: (match: string, groups: ReadonlyArray<string | undefined>, hit: () => void, after: string) => string | undefined,
): Rule {
  return {
    kind,
    mayMatch,
    apply: (text, hit) =>
      text.replace(pattern, (match: string, ...rest: unknown[]) => {
        const offset = rest[rest.length - 2] as number;
        const groups = rest.slice(0, -2) as Array<string | undefined>;
        return decide(match, groups, hit, text.slice(offset + match.length, offset + match.length + 2)) ?? match;
      }),
  };
}

// ── secrets ─────────────────────────────────────────────────────────────────

/** PEM/OpenSSH/PGP private key blocks; one without its END line runs to the end of the text. */
const PRIVATE_KEY = /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)/g;

/** Vendor key formats, each at the start of a token. */
const VENDOR_KEY = new RegExp(
  '(?<![A-Za-z0-9_-])(?:' +
    [
      // OpenAI (sk-…, sk-proj-…, sk-svcacct-…), Anthropic (sk-ant-…), Tollgate (sk-tg-…): at least one digit.
      'sk-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}',
      // Stripe secret and restricted keys.
      '(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}',
      // AWS access key ids.
      '(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])',
      // GitHub tokens.
      'gh[pousr]_[A-Za-z0-9]{36,255}',
      'github_pat_[A-Za-z0-9_]{22,255}',
      // Slack tokens.
      'xox[abposre]-[A-Za-z0-9-]{10,}',
      'xapp-[A-Za-z0-9-]{10,}',
      // Google API keys.
      'AIza[0-9A-Za-z_-]{35}',
    ].join('|') +
    ')',
  'g',
);

const SLACK_WEBHOOK = /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9\/_-]+/g;

/** header.payload.signature, base64url; the header is JSON, so it starts with eyJ. JWE's 5 parts too. */
const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}/g;

/** Bearer tokens (with a digit somewhere, so "bearer instruments" stays). */
const BEARER = /(?<![A-Za-z0-9_-])(bearer)(\s+)(?=[A-Za-z._~+\/-]*[0-9])[A-Za-z0-9._~+\/-]{8,}=*/gi;

/** Authorization: Basic base64(user:password). */
const BASIC_AUTH = /(authorization["']?\s*[:=]\s*["']?basic\s+)[A-Za-z0-9+\/]{6,}={0,2}/gi;

/** scheme://user:password@host → scheme://user:[SECRET]@host. */
const URL_PASSWORD = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{1,20}:\/\/[^\s\/:@?#]{1,256}:)[^\s\/@?#]{1,256}@/g;

/**
 * A value assigned to a secret-sounding name: `password: hunter22`, `"api_key": "…"`, `TOKEN=…`.
 * A quoted value is redacted up to its closing quote, an unquoted one up to a space or
 * punctuation (and only from 6 characters, so `tokens: 4096` stays).
 */
const ASSIGNED_SECRET = new RegExp(
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

// ── e-mail ──────────────────────────────────────────────────────────────────

const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;

// ── IBAN ────────────────────────────────────────────────────────────────────

/**
 * Two letters, two check digits, then 11-30 letters or digits: compact, or in groups of four
 * (the last 1-4) as IBANs are printed.
 */
const IBAN_RUN = /(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)(?![A-Za-z0-9])/g;
const IBAN_START = /^[A-Za-z]{2}[0-9]{2}/;

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
 * The run with every IBAN in it replaced. A run may start before an IBAN or go on after it
 * ("Ref AB12 DE89 3704 …", "… 0130 00 IS MINE"): IBANs start at the run's start or after a
 * space, and end at its end or before a space.
 */
function replaceIbans(run: string, hit: () => void): string | undefined {
  const boundaries: number[] = [];
  for (let i = 0; i < run.length; i++) if (run[i] === ' ') boundaries.push(i);
  const starts = [0, ...boundaries.map((b) => b + 1)];
  const ends = [...boundaries, run.length].reverse();
  for (const start of starts) {
    if (!IBAN_START.test(run.slice(start, start + 4))) continue;
    for (const end of ends) {
      if (end - start < 15) break;
      const candidate = run.slice(start, end);
      // Every country's account part holds at least 8 digits: words in groups of four do not.
      if (countDigits(candidate) >= 10 && ibanChecksumValid(candidate)) {
        hit();
        const rest = run.slice(end);
        return `${run.slice(0, start)}${PLACEHOLDERS.IBAN}${replaceIbans(rest, hit) ?? rest}`;
      }
    }
  }
  return undefined;
}

// ── payment cards ───────────────────────────────────────────────────────────

/** A run of digits with single spaces or dashes between them; not the fraction of a decimal. */
const DIGIT_RUN = /(?<![0-9])(?<![0-9]\.)[0-9](?:[ -]?[0-9]){12,}/g;

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
const CARD_NETWORK = /^(?:4|5|6|3[045-9]|220[0-4]|222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)/;

/**
 * Card numbers as printed: one group of 13-19 digits, in fours (the last group 1-4 digits:
 * 4-4-4-4, 4-4-4-4-3, 4-4-4-1), or 4-6-5 and 4-6-4 (American Express, Diners).
 */
function cardLayout(groups: readonly string[]): boolean {
  const total = groups.reduce((n, g) => n + g.length, 0);
  if (total < 13 || total > 19) return false;
  if (groups.length === 1) return true;
  const lengths = groups.map((g) => g.length).join('-');
  if (lengths === '4-6-5' || lengths === '4-6-4') return true;
  return groups.every((g, i) => (i === groups.length - 1 ? g.length >= 1 && g.length <= 4 : g.length === 4));
}

/** The run with every card number in it replaced, or undefined when it holds none. */
function replaceCards(run: string, followedByDecimal: boolean, hit: () => void): string | undefined {
  const groups = run.split(/[ -]/);
  const separators = run.match(/[ -]/g) ?? [];
  const out: string[] = [];
  let changed = false;
  let i = 0;
  while (i < groups.length) {
    let found = -1;
    const first = groups[i]!;
    if (CARD_NETWORK.test(first)) {
      let digits = 0;
      let j = i;
      for (; j < groups.length && digits + groups[j]!.length <= 19; j++) {
        if (j > i && separators[j - 1] !== separators[i]) break;
        digits += groups[j]!.length;
      }
      // Longest window first; a window that ends the run must not be the integer part of a decimal.
      for (let end = j - 1; end >= i; end--) {
        const window = groups.slice(i, end + 1);
        if (end === groups.length - 1 && followedByDecimal) continue;
        if (cardLayout(window) && luhnValid(window.join(''))) {
          found = end;
          break;
        }
      }
    }
    if (found >= 0) {
      hit();
      out.push(PLACEHOLDERS.CARD);
      if (found < groups.length - 1) out.push(separators[found]!);
      i = found + 1;
      changed = true;
    } else {
      out.push(first);
      if (i < groups.length - 1) out.push(separators[i]!);
      i += 1;
    }
  }
  return changed ? out.join('') : undefined;
}

// ── SSN ─────────────────────────────────────────────────────────────────────

const SSN = /(?<![0-9-])([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})(?![0-9-])/g;

/** SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000. */
export function ssnValid(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

// ── phone numbers ───────────────────────────────────────────────────────────

/**
 * +CC and the number: compact (+14155552671), or in groups that each start with a separator or a
 * parenthesis (+1 (555) 123-4567, +44 (0)20 7946 0958, +33 1 23 45 67 89). Every group starts
 * with a character the previous one cannot end with, so matching never backtracks far.
 */
const PHONE_INTERNATIONAL =
  /(?<![A-Za-z0-9_+])\+[1-9](?:[0-9]{6,14}|[0-9]{0,3}(?:[ .-]?\([0-9]{1,4}\)|[ .-][0-9]{1,10}|(?<=\))[0-9]{1,10}){1,8})(?![A-Za-z0-9_])/g;
/** North American: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567, 1-800-555-0199. */
const PHONE_NANP = /(?<![A-Za-z0-9_+.-])(?:1[ .-]?)?(?:\([0-9]{3}\)[ .-]?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}(?![A-Za-z0-9_]|[.-][0-9])/g;
/** Trunk-prefixed national numbers with one kind of separator: 020 7946 0958, 01 23 45 67 89, 030/1234567. */
const PHONE_NATIONAL = /(?<![A-Za-z0-9_+.,\/-])0[0-9]{1,4}([ .\/-])[0-9]{2,8}(?:\1[0-9]{2,8}){0,4}(?![A-Za-z0-9_]|[.,\/-][0-9])/g;

function countDigits(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

// ── the rules, in order ─────────────────────────────────────────────────────

const RULES: readonly Rule[] = [
  replaceAll('SECRET', (t) => t.includes('PRIVATE KEY'), PRIVATE_KEY, PLACEHOLDERS.SECRET),
  replaceAll('SECRET', (t) => t.includes('hooks.slack.com'), SLACK_WEBHOOK, PLACEHOLDERS.SECRET),
  replaceAll('SECRET', (t) => t.includes('://'), URL_PASSWORD, `$1${PLACEHOLDERS.SECRET}@`),
  replaceAll('SECRET', (t) => t.includes('eyJ'), JWT, PLACEHOLDERS.SECRET),
  replaceAll('SECRET', hasDigit, VENDOR_KEY, PLACEHOLDERS.SECRET),
  replaceAll('SECRET', (t) => /basic/i.test(t), BASIC_AUTH, `$1${PLACEHOLDERS.SECRET}`),
  replaceAll('SECRET', (t) => /bearer/i.test(t), BEARER, `$1$2${PLACEHOLDERS.SECRET}`),
  replaceChecked('SECRET', (t) => t.includes(':') || t.includes('='), ASSIGNED_SECRET, (_match, [prefix, doubleQuoted, singleQuoted, bare], hit, after) => {
    const value = doubleQuoted ?? singleQuoted ?? bare ?? '';
    // Already redacted; or code (token = tokenizer.encode(text)), not a secret.
    if (value === PLACEHOLDERS.SECRET || (bare !== undefined && after.startsWith('('))) return undefined;
    hit();
    const quote = doubleQuoted !== undefined ? '"' : singleQuoted !== undefined ? "'" : '';
    return `${prefix}${quote}${PLACEHOLDERS.SECRET}${quote}`;
  }),
  replaceAll('EMAIL', (t) => t.includes('@'), EMAIL, PLACEHOLDERS.EMAIL),
  replaceChecked('IBAN', hasDigit, IBAN_RUN, (match, _groups, hit) => replaceIbans(match, hit)),
  {
    kind: 'CARD',
    mayMatch: hasDigit,
    apply: (text, hit) =>
      text.replace(DIGIT_RUN, (run: string, offset: number) => {
        const next = offset + run.length;
        const followedByDecimal = text[next] === '.' && /[0-9]/.test(text[next + 1] ?? '');
        return replaceCards(run, followedByDecimal, hit) ?? run;
      }),
  },
  replaceChecked('SSN', hasDigit, SSN, (_match, [area, , group, serial], hit) => {
    if (!ssnValid(area!, group!, serial!)) return undefined;
    hit();
    return PLACEHOLDERS.SSN;
  }),
  replaceChecked('PHONE', (t) => t.includes('+'), PHONE_INTERNATIONAL, (match, _groups, hit) => {
    const digits = countDigits(match);
    if (digits < 8 || digits > (match.includes('(0)') ? 16 : 15)) return undefined;
    hit();
    return PLACEHOLDERS.PHONE;
  }),
  replaceAll('PHONE', hasDigit, PHONE_NANP, PLACEHOLDERS.PHONE),
  replaceChecked('PHONE', hasDigit, PHONE_NATIONAL, (match, _groups, hit) => {
    const digits = countDigits(match);
    // 00 is the international prefix (0044 20 7946 0958): 11-17 digits with it.
    if (match.startsWith('00') ? digits < 11 || digits > 17 : digits < 9 || digits > 12) return undefined;
    hit();
    return PLACEHOLDERS.PHONE;
  }),
];

/** `text` with every secret and every piece of PII the rules know replaced by its placeholder. */
export function redact(text: string, counts?: RedactionCounts): string {
  let out = text;
  for (const rule of RULES) {
    if (!rule.mayMatch(out)) continue;
    out = rule.apply(out, counts ? () => void (counts[rule.kind] = (counts[rule.kind] ?? 0) + 1) : noop);
  }
  return out;
}

function noop(): void {}

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
