// The ledger's SQLite database through node:sqlite (no native addon), driven synchronously. Only
// the sink's worker thread uses it (sqlite-ledger-worker.ts): every call blocks its thread for
// the whole statement (about 15 ms for 500 events, far longer for a spend report over a large
// ledger), which the gateway's event loop must never do. sqlite-ledger-sink.ts is the sink.
//
// Table ledger_events, one row per event (the queryable fields as columns, the whole event as
// event_json), written with INSERT .. ON CONFLICT (event_id) DO NOTHING, one BEGIN IMMEDIATE
// transaction per batch.
//
// Its own file by default (sqlite:data/ledger.db), not the identity database: SQLite has one
// writer per file, and ledger batches would queue admin writes behind them; the ledger grows
// without bound while the identity data stays small (backups, VACUUM and retention differ); and
// dropping the ledger never touches keys. Pointing both at one file still works: the ledger's
// migrations are recorded in their own table, ledger_schema_migrations.
//
// Columns: the fields reports filter and group on, money as integer pico-dollars (exact sums;
// see ledger-rows.ts), ts_ms as epoch milliseconds (an integer compares and indexes cheaper
// than ISO text, and offsets in the event's timestamp cannot upset the order), day as UTC
// YYYY-MM-DD. Indexes: event_id (the key), (ts_ms, event_id) for time ranges and newest-first
// pages, day, request_id, (tenant_id, ts_ms). event_json has no json_valid() check: the sink
// writes it with JSON.stringify, and the check cost a fifth of the insert.
//
// Migration 2 (ledger schema v2) adds guardrail_verdict (NULL) and guardrail_detectors (a JSON
// array as text, '[]' by default, so rows written before read as none) in place: ADD COLUMN with
// a constant default rewrites nothing. Two partial indexes hold only the flagged rows
// (FLAGGED_PREDICATE), for Security's newest-first list, with and without a tenant; a row with no
// verdict or pass costs them nothing on insert.
//
// The schema is created on first use, or by migrate(). Errors: an event that cannot be stored
// throws InvalidLedgerEvent, a bad query TypeError or RangeError, anything from SQLite
// StoreUnavailable (see sinkError).

import { openSqliteDatabase, StatementCache } from '../../stores/sqlite/sqlite-database.ts';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { LedgerEvent } from '../ledger-event.ts';
import type { RequestQuery, SpendQuery, SpendRow } from '../ledger-sink.ts';
import { StoreUnavailable, type MigrationReport } from '../../stores/identity-store.ts';
import { pendingMigrations, requireLimit, type Migration } from '../../stores/identity-rows.ts';
import type { GuardrailEventQuery } from '../ledger-sink.ts';
import { batchRows, COLUMNS, InvalidLedgerEvent, picoParam, type LedgerRow } from './ledger-rows.ts';
import { guardrailEventFrom, guardrailEventsSql, requestsSql, spendRowFrom, spendSql, type SqlDialect } from './ledger-queries.ts';

