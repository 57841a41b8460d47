// The `pg` pool plumbing the PostgreSQL stores share (identity store, ledger sink, prompt log):
// a pool that fails fast (connect and query timeouts), reports a dropped idle connection instead
// of throwing it at the process, and maps every failure to StoreUnavailable with a message that
// names the server but never its credentials; plus the transaction helper that discards a
// checked-out client whose connection failed.

import pg from 'pg';
import type { StoreUnavailable } from '../identity-store.ts';
import { isConnectionFailure, redactCredentials, toStoreError } from './postgres-errors.ts';

/** What a store's caller may set (each store documents its own defaults). */
export interface PgConnectionOptions {
  /** postgres://user:password@host:port/database?sslmode=... */
  connectionString: string;
  /** Most connections open at once. */
  poolSize?: number;
  /** Give up connecting after this long. Default 2000 ms. */
  connectionTimeoutMillis?: number;
  /** Give up on a query after this long, client side and as statement_timeout. */
  queryTimeoutMillis?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** Told when an idle pooled connection fails (the pool replaces it on next use). */
  onPoolError?: (error: StoreUnavailable) => void;
}

/** What the store itself decides: its defaults, and how its connections are set up. */
export interface PgPoolDefaults {
  poolSize: number;
  queryTimeoutMillis: number;
  applicationName: string;
  /** Set as every connection's search_path, when given. */
  searchPath?: string;
  /** Errors a transaction rethrows as they are (not the database's: e.g. an invalid input found mid-transaction). */
  passThrough?: (error: unknown) => boolean;
}

/** Anything that runs a query: the pool wrapper below, or a checked-out client. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

export class PgPool implements Queryable {
  readonly pool: pg.Pool;
  /** host:port/database, for error messages: never the credentials. */
  readonly server: string;
  readonly #passThrough: ((error: unknown) => boolean) | undefined;
  #closed = false;

  constructor(options: PgConnectionOptions, defaults: PgPoolDefaults) {
    this.server = describeServer(options.connectionString);
    this.#passThrough = defaults.passThrough;
    const queryTimeout = options.queryTimeoutMillis ?? defaults.queryTimeoutMillis;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? defaults.poolSize,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 2000,
      query_timeout: queryTimeout,
      statement_timeout: queryTimeout,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: options.applicationName ?? defaults.applicationName,
      ...(defaults.searchPath === undefined ? {} : { options: `-c search_path=${defaults.searchPath}` }),
    });
    this.pool.on('error', (error) => options.onPoolError?.(toStoreError(error, this.server) as StoreUnavailable));
  }

  /** A failure from `pg` as the stores report it (StoreConflict and StoreUnavailable pass through). */
  toError(error: unknown): Error {
    return toStoreError(error, this.server);
  }

  async query(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(text, values);
    } catch (error) {
      throw this.toError(error);
    }
  }

  /** A transaction on a checked-out client, which is discarded afterwards if its connection failed. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.toError(error);
    }
    // While checked out, the pool does not listen: a dropped connection must not become an
    // uncaught 'error' event. The failure reaches the pending query, or the next one.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A dead or timed-out connection is discarded; the server rolls back on its own.
      if (isConnectionFailure(error)) broken ??= error as Error;
      else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken ??= rollbackError));
      if (this.#passThrough?.(error)) throw error;
      throw this.toError(error);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

/** host[:port][/database] of a PostgreSQL URL, for messages; a malformed URL is a TypeError without its password. */
export function describeServer(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new TypeError(`not a valid PostgreSQL URL: ${redactCredentials(connectionString)}`);
  }
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  return `${host}${url.port ? `:${url.port}` : ''}${url.pathname.length > 1 ? url.pathname : ''}`;
}
