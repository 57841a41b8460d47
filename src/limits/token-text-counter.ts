// Counts the texts of one request with bounded work: a cache of exact counts for texts seen
// before, an exact-count budget for new text, and a bounded sample for whatever is left.
// See token-estimate.ts for the measurements behind the defaults.
//
// 1. Cache. A chat client resends the whole conversation every turn, and the system prompt and
//    the tool definitions every request: counted once, they are looked up by a SHA-1 of the text
//    (~1.5 ns a character, against ~150 ns to tokenize it), or by the text itself when it is
//    short. The cache is an LRU of counts (no long text is kept); it holds exact counts, never
//    sampled estimates.
// 2. Exact budget. New texts are counted exactly, in request order, while their UTF-8 size fits
//    `exactBytes` (bytes, not characters: a CJK character costs about three times an ASCII one).
// 3. Sample. The texts that did not fit are estimated together: about `sampleBytes` of text in
//    evenly spaced windows (snapped to whitespace, so no window starts or ends mid-word) is
//    counted, and the windows' mean tokens-per-character is scaled to their whole length.
//
// So the work per call is bounded whatever the body's size: ≤ 1M characters hashed, ≤ exactBytes
// tokenized exactly, ≤ sampleBytes (+ one window) tokenized for the sample.

import { hash } from 'node:crypto';
import type { GptEncoding } from 'gpt-tokenizer/GptEncoding';
import { countTokens, loadEncoding, type EncodingName } from './token-encodings.ts';

export interface TextCounterOptions {
  /** UTF-8 bytes of new (uncached) text counted exactly per call; the rest is sampled. */
  readonly exactBytes: number;
  /** UTF-8 bytes tokenized to estimate the text beyond `exactBytes`. */
  readonly sampleBytes: number;
  /** Exact counts remembered per encoding (0 turns the cache off). */
  readonly cacheEntries: number;
}

export const DEFAULT_TEXT_COUNTER_OPTIONS: TextCounterOptions = { exactBytes: 16 * 1024, sampleBytes: 8 * 1024, cacheEntries: 4096 };

/**
 * Texts shorter than this are their own cache key (tokenizing even a short text costs several
 * microseconds of gpt-tokenizer's setup; a map lookup by a short string costs nanoseconds).
 * Longer ones are keyed by their SHA-1, so the cache never holds long texts.
 */
const MAX_LITERAL_KEY_CHARS = 64;
/** At most this many characters are hashed per call (a 32 MB body must not cost 50 ms of SHA-1). */
const MAX_HASHED_CHARS = 1_000_000;
/** Sample window length, in UTF-8 bytes. */
const WINDOW_BYTES = 256;
/** How far (as a share of the window) an edge looks for a boundary before cutting where it is. */
const SNAP_SHARE = 0.125;

export interface TextCounter {
  /** The estimated token count of all `texts` together, in `encoding`. */
  count(texts: readonly string[], encoding: EncodingName): number;
}

export function createTextCounter(options: TextCounterOptions = DEFAULT_TEXT_COUNTER_OPTIONS): TextCounter {
  const caches = new Map<EncodingName, Map<string, number>>();

  function cacheFor(name: EncodingName): Map<string, number> {
    let cache = caches.get(name);
    if (cache === undefined) caches.set(name, (cache = new Map()));
    return cache;
  }

  return {
    count(texts, name) {
      if (texts.length === 0) return 0;
      const encoding = loadEncoding(name);
      const cache = options.cacheEntries > 0 ? cacheFor(name) : undefined;
      let total = 0;
      let budget = options.exactBytes;
      let hashed = 0;
      let rest: string[] | undefined;
      let restChars = 0;
      for (const text of texts) {
        if (text.length === 0) continue;
        // UTF-8 is at least one byte per UTF-16 unit: a text longer than the budget cannot fit.
        let key: string | undefined;
        if (cache !== undefined && text.length <= options.exactBytes && (text.length < MAX_LITERAL_KEY_CHARS || hashed + text.length <= MAX_HASHED_CHARS)) {
          // '\u0001' never occurs in base64, so a literal key never collides with a hashed one.
          if (text.length < MAX_LITERAL_KEY_CHARS) key = `\u0001${text}`;
          else {
            hashed += text.length;
            key = hash('sha1', text, 'base64');
          }
          const hit = cache.get(key);
          if (hit !== undefined) {
            cache.delete(key);
            cache.set(key, hit);
            total += hit;
            continue;
          }
        }
        if (text.length <= budget) {
          const bytes = Buffer.byteLength(text);
          if (bytes <= budget) {
            budget -= bytes;
            const n = countTokens(encoding, text);
            total += n;
            if (key !== undefined && cache !== undefined) {
              cache.set(key, n);
              if (cache.size > options.cacheEntries) cache.delete(cache.keys().next().value as string);
            }
            continue;
          }
        }
        (rest ??= []).push(text);
        restChars += text.length;
      }
      if (rest !== undefined) total += sampledTokens(encoding, rest, restChars, options.sampleBytes);
      return total;
    },
  };
}

