// What the trace observer (otlp-trace-observer.ts) needs around one export: the batch it sends,
// how a failed export is classified for the counts and logs, and a bounded wait for an export
// to settle (close() and flush() keep their deadlines with it).

import type { ExportResult } from '@opentelemetry/core';
import { EXPORTER_CLOSED } from './otlp-http-exporter.ts';
import type { ExportFailure } from './tracing-stats.ts';

/** One export to make: its span count, how to start it, and (once it ended) the spans that could not be built. */
export interface Batch {
  readonly spans: number;
  readonly start: (done: (result: ExportResult) => void) => void;
  invalid(): number;
}

export interface Failure {
  readonly reason: ExportFailure;
  readonly detail?: Record<string, unknown>;
}

/** Why the SDK exporter failed, from its error (an HTTP status, a socket error code, or its own messages). */
export function classify(error: unknown): Failure {
  const e = error as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (message === 'Request timed out') return { reason: 'timeout' };
  if (message.startsWith('Concurrent export limit')) return { reason: 'busy' };
  // Cut off by close() (its deadline passed while the export was open).
  if (e?.code === EXPORTER_CLOSED) return { reason: 'timeout' };
  if (typeof e?.code === 'number') return { reason: 'http_error', detail: { status: e.code } };
  if (typeof e?.code === 'string') return { reason: 'network_error', detail: { code: e.code } };
  if (e?.name === 'OTLPExporterError') return { reason: 'http_error' };
  return { reason: 'other', ...(message ? { detail: { error: message.slice(0, 200) } } : {}) };
}

/** Whether `promise` settles (either way) before `deadline` (performance.now()); the wait holds the process open. */
export function settlesBy(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  const ms = deadline - performance.now();
  if (ms <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = Number.isFinite(ms) ? setTimeout(() => resolve(false), ms) : undefined;
    const settled = () => {
      if (timer) clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
  });
}
