// The trace exporter the `tracing:` config section asks for, or none. The OpenTelemetry exporter
// packages take about a tenth of a second to load, so they are loaded only when tracing is on.

import type { TracingInput } from '../../config/tracing-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import type { OtlpTraceObserver, OtlpTraceObserverOptions } from './otlp-trace-observer.ts';
import type { TracingHooks } from './tracing-stats.ts';

/** What the config does not say. */
export interface TracingDeps {
  readonly logger?: Logger;
  /** Dropped spans and failed exports, for the metrics. */
  readonly hooks?: TracingHooks;
  /** service.version (e.g. the package version). */
  readonly serviceVersion?: string;
  /** Longest prompt and completion per span (e.g. ledger.prompt_logging.max_chars); default 16 000. */
  readonly maxTextChars?: number;
  readonly closeTimeoutMs?: number;
}

/** The observer's options for the parsed section; undefined when tracing is off. */
export function tracingObserverOptions(config: TracingInput, deps: TracingDeps = {}): OtlpTraceObserverOptions | undefined {
  if (!config.enabled || config.endpoint === undefined) return undefined;
  return {
    endpoint: config.endpoint,
    headers: config.headers,
    serviceName: config.service_name,
    resourceAttributes: config.resource_attributes,
    sampleRatio: config.sample_ratio,
    maxQueueSize: config.max_queue_size,
    maxExportBatchSize: config.max_export_batch_size,
    scheduledDelayMs: config.scheduled_delay_ms,
    exportTimeoutMs: config.export_timeout_ms,
    ...(deps.serviceVersion !== undefined ? { serviceVersion: deps.serviceVersion } : {}),
    ...(deps.maxTextChars !== undefined ? { maxTextChars: deps.maxTextChars } : {}),
    ...(deps.closeTimeoutMs !== undefined ? { closeTimeoutMs: deps.closeTimeoutMs } : {}),
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  };
}

export async function openTracingObserver(config: TracingInput, deps: TracingDeps = {}): Promise<OtlpTraceObserver | undefined> {
  const options = tracingObserverOptions(config, deps);
  if (!options) return undefined;
  const { OtlpTraceObserver } = await import('./otlp-trace-observer.ts');
  return new OtlpTraceObserver(options);
}
