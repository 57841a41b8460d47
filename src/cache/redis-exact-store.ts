// The Redis exact cache, shared by every replica. get and set are one Lua script each (one
// round trip, atomic; EVALSHA, falling back to EVAL when the server does not know the script),
// invalidate one INCR. Connection handling follows src/limits/redis-counter-store.ts: the
// client connects in the background, a call while Redis is down (or past connectTimeoutMs
// before the first connection) fails at once, a call without an answer within
// commandTimeoutMs fails; all as CacheStoreUnavailable, which the caller takes as a miss.
//
// Keys (the owner is the hash tag, so one call's keys share a Redis Cluster slot unless the
// prefix has a hash tag of its own; every part is escaped, see `part`, so no two namespaces
// share a key, whatever separators their names contain):
//   <prefix>cache:x:{<owner>}:g                          string  the owner's generation (INCR)
//   <prefix>cache:x:{<owner>}:g:<alias>                  string  the owner + alias generation
//   <prefix>cache:x:{<owner>}:e:<alias>:<version>:<key>  string  "<generation>|<expiresAt>|<value>", PX ttl + grace
// A namespace's generation is "<owner's>.<alias's>" (absent = 0). An entry is served only
// under the generation it was written with and before its expiresAt, judged by the caller's
// `now` (the gateway clock, so tests inject one); the PX expiry, EXPIRY_GRACE_MS later, is
// Redis's own clock and only frees the memory. Generation keys have no TTL: they are few (one
// per owner or alias ever invalidated), and were one lost, entries from before the
// invalidation it counted could be served again. So a Redis that evicts under maxmemory must
// use a volatile-* policy (never allkeys-*), which evicts entries and never a generation.

import { createHash } from 'node:crypto';
import type { CacheNamespace, CacheSelector, ExactCacheStore, ExactLookup } from './cache-store.ts';
import { keyPart, RedisCacheConnection } from './redis-cache-connection.ts';

export interface RedisExactStoreOptions {
  /** redis://[user:password@]host:port[/db] */
  readonly url: string;
  /** Prepended to every key, e.g. "tollgate:". */
  readonly keyPrefix: string;
  /** Default 1000 ms. */
  readonly connectTimeoutMs?: number;
  /** Default 1000 ms. */
  readonly commandTimeoutMs?: number;
}

/** How long Redis keeps an entry past its logical expiry (replica clocks differ by a little). */
export const EXPIRY_GRACE_MS = 5_000;

const GENERATION = `local g = (redis.call('GET', KEYS[1]) or '0') .. '.' .. (redis.call('GET', KEYS[2]) or '0')\n`;

// KEYS: owner generation, alias generation, entry. ARGV: now. Reply: {generation[, value]}.
const GET = `${GENERATION}
local e = redis.call('GET', KEYS[3])
if not e then return {g} end
local a = string.find(e, '|', 1, true)
local b = a and string.find(e, '|', a + 1, true)
if b and string.sub(e, 1, a - 1) == g and tonumber(string.sub(e, a + 1, b - 1)) > tonumber(ARGV[1]) then
  return {g, string.sub(e, b + 1)}
end
redis.call('DEL', KEYS[3]) -- stale or expired: it can never be served again
return {g}
`;

// KEYS: as GET. ARGV: generation, px, entry. Reply: 1 written, 0 dropped (the generation moved on).
const SET = `${GENERATION}
if g ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
return 1
`;

interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

const script = (name: string, source: string): Script => ({ name, source, sha1: createHash('sha1').update(source).digest('hex') });
const GET_SCRIPT = script('cache get', GET);
const SET_SCRIPT = script('cache set', SET);

export class RedisExactStore implements ExactCacheStore {
  readonly #redis: RedisCacheConnection;
  readonly #prefix: string;

  constructor(options: RedisExactStoreOptions) {
    this.#prefix = `${options.keyPrefix}cache:x:`;
    this.#redis = new RedisCacheConnection({ ...options, what: 'Redis cache store' });
  }

  async get(ns: CacheNamespace, key: string, now: number): Promise<ExactLookup> {
    checkNumber('now', now);
    const reply = await this.#redis.script(GET_SCRIPT, this.#keys(ns, key), [String(now)]);
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || (reply.length === 2 && typeof reply[1] !== 'string') || reply.length > 2) {
      throw this.#redis.unavailable(new Error('unexpected reply to get'));
    }
    return { value: reply[1] as string | undefined, generation: reply[0] };
  }

  async set(ns: CacheNamespace, key: string, value: string, ttlMs: number, now: number, generation: string): Promise<void> {
    checkNumber('now', now);
    checkNumber('ttlMs', ttlMs);
    if (ttlMs <= 0) return;
    const px = String(Math.ceil(ttlMs) + EXPIRY_GRACE_MS);
    await this.#redis.script(SET_SCRIPT, this.#keys(ns, key), [generation, px, `${generation}|${now + ttlMs}|${value}`]);
  }

  async invalidate(selector: CacheSelector): Promise<void> {
    const owner = this.#ownerKey(selector.owner);
    await this.#redis.command(() => this.#redis.client.sendCommand(['INCR', selector.alias === undefined ? owner : `${owner}:${keyPart(selector.alias)}`]), 'cache invalidate');
  }

  close(): Promise<void> {
    return this.#redis.close();
  }

  /** The owner's generation key; the alias generation key and the entries extend it. */
  #ownerKey(owner: string): string {
    return `${this.#prefix}{${keyPart(owner)}}:g`;
  }

  #keys(ns: CacheNamespace, key: string): string[] {
    const owner = this.#ownerKey(ns.owner);
    const entry = `${this.#prefix}{${keyPart(ns.owner)}}:e:${keyPart(ns.alias)}:${keyPart(ns.version)}:${keyPart(key)}`;
    return [owner, `${owner}:${keyPart(ns.alias)}`, entry];
  }
}

function checkNumber(name: string, n: number): void {
  if (!Number.isFinite(n)) throw new RangeError(`RedisExactStore: ${name} must be a finite number, got ${n}`);
}
