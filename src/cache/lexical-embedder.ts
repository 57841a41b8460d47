// The built-in embedder of the semantic cache: local, deterministic, no network and no model.
//
// It is LEXICAL, not semantic. It hashes surface features of the text into a fixed number of
// dimensions (signed feature hashing): word unigrams and bigrams, and the character 3- and
// 4-grams of each word (with word-boundary marks, as fastText does). Two texts score close to 1
// when they share nearly all of their words in nearly the same order, so at a threshold of
// about 0.95 it catches near-duplicates: case, spacing, punctuation, a typo or a changed word
// in a long prompt. It does NOT catch paraphrases ("How tall is Everest?" / "What is the height
// of Mount Everest?" score far below any useful threshold); that needs a model embedder. And
// like any lexical measure it cannot tell that one changed word changed the meaning: in a long
// prompt, one different number or name still scores above 0.95. Keep the threshold high, and
// the embedded text short (see semantic-text.ts).
//
// Normalisation: NFKC, lower case. A word is a run of letters, digits, combining marks and "_".
// Every other non-space character is a token of its own: sentence punctuation, quotes, brackets
// and the hyphen weigh little and are skipped by bigrams ("three-way" ≈ "three way"); other
// symbols weigh as much as a word ("2+2" and "2-2" differ). Scripts written without spaces
// (Chinese, Japanese) make long "words": their character n-grams still compare them, their
// unigrams hardly do. About 35 µs for a 2 KB text (bench/semantic-lookup.ts).

import type { Embedder } from './cache-store.ts';

export interface LexicalEmbedderOptions {
  /** A power of two, 64..4096 (default 256). */
  readonly dims?: number;
}

// Weights of the feature families (tuned on near-duplicate and distinct prompt pairs; see
// test/cache/lexical-embedder.test.ts). Changing them changes the vectors: bump the id.
const UNIGRAM = 1;
const BIGRAM = 0.9;
const PUNCTUATION = 0.35;
const SYMBOL = 1;
const CHAR3 = 0.3;
const CHAR4 = 0.3;

// Seeds that keep the feature families apart in the hash space.
const SEED_WORD = 0x2545f491;
const SEED_BIGRAM = 0x6c8e9cf5;
const SEED_CHAR3 = 0x1b873593;
const SEED_CHAR4 = 0x85ebca6b;
const EMPTY = 0x7f4a7c15; // the one feature of a text without tokens
const BOUNDARY = 0x3c; // the "<" / ">" marks around a word in its character n-grams

export class LexicalEmbedder implements Embedder {
  readonly id: string;
  readonly dims: number;
  readonly #mask: number;
  /** The current word's code units with boundary marks, reused between calls. */
  #word = new Uint32Array(64);

  constructor(options: LexicalEmbedderOptions = {}) {
    const dims = options.dims ?? 256;
    if (!Number.isInteger(dims) || dims < 64 || dims > 4096 || (dims & (dims - 1)) !== 0) throw new RangeError(`LexicalEmbedder: dims must be a power of two in 64..4096, got ${dims}`);
    this.dims = dims;
    this.#mask = dims - 1;
    this.id = dims === 256 ? 'local-lexical-v1' : `local-lexical-v1-${dims}`;
  }

  async embed(text: string): Promise<Float32Array> {
    return this.embedSync(text);
  }

  /** The same as embed, without the promise (benchmarks, tests). */
  embedSync(text: string): Float32Array {
    const v = new Float32Array(this.dims);
    const s = text.normalize('NFKC').toLowerCase();
    let previous = 0;
    let hasPrevious = false;
    let empty = true;
    let i = 0;
    const n = s.length;
    while (i < n) {
      const c = s.codePointAt(i)!;
      const width = c > 0xffff ? 2 : 1;
      if (isSpace(c)) {
        i += width;
        continue;
      }
      let token: number;
      if (isWordChar(c)) {
        let length = 0;
        let j = i;
        let h = SEED_WORD;
        while (j < n) {
          const d = s.codePointAt(j)!;
          if (!isWordChar(d)) break;
          if (length + 2 >= this.#word.length) this.#word = grow(this.#word);
          this.#word[++length] = d;
          h = Math.imul(h ^ d, 0x01000193);
          j += d > 0xffff ? 2 : 1;
        }
        token = fmix(h);
        this.#add(v, token, UNIGRAM);
        this.#charGrams(v, length);
        i = j;
      } else {
        token = fmix(Math.imul(SEED_WORD ^ c, 0x01000193) ^ 0x5bd1e995);
        i += width;
        if (isPunctuation(c)) {
          // Punctuation counts little, and is transparent to bigrams: "three-way" ≈ "three way".
          this.#add(v, token, PUNCTUATION);
          empty = false;
          continue;
        }
        this.#add(v, token, SYMBOL);
      }
      if (hasPrevious) this.#add(v, fmix(Math.imul(previous, 0x9e3779b1) ^ token ^ SEED_BIGRAM), BIGRAM);
      previous = token;
      hasPrevious = true;
      empty = false;
    }
    if (empty) this.#add(v, EMPTY, UNIGRAM);
    return normalise(v);
  }

  /** The 3- and 4-grams of the word in #word[1..length], with boundary marks at 0 and length + 1. */
  #charGrams(v: Float32Array, length: number): void {
    const w = this.#word;
    w[0] = BOUNDARY;
    w[length + 1] = BOUNDARY;
    const end = length + 2;
    for (let k = 0; k + 3 <= end; k++) {
      const h3 = Math.imul(Math.imul(Math.imul(SEED_CHAR3 ^ w[k], 0x01000193) ^ w[k + 1], 0x01000193) ^ w[k + 2], 0x01000193);
      this.#add(v, fmix(h3), CHAR3);
      if (k + 4 <= end) this.#add(v, fmix(Math.imul(h3 ^ SEED_CHAR4 ^ w[k + 3], 0x01000193)), CHAR4);
    }
  }

  /** Signed feature hashing: the low bits pick the dimension, the top bit the sign. */
  #add(v: Float32Array, hash: number, weight: number): void {
    v[hash & this.#mask] += hash < 0 ? -weight : weight;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200b) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0xfeff;
}

/** Sentence punctuation, quotes, brackets and the hyphen (every other symbol, "+", "=", "$", … is a token of full weight). */
function isPunctuation(c: number): boolean {
  return PUNCTUATION_CHARS.has(c) || (c >= 0x2010 && c <= 0x201f) || c === 0x2026 || c === 0x3001 || c === 0x3002 || c === 0xff0c;
}

const PUNCTUATION_CHARS = new Set([...`.,;:!?'"\`()[]{}-`].map((ch) => ch.codePointAt(0)!));

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

function isWordChar(c: number): boolean {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
  return WORD_CHAR.test(String.fromCodePoint(c));
}

/** MurmurHash3's finaliser, as a signed 32-bit integer. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function grow(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Scales to unit length (every text has at least one feature). */
function normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i] *= scale;
  return v;
}
