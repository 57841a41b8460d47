// The in-memory semantic cache: one instance, the embedded default. Every operation runs
// synchronously inside its async method, so it is atomic with respect to every other call.
//
// Entries (vector and payload) live in per-namespace vector indexes (namespace-indexes.ts),
// bounded in namespaces, entries and estimated bytes (a payload counts 2 bytes a code unit).
// Expiry is the caller's `now`. Storing a vector identical to one already in the namespace
// replaces that entry.
//
// Invalidation drops the matching namespaces at once and bumps a generation counter, per owner
// or per owner + alias; a namespace's generation is "<owner's>.<alias's>", and a store carrying
// another generation than the current one is dropped. Counter values come from one sequence,
// so a bump makes a value never seen before. The counters are bounded too (maxGenerations):
// the oldest is forgotten, and `baseline` (what a missing counter reads as) rises to its value,
// so no counter ever reads lower than it did: a generation handed out before a bump never
// matches again.

import type { CacheNamespace, CacheSelector, SemanticCacheStore, SemanticLookup } from './cache-store.ts';
import { NamespaceIndexes, type SemanticBounds } from './namespace-indexes.ts';

export interface MemorySemanticStoreOptions extends SemanticBounds {
  /** Generation counters kept (default 10 000). */
  readonly maxGenerations?: number;
}

/** A stored vector at least this similar to a new one is the same text: the new entry replaces it. */
const SAME_TEXT = 0.99999;

export class MemorySemanticStore implements SemanticCacheStore {
  readonly #indexes: NamespaceIndexes<string>;
  readonly #maxGenerations: number;
  /** Invalidation counters: by owner, and by JSON [owner, alias]; least recently bumped first. */
  readonly #generations = new Map<string, number>();
  #sequence = 0;
  #baseline = 0;
  #nextId = 0;
  #closed = false;

  constructor(options: MemorySemanticStoreOptions = {}) {
    this.#indexes = new NamespaceIndexes<string>(options, (value) => 2 * value.length);
    this.#maxGenerations = options.maxGenerations ?? 10_000;
    if (!Number.isInteger(this.#maxGenerations) || this.#maxGenerations < 2) throw new RangeError(`MemorySemanticStore: maxGenerations must be an integer ≥ 2, got ${this.#maxGenerations}`);
  }

  /** Namespaces, entries and estimated bytes held (for tests and metrics). */
  size(): { namespaces: number; entries: number; bytes: number } {
    return this.#indexes.size;
  }

  async lookup(ns: CacheNamespace, vector: Float32Array, threshold: number, now: number): Promise<SemanticLookup> {
    this.#check(vector, now);
    const generation = this.#generation(ns);
    const found = this.#indexes.nearest(ns, vector, threshold, now);
    return { hit: found && { value: found.payload, similarity: found.similarity }, generation };
  }

  async store(ns: CacheNamespace, vector: Float32Array, value: string, ttlMs: number, now: number, generation: string): Promise<void> {
    this.#check(vector, now);
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError(`MemorySemanticStore: ttlMs must be a positive number, got ${ttlMs}`);
    if (generation !== this.#generation(ns)) return;
    const same = this.#indexes.nearest(ns, vector, SAME_TEXT, now);
    if (same) this.#indexes.delete(ns, same.id);
    this.#indexes.add(ns, String(++this.#nextId), vector, now + ttlMs, value, now);
  }

  async invalidate(selector: CacheSelector): Promise<void> {
    if (this.#closed) throw new Error('MemorySemanticStore is closed');
    const key = selector.alias === undefined ? JSON.stringify(selector.owner) : JSON.stringify([selector.owner, selector.alias]);
    this.#generations.delete(key);
    this.#generations.set(key, ++this.#sequence);
    while (this.#generations.size > this.#maxGenerations) {
      const [oldest, value] = this.#generations.entries().next().value!;
      this.#generations.delete(oldest);
      this.#baseline = Math.max(this.#baseline, value);
    }
    this.#indexes.dropMatching(selector);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#indexes.clear();
    this.#generations.clear();
  }

  #generation(ns: CacheNamespace): string {
    const owner = this.#generations.get(JSON.stringify(ns.owner)) ?? this.#baseline;
    const alias = this.#generations.get(JSON.stringify([ns.owner, ns.alias])) ?? this.#baseline;
    return `${owner}.${alias}`;
  }

  #check(vector: Float32Array, now: number): void {
    if (this.#closed) throw new Error('MemorySemanticStore is closed');
    if (!(vector instanceof Float32Array) || vector.length === 0) throw new TypeError('MemorySemanticStore: the vector must be a non-empty Float32Array');
    if (!Number.isFinite(now)) throw new RangeError(`MemorySemanticStore: now must be a finite number, got ${now}`);
  }
}
