// What the trace exporter reports about itself, for the gateway's metrics: spans it had to drop
// and exports that failed, as counters (stats()) and as they happen (hooks). Types only.

/**
 * Why spans were dropped:
 * - queue_full: the queue held max_queue_size spans (the collector is slower than the traffic);
 * - export_failed: the batch they were in could not be delivered (see ExportFailure);
 * - shutdown: still queued when close() ran out of time, or observed after close();
 * - invalid: the call could not be turned into spans (a bug; logged).
 */
export type DropReason = 'queue_full' | 'export_failed' | 'shutdown' | 'invalid';

/**
 * Why an export failed:
 * - timeout: no answer within export_timeout_ms (a collector that hangs or is slow);
 * - http_error: the collector answered an error status (after the exporter's own retries of 429/502/503/504);
 * - network_error: no connection (refused, reset, DNS);
 * - busy: earlier exports that timed out are still open (at most a few are kept);
 * - other: anything else.
 */
export type ExportFailure = 'timeout' | 'http_error' | 'network_error' | 'busy' | 'other';

export const DROP_REASONS: readonly DropReason[] = ['queue_full', 'export_failed', 'shutdown', 'invalid'];
export const EXPORT_FAILURES: readonly ExportFailure[] = ['timeout', 'http_error', 'network_error', 'busy', 'other'];

/** Counters since the exporter started. */
export interface TracingStats {
  /** Spans waiting to be exported now. */
  readonly queued: number;
  /** Spans the collector accepted. */
  readonly exported: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Exports (batches) that failed. */
  readonly failedExports: Readonly<Record<ExportFailure, number>>;
  /** Calls whose trace the sampler left out (not an error: sample_ratio, or the client's traceparent). */
  readonly sampledOut: number;
}

/** Called on the event loop as things happen; a hook that throws is ignored. */
export interface TracingHooks {
  onDropped?(spans: number, reason: DropReason): void;
  onExportFailed?(reason: ExportFailure, spans: number): void;
  onExported?(spans: number): void;
}
