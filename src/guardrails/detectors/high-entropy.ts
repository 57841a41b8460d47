// Generic high-entropy tokens for the secret.high_entropy detector: a run of 20-256 base64/
// base64url characters that reads as random (Shannon entropy over a length-dependent threshold,
// letters and digits mixed, the character class changing often) and that nothing more specific
// has claimed. Deliberately not reported:
//   - hex-only runs (with or without dashes): UUIDs, git SHAs, checksums, trace and request ids;
//   - runs inside a URL (the whitespace-delimited word holds "://" before them): document and
//     video ids; secrets in query strings are the credential detector's (token=…, sig=…);
//   - base64 data: data URIs ("base64,"), base64 of text or JSON (95% printable when decoded),
//     base64 files (PDF, PNG, JPEG, GIF, WebP, ZIP, gzip by their magic bytes), wrapped base64
//     bodies (a line of 60+ such characters next to another), PEM blocks (certificates, public
//     keys), SSH public keys (AAAA…), subresource-integrity and digest values (sha256-…, sha512:…);
//   - Stripe publishable keys (pk_live_/pk_test_), which are public by design, and API object ids
//     (ch_…, cus_…, msg_…, chatcmpl-…, file-…, req_…) and ULIDs, which are ids, not credentials;
//   - runs longer than 256 characters: blobs, not tokens.

import type { Candidate } from './pii-secret-scan.ts';

const MIN_LENGTH = 20;
export const HIGH_ENTROPY_MAX_LENGTH = 256;

const HEX = /^[0-9a-fA-F-]+$/;
/** Digests, publishable keys, SSH public keys, and base64 files: PDF, PNG, JPEG, GIF, WebP, ZIP/Office, gzip. */
const EXCLUDED_PREFIX = /^(?:sha(?:1|224|256|384|512)[-_]|pk_(?:live|test)_|AAAA|JVBERi0|iVBORw0KGgo|\/?9j\/4|R0lGOD|UklGR|UEsDB|H4sI)/;
/** API object ids (Stripe ch_/cus_/pi_…, OpenAI chatcmpl-/file-/run_…, Anthropic msg_/toolu_…) and ULIDs. */
const OBJECT_ID =
  /^(?:(?:req|msg|ch|cus|pi|pm|py|evt|acct|sub|si|in|ii|il|txn|prod|price|seti|src|card|ba|po|tr|re|file|batch|run|asst|thread|step|chatcmpl|cmpl|toolu|call|resp|ft|ftjob|org|proj|user|conv|item|ord|inv|job|task|trace|span|cs|ws|wf|app|dep|img|vs)[_-]|[0-7][0-9A-HJKMNP-TV-Z]{25}$)/;
const EXCLUDED_BEFORE = /(?:base64,|sha(?:1|224|256|384|512)[:=-]|ssh-(?:rsa|ed25519|dss) |ecdsa-sha2-nistp\d+ )$/;
const BASE64_LINE = /^[A-Za-z0-9+\/=]{60,}/;
const BASE64_TEXT = /^[A-Za-z0-9+\/_-]{16,}={0,2}$/;
const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]{1,60}-----[\s\S]*?(?:-----END [A-Z0-9 ]{1,60}-----|$)/g;

/**
 * Whether a token is base64 of text (prose with spaces, or JSON/markup) rather than of random
 * bytes: 95% or more of the decoded bytes printable ASCII. Random bytes are about 37% printable.
 * Encoded instructions are the injection detectors' business, not a leaked secret.
 */
