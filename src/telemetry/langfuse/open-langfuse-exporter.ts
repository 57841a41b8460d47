// The Langfuse exporter for the parsed `langfuse:` config section, or none when it is off.

import type { LangfuseConfig } from '../../config/langfuse-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import { LangfuseExporter, type LangfuseExporterOptions } from './langfuse-exporter.ts';

export interface LangfuseExporterDeps {
  readonly logger: Logger;
  /** Every count of sent, dropped and failed events (e.g. a Prometheus counter's inc). */
  readonly onCount?: LangfuseExporterOptions['onCount'];
  /** How long close() may take; default 5000 ms. */
  readonly closeTimeoutMs?: number;
}

export function openLangfuseExporter(config: LangfuseConfig, deps: LangfuseExporterDeps): LangfuseExporter | undefined {
  if (!config.enabled) return undefined;
  // The schema requires both keys when enabled; this only guards a config built by hand.
  if (!config.public_key || !config.secret_key) throw new Error('langfuse.public_key and langfuse.secret_key are required when langfuse.enabled is true');
  const exporter = new LangfuseExporter({
    host: config.host,
    publicKey: config.public_key,
    secretKey: config.secret_key,
    environment: config.environment,
    release: config.release,
    flushIntervalMs: config.flush_interval_ms,
    batchSize: config.batch_size,
    maxQueue: config.max_queue,
    timeoutMs: config.timeout_ms,
    maxRetries: config.max_retries,
    maxTextChars: config.max_text_chars,
    closeTimeoutMs: deps.closeTimeoutMs,
    logger: deps.logger,
    onCount: deps.onCount,
  });
  deps.logger.info('langfuse export on', { host: new URL(config.host).origin, public_key: config.public_key, environment: config.environment ?? null });
  return exporter;
}