/**
 * The token count of `texts` (of `totalChars` characters together) scaled from windows evenly
 * spaced over their concatenation, each about WINDOW_BYTES of UTF-8 (256 ASCII characters, ~85
 * CJK ones), tokenized until `sampleBytes` have been read. Windows are visited in bit-reversed
 * order (0, 16, 8, 24, 4, …), so those read before the budget runs out still span the whole text.
 * Exact when the texts are no longer than the sample.
 */
export function sampledTokens(encoding: GptEncoding, texts: readonly string[], totalChars: number, sampleBytes: number): number {
  if (totalChars <= sampleBytes && texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0) <= sampleBytes) {
    let n = 0;
    for (const t of texts) n += countTokens(encoding, t);
    return n;
  }
  const bits = Math.max(0, Math.ceil(Math.log2(sampleBytes / WINDOW_BYTES)));
  const windows = 2 ** bits;
  const step = totalChars / windows;
  // Where each window starts: [text index, offset], in text order.
  const starts: [number, number][] = [];
  let piece = 0;
  let pieceStart = 0; // offset of texts[piece] in the concatenation
  for (let k = 0; k < windows; k++) {
    const at = Math.max(0, Math.floor(k * step + (step - WINDOW_BYTES) / 2));
    while (piece < texts.length - 1 && pieceStart + texts[piece].length <= at) pieceStart += texts[piece++].length;
    starts.push([piece, Math.min(texts[piece].length, at - pieceStart)]);
  }
  // Each window stands for the same number of characters (`step`), so the estimate is the mean of
  // the windows' tokens-per-character, not their pooled ratio: a pooled ratio would under-weigh
  // CJK windows, which hold fewer characters in the same bytes.
  let density = 0;
  let counted = 0;
  let bytes = 0;
  for (let i = 0; i < windows && bytes < sampleBytes; i++) {
    const [index, start] = starts[reverseBits(i, bits)];
    const text = texts[index];
    let end = Math.min(text.length, start + WINDOW_BYTES);
    const size = Buffer.byteLength(text.slice(start, end));
    if (size > WINDOW_BYTES) end = start + Math.max(1, Math.floor(((end - start) * WINDOW_BYTES) / size));
    const [from, to] = snap(text, start, end);
    if (to <= from) continue;
    const window = text.slice(from, to);
    density += countTokens(encoding, window) / (to - from);
    counted++;
    bytes += Buffer.byteLength(window);
  }
  return counted === 0 ? 0 : Math.round((density / counted) * totalChars);
}

function reverseBits(i: number, bits: number): number {
  let r = 0;
  for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
  return r;
}

/** Whitespace, or CJK punctuation (、。，：; the tokenizer always splits there too). */
function isBoundary(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || (c >= 0x3000 && c <= 0x3003) || (c >= 0xff01 && c <= 0xff0f) || (c >= 0xff1a && c <= 0xff20);
}

/**
 * [from, to) moved onto word boundaries: `from` onto the first boundary at or just before it (a
 * word in running text is tokenized with its leading space), `to` back onto one. Where none is
 * near, the cut stays where it was, but never splits a surrogate pair.
 */
function snap(text: string, from: number, to: number): [number, number] {
  const reach = Math.ceil((to - from) * SNAP_SHARE);
  if (from > 0) {
    for (let i = from - 1; i < Math.min(to, from + reach); i++) {
      if (isBoundary(text.charCodeAt(i))) {
        from = i;
        break;
      }
    }
  }
  if (to < text.length && !isBoundary(text.charCodeAt(to))) {
    for (let i = to - 1; i > Math.max(from, to - reach); i--) {
      if (isBoundary(text.charCodeAt(i))) {
        to = i;
        break;
      }
    }
  }
  const first = text.charCodeAt(from);
  if (first >= 0xdc00 && first <= 0xdfff) from++;
  const last = text.charCodeAt(to - 1);
  if (to < text.length && last >= 0xd800 && last <= 0xdbff) to--;
  return [from, to];
}
