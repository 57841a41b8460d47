// An in-process approximate nearest-neighbour index for one cache namespace: multi-probe LSH
// (lsh.ts) over unit vectors, every candidate verified by its exact cosine. Entries have an
// id, a vector, an expiry and a payload; the index holds at most maxEntries, evicting the least
// recently used (a hit counts as a use).
//
// A lookup costs the projections (tables × bits × dims multiply-adds, fewer for sparse vectors)
// plus at most maxCandidates bucket entries, whatever the number of entries: past that it stops
// (a possible miss, never a wrong hit). Buckets are visited most likely first (every table's own
// key, then the flipped probes), and a candidate whose signs across all tables disagree with the
// query's more than a vector at the threshold would (with probability 1e-5) is skipped before
// its cosine is computed. Expired entries are dropped when a lookup meets them, and every add
// checks the next two slots for expiry, so they are reclaimed without a full scan.
//
// Storage is slot arrays (vectors in one Float32Array, bucket chains as Int32Array links,
// buckets as one Map per table), doubled as entries arrive up to maxEntries and halved when
// fewer than a quarter of the slots are in use, so memory follows the entry count.

import { lshFamily, maxDisagreements, popcount, type LshFamily } from './lsh.ts';
import { SlotLinks } from './slot-links.ts';

export interface VectorIndexOptions {
  readonly dims: number;
  readonly maxEntries: number;
  /** LSH parameters (defaults: DEFAULT_LSH). */
  readonly tables?: number;
  readonly bits?: number;
  readonly probes?: number;
  readonly seed?: number;
  /** Bucket entries a lookup examines at most (default 2048). */
  readonly maxCandidates?: number;
}

export interface VectorIndexStorage<T> {
  /** Estimated bytes of a payload, counted in `bytes` (default 0). */
  readonly payloadBytes?: (payload: T) => number;
}

/**
 * 12 tables of 22-bit keys, 16 extra probes a table: recall 0.999 for neighbours at cosine 0.95
 * exactly (test/cache/vector-index.test.ts), about 100 entries examined per lookup at 50 000
 * entries of lexical vectors (bench/semantic-lookup.ts).
 */
export const DEFAULT_LSH = { tables: 12, bits: 22, probes: 16, seed: 0x5eed } as const;

export interface Neighbour<T> {
  readonly id: string;
  readonly similarity: number;
  readonly payload: T;
}

/** Estimated bytes an entry costs beyond its typed-array slots: the id map, bucket map entries, the payload slot. */
const ENTRY_OVERHEAD_BYTES = 120;
const MIN_CAPACITY = 16;
/** A similarity no other entry needs to beat (the same text, up to float rounding). */
const IDENTICAL = 0.99999;

export class VectorIndex<T> {
  readonly dims: number;
  readonly maxEntries: number;
  /** Bucket entries the last lookup examined (for tests and benchmarks). */
  lastExamined = 0;
  readonly #lsh: LshFamily;
  readonly #tables: number;
  readonly #maxCandidates: number;
  readonly #payloadBytes: ((payload: T) => number) | undefined;
  #payloadTotal = 0;
  readonly #probes: Int32Array;
  readonly #slots = new Map<string, number>();
  #links: SlotLinks;
  #ids: (string | undefined)[] = [];
  #payloads: (T | undefined)[] = [];
  #vectors = new Float32Array(0);
  #expires = new Float64Array(0);
  /** The lookup that last saw each slot, to examine each candidate once. */
  #seen = new Uint32Array(0);
  #lookup = 0;
  #free: number[] = [];
  #used = 0;
  #sweep = 0;
  #differFor = NaN;
  #differ = 0;

