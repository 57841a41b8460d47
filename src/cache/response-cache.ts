// The response cache at run time: an exact lookup (one store round trip), then, where the alias
// has it, a semantic one (embed the conversation, nearest stored vector in the namespace). A
// store that fails is a miss, never an error for the client: failures are counted and logged at
// most once a minute. Stores run after the client has its answer and are never awaited on the
// response path.

import type { Logger } from '../logging/logger.ts';
import { BoundedLabel } from '../telemetry/bounded-label.ts';
import type { BoundHistogram, Counter, Metrics } from '../telemetry/metrics.ts';
import { decodeEntry, encodeEntry, type CacheEntry } from './cache-entry.ts';
import type { CacheDecision } from './cache-decision.ts';
import type { CacheNamespace, CacheSelector, Embedder, ExactCacheStore, SemanticCacheStore } from './cache-store.ts';

export type UsedDecision = Extract<CacheDecision, { use: true }>;

export interface CacheHit {
  readonly entry: CacheEntry;
  readonly kind: 'exact' | 'semantic';
  readonly similarity?: number;
}

/** A lookup's result, and what a store of the answer needs (the generations the lookup saw). */
export interface CacheLookup {
  readonly hit?: CacheHit;
  readonly exactGeneration?: string;
  readonly semanticGeneration?: string;
  readonly vector?: Float32Array;
  readonly semanticNs?: CacheNamespace;
}

/** What the semantic lookup embeds, and a digest of everything that must match exactly (parameters, unembedded context). */
export interface SemanticQuery {
  readonly text: string;
  readonly scope: string;
}

export interface ResponseCacheOptions {
  readonly exact: ExactCacheStore;
  readonly semantic?: { readonly store: SemanticCacheStore; readonly embedder: Embedder };
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Epoch ms. */
  readonly now: () => number;
  /** Answers bigger than this (serialised) are served but not stored. */
  readonly maxEntryBytes: number;
  /** Namespace owners with their own metric series; later ones are "other". */
  readonly namespaceLabels?: number;
}

const WARN_EVERY_MS = 60_000;
const LOOKUP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

export class ResponseCache {
  readonly #exact: ExactCacheStore;
  readonly #semantic: ResponseCacheOptions['semantic'];
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #maxEntryBytes: number;
  readonly #lookups: Counter;
  readonly #stores: Counter;
  readonly #skips: Counter;
  readonly #latency: { exact: BoundHistogram; semantic: BoundHistogram };
  readonly #owners: BoundedLabel;
  readonly #warnedAt = new Map<string, number>();

  constructor(options: ResponseCacheOptions) {
    this.#exact = options.exact;
    this.#semantic = options.semantic;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#maxEntryBytes = options.maxEntryBytes;
    const m = options.metrics;
    this.#lookups = m.counter('tollgate_cache_lookups_total', 'Response cache lookups, by alias, namespace owner, kind (exact, semantic) and result (hit, miss, error).', ['alias', 'namespace', 'kind', 'result']);
    this.#stores = m.counter('tollgate_cache_stores_total', 'Answers offered to the response cache, by result: stored, too_large, error.', ['result']);
    this.#skips = m.counter('tollgate_cache_skips_total', 'Requests the response cache did not look up, by reason.', ['reason']);
    const latency = m.histogram('tollgate_cache_lookup_seconds', 'Response cache lookup latency, by kind (semantic includes embedding).', LOOKUP_BUCKETS, ['kind']);
    this.#latency = { exact: latency.bind({ kind: 'exact' }), semantic: latency.bind({ kind: 'semantic' }) };
    this.#owners = new BoundedLabel(options.namespaceLabels ?? 100);
  }

  get semanticEnabled(): boolean {
    return this.#semantic !== undefined;
  }

  skipped(reason: string): void {
    this.#skips.inc({ reason });
  }

