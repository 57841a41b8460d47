// The vector indexes of a semantic store, one per namespace, within fixed bounds: at most
// maxNamespaces of them, maxEntriesPerNamespace entries each, maxEntries and maxBytes (the
// indexes' estimates, payloads included) in all. Past a bound, entries go least recently used
// namespace first, oldest entry first; a namespace left empty is dropped. Both semantic stores
// use it: the memory store with the payloads, the Redis store with the ids only.
//
// Namespaces are keyed by an injective encoding of (owner, alias, version), and a lookup only
// ever reads the index of its own namespace. Vectors of another length than a namespace's
// index are a miss on lookup and replace the index on add (the embedder changed).

import type { CacheNamespace, CacheSelector } from './cache-store.ts';
import { VectorIndex, type Neighbour, type VectorIndexOptions } from './vector-index.ts';

export interface SemanticBounds {
  /** Default 1000. */
  readonly maxNamespaces?: number;
  /** Default 50 000. */
  readonly maxEntriesPerNamespace?: number;
  /** Entries in all namespaces (default 200 000). */
  readonly maxEntries?: number;
  /** Estimated bytes in all namespaces: vectors, index links, payloads (default 512 MiB). */
  readonly maxBytes?: number;
  /** LSH and lookup parameters of every index (defaults: vector-index.ts). */
  readonly index?: Partial<Omit<VectorIndexOptions, 'dims' | 'maxEntries'>>;
}

interface Space<T> {
  readonly ns: CacheNamespace;
  index: VectorIndex<T>;
}

/** An injective key for a namespace: JSON of the three strings. */
export function namespaceKey(ns: CacheNamespace): string {
  return JSON.stringify([ns.owner, ns.alias, ns.version]);
}

export function matches(ns: CacheNamespace, selector: CacheSelector): boolean {
  return ns.owner === selector.owner && (selector.alias === undefined || ns.alias === selector.alias);
}

export class NamespaceIndexes<T> {
  readonly maxNamespaces: number;
  readonly maxEntriesPerNamespace: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly #index: Partial<Omit<VectorIndexOptions, 'dims' | 'maxEntries'>>;
  readonly #payloadBytes: ((payload: T) => number) | undefined;
  /** By namespace key, least recently used first. */
  readonly #spaces = new Map<string, Space<T>>();
  #entries = 0;
  #bytes = 0;

  constructor(bounds: SemanticBounds, payloadBytes?: (payload: T) => number) {
    this.maxNamespaces = positive('maxNamespaces', bounds.maxNamespaces ?? 1000);
    this.maxEntriesPerNamespace = positive('maxEntriesPerNamespace', bounds.maxEntriesPerNamespace ?? 50_000);
    this.maxEntries = positive('maxEntries', bounds.maxEntries ?? 200_000);
    this.maxBytes = positive('maxBytes', bounds.maxBytes ?? 512 * 1024 * 1024);
    this.#index = bounds.index ?? {};
    this.#payloadBytes = payloadBytes;
  }

  /** Namespaces, entries and estimated bytes held. */
  get size(): { namespaces: number; entries: number; bytes: number } {
    return { namespaces: this.#spaces.size, entries: this.#entries, bytes: this.#bytes };
  }

  nearest(ns: CacheNamespace, vector: Float32Array, threshold: number, now: number): Neighbour<T> | undefined {
    const key = namespaceKey(ns);
    const space = this.#spaces.get(key);
    if (!space || space.index.dims !== vector.length) return undefined;
    this.#use(key, space);
    return this.#change(key, space, () => space.index.nearest(vector, threshold, now));
  }

  /** Adds an entry (false: the id was there already, or the entry alone exceeds maxBytes). */
  add(ns: CacheNamespace, id: string, vector: Float32Array, expiresAt: number, payload: T, now: number): boolean {
    if (vector.length * 4 + (this.#payloadBytes?.(payload) ?? 0) > this.maxBytes) return false;
    const key = namespaceKey(ns);
    let space = this.#spaces.get(key);
    if (space && space.index.dims !== vector.length) {
      this.#drop(key, space);
      space = undefined;
    }
    if (!space) {
      if (this.#spaces.size >= this.maxNamespaces) this.#drop(...this.#spaces.entries().next().value!);
      space = { ns, index: new VectorIndex<T>({ ...this.#index, dims: vector.length, maxEntries: this.maxEntriesPerNamespace, payloadBytes: this.#payloadBytes }) };
      this.#spaces.set(key, space);
    } else this.#use(key, space);
    const target = space;
    const added = this.#change(key, target, () => target.index.add(id, vector, expiresAt, payload, now));
    this.#evictPastBounds();
    return added;
  }

  delete(ns: CacheNamespace, id: string): boolean {
    const key = namespaceKey(ns);
    const space = this.#spaces.get(key);
    return space ? this.#change(key, space, () => space.index.delete(id)) : false;
  }

  /** Drops every namespace the selector covers; how many. */
  dropMatching(selector: CacheSelector): number {
    let dropped = 0;
    for (const [key, space] of [...this.#spaces]) {
      if (!matches(space.ns, selector)) continue;
      this.#drop(key, space);
      dropped++;
    }
    return dropped;
  }

  clear(): void {
    this.#spaces.clear();
    this.#entries = 0;
    this.#bytes = 0;
  }

  /** Runs a change to one index, keeping the totals (and dropping the namespace if it is left empty). */
  #change<R>(key: string, space: Space<T>, work: () => R): R {
    const { size, bytes } = space.index;
    try {
      return work();
    } finally {
      this.#entries += space.index.size - size;
      this.#bytes += space.index.bytes - bytes;
      if (space.index.size === 0) this.#drop(key, space);
    }
  }

  #use(key: string, space: Space<T>): void {
    this.#spaces.delete(key);
    this.#spaces.set(key, space);
  }

  #drop(key: string, space: Space<T>): void {
    if (this.#spaces.get(key) !== space) return;
    this.#spaces.delete(key);
    this.#entries -= space.index.size;
    this.#bytes -= space.index.bytes;
  }

  #evictPastBounds(): void {
    while (this.#entries > this.maxEntries || this.#bytes > this.maxBytes) {
      const first = this.#spaces.entries().next().value;
      if (!first) return;
      const [key, space] = first;
      const oldest = space.index.oldest();
      if (oldest === undefined) this.#drop(key, space);
      else this.#change(key, space, () => space.index.delete(oldest));
    }
  }
}

function positive(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`semantic store: ${name} must be a positive integer, got ${n}`);
  return n;
}