export function decodesToText(token: string, depth = 0): boolean {
  if (token.length < 16) return false;
  const bytes = Buffer.from(token, 'base64');
  if (bytes.length === 0) return false;
  let printable = 0;
  let spaces = 0;
  for (const b of bytes) {
    if ((b >= 0x20 && b <= 0x7e) || b === 9 || b === 10 || b === 13) printable++;
    if (b === 0x20) spaces++;
  }
  if (printable < bytes.length * 0.95) return false;
  const first = bytes[0];
  if (spaces >= 2 || first === 0x7b || first === 0x5b || first === 0x3c) return true;
  // Encoded twice: look one level deeper.
  const decoded = bytes.toString('latin1');
  return depth === 0 && BASE64_TEXT.test(decoded) && decodesToText(decoded, 1);
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(token: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / token.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** 0 lower, 1 upper, 2 digit. */
function charClass(c: number): number {
  if (c >= 97 && c <= 122) return 0;
  return c >= 65 && c <= 90 ? 1 : 2;
}

const WORD_RUN = /[A-Z][a-z]{2,}|[a-z]{3,}/g;
const VOWEL = /[aeiouyAEIOUY]/g;

function vowels(word: string): number {
  return word.match(VOWEL)?.length ?? 0;
}

/**
 * Whether a token reads as random. Over its letters and digits (separators ignored): a digit and a
 * letter at least; the class (lower, upper, digit) changes at a quarter of the steps or more;
 * under half of it is word-like runs (Capitalised or lowercase runs of 3+ letters with vowels:
 * identifiers, slugs and paths are mostly words); and the entropy reaches what random text of that length over
 * that alphabet shows, less a margin.
 */
export function looksRandom(token: string): boolean {
  const alnum = token.replace(/[^A-Za-z0-9]/g, '');
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let changes = 0;
  let previous = -1;
  for (let i = 0; i < alnum.length; i++) {
    const cls = charClass(alnum.charCodeAt(i));
    if (cls === 0) lower++;
    else if (cls === 1) upper++;
    else digit++;
    if (previous >= 0 && cls !== previous) changes++;
    previous = cls;
  }
  if (digit === 0 || lower + upper === 0 || alnum.length < MIN_LENGTH - 2) return false;
  if (changes / (alnum.length - 1) < 0.25) return false;
  let wordy = 0;
  // Random lowercase runs have vowels too (6 in 26): single-case tokens need more to read as words.
  const vowelShare = upper > 0 && lower > 0 ? 0.2 : 0.3;
  for (const word of alnum.match(WORD_RUN) ?? []) if (vowels(word) >= word.length * vowelShare) wordy += word.length;
  if (wordy * 2 >= alnum.length) return false;
  const alphabet = (lower > 0 ? 26 : 0) + (upper > 0 ? 26 : 0) + 10;
  // Random text of n characters over k symbols shows about log2(min(n, k)) bits; allow 0.9 below.
  const expected = Math.log2(Math.min(token.length, alphabet));
  return shannonEntropy(token) >= Math.min(expected - 0.9, 4.5);
}

/** [start, end) ranges of PEM blocks in the text. */
function pemBlocks(text: string): Array<[number, number]> {
  if (!text.includes('-----BEGIN ')) return [];
  const out: Array<[number, number]> = [];
  PEM_BLOCK.lastIndex = 0;
  for (let m = PEM_BLOCK.exec(text); m !== null; m = PEM_BLOCK.exec(text)) out.push([m.index, m.index + m[0].length]);
  return out;
}

function insideUrl(text: string, start: number): boolean {
  for (let i = start - 1; i >= 0 && i >= start - 2048; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13 || c === 34 || c === 39 || c === 60) return false;
    if (c === 47 && text[i - 1] === '/' && text[i - 2] === ':') return true;
  }
  return false;
}

/** Part of a wrapped base64 body: a long line next to another long line. */
function wrappedBase64(text: string, start: number, end: number): boolean {
  if (end - start < 60) return false;
  const next = text[end] === '\r' ? end + 2 : end + 1;
  if ((text[end] === '\n' || text[end] === '\r') && BASE64_LINE.test(text.slice(next, next + 60))) return true;
  if (text[start - 1] !== '\n') return false;
  const previousEnd = text[start - 2] === '\r' ? start - 2 : start - 1;
  const previousStart = text.lastIndexOf('\n', previousEnd - 1) + 1;
  return previousEnd - previousStart >= 60 && BASE64_LINE.test(text.slice(previousStart, previousEnd));
}

/** Base64/base64url characters: letters, digits, + / _ - (a lookup table; a regex scan costs more). */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-') TOKEN_CHAR[c.charCodeAt(0)] = 1;

/** [start, end) of every run of 20 or more token characters, with up to two "=" of padding. */
function tokenRuns(text: string): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0;
    if (c < 128 && TOKEN_CHAR[c] === 1) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start >= MIN_LENGTH) {
      let end = i;
      while (end - i < 2 && text.charCodeAt(end) === 61) end++;
      runs.push([start, end]);
    }
    start = -1;
  }
  return runs;
}

export function findHighEntropyTokens(text: string): Candidate[] {
  const out: Candidate[] = [];
  let blocks: Array<[number, number]> | undefined;
  let block = 0;
  for (const [runStart, runEnd] of tokenRuns(text)) {
    let start = runStart;
    let end = runEnd;
    // Trim padding and separators at the edges.
    while (end > start && '=-_/+'.includes(text[end - 1]!)) end--;
    while (start < end && '-_/+'.includes(text[start]!)) start++;
    const length = end - start;
    if (length < MIN_LENGTH || length > HIGH_ENTROPY_MAX_LENGTH) continue;
    const token = text.slice(start, end);
    if (HEX.test(token) || EXCLUDED_PREFIX.test(token) || OBJECT_ID.test(token) || !looksRandom(token) || decodesToText(token)) continue;
    if (EXCLUDED_BEFORE.test(text.slice(Math.max(0, start - 24), start))) continue;
    if (insideUrl(text, start) || wrappedBase64(text, start, end)) continue;
    blocks ??= pemBlocks(text);
    while (block < blocks.length && blocks[block]![1] <= start) block++;
    if (block < blocks.length && blocks[block]![0] <= start) continue;
    out.push({ start, end, score: 0.7, reason: 'high-entropy token' });
  }
  return out;
}
