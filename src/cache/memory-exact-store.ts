// The in-memory exact cache: one instance, the embedded default. Every operation runs
// synchronously inside its async method, so it is atomic with respect to every other call.
//
// Bounded by entry count and by bytes, evicting the least recently used (a Map in recency
// order: a hit moves its entry to the end). An entry's bytes are estimated as
// 2 × (value length + key length) + ENTRY_OVERHEAD_BYTES: V8 strings take up to 2 bytes a
// code unit, and the overhead covers the entry object and the Map slot. An entry too big for
// maxBytes on its own is not stored.
//
// Expiry is the caller's `now` (tests inject a clock); an expired entry is dropped when read or
// when eviction reaches it. Invalidation bumps a generation counter, per owner or per
// owner + alias; a namespace's generation is "<epoch>.<owner's>.<alias's>". An entry written
// under an older generation is never returned (it is dropped when read, or evicted), and a set
// carrying a generation that is no longer current is dropped. The counters are bounded too:
// past maxGenerations of them, they are all forgotten at once, every entry with them, and the
// epoch moves on so that no set begun before stays acceptable.

import type { CacheNamespace, CacheSelector, ExactCacheStore, ExactLookup } from './cache-store.ts';

export interface MemoryExactStoreOptions {
  readonly maxEntries: number;
  /** Estimated bytes (see the header). */
  readonly maxBytes: number;
  /** Generation counters kept before they are all reset, with the entries (default 10 000). */
  readonly maxGenerations?: number;
}

export const ENTRY_OVERHEAD_BYTES = 160;

interface Entry {
  readonly value: string;
  readonly expiresAt: number;
  readonly generation: string;
  readonly bytes: number;
}

export class MemoryExactStore implements ExactCacheStore {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxGenerations: number;
  /** By the entry's key (namespace and request key), least recently used first. */
  readonly #entries = new Map<string, Entry>();
  /** Invalidation counters: by owner, and by owner + alias (ownerAliasKey). */
  readonly #owners = new Map<string, number>();
  readonly #aliases = new Map<string, number>();
  #epoch = 0;
  #bytes = 0;

  constructor(options: MemoryExactStoreOptions) {
    for (const [name, n] of [['maxEntries', options.maxEntries], ['maxBytes', options.maxBytes], ['maxGenerations', options.maxGenerations ?? 1]] as const) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`MemoryExactStore: ${name} must be a positive integer, got ${n}`);
    }
    this.#maxEntries = options.maxEntries;
    this.#maxBytes = options.maxBytes;
    this.#maxGenerations = options.maxGenerations ?? 10_000;
  }

  async get(ns: CacheNamespace, key: string, now: number): Promise<ExactLookup> {
    checkTime(now);
    const generation = this.#generation(ns.owner, ns.alias);
    const id = entryKey(ns, key);
    const entry = this.#entries.get(id);
    if (!entry) return { value: undefined, generation };
    this.#delete(id, entry);
    if (entry.generation !== generation || entry.expiresAt <= now) return { value: undefined, generation };
    this.#entries.set(id, entry); // most recently used
    this.#bytes += entry.bytes;
    return { value: entry.value, generation };
  }

  async set(ns: CacheNamespace, key: string, value: string, ttlMs: number, now: number, generation: string): Promise<void> {
    checkTime(now);
    if (!Number.isFinite(ttlMs)) throw new RangeError(`MemoryExactStore: ttlMs must be a finite number, got ${ttlMs}`);
    if (ttlMs <= 0 || generation !== this.#generation(ns.owner, ns.alias)) return;
    const id = entryKey(ns, key);
    const bytes = 2 * (value.length + id.length) + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.#maxBytes) return;
    const old = this.#entries.get(id);
    if (old) this.#delete(id, old);
    this.#entries.set(id, { value, expiresAt: now + ttlMs, generation, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#delete(oldest, entry);
    }
  }

  async invalidate(selector: CacheSelector): Promise<void> {
    if (this.#owners.size + this.#aliases.size >= this.#maxGenerations) {
      // Forget every counter; the new epoch makes every earlier generation stale (and the entries
      // written under them go now rather than lazily, since nothing could read them again).
      this.#owners.clear();
      this.#aliases.clear();
      this.#entries.clear();
      this.#bytes = 0;
      this.#epoch += 1;
      return;
    }
    const counters = selector.alias === undefined ? this.#owners : this.#aliases;
    const id = selector.alias === undefined ? selector.owner : ownerAliasKey(selector.owner, selector.alias);
    counters.set(id, (counters.get(id) ?? 0) + 1);
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** Entries held and their estimated bytes (stale and expired ones count until dropped); generation counters kept. */
  size(): { entries: number; bytes: number; generations: number } {
    return { entries: this.#entries.size, bytes: this.#bytes, generations: this.#owners.size + this.#aliases.size };
  }

  #generation(owner: string, alias: string): string {
    return `${this.#epoch}.${this.#owners.get(owner) ?? 0}.${this.#aliases.get(ownerAliasKey(owner, alias)) ?? 0}`;
  }

  #delete(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
  }
}

/** JSON of the parts: injective, whatever characters they hold. */
function entryKey(ns: CacheNamespace, key: string): string {
  return JSON.stringify([ns.owner, ns.alias, ns.version, key]);
}

function ownerAliasKey(owner: string, alias: string): string {
  return JSON.stringify([owner, alias]);
}

function checkTime(now: number): void {
  if (!Number.isFinite(now)) throw new RangeError(`MemoryExactStore: now must be a finite number, got ${now}`);
}