  constructor(options: VectorIndexOptions & VectorIndexStorage<T>) {
    const { dims, maxEntries } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`VectorIndex: maxEntries must be a positive integer, got ${maxEntries}`);
    this.dims = dims;
    this.maxEntries = maxEntries;
    this.#lsh = lshFamily({ dims, tables: options.tables ?? DEFAULT_LSH.tables, bits: options.bits ?? DEFAULT_LSH.bits, probes: options.probes ?? DEFAULT_LSH.probes, seed: options.seed ?? DEFAULT_LSH.seed });
    this.#tables = this.#lsh.params.tables;
    this.#maxCandidates = options.maxCandidates ?? 2048;
    this.#payloadBytes = options.payloadBytes;
    this.#probes = new Int32Array((this.#lsh.params.probes + 1) * this.#tables);
    this.#links = new SlotLinks(this.#tables, 0);
  }

  get size(): number {
    return this.#slots.size;
  }

  /** Estimated memory: the slot arrays as allocated, a per-entry overhead, and the payloads. */
  get bytes(): number {
    return this.#payloadTotal + this.#vectors.byteLength + this.#expires.byteLength + this.#seen.byteLength + this.#links.bytes + 16 * this.#links.capacity + ENTRY_OVERHEAD_BYTES * this.size;
  }

  has(id: string): boolean {
    return this.#slots.has(id);
  }

  /** Adds an entry (the vector is copied), evicting the least recently used when full; false when the id is already there. */
  add(id: string, vector: Float32Array, expiresAt: number, payload: T, now: number): boolean {
    if (vector.length !== this.dims) throw new RangeError(`VectorIndex: expected a vector of ${this.dims} dimensions, got ${vector.length}`);
    if (this.#slots.has(id)) return false;
    for (let i = 0; i < 2 && this.#used > 0; i++) {
      const slot = (this.#sweep = (this.#sweep + 1) % this.#used);
      if (this.#ids[slot] !== undefined && this.#expires[slot] <= now) this.#remove(slot);
    }
    if (this.size >= this.maxEntries) this.#remove(this.#links.oldest);
    const slot = this.#allocate();
    this.#lsh.keys(vector, this.#links.keys, slot * this.#tables);
    this.#vectors.set(vector, slot * this.dims);
    this.#place(slot, id, expiresAt, payload);
    this.#shrinkIfSparse();
    return true;
  }

  delete(id: string): boolean {
    const slot = this.#slots.get(id);
    if (slot === undefined) return false;
    this.#remove(slot);
    this.#shrinkIfSparse();
    return true;
  }

  /** The id of the least recently used entry, if any. */
  oldest(): string | undefined {
    return this.size === 0 ? undefined : this.#ids[this.#links.oldest];
  }

  /** The most similar unexpired entry with similarity ≥ threshold, if the probes find one; it becomes the most recently used. */
  nearest(query: Float32Array, threshold: number, now: number): Neighbour<T> | undefined {
    this.lastExamined = 0;
    if (this.size === 0) return undefined;
    const T = this.#tables;
    const dims = this.dims;
    const probes = this.#probes;
    this.#lsh.probeKeys(query, probes);
    if (++this.#lookup === 0xffffffff) {
      this.#seen.fill(0);
      this.#lookup = 1;
    }
    const mark = this.#lookup;
    const { keys, next } = this.#links;
    const buckets = this.#links.buckets;
    const seen = this.#seen;
    const expires = this.#expires;
    const vectors = this.#vectors;
    const maxDiffer = this.#maxDiffer(threshold);
    let best = -1;
    let bestSimilarity = threshold;
    let examined = 0;
    let expired: number[] | undefined;
    search: for (let p = 0; p < probes.length; p++) {
      const t = p % T;
      for (let slot = buckets[t].get(probes[p]) ?? -1; slot !== -1; slot = next[slot * T + t]) {
        if (++examined > this.#maxCandidates) break search;
        if (seen[slot] === mark) continue;
        seen[slot] = mark;
        if (expires[slot] <= now) {
          (expired ??= []).push(slot);
          continue;
        }
        let differ = 0;
        for (let u = 0, at = slot * T; u < T; u++) differ += popcount(keys[at + u] ^ probes[u]);
        if (differ > maxDiffer) continue;
        const similarity = dot(query, vectors, slot * dims, dims);
        if (similarity >= bestSimilarity) {
          best = slot;
          bestSimilarity = similarity;
          if (similarity >= IDENTICAL) break search;
        }
      }
    }
    this.lastExamined = Math.min(examined, this.#maxCandidates);
    if (expired) for (const slot of expired) this.#remove(slot);
    let found: Neighbour<T> | undefined;
    if (best !== -1) {
      this.#links.touch(best);
      found = { id: this.#ids[best]!, similarity: Math.min(1, bestSimilarity), payload: this.#payloads[best]! };
    }
    if (expired) this.#shrinkIfSparse();
    return found;
  }

  #maxDiffer(threshold: number): number {
    if (threshold !== this.#differFor) {
      this.#differFor = threshold;
      this.#differ = maxDisagreements(this.#tables * this.#lsh.params.bits, threshold, 1e-5);
    }
    return this.#differ;
  }

  #place(slot: number, id: string, expiresAt: number, payload: T): void {
    this.#expires[slot] = expiresAt;
    this.#ids[slot] = id;
    this.#payloads[slot] = payload;
    if (this.#payloadBytes) this.#payloadTotal += this.#payloadBytes(payload);
    this.#slots.set(id, slot);
    this.#links.insert(slot);
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#used === this.#links.capacity) this.#resize(Math.min(this.maxEntries, Math.max(MIN_CAPACITY, this.#links.capacity * 2)));
    return this.#used++;
  }

  #remove(slot: number): void {
    this.#links.remove(slot);
    this.#slots.delete(this.#ids[slot]!);
    if (this.#payloadBytes) this.#payloadTotal -= this.#payloadBytes(this.#payloads[slot]!);
    this.#ids[slot] = undefined;
    this.#payloads[slot] = undefined;
    this.#free.push(slot);
  }

  #shrinkIfSparse(): void {
    const capacity = this.#links.capacity;
    if (capacity > MIN_CAPACITY && this.size * 4 < capacity) this.#resize(Math.max(MIN_CAPACITY, capacity >> 1));
  }

  /** New slot arrays of `capacity`: the entries move to slots 0.., least recently used first. */
  #resize(capacity: number): void {
    const T = this.#tables;
    const old = { links: this.#links, ids: this.#ids, payloads: this.#payloads, vectors: this.#vectors, expires: this.#expires };
    const order = old.links.oldestFirst();
    this.#links = new SlotLinks(T, capacity);
    this.#ids = [];
    this.#payloads = [];
    this.#vectors = new Float32Array(capacity * this.dims);
    this.#expires = new Float64Array(capacity);
    this.#seen = new Uint32Array(capacity);
    this.#lookup = 0;
    this.#slots.clear();
    this.#payloadTotal = 0;
    this.#free = [];
    this.#used = order.length;
    this.#sweep = 0;
    order.forEach((from, slot) => {
      this.#links.keys.set(old.links.keys.subarray(from * T, from * T + T), slot * T);
      this.#vectors.set(old.vectors.subarray(from * this.dims, (from + 1) * this.dims), slot * this.dims);
      this.#place(slot, old.ids[from]!, old.expires[from], old.payloads[from]!);
    });
  }
}

function dot(q: Float32Array, vectors: Float32Array, at: number, dims: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  for (; i + 3 < dims; i += 4) {
    a += q[i] * vectors[at + i];
    b += q[i + 1] * vectors[at + i + 1];
    c += q[i + 2] * vectors[at + i + 2];
    d += q[i + 3] * vectors[at + i + 3];
  }
  for (; i < dims; i++) a += q[i] * vectors[at + i];
  return a + b + c + d;
}
