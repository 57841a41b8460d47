// The `cache:` config section and each alias's `cache:` block: the response cache (src/cache/).
// Off unless `cache.enabled`. Exact and semantic lookups, namespaced by tenant (or team, or key),
// alias and content version.
//
//   cache:
//     enabled: true
//     backend: memory                # or redis (the redis: section's server; replicas share it)
//     ttl_seconds: 3600
//     mode: on                       # on | default_off (a request must opt in) | off
//     max_temperature: 0.7           # an explicit temperature above this is not cached
//     count_hits_toward_rpm: false
//     namespace_version: "0"         # the default kb_revision (X-Cache-Namespace-Version overrides)
//     memory: { max_entries: 10000, max_bytes: 64mb }
//     semantic:
//       enabled: true
//       embedder: local              # or an embedding alias, e.g. text-embedding-3-small
//       threshold: 0.95              # LiteLLM's similarity_threshold is accepted too
//       context_turns: 2             # earlier turns embedded with the last user turn
//       include_system: false        # the system prompt must then match exactly
//       max_entries_per_namespace: 50000
//     teams:   { research: default_off }
//     tenants: { hospital-a: never }  # never: compliance forbids caching; nothing can turn it on
//
//   models:
//     faq-bot:
//       cache: { mode: on, ttl_seconds: 600, similarity_threshold: 0.97 }

import { z } from 'zod';
import { byteSize } from './byte-size.ts';
import { fromEnv, positiveInt } from './identity-schema.ts';

export const CACHE_MODES = ['on', 'default_off', 'off'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];
/** Tenants may also be `never`: off, and no request or other scope can turn it on. */
export type TenantCacheMode = CacheMode | 'never';

const mode = z.enum(CACHE_MODES, { error: 'must be on, default_off or off' });
const tenantMode = z.enum([...CACHE_MODES, 'never'], { error: 'must be on, default_off, off or never' });
const threshold = fromEnv(z.number().gt(0).max(1));
const version = z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(/^[\x21-\x7e]{1,64}$/, { error: 'must be 1-64 printable characters without spaces' }));
const ttl = fromEnv(z.number().int().min(1).max(30 * 86_400));

export const aliasCacheSchema = z.strictObject({
  mode: mode.optional(),
  ttl_seconds: ttl.optional(),
  /** Semantic hits need at least this cosine similarity (LiteLLM's name). */
  similarity_threshold: threshold.optional(),
  /** false: this alias uses the exact cache only. */
  semantic: fromEnv(z.boolean()).optional(),
});

export const cacheSchema = z.strictObject({
  enabled: fromEnv(z.boolean()).default(false),
  /** Default: redis when a redis: section is configured, memory otherwise. */
  backend: z.enum(['memory', 'redis'], { error: 'must be memory or redis' }).optional(),
  ttl_seconds: ttl.default(3600),
  mode: mode.default('on'),
  max_temperature: fromEnv(z.number().min(0).max(2)).default(0.7),
  count_hits_toward_rpm: fromEnv(z.boolean()).default(false),
  namespace_version: version.default('0'),
  /** The largest response body stored, in bytes; bigger answers are served but not cached. */
  max_entry_bytes: byteSize.default(256_000),
  memory: z.strictObject({
    max_entries: positiveInt.default(10_000),
    max_bytes: byteSize.default(64_000_000),
  }).prefault({}),
  semantic: z.strictObject({
    enabled: fromEnv(z.boolean()).default(false),
    /** `local` (the built-in lexical embedder) or the name of an embedding alias. */
    embedder: z.string().min(1).default('local'),
    threshold: threshold.optional(),
    similarity_threshold: threshold.optional(),
    context_turns: fromEnv(z.number().int().min(0).max(50)).default(2),
    /** Off by default: a long system prompt shared by every request makes all their vectors alike (it is in the scope instead). */
    include_system: fromEnv(z.boolean()).default(false),
    max_entries_per_namespace: positiveInt.default(50_000),
    max_namespaces: positiveInt.default(1_000),
  }).prefault({}),
  teams: z.record(z.string().min(1), mode).default({}),
  tenants: z.record(z.string().min(1), tenantMode).default({}),
}).prefault({});

