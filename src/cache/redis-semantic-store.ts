// The Redis semantic cache, shared by every replica. Payloads, generations and an event stream
// (semantic-stream.ts) with every vector live in Redis; each replica searches its own in-process
// indexes (namespace-indexes.ts, the same bounds as the memory store), which it loads from the
// stream when it starts and keeps in step by tailing it. Redis's own vector search (RediSearch)
// is not used, even where the server has it: the in-process index is the one path.
//
// A lookup finds the nearest id in the local index, then reads the namespace's generations and
// that entry's payload in one MGET: a hit needs the payload to exist, to carry the current
// generation and not to have expired by the caller's `now`. So an invalidation on any replica
// (one INCR, in Redis) is seen by every lookup everywhere at once, whether or not its event has
// arrived. A store is one Lua script: the generation check, the payload SET (PX ttl + grace) and
// the XADD, atomically. Connection handling follows redis-exact-store.ts: calls fail at once
// while Redis is down and after commandTimeoutMs without an answer, as CacheStoreUnavailable.
//
// Keys (`part` escapes "%", ":", "{", "}", so the encoding is injective; on Redis Cluster use a
// prefix with a hash tag, "{tollgate}:", since every script touches the stream):
//   <prefix>cache:s:g:<owner>                           the owner's generation (INCR; no TTL)
//   <prefix>cache:s:g:<owner>:<alias>                   the owner + alias generation
//   <prefix>cache:s:e:<owner>:<alias>:<version>:<id>    "<generation>|<expiresAt>|<value>"
//   <prefix>cache:s:log                                 the event stream (MAXLEN ~ streamMaxLength)
// As for the exact store, a Redis that evicts under maxmemory must use a volatile-* policy.

import { randomBytes } from 'node:crypto';
import type { CacheNamespace, CacheSelector, SemanticCacheStore, SemanticLookup } from './cache-store.ts';
import { NamespaceIndexes, type SemanticBounds } from './namespace-indexes.ts';
import { destroyClient, keyPart, RedisCacheConnection } from './redis-cache-connection.ts';
import { encodeVector, StreamTailer, type StreamEvent } from './semantic-stream.ts';

export interface RedisSemanticStoreOptions extends SemanticBounds {
  /** redis://[user:password@]host:port[/db] */
  readonly url: string;
  /** Prepended to every key, e.g. "tollgate:". */
  readonly keyPrefix: string;
  /** Default 1000 ms. */
  readonly connectTimeoutMs?: number;
  /** Default 1000 ms. */
  readonly commandTimeoutMs?: number;
  /** Stream entries kept (approximately; default 100 000): what a starting replica loads. */
  readonly streamMaxLength?: number;
  /** Hears a failing stream read once per outage. */
  readonly logger?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/** How long Redis keeps a payload past its logical expiry (replica clocks differ by a little). */
const EXPIRY_GRACE_MS = 5_000;

const GENERATION = `local g = (redis.call('GET', KEYS[1]) or '0') .. '.' .. (redis.call('GET', KEYS[2]) or '0')\n`;
// KEYS: owner generation, alias generation, payload, stream. ARGV: generation, px, payload,
// maxlen, namespace, id, expiresAt, vector. Reply: 1 stored, 0 dropped (the generation moved on).
const STORE = `${GENERATION}if g ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 't', 'a', 'n', ARGV[5], 'i', ARGV[6], 'x', ARGV[7], 'v', ARGV[8])
return 1`;
// KEYS: the generation to bump, stream. ARGV: maxlen, owner[, alias].
const INVALIDATE = `redis.call('INCR', KEYS[1])
if ARGV[3] then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 't', 'i', 'o', ARGV[2], 'a', ARGV[3])
else redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 't', 'i', 'o', ARGV[2]) end
return 1`;

export class RedisSemanticStore implements SemanticCacheStore {
  readonly #redis: RedisCacheConnection;
  readonly #tail;
  readonly #tailer: StreamTailer;
  readonly #indexes: NamespaceIndexes<null>;
  readonly #prefix: string;
  readonly #streamMaxLength: string;
  #closed = false;
  /** The latest `now` a call brought: the time events from the stream are judged by. */
  #now = 0;

  constructor(options: RedisSemanticStoreOptions) {
    this.#indexes = new NamespaceIndexes<null>(options);
    this.#prefix = `${options.keyPrefix}cache:s:`;
    this.#streamMaxLength = String(options.streamMaxLength ?? 100_000);
    this.#redis = new RedisCacheConnection({ ...options, what: 'Redis semantic store' });
    // The tailer's connection: its XREAD blocks, so it is a connection of its own.
    this.#tail = this.#redis.client.duplicate();
    this.#tail.on('error', () => undefined);
    const onError = (error: unknown) => options.logger?.warn('semantic cache: reading the Redis event stream failed; lookups go on, hits may be missed until it recovers', { err: String(error) });
    this.#tailer = new StreamTailer({ client: this.#tail, key: `${this.#prefix}log`, apply: (event) => this.#apply(event), onError });
    this.#tail.connect().then(() => this.#tailer.start(), () => undefined);
  }

