// The contracts of the response cache's storage. Entries are opaque strings (the serialised
// cached response); the pipeline decides what goes in them. Every entry lives in a namespace, and
// no lookup ever reads outside the namespace it was given: that is what keeps one tenant's
// answers away from another's.

/** Whose entries these are, for which alias, at which content version (kb_revision). */
export interface CacheNamespace {
  /** "tenant:<id>", or "team:<id>" / "key:<id>" when the request has no tenant. */
  readonly owner: string;
  readonly alias: string;
  /** The content version: X-Cache-Namespace-Version, the configured one, or "0". */
  readonly version: string;
}

/** What an invalidation removes: all of an owner's entries, or those of one alias. */
export interface CacheSelector {
  readonly owner: string;
  readonly alias?: string;
}

/**
 * A lookup's result. `generation` is the namespace's generation seen by the lookup: a store
 * made with it after an invalidation is dropped, so an answer computed before an invalidation is
 * never served after it.
 */
export interface ExactLookup {
  readonly value: string | undefined;
  readonly generation: string;
}

/** The exact cache: one entry per (namespace, request hash). */
export interface ExactCacheStore {
  get(ns: CacheNamespace, key: string, now: number): Promise<ExactLookup>;
  set(ns: CacheNamespace, key: string, value: string, ttlMs: number, now: number, generation: string): Promise<void>;
  invalidate(selector: CacheSelector): Promise<void>;
  close(): Promise<void>;
}

export interface SemanticHit {
  readonly value: string;
  /** Cosine similarity of the stored vector to the query, 0..1. */
  readonly similarity: number;
}

export interface SemanticLookup {
  readonly hit: SemanticHit | undefined;
  readonly generation: string;
}

/**
 * The semantic cache: the nearest stored vector in the namespace, if it is close enough. The
 * search is approximate (an index may miss an entry at or above the threshold, rarely), but a
 * hit is never below the threshold, expired by `now`, from before an invalidation, or from
 * another namespace. Vectors are unit length; the store keeps each namespace's vectors of one
 * length (the embedder's id belongs in the namespace, so embedders never mix).
 */
export interface SemanticCacheStore {
  lookup(ns: CacheNamespace, vector: Float32Array, threshold: number, now: number): Promise<SemanticLookup>;
  store(ns: CacheNamespace, vector: Float32Array, value: string, ttlMs: number, now: number, generation: string): Promise<void>;
  invalidate(selector: CacheSelector): Promise<void>;
  close(): Promise<void>;
}

/** Turns texts into unit-length vectors of `dims` dimensions. */
export interface Embedder {
  /** Stable id (e.g. "local-lexical-v1" or "alias:text-embedding-3-small"): vectors from different embedders never mix. */
  readonly id: string;
  readonly dims: number;
  embed(text: string): Promise<Float32Array>;
}
