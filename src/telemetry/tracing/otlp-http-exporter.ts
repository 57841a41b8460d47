// The trace exporter's transport: one POST of OTLP/JSON (otlp-json.ts) per batch to the
// collector's /v1/traces, through an undici pool, bounded by exportTimeoutMs. No retries inside
// an export: the observer (otlp-trace-observer.ts) counts a failed batch and sends the next one,
// so a collector that is down costs one bounded request per batch and nothing piles up.
// shutdown() destroys the pool: an export still open fails at once, and no socket or timer of the
// exporter outlives it.

import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Pool } from 'undici';
import { encodeTraceRequest } from './otlp-json.ts';

export interface OtlpHttpExporterOptions {
  /** The collector's traces URL, e.g. http://collector:4318/v1/traces. */
  readonly url: string;
  /** Sent with every export (e.g. authorization). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Connections to the collector at most (an export abandoned by the observer may still hold one). */
  readonly connections: number;
}

/** The code of an export cut off by shutdown() (close()'s deadline passed while it was open). */
export const EXPORTER_CLOSED = 'ERR_TOLLGATE_TRACE_EXPORTER_CLOSED';

/** What a failed export reports: the HTTP status (number code) or the socket error (string code). */
export class OtlpExportError extends Error {
  readonly code: number | string;

  constructor(message: string, code: number | string) {
    super(message);
    this.name = 'OtlpExportError';
    this.code = code;
  }
}

export class OtlpHttpExporter implements SpanExporter {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  #shutdown = false;

  constructor(options: OtlpHttpExporterOptions) {
    const url = new URL(options.url);
    this.#path = `${url.pathname}${url.search}`;
    this.#headers = { ...options.headers, 'content-type': 'application/json' };
    this.#timeoutMs = options.timeoutMs;
    this.#pool = new Pool(url.origin, {
      connections: options.connections,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: Math.min(options.timeoutMs, 10_000),
      keepAliveTimeout: 30_000,
    });
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.#shutdown) {
      done({ code: ExportResultCode.FAILED, error: new OtlpExportError('the trace exporter is shut down', EXPORTER_CLOSED) });
      return;
    }
    let body: string;
    try {
      body = encodeTraceRequest(spans);
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    this.#pool.request({ method: 'POST', path: this.#path, headers: this.#headers, body, signal: AbortSignal.timeout(this.#timeoutMs) }).then(
      async (res) => {
        // The answer's body says nothing the exporter needs (partial success is logged by collectors).
        await res.body.dump().catch(() => undefined);
        if (res.statusCode >= 200 && res.statusCode < 300) done({ code: ExportResultCode.SUCCESS });
        else done({ code: ExportResultCode.FAILED, error: new OtlpExportError(`the collector answered ${res.statusCode}`, res.statusCode) });
      },
      (error: NodeJS.ErrnoException) => {
        if (this.#shutdown) {
          done({ code: ExportResultCode.FAILED, error: new OtlpExportError('the trace exporter is shut down', EXPORTER_CLOSED) });
          return;
        }
        const timedOut = error?.name === 'TimeoutError' || error?.code === 'UND_ERR_HEADERS_TIMEOUT' || error?.code === 'UND_ERR_BODY_TIMEOUT' || error?.code === 'UND_ERR_CONNECT_TIMEOUT';
        done({ code: ExportResultCode.FAILED, error: timedOut ? new Error('Request timed out') : new OtlpExportError(error?.message ?? String(error), error?.code ?? 'network_error') });
      },
    );
  }

  async shutdown(): Promise<void> {
    this.#shutdown = true;
    await this.#pool.destroy().catch(() => undefined);
  }

  async forceFlush(): Promise<void> {}
}