  /** Local index size (for tests and metrics). */
  size(): { namespaces: number; entries: number; bytes: number } {
    return this.#indexes.size;
  }

  async lookup(ns: CacheNamespace, vector: Float32Array, threshold: number, now: number): Promise<SemanticLookup> {
    checkNow(now);
    this.#now = Math.max(this.#now, now);
    const found = this.#indexes.nearest(ns, vector, threshold, now);
    const [owner, alias, payload] = this.#keys(ns, found?.id);
    const reply = await this.#redis.command(() => this.#redis.client.sendCommand(found ? ['MGET', owner, alias, payload] : ['MGET', owner, alias]), 'semantic lookup');
    if (!Array.isArray(reply) || reply.some((v) => v !== null && typeof v !== 'string')) throw this.#redis.unavailable(new Error('unexpected reply to MGET'));
    const generation = `${reply[0] ?? '0'}.${reply[1] ?? '0'}`;
    if (!found) return { hit: undefined, generation };
    const stored = parsePayload(reply[2]);
    if (!stored || stored.generation !== generation || stored.expiresAt <= now) {
      // Expired, evicted or from before an invalidation: gone for good.
      this.#indexes.delete(ns, found.id);
      return { hit: undefined, generation };
    }
    return { hit: { value: stored.value, similarity: found.similarity }, generation };
  }

  async store(ns: CacheNamespace, vector: Float32Array, value: string, ttlMs: number, now: number, generation: string): Promise<void> {
    checkNow(now);
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError(`RedisSemanticStore: ttlMs must be a positive number, got ${ttlMs}`);
    if (!(vector instanceof Float32Array) || vector.length === 0) throw new TypeError('RedisSemanticStore: the vector must be a non-empty Float32Array');
    this.#now = Math.max(this.#now, now);
    const id = randomBytes(12).toString('base64url');
    const expiresAt = now + ttlMs;
    const keys = [...this.#keys(ns, id), `${this.#prefix}log`];
    const args = [generation, String(Math.ceil(ttlMs) + EXPIRY_GRACE_MS), `${generation}|${expiresAt}|${value}`, this.#streamMaxLength, JSON.stringify([ns.owner, ns.alias, ns.version]), id, String(expiresAt)];
    const reply = await this.#redis.command(() => this.#redis.client.sendCommand(['EVAL', STORE, String(keys.length), ...keys, ...args, encodeVector(vector)]), 'semantic store');
    // Searchable here at once; the other replicas add it when the event reaches them.
    if (reply === 1) this.#indexes.add(ns, id, vector, expiresAt, null, now);
  }

  async invalidate(selector: CacheSelector): Promise<void> {
    const owner = `${this.#prefix}g:${keyPart(selector.owner)}`;
    const key = selector.alias === undefined ? owner : `${owner}:${keyPart(selector.alias)}`;
    const args = [this.#streamMaxLength, selector.owner, ...(selector.alias === undefined ? [] : [selector.alias])];
    await this.#redis.command(() => this.#redis.client.sendCommand(['EVAL', INVALIDATE, '2', key, `${this.#prefix}log`, ...args]), 'semantic invalidate');
    this.#indexes.dropMatching(selector);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Destroying the tailer's connection ends its blocking read, and the tailer stops.
    const stopped = this.#tailer.stop();
    destroyClient(this.#tail);
    await stopped;
    await this.#redis.close();
    this.#indexes.clear();
  }

  /** Events from the stream (this replica's own among them: adding an id twice is a no-op). */
  #apply(event: StreamEvent): void {
    if (event.type === 'invalidate') this.#indexes.dropMatching(event);
    else if (event.expiresAt > this.#now) this.#indexes.add(event.ns, event.id, event.vector, event.expiresAt, null, this.#now);
  }

  /** The owner's and alias's generation keys, and the entry's payload key. */
  #keys(ns: CacheNamespace, id: string | undefined): [string, string, string] {
    const owner = `${this.#prefix}g:${keyPart(ns.owner)}`;
    return [owner, `${owner}:${keyPart(ns.alias)}`, `${this.#prefix}e:${keyPart(ns.owner)}:${keyPart(ns.alias)}:${keyPart(ns.version)}:${id ?? ''}`];
  }
}

function parsePayload(raw: unknown): { generation: string; expiresAt: number; value: string } | undefined {
  if (typeof raw !== 'string') return undefined;
  const a = raw.indexOf('|');
  const b = raw.indexOf('|', a + 1);
  if (a < 0 || b < 0) return undefined;
  const expiresAt = Number(raw.slice(a + 1, b));
  return Number.isFinite(expiresAt) ? { generation: raw.slice(0, a), expiresAt, value: raw.slice(b + 1) } : undefined;
}

function checkNow(now: number): void {
  if (!Number.isFinite(now)) throw new RangeError(`RedisSemanticStore: now must be a finite number, got ${now}`);
}
