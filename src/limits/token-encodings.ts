// The two BPE encodings the token estimator uses, loaded on first use, and exact counting with a
// guard against the tokenizer's quadratic worst case. See token-estimate.ts for the measurements.
//
// Loading. gpt-tokenizer ships each encoding twice: as a JS module (an array literal of 200k
// strings) and as the `.tiktoken` file OpenAI publishes (one "base64-token rank" line per token).
// Importing the JS module costs ~65 MB RSS for o200k_base (V8 parses and compiles a 2.4 MB
// literal); reading the `.tiktoken` file ourselves builds the identical rank table (same strings,
// same byte arrays; checked entry by entry when this was written) for ~43 MB. Both files are
// inside the package: nothing is fetched at run time. gpt-tokenizer's code (`GptEncoding`) is
// itself loaded here with require() on first use, so merely importing this module costs nothing.
//
// The loaded encodings are kept per process (one copy however many estimators exist), like a
// module cache: the tables are immutable, and a second copy would cost another ~43 MB.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { GptEncoding } from 'gpt-tokenizer/GptEncoding';

export type EncodingName = 'o200k_base' | 'cl100k_base';

/** Mergeable (non-special) tokens in each encoding: the line count of its `.tiktoken` file. */
const VOCABULARY: Readonly<Record<EncodingName, number>> = { o200k_base: 199_998, cl100k_base: 100_256 };

/**
 * Entries in gpt-tokenizer's merge cache (results for pieces that are not whole tokens). Its
 * default, 100,000, grew the heap by 11.7 MB over 10 MB of varied text and was slower than
 * 2,000–10,000 (a large Map evicts and misses cache lines); 2,048 held 0.8 MB.
 */
const MERGE_CACHE_ENTRIES = 2048;

/**
 * Longest run of same-class characters (letters, punctuation, whitespace) handed to the
 * tokenizer in one piece. Byte-pair merging is quadratic in a piece's length: 16,000 CJK
 * characters with no punctuation took 0.9 s in one call, 16,000 "-" 87 ms. Cut into runs of at
 * most 256, the worst inputs measured cost 0.5–1.4 µs a character (English text: ~0.15 µs). Each
 * cut can move the count by about one token; ordinary text with spaces is never cut.
 */
export const MAX_RUN_CHARS = 256;

/** Special-token text ("<|endoftext|>") in a prompt is ordinary text, as the providers treat it. */
const ORDINARY_TEXT = { disallowedSpecial: new Set<string>() };

const require = createRequire(import.meta.url);
const loaded = new Map<EncodingName, GptEncoding>();

/** Whether `name` has been loaded in this process (for tests and the readiness log). */
export function isEncodingLoaded(name: EncodingName): boolean {
  return loaded.has(name);
}

/** The encoding, read from gpt-tokenizer's data on first use (~0.2 s for o200k_base, once). */
export function loadEncoding(name: EncodingName): GptEncoding {
  let encoding = loaded.get(name);
  if (encoding === undefined) {
    const { GptEncoding: Encoding } = require('gpt-tokenizer/GptEncoding') as typeof import('gpt-tokenizer/GptEncoding');
    const ranks = readRanks(require.resolve(`gpt-tokenizer/data/${name}.tiktoken`), VOCABULARY[name]);
    encoding = Encoding.getEncodingApi(name, () => ranks);
    encoding.setMergeCacheSize(MERGE_CACHE_ENTRIES);
    loaded.set(name, encoding);
  }
  return encoding;
}

/** 'A'..'Z' 'a'..'z' '0'..'9' '+' '/' → 0..63; everything else −1. */
const BASE64 = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) BASE64[c.charCodeAt(0)] = i;

/**
 * The rank table gpt-tokenizer expects: index = rank, value = the token's text when its bytes are
 * UTF-8 that decodes and re-encodes to the same bytes, else the bytes. (A token starting with a
 * byte-order mark is kept as bytes: TextDecoder drops the mark, so it would not round-trip.)
 */
