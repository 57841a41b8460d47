// The HTTP side shared by the scanner adapters: one keep-alive undici Pool per scanner (its
// service's origin; never fetch), a JSON POST bounded by the scanner's timeout from connecting to
// the last byte of the answer (whatever the service does: refuse, accept and say nothing, drip
// bytes), a bounded read of the answer, and every failure turned into ScannerUnavailable with a
// fixed description: no error text from the network stack, the URL or the key reaches a message.

import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import { BodyTooLarge, readAll } from '../../streams/read-all.ts';
import { ScannerUnavailable, type ScannerOptions } from './scanner.ts';

// Only undici's Pool and its request API are loaded, as in providers/shared/http-transport.ts
// (which explains why, and why undici is pinned exactly).
const require = createRequire(import.meta.url);
const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
const request = require('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

/** Verdicts are small; an answer larger than this is a bad_response and is not read further. */
export const MAX_ANSWER_BYTES = 1024 * 1024;
/** Concurrent scans to one service at most; more wait (their wait counts against the timeout). */
const CONNECTIONS = 64;
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

export class ScannerHttp {
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #pool: UndiciPool;
  /** The URL's path without a trailing slash (adapters append their API's paths to it). */
  readonly basePath: string;
  /** The URL's path and query exactly as configured (the webhook posts to it). */
  readonly urlPath: string;

  constructor(options: ScannerOptions) {
    const url = new URL(options.url);
    this.#name = options.name;
    this.#timeoutMs = options.timeoutMs;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.urlPath = url.pathname + url.search;
    this.#headers = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'tollgate-guardrails' };
    if (options.apiKey) this.#headers.authorization = `Bearer ${options.apiKey}`;
    this.#pool = new Pool(url.origin, {
      connections: CONNECTIONS,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** POSTs `body` as JSON to `path`; resolves with the parsed 2xx answer, rejects with ScannerUnavailable. */
  async postJson(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    if (signal?.aborted) throw this.unavailable('aborted', 'the scan was cancelled before it started');
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Dispatcher.ResponseData;
    try {
      res = await request.call(this.#pool, { path, method: 'POST', headers: this.#headers, body: JSON.stringify(body), signal: bounded });
    } catch (error) {
      throw this.#failure(error, timeout, signal);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      // Read (a bounded amount of) the error body so the connection can be reused.
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      throw this.unavailable(`http_${res.statusCode}`, `the service answered HTTP ${res.statusCode}`);
    }
    let raw: Buffer;
    try {
      raw = await readAll(res.body, MAX_ANSWER_BYTES);
    } catch (error) {
      res.body.destroy();
      if (error instanceof BodyTooLarge) throw this.unavailable('bad_response', `the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
      throw this.#failure(error, timeout, signal);
    }
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      throw this.unavailable('bad_response', 'the answer is not JSON');
    }
  }

  unavailable(reason: ScannerUnavailable['reason'], detail: string): ScannerUnavailable {
    return new ScannerUnavailable(this.#name, reason, detail);
  }

  /**
   * Anything a scan threw, as ScannerUnavailable: itself if it already is one, else bad_response
   * (an answer the adapter could not map). The adapters' last line of defence.
   */
  asUnavailable(error: unknown): ScannerUnavailable {
    return error instanceof ScannerUnavailable ? error : this.unavailable('bad_response', 'the answer does not have the shape of the service\'s API');
  }

  #failure(error: unknown, timeout: AbortSignal, signal: AbortSignal | undefined): ScannerUnavailable {
    if (error instanceof ScannerUnavailable) return error;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (timeout.aborted || (typeof code === 'string' && TIMEOUT_CODES.has(code))) {
      return this.unavailable('timeout', `no answer within ${this.#timeoutMs} ms`);
    }
    if (signal?.aborted) return this.unavailable('aborted', 'the scan was cancelled');
    // Only a plain error code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET…), never the error's text.
    const shown = typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : '';
    return this.unavailable('unreachable', `could not reach the service${shown}`);
  }

  /** Drops the connections at once (scans in flight fail as unreachable). */
  async close(): Promise<void> {
    await this.#pool.destroy().catch(() => undefined);
  }
}
