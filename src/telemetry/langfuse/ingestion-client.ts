// POSTs a batch body to Langfuse's ingestion endpoint over one keep-alive undici Pool (never
// fetch): POST <host>/api/public/ingestion with HTTP Basic auth, the project's public key as
// user and its secret key as password ("Authenticate with the API using Basic Auth … username:
// Langfuse Public Key, password: Langfuse Secret Key", Langfuse API reference).
//
// Every request is bounded by timeoutMs from start to the end of the answer's body, whatever the
// server does (refuse, accept and say nothing, drip bytes), and can be aborted by the caller.
// The secret key lives only in the Authorization header built here; nothing here logs.

import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import { readAll } from '../../streams/read-all.ts';

// Only undici's Pool and its request API are loaded, as in providers/shared/http-transport.ts
// (which explains why, and why undici is pinned exactly).
const require = createRequire(import.meta.url);
const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
const request = require('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export const INGESTION_PATH = '/api/public/ingestion';
/** Answers are a few kilobytes ({successes, errors}); more than this is not read. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface IngestionAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body as text ('' when it was too large to read). */
  readonly text: string;
}

export interface IngestionClientOptions {
  /** Langfuse's base URL (https://cloud.langfuse.com, or a self-hosted one, maybe under a path). */
  readonly host: string;
  readonly publicKey: string;
  readonly secretKey: string;
  readonly timeoutMs: number;
}

export class IngestionClient {
  /** Where requests go, for logs: scheme, host and port only. */
  readonly origin: string;
  readonly #path: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;
  readonly #pool: UndiciPool;

  constructor(options: IngestionClientOptions) {
    const url = new URL(options.host);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`langfuse host must be http(s), got ${url.protocol}`);
    this.origin = url.origin;
    this.#path = url.pathname.replace(/\/+$/, '') + INGESTION_PATH;
    this.#authorization = `Basic ${Buffer.from(`${options.publicKey}:${options.secretKey}`).toString('base64')}`;
    this.#timeoutMs = options.timeoutMs;
    // One connection: the exporter never has more than one request in flight.
    this.#pool = new Pool(url.origin, {
      connections: 1,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** Rejects on network errors, on the timeout and when `signal` aborts; any HTTP status resolves. */
  async post(body: string, signal: AbortSignal): Promise<IngestionAnswer> {
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]);
    const res = await request.call(this.#pool, {
      path: this.#path,
      method: 'POST',
      headers: {
        authorization: this.#authorization,
        'content-type': 'application/json',
        'user-agent': 'tollgate-langfuse-exporter',
      },
      body,
      signal: bounded,
    });
    let text = '';
    try {
      text = (await readAll(res.body, MAX_RESPONSE_BYTES)).toString('utf8');
    } catch (err) {
      res.body.destroy();
      // A body cut short by the timeout or an abort is a failed request; an oversized one is
      // still an answer (its status says what happened).
      if (bounded.aborted) throw err;
    }
    return { status: res.statusCode, headers: res.headers, text };
  }

  /** Drops the connection at once (requests in flight fail). */
  async destroy(): Promise<void> {
    await this.#pool.destroy().catch(() => undefined);
  }
}
