// Opens the cost ledger for one gateway process: the sinks in `ledger.sinks`, the background
// writer in front of them (batches, spool, write-ahead log), the reader that answers reports
// (the first SQL sink), and the prompt log in that sink's database.

import { join } from 'node:path';
import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { LedgerPricing } from './build-ledger-event.ts';
import type { LedgerEvent } from './ledger-event.ts';
import type { LedgerReader, LedgerSink } from './ledger-sink.ts';
import { createLedgerWriter, type LedgerWriterStats } from './ledger-writer.ts';
import { isLedgerReader, openLedgerSink } from './open-ledger-sink.ts';
import { priceMissingCounter, type PriceTable } from './pricing/price-table.ts';
import { openPromptLogStore } from './prompt-log/open-prompt-log-store.ts';
import { createPromptLogger, type PromptLogger } from './prompt-log/prompt-logger.ts';

export interface LedgerRuntime {
  /** Where finished calls go; undefined when the ledger is disabled. */
  readonly recorder?: { readonly pricing: LedgerPricing; record(event: LedgerEvent): void };
  /** Answers spend reports and audit queries (the first SQL sink). */
  readonly reader?: LedgerReader;
  /** Prompt and completion logging (opted-in teams and tenants); needs a SQL sink. */
  readonly prompts?: PromptLogger;
  /** The writer's queues, spools and sink states (readiness, metrics); undefined when the ledger is disabled. */
  readonly stats?: () => LedgerWriterStats;
  /** Writes everything queued (or spools it), then closes sinks and the prompt log. */
  close(): Promise<void>;
}

const DISABLED: LedgerRuntime = { close: async () => {} };

export async function openLedgerRuntime(config: GatewayConfig, logger: Logger, metrics: Metrics, prices: PriceTable): Promise<LedgerRuntime> {
  const settings = config.ledger;
  if (!settings.enabled) return DISABLED;
  const schema = settings.schema ? { schema: settings.schema } : {};
  const sinks: LedgerSink[] = await Promise.all(settings.sinks.map((url) => openLedgerSink(url, schema)));
  const writer = createLedgerWriter({
    sinks, spoolDir: spoolDirOf(config), logger, metrics,
    flushIntervalMs: settings.flushIntervalMs, batchSize: settings.batchSize, maxQueued: settings.maxQueued, writeAheadLog: settings.writeAheadLog, writeAheadDelayMs: settings.writeAheadIntervalMs,
  });
  const readerIndex = sinks.findIndex(isLedgerReader);
  const reader = readerIndex === -1 ? undefined : sinks[readerIndex] as LedgerSink & LedgerReader;
  let prompts: PromptLogger | undefined;
  if (reader) {
    const store = await openPromptLogStore({ url: settings.sinks[readerIndex]!, ...schema });
    await store.migrate();
    prompts = createPromptLogger({ store, settings: settings.promptLogging, logger });
  } else if (settings.promptLogging.teams.length > 0 || settings.promptLogging.tenants.length > 0) {
    logger.warn('ledger.prompt_logging lists teams or tenants, but no ledger sink is a database (sqlite: or postgres://): prompts are not logged');
  }
  const missing = priceMissingCounter(metrics);
  return {
    recorder: {
      pricing: prices,
      record(event) {
        if (event.cost_usd.price_missing && event.deployment_id) missing.inc({ deployment: event.deployment_id });
        writer.record(event);
      },
    },
    ...(reader ? { reader } : {}),
    ...(prompts ? { prompts } : {}),
    stats: () => writer.stats(),
    async close() {
      await writer.close();
      await prompts?.close();
    },
  };
}

/**
 * One spool folder per gateway process (the writer locks it): `<spool_dir>/port-<port>`, so
 * replicas started from one directory do not share one, and a gateway restarted on its port
 * replays what its previous run left (an ephemeral port falls back to the process id).
 */
export function spoolDirOf(config: GatewayConfig): string {
  const port = config.server.port;
  return join(config.ledger.spoolDir, port > 0 ? `port-${port}` : `pid-${process.pid}`);
}