  /** The exact entry for `key`, else (when `text` is given) the nearest semantic one; never rejects. */
  async lookup(decision: UsedDecision, key: string, query: (() => SemanticQuery | undefined) | undefined): Promise<CacheLookup> {
    const ns = decision.ns;
    const labels = (kind: string, result: string) => ({ alias: ns.alias, namespace: this.#owners.of(ns.owner), kind, result });
    let exactGeneration: string | undefined;
    const started = performance.now();
    try {
      const found = await this.#exact.get(ns, key, this.#now());
      exactGeneration = found.generation;
      const entry = found.value === undefined ? undefined : this.#fresh(decodeEntry(found.value), decision);
      this.#latency.exact.observe((performance.now() - started) / 1000);
      this.#lookups.inc(labels('exact', entry ? 'hit' : 'miss'));
      if (entry) return { hit: { entry, kind: 'exact' }, exactGeneration };
    } catch (err) {
      this.#lookups.inc(labels('exact', 'error'));
      this.#warn('exact_lookup', err);
    }
    const semantic = this.#semantic;
    const asked = decision.semantic && semantic && query ? query() : undefined;
    if (!semantic || asked === undefined) return { ...(exactGeneration !== undefined ? { exactGeneration } : {}) };
    const semanticStarted = performance.now();
    try {
      const vector = await semantic.embedder.embed(asked.text);
      const semanticNs = this.#semanticNs(ns, semantic.embedder, asked.scope);
      const found = await semantic.store.lookup(semanticNs, vector, decision.threshold, this.#now());
      const entry = found.hit ? this.#fresh(decodeEntry(found.hit.value), decision) : undefined;
      this.#latency.semantic.observe((performance.now() - semanticStarted) / 1000);
      this.#lookups.inc(labels('semantic', entry ? 'hit' : 'miss'));
      const base = { ...(exactGeneration !== undefined ? { exactGeneration } : {}), semanticGeneration: found.generation, vector, semanticNs };
      return entry ? { ...base, hit: { entry, kind: 'semantic', similarity: found.hit!.similarity } } : base;
    } catch (err) {
      this.#lookups.inc(labels('semantic', 'error'));
      this.#warn('semantic_lookup', err);
      return { ...(exactGeneration !== undefined ? { exactGeneration } : {}) };
    }
  }

  /** Stores the answer under what the lookup saw (exact key, and the vector when it had one). Never rejects. */
  store(decision: UsedDecision, key: string, lookup: CacheLookup | undefined, answer: Omit<CacheEntry, 'storedAt'>): void {
    if (decision.ttlMs <= 0) return;
    const now = this.#now();
    const value = encodeEntry({ ...answer, storedAt: now });
    if (Buffer.byteLength(value) > this.#maxEntryBytes) {
      this.#stores.inc({ result: 'too_large' });
      return;
    }
    const writes: Promise<void>[] = [this.#exact.set(decision.ns, key, value, decision.ttlMs, now, lookup?.exactGeneration ?? '')];
    const semantic = this.#semantic;
    if (semantic && lookup?.vector && lookup.semanticNs && lookup.semanticGeneration !== undefined) {
      writes.push(semantic.store.store(lookup.semanticNs, lookup.vector, value, decision.ttlMs, now, lookup.semanticGeneration));
    }
    Promise.all(writes).then(() => this.#stores.inc({ result: 'stored' }), (err: unknown) => {
      this.#stores.inc({ result: 'error' });
      this.#warn('store', err);
    });
  }

  /** Drops an owner's entries (or one alias's): every replica stops serving them at once. */
  async invalidate(selector: CacheSelector): Promise<void> {
    await Promise.all([this.#exact.invalidate(selector), this.#semantic?.store.invalidate(selector)]);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#exact.close(), this.#semantic?.store.close()]);
  }

  /**
   * Vectors of different embedders never meet, and neither do requests whose parameters or
   * unembedded context differ: both are part of the semantic namespace.
   */
  #semanticNs(ns: CacheNamespace, embedder: Embedder, scope: string): CacheNamespace {
    return { owner: ns.owner, alias: ns.alias, version: `${ns.version} ${embedder.id} ${scope}` };
  }

  #fresh(entry: CacheEntry | undefined, decision: UsedDecision): CacheEntry | undefined {
    if (!entry) return undefined;
    return this.#now() - entry.storedAt <= decision.maxAgeMs ? entry : undefined;
  }

  #warn(what: string, err: unknown): void {
    const now = Date.now();
    if (now - (this.#warnedAt.get(what) ?? -Infinity) < WARN_EVERY_MS) return;
    this.#warnedAt.set(what, now);
    this.#logger.warn('response cache unavailable: serving without it', { op: what, error: (err as Error)?.message ?? String(err) });
  }
}