function readRanks(path: string, expected: number): (string | number[])[] {
  const file = readFileSync(path);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const token = new Uint8Array(1024);
  const ranks = new Array<string | number[]>(expected);
  let lines = 0;
  let i = 0;
  while (i < file.length) {
    let length = 0;
    let bits = 0;
    let acc = 0;
    for (; i < file.length && file[i] !== 0x20; i++) {
      const c = file[i];
      if (c === 0x3d) continue; // '=' padding
      const v = c < 128 ? BASE64[c] : -1;
      if (v < 0 || length >= token.length) throw new Error(`${path}: not a .tiktoken file (line ${lines + 1})`);
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        token[length++] = (acc >> bits) & 0xff;
      }
    }
    let rank = 0;
    for (i++; i < file.length && file[i] !== 0x0a; i++) rank = rank * 10 + (file[i] - 0x30);
    i++;
    if (rank !== lines || length === 0) throw new Error(`${path}: ranks out of order at line ${lines + 1}`);
    const bytes = token.subarray(0, length);
    let text: string | undefined;
    try {
      text = utf8.decode(bytes);
      if (Buffer.byteLength(text) !== length) text = undefined;
    } catch {
      text = undefined;
    }
    ranks[rank] = text ?? Array.from(bytes);
    lines++;
  }
  if (lines !== expected) throw new Error(`${path}: ${lines} tokens, expected ${expected}`);
  return ranks;
}

const SPACE = 0;
const LETTER = 1;
const PUNCT = 2;
const DIGIT = 3;

/**
 * A cheap stand-in for the tokenizer's pre-split classes: ASCII is exact; every non-ASCII
 * character but the Unicode spaces counts as a letter (so CJK text is cut every 256 characters,
 * which the tokenizer would mostly have split at punctuation anyway).
 */
function charClass(c: number): number {
  if (c < 0x80) {
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) return SPACE;
    if (c >= 0x30 && c <= 0x39) return DIGIT;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return LETTER;
    return PUNCT;
  }
  if (c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000) return SPACE;
  return LETTER;
}

/**
 * The exact token count of `text` (special-token text counted as ordinary text), except that a
 * run of more than MAX_RUN_CHARS same-class characters is counted in slices (about ±1 token a
 * slice), which bounds the time per character.
 */
export function countTokens(encoding: GptEncoding, text: string): number {
  if (text.length <= MAX_RUN_CHARS) return encoding.countTokens(text, ORDINARY_TEXT);
  let total = 0;
  let start = 0;
  let run = 0;
  let runClass = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const k = charClass(c);
    if (k === DIGIT) {
      // The tokenizer splits digits into groups of at most three: a digit run is never long.
      run = 0;
      runClass = DIGIT;
    } else if (k !== runClass) {
      runClass = k;
      run = 1;
    } else if (++run > MAX_RUN_CHARS && !(c >= 0xdc00 && c <= 0xdfff)) {
      total += encoding.countTokens(text.slice(start, i), ORDINARY_TEXT);
      start = i;
      run = 1;
    }
  }
  return total + encoding.countTokens(start === 0 ? text : text.slice(start), ORDINARY_TEXT);
}

/**
 * The encoding a model's tokens are counted in: o200k_base for the gpt-4o, gpt-4.1, gpt-4.5,
 * gpt-5, o-series and gpt-oss families; cl100k_base for gpt-4, gpt-3.5 (also Azure's "gpt-35"),
 * text-embedding-3-*, text-embedding-ada-002 and davinci-002/babbage-002; o200k_base for anything
 * else (the encoding of every current OpenAI model). Provider prefixes ("openai/", "azure/") and
 * fine-tune names ("ft:gpt-4o-mini:org::id") are looked through.
 */
export function encodingFor(model: string): EncodingName {
  let m = model.trim().toLowerCase();
  m = m.slice(m.lastIndexOf('/') + 1);
  if (m.startsWith('ft:')) m = m.slice(3);
  if (/^(chatgpt-4o|gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002|davinci-002|babbage-002)/.test(m)) return 'cl100k_base';
  return 'o200k_base';
}
