// Opens the ledger sink a URL names: PostgreSQL for postgres:// and postgresql://, SQLite for
// sqlite:PATH, sqlite://PATH (relative to the working directory; sqlite:///PATH is absolute) and
// sqlite::memory:, JSON Lines files for jsonl:DIR or file:DIR (same // rules). Nothing connects
// here: the SQL sinks create their schema on first use (or on migrate()), so a database that
// is down at start-up only makes the first writes fail (and the writer spool them).

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LedgerReader, LedgerSink } from './ledger-sink.ts';
import type { MigrationReport, StoreUnavailable } from '../stores/identity-store.ts';
import { sqlitePath } from '../stores/open-identity-store.ts';
import { redactCredentials } from '../stores/postgres/postgres-errors.ts';
import { JsonlFileSink } from './sinks/jsonl-file-sink.ts';
import { SqliteLedgerSink } from './sinks/sqlite-ledger-sink.ts';

/** The embedded default: its own file beside the identity database (see sqlite-ledger-sink.ts). */
export { DEFAULT_LEDGER_URL } from '../config/ledger-schema.ts';

export interface OpenLedgerSinkOptions {
  /** PostgreSQL only: the schema that holds the ledger (default "public"). */
  schema?: string;
  /** PostgreSQL only: most connections open at once (default 4). */
  poolSize?: number;
  /** PostgreSQL only: rows per INSERT statement (default 500). */
  chunkSize?: number;
  /** PostgreSQL only: told when an idle pooled connection fails. */
  onPoolError?: (error: StoreUnavailable) => void;
  /** JSONL only: fdatasync each batch (default true). */
  sync?: boolean;
}

const ACCEPTED_FORMS =
  'postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, postgresql://..., sqlite:PATH, sqlite://PATH (sqlite:///PATH is absolute), sqlite::memory:, jsonl:DIR or file:DIR';

export async function openLedgerSink(url: string, options: OpenLedgerSinkOptions = {}): Promise<LedgerSink> {
  const trimmed = url.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    // pg is loaded only when PostgreSQL is configured: the embedded default never pays for it.
    const { PostgresLedgerSink } = await import('./sinks/postgres-ledger-sink.ts');
    return new PostgresLedgerSink({
      connectionString: trimmed,
      schema: options.schema,
      poolSize: options.poolSize,
      chunkSize: options.chunkSize,
      onPoolError: options.onPoolError,
    });
  }
  const database = sqlitePath(trimmed);
  if (database !== undefined) {
    if (database === ':memory:') return new SqliteLedgerSink({ path: database });
    const file = resolve(database);
    mkdirSync(dirname(file), { recursive: true });
    return new SqliteLedgerSink({ path: file });
  }
  const directory = jsonlDirectory(trimmed);
  if (directory !== undefined) return new JsonlFileSink({ directory: resolve(directory), sync: options.sync });
  throw new Error(`unsupported ledger sink URL ${JSON.stringify(redactCredentials(trimmed))}; accepted forms: ${ACCEPTED_FORMS}`);
}

/** The directory of a jsonl: or file: URL; undefined for anything else or an empty path. */
export function jsonlDirectory(url: string): string | undefined {
  const match = /^(?:jsonl|file):(\/\/)?(.*)$/i.exec(url);
  if (!match) return undefined;
  const path = match[2];
  return path === '' ? undefined : path;
}

/** The sink answers spend and request queries (the SQL sinks do, JSONL does not). */
export function isLedgerReader(sink: LedgerSink): sink is LedgerSink & LedgerReader {
  const candidate = sink as Partial<LedgerReader>;
  return typeof candidate.spend === 'function' && typeof candidate.requests === 'function' && typeof candidate.request === 'function'
    && typeof candidate.guardrailEvents === 'function';
}

/** Creates or upgrades the sink's schema now (`tollgate migrate`); undefined for sinks without one. */
export async function migrateLedgerSink(sink: LedgerSink): Promise<MigrationReport | undefined> {
  const migratable = sink as LedgerSink & { migrate?: () => Promise<MigrationReport> };
  return typeof migratable.migrate === 'function' ? migratable.migrate() : undefined;
}