export type CacheInput = z.output<typeof cacheSchema>;
export type AliasCacheInput = z.output<typeof aliasCacheSchema>;

/** An alias's cache settings, with the section's defaults filled in. */
export interface AliasCacheSettings {
  readonly mode: CacheMode;
  readonly ttlMs: number;
  readonly threshold: number;
  readonly semantic: boolean;
}

/** The `cache:` section as the gateway uses it (camelCase, frozen), for GatewayConfig. */
export interface CacheSettings {
  readonly enabled: boolean;
  readonly backend: 'memory' | 'redis';
  readonly ttlMs: number;
  readonly mode: CacheMode;
  readonly maxTemperature: number;
  readonly countHitsTowardRpm: boolean;
  readonly namespaceVersion: string;
  readonly maxEntryBytes: number;
  readonly memory: { readonly maxEntries: number; readonly maxBytes: number };
  readonly semantic: {
    readonly enabled: boolean;
    readonly embedder: string;
    readonly threshold: number;
    readonly contextTurns: number;
    readonly includeSystem: boolean;
    readonly maxEntriesPerNamespace: number;
    readonly maxNamespaces: number;
  };
  readonly teams: ReadonlyMap<string, CacheMode>;
  readonly tenants: ReadonlyMap<string, TenantCacheMode>;
  /** Per alias: the alias's own block over the section's defaults (every alias has an entry). */
  readonly aliases: ReadonlyMap<string, AliasCacheSettings>;
}

export const DEFAULT_SIMILARITY = 0.95;

export function cacheSettings(input: CacheInput, hasRedis: boolean, aliases: ReadonlyMap<string, AliasCacheInput | undefined>): CacheSettings {
  const threshold = input.semantic.similarity_threshold ?? input.semantic.threshold ?? DEFAULT_SIMILARITY;
  const perAlias = new Map<string, AliasCacheSettings>();
  for (const [name, own] of aliases) {
    perAlias.set(name, Object.freeze({
      mode: own?.mode ?? input.mode,
      ttlMs: (own?.ttl_seconds ?? input.ttl_seconds) * 1000,
      threshold: own?.similarity_threshold ?? threshold,
      semantic: input.semantic.enabled && own?.semantic !== false,
    }));
  }
  return Object.freeze({
    enabled: input.enabled,
    backend: input.backend ?? (hasRedis ? 'redis' : 'memory'),
    ttlMs: input.ttl_seconds * 1000,
    mode: input.mode,
    maxTemperature: input.max_temperature,
    countHitsTowardRpm: input.count_hits_toward_rpm,
    namespaceVersion: input.namespace_version,
    maxEntryBytes: input.max_entry_bytes,
    memory: Object.freeze({ maxEntries: input.memory.max_entries, maxBytes: input.memory.max_bytes }),
    semantic: Object.freeze({
      enabled: input.semantic.enabled,
      embedder: input.semantic.embedder,
      threshold,
      contextTurns: input.semantic.context_turns,
      includeSystem: input.semantic.include_system,
      maxEntriesPerNamespace: input.semantic.max_entries_per_namespace,
      maxNamespaces: input.semantic.max_namespaces,
    }),
    teams: new Map(Object.entries(input.teams)),
    tenants: new Map(Object.entries(input.tenants)),
    aliases: perAlias,
  });
}

/** What the schema alone cannot check: a Redis backend needs redis:, an embedder alias must exist. */
export function cacheProblems(input: CacheInput, hasRedis: boolean, aliasNames: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!input.enabled) return problems;
  if (input.backend === 'redis' && !hasRedis) problems.push('cache.backend: redis needs a redis: section (url and key_prefix); use backend: memory for one instance.');
  const embedder = input.semantic.embedder;
  if (input.semantic.enabled && embedder !== 'local' && !aliasNames.has(embedder)) {
    problems.push(`cache.semantic.embedder: "${embedder}" is neither "local" nor a configured alias; name an embedding alias from models: or use local.`);
  }
  return problems;
}
