// Opens the response cache the config asks for: the exact store (in memory, or Redis for
// replicas), and the semantic store and embedder when cache.semantic is on. The Redis modules
// are loaded only when used. Undefined when cache.enabled is false.

import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Logger } from '../logging/logger.ts';
import type { ReliableCall } from '../routing/reliable-call.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { AliasEmbedder } from './alias-embedder.ts';
import type { Embedder, ExactCacheStore, SemanticCacheStore } from './cache-store.ts';
import { LexicalEmbedder } from './lexical-embedder.ts';
import { MemoryExactStore } from './memory-exact-store.ts';
import { MemorySemanticStore } from './memory-semantic-store.ts';
import { ResponseCache } from './response-cache.ts';

export interface ResponseCacheRuntime {
  readonly cache: ResponseCache;
  /** The app's reliable call, for an embedding alias (called once the app is built). */
  attach(call: ReliableCall): void;
  close(): Promise<void>;
}

export interface OpenCacheDeps {
  readonly config: GatewayConfig;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Epoch ms (tests inject a clock for TTLs). */
  readonly now?: () => number;
}

async function exactStore(config: GatewayConfig): Promise<ExactCacheStore> {
  const settings = config.cache;
  if (settings.backend === 'redis' && config.redis) {
    const { RedisExactStore } = await import('./redis-exact-store.ts');
    return new RedisExactStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: 250 });
  }
  return new MemoryExactStore({ maxEntries: settings.memory.maxEntries, maxBytes: settings.memory.maxBytes });
}

async function semanticStore(config: GatewayConfig, logger: Logger): Promise<SemanticCacheStore> {
  const s = config.cache.semantic;
  const bounds = { maxEntriesPerNamespace: s.maxEntriesPerNamespace, maxNamespaces: s.maxNamespaces };
  if (config.cache.backend === 'redis' && config.redis) {
    const { RedisSemanticStore } = await import('./redis-semantic-store.ts');
    return new RedisSemanticStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: 250, ...bounds, logger });
  }
  return new MemorySemanticStore(bounds);
}

export async function openResponseCache(deps: OpenCacheDeps): Promise<ResponseCacheRuntime | undefined> {
  const { config } = deps;
  const settings = config.cache;
  if (!settings.enabled) return undefined;
  const exact = await exactStore(config);
  let embedder: Embedder | undefined;
  let semantic: SemanticCacheStore | undefined;
  if (settings.semantic.enabled) {
    embedder = settings.semantic.embedder === 'local' ? new LexicalEmbedder() : new AliasEmbedder(settings.semantic.embedder);
    semantic = await semanticStore(config, deps.logger);
  }
  const cache = new ResponseCache({
    exact,
    ...(semantic && embedder ? { semantic: { store: semantic, embedder } } : {}),
    metrics: deps.metrics,
    logger: deps.logger,
    now: deps.now ?? Date.now,
    maxEntryBytes: settings.maxEntryBytes,
    // Namespace owners are tenant ids: they get their own series only where tenant labels are on.
    namespaceLabels: config.metrics.tenantLabels.enabled ? config.metrics.tenantLabels.max : 0,
  });
  return {
    cache,
    attach(call) {
      if (embedder instanceof AliasEmbedder) embedder.attach(call);
    },
    close: () => cache.close(),
  };
}
