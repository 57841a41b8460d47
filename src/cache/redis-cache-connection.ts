// The Redis connection both cache stores use (redis-exact-store.ts, redis-semantic-store.ts): a
// client that reconnects by itself with backoff, calls that fail fast while Redis is down (or
// wait, once, for the first connection until connect_timeout), a timeout on every call, and one
// error for every failure, CacheStoreUnavailable, which the response cache treats as a miss.
// Also the key-part escaping both stores share.

import { once } from 'node:events';
import { createClient } from '@redis/client';
import { describeRedisUrl } from '../redis/redis-url.ts';

/** Any failure to reach or use Redis: the caller treats it as a miss (lookup) or a skipped write (store). */
export class CacheStoreUnavailable extends Error {
  override readonly name = 'CacheStoreUnavailable';
}

export interface RedisCacheConnectionOptions {
  /** redis://[user:password@]host:port[/db] */
  readonly url: string;
  /** Default 1000 ms. */
  readonly connectTimeoutMs?: number;
  /** Default 1000 ms. */
  readonly commandTimeoutMs?: number;
  /** Names the store in errors, e.g. "Redis cache store". */
  readonly what: string;
}

/**
 * A name as one key part: "%", ":", "{" and "}" percent-escaped, so parts split at ":" and a hash
 * tag ends at the owner's "}". Injective: distinct names give distinct parts.
 */
export function keyPart(name: string): string {
  return name.replace(/[%:{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}


/** Closes a client at once, whatever state it is in. */
export function destroyClient(client: { destroy(): void; once(event: 'connect', listener: () => void): unknown }): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
  // @redis/client 6.3.1: destroy() during the first connect misses that socket (see the counter store).
  client.once('connect', () => {
    try {
      client.destroy();
    } catch {
      // already closed
    }
  });
}

export class RedisCacheConnection {
  readonly client;
  readonly commandTimeoutMs: number;
  readonly #label: string;
  readonly #startupDeadline: number;
  #lastError: Error | undefined;
  #closed = false;
  #connecting: Promise<void> | undefined;

  constructor(options: RedisCacheConnectionOptions) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 1000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.#label = `${options.what} at ${describeRedisUrl(options.url)}`;
    this.#startupDeadline = Date.now() + connectTimeoutMs;
    this.client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      // Calls have their own timeout (commandTimeoutMs), as in the counter store.
      commandOptions: { timeout: 0 },
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
    });
    this.client.on('error', (error: Error) => (this.#lastError = error));
    this.client.on('ready', () => (this.#lastError = undefined));
    // connect() does not settle while Redis is down (the client keeps retrying); calls check readiness.
    this.client.connect().catch((error: Error) => (this.#lastError = error));
  }

  /** One call with the command timeout; any failure is CacheStoreUnavailable. */
  async command(call: () => Promise<unknown>, name: string): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.#ready();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no reply to ${name} within ${this.commandTimeoutMs} ms`)), this.commandTimeoutMs);
      });
      return await Promise.race([call(), timeout]);
    } catch (error) {
      throw this.unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A Lua script by its SHA-1 (sent whole when Redis does not have it yet), within command(). */
  script(script: { readonly name: string; readonly source: string; readonly sha1: string }, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.command(async () => {
      try {
        return await this.client.sendCommand(['EVALSHA', script.sha1, String(keys.length), ...keys, ...args]);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return this.client.sendCommand(['EVAL', script.source, String(keys.length), ...keys, ...args]);
      }
    }, script.name);
  }

  /** The failure as CacheStoreUnavailable, naming the store and where it is. */
  unavailable(error: unknown): CacheStoreUnavailable {
    if (error instanceof CacheStoreUnavailable) return error;
    const reason = error instanceof Error ? error.message || error.name : String(error);
    return new CacheStoreUnavailable(`${this.#label} is unavailable: ${reason}`, { cause: error });
  }

  /** Closes the connection (gracefully within the command timeout, else at once). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.client.isReady) {
      const closing = this.client.close();
      const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, this.commandTimeoutMs, 'timeout').unref());
      if ((await Promise.race([closing, timer])) !== 'timeout') return;
    }
    destroyClient(this.client);
  }

  /** Resolves when the client can take a command; otherwise fails fast (or by the startup deadline). */
  #ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new CacheStoreUnavailable(`${this.#label} is closed`));
    if (this.client.isReady) return Promise.resolve();
    const wait = this.#startupDeadline - Date.now();
    if (this.#lastError || wait <= 0) return Promise.reject(this.unavailable(this.#lastError ?? new Error('not connected')));
    // One wait for every call made before the first connection.
    this.#connecting ??= once(this.client, 'ready', { signal: AbortSignal.timeout(wait) }).then(
      () => undefined,
      (error: unknown) => {
        throw this.unavailable(error instanceof Error && error.name === 'AbortError' ? new Error(`not connected within ${wait} ms`) : error);
      },
    ).finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }
}