export const SQLITE_LEDGER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger: ledger_events',
    sql: `
      CREATE TABLE ledger_events (
        event_id TEXT PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        day TEXT NOT NULL,
        request_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        stream INTEGER NOT NULL,
        tenant_id TEXT,
        feature_id TEXT,
        key_id TEXT,
        team_id TEXT,
        user_id_hash TEXT,
        model_alias TEXT,
        model_resolved TEXT,
        provider TEXT,
        deployment_id TEXT,
        status TEXT NOT NULL,
        error_code TEXT,
        http_status INTEGER NOT NULL,
        cache_hit INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_input_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        usage_estimated INTEGER NOT NULL,
        -- USD × 10^12 (pico-dollars), exact; divide by 1e12 for dollars.
        cost_input_pico INTEGER NOT NULL,
        cost_output_pico INTEGER NOT NULL,
        cost_total_pico INTEGER NOT NULL,
        cost_saved_pico INTEGER NOT NULL,
        price_missing INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        schema_version INTEGER NOT NULL,
        event_json TEXT NOT NULL
      ) STRICT;
      CREATE INDEX ledger_events_ts ON ledger_events (ts_ms, event_id);
      CREATE INDEX ledger_events_day ON ledger_events (day);
      CREATE INDEX ledger_events_request ON ledger_events (request_id);
      CREATE INDEX ledger_events_tenant ON ledger_events (tenant_id, ts_ms);
    `,
  },
  {
    version: 2,
    name: 'ledger: guardrail_verdict, guardrail_detectors, flagged-row indexes',
    // The WHERE is ledger-queries.ts FLAGGED_PREDICATE, as written (queries must repeat it exactly).
    sql: `
      ALTER TABLE ledger_events ADD COLUMN guardrail_verdict TEXT;
      ALTER TABLE ledger_events ADD COLUMN guardrail_detectors TEXT NOT NULL DEFAULT '[]';
      CREATE INDEX ledger_events_guardrail ON ledger_events (ts_ms, event_id) WHERE guardrail_verdict IN ('flag', 'redact', 'block');
      CREATE INDEX ledger_events_guardrail_tenant ON ledger_events (tenant_id, ts_ms, event_id) WHERE guardrail_verdict IN ('flag', 'redact', 'block');
    `,
  },
];

const MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS ledger_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ) STRICT`;

export const SQLITE_DIALECT: SqlDialect = {
  tsColumn: 'ts_ms',
  tsValue: (ms) => ms,
  placeholder: () => '?',
  eventColumn: 'event_json',
  detectorContains: (placeholder) => `EXISTS (SELECT 1 FROM json_each(guardrail_detectors) AS d WHERE instr(d.value, ${placeholder}) > 0)`,
};

/** Exact sums in SQLite: micro-dollars and the pico remainder apart, so int64 never overflows. */
const MONEY = [
  'sum(cost_total_pico / 1000000) AS cost_micro',
  'sum(cost_total_pico % 1000000) AS cost_rest',
  'sum(cost_saved_pico / 1000000) AS saved_micro',
  'sum(cost_saved_pico % 1000000) AS saved_rest',
].join(', ');

const INSERT = `INSERT INTO ledger_events (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (event_id) DO NOTHING`;
const MAX_CACHED_STATEMENTS = 200;

export interface SqliteLedgerDbOptions {
  /** A file path, or ":memory:". */
  readonly path: string;
  /** How long a writer waits for another process's lock, in ms. Default 5000. */
  readonly busyTimeoutMs?: number;
}

export class SqliteLedgerDb {
  readonly #db: DatabaseSync;
  readonly #statements: StatementCache;
  #migrated = false;

  constructor(options: SqliteLedgerDbOptions) {
    try {
      // 32 MiB of page cache (the default is 2): the event_id and request_id indexes take
      // random inserts, which otherwise reread pages on every batch once the table is large.
      this.#db = openSqliteDatabase(options.path, options.busyTimeoutMs, ['cache_size = -32768']);
      this.#statements = new StatementCache(this.#db, MAX_CACHED_STATEMENTS);
    } catch (error) {
      throw sinkError(error);
    }
  }

  /** Applies pending ledger migrations (also done on first use). */
  migrate(): MigrationReport {
    return this.#run(() => this.#migrate());
  }

  /** 0 on a database without the ledger schema. */
  schemaVersion(): number {
    return this.#run(() => {
      const table = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_schema_migrations'").get();
      if (!table) return 0;
      return Number(this.#db.prepare('SELECT coalesce(max(version), 0) AS v FROM ledger_schema_migrations').get()?.v ?? 0);
    });
  }

  /**
   * Stores a batch in one transaction; an event that cannot be stored refuses it whole, before
   * anything is written. `lines`: the events' JSON texts (event_json), when made already.
   */
  write(events: readonly LedgerEvent[], lines?: readonly (string | undefined)[]): void {
    this.#run(() => {
      const rows = batchRows(events, lines);
      if (rows.length === 0) return;
      this.#ready();
      const insert = this.#statements.get(INSERT);
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        for (const row of rows) insert.run(...values(row));
        this.#db.exec('COMMIT');
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  spend(query: SpendQuery): SpendRow[] {
    return this.#run(() => {
      const { sql, params, dimensions } = spendSql(query, SQLITE_DIALECT, 'ledger_events', MONEY);
      this.#ready();
      const statement = this.#statements.get(sql);
      statement.setReadBigInts(true);
      return statement
        .all(...(params as SQLInputValue[]))
        .filter((row) => Number(row.requests) > 0)
        .map((row) =>
          spendRowFrom(row, dimensions, (r) => ({
            cost: big(r.cost_micro) * 1_000_000n + big(r.cost_rest),
            saved: big(r.saved_micro) * 1_000_000n + big(r.saved_rest),
          })),
        );
    });
  }

  /** The stored events, newest first, as their JSON text (exactly as written). */
  requestsJson(query: RequestQuery): string[] {
    return this.#run(() => {
      const { sql, params } = requestsSql(query, SQLITE_DIALECT, 'ledger_events', requireLimit(query.limit));
      this.#ready();
      return this.#statements.get(sql)
        .all(...(params as SQLInputValue[]))
        .map((row) => String(row.event_json));
    });
  }

  /** Flagged, redacted and blocked calls, newest first, each as the JSON text of a GuardrailEventRow. */
  guardrailEventsJson(query: GuardrailEventQuery): string[] {
    return this.#run(() => {
      const { sql, params } = guardrailEventsSql(query, SQLITE_DIALECT, 'ledger_events', requireLimit(query.limit));
      this.#ready();
      return this.#statements.get(sql)
        .all(...(params as SQLInputValue[]))
        .map((row) => JSON.stringify(guardrailEventFrom(row)));
    });
  }

  /** The newest event of a request, as its JSON text. */
  requestJson(requestId: string): string | undefined {
    return this.#run(() => {
      if (typeof requestId !== 'string') throw new TypeError('requestId must be a string');
      this.#ready();
      const row = this.#statements.get('SELECT event_json FROM ledger_events WHERE request_id = ? ORDER BY ts_ms DESC, event_id DESC LIMIT 1').get(requestId);
      return row ? String(row.event_json) : undefined;
    });
  }

  close(): void {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  #ready(): void {
    if (!this.#migrated) this.#migrate();
  }

  /** BEGIN IMMEDIATE takes the write lock first: processes migrating one file at once apply each version once. */
  #migrate(): MigrationReport {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db.exec(MIGRATIONS_TABLE);
      const applied = this.#db.prepare('SELECT version FROM ledger_schema_migrations').all();
      const pending = pendingMigrations(SQLITE_LEDGER_MIGRATIONS, new Set(applied.map((r) => Number(r.version))));
      const record = this.#db.prepare('INSERT INTO ledger_schema_migrations (version, name) VALUES (?, ?)');
      for (const migration of pending) {
        this.#db.exec(migration.sql);
        record.run(migration.version, migration.name);
      }
      const version = Number(this.#db.prepare('SELECT coalesce(max(version), 0) AS v FROM ledger_schema_migrations').get()?.v ?? 0);
      this.#db.exec('COMMIT');
      this.#migrated = true;
      return { applied: pending.map((m) => m.version), version };
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }


  #run<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw sinkError(error);
    }
  }
}

function values(row: LedgerRow): SQLInputValue[] {
  return COLUMNS.map((column) => {
    const value = row[column];
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (typeof value === 'bigint') return picoParam(value);
    return value;
  });
}

function big(value: unknown): bigint {
  if (value === null || value === undefined) return 0n;
  return typeof value === 'bigint' ? value : BigInt(value as number);
}

/** Argument errors pass through; anything from SQLite becomes StoreUnavailable. */
export function sinkError(error: unknown): Error {
  if (error instanceof InvalidLedgerEvent || error instanceof StoreUnavailable || error instanceof TypeError || error instanceof RangeError) {
    return error;
  }
  const detail = error as { message?: string; errstr?: string };
  const reason = detail.errstr && !detail.message?.includes(detail.errstr) ? `${detail.message} (${detail.errstr})` : detail.message;
  return new StoreUnavailable(`SQLite ledger sink failed: ${reason ?? String(error)}`, { cause: error });
}
