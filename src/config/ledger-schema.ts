// The `ledger:` config section: where the cost ledger's events go, and how they are batched.

import { z } from 'zod';
import { fromEnv, positiveInt } from './identity-schema.ts';
import { promptLogSchema } from './prompt-log-schema.ts';

export const DEFAULT_LEDGER_URL = 'sqlite:.tollgate/ledger.db';
export const DEFAULT_SPOOL_DIR = '.tollgate/ledger-spool';

const sinkUrl = z.string().regex(/^(sqlite:|postgres(ql)?:\/\/|jsonl:)/i, {
  error: 'must be sqlite:PATH, sqlite::memory:, postgres://… (or postgresql://…) or jsonl:DIRECTORY',
});

export const ledgerSchema = z.strictObject({
  /** false: no ledger at all (calls are not recorded anywhere). */
  enabled: fromEnv(z.boolean()).default(true),
  /** Every sink gets every event; the first SQL sink answers reports and audit queries. */
  sinks: z.array(sinkUrl).min(1, { error: 'name at least one sink, or set enabled: false' }).max(8).default([DEFAULT_LEDGER_URL]),
  /** PostgreSQL sinks: the schema that holds the tables. */
  schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'must be a lower-case SQL identifier' }).optional(),
  /** Where batches a sink could not take wait to be replayed (never dropped). */
  spool_dir: z.string().min(1).default(DEFAULT_SPOOL_DIR),
  /** Batches are written at least this often (a kill -9 loses at most this much). */
  flush_interval_ms: fromEnv(z.number().int().min(10).max(10_000)).default(100),
  batch_size: fromEnv(z.number().int().min(1).max(10_000)).default(500),
  /** Events queued per sink before further ones go straight to its spool. */
  max_queued: positiveInt.default(50_000),
  /** Append every event to a local write-ahead log too, so a kill -9 loses (almost) nothing; costs a few µs of CPU per call. */
  write_ahead_log: fromEnv(z.boolean()).default(true),
  /**
   * The write-ahead log gathers events this long per append (0: after every event-loop turn). A
   * kill -9 loses at most about this much traffic; fewer, larger appends cost less CPU under load.
   */
  write_ahead_interval_ms: fromEnv(z.number().int().min(0).max(1000)).default(10),
  /** Prompt and completion text, redacted, for the teams and tenants listed (off by default). */
  prompt_logging: promptLogSchema,
}).prefault({});

export type LedgerInput = z.output<typeof ledgerSchema>;
