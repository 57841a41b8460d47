// The ledger on PostgreSQL through a `pg` pool: table ledger_events, range-partitioned by day on
// ts (one partition per UTC day, ledger_events_pYYYYMMDD, created on demand before a batch needs
// it), so old days are dropped whole (DROP TABLE) and time-range reports scan only their days.
//
// Uniqueness. A primary key on a partitioned table must include the partition key, so it is
// (ts, event_id). Writing an event again (a retried or replayed batch) writes the same event:
// the same event_id with the same timestamp, the same row, caught by ON CONFLICT DO NOTHING.
// (Two different events sharing one event_id but not their timestamp would both be kept; the
// writer mints event ids as UUIDs, so that is not a case the ledger has to settle.) The key
// leads with ts, so inserts land at the right edge of the index and `ORDER BY ts DESC,
// event_id DESC` pages walk it backwards.
//
// Writes: one transaction per batch, in chunks (default 500 rows) of one named, prepared
// INSERT .. SELECT FROM ROWS FROM (unnest($1::text[]), ..) ON CONFLICT DO NOTHING: one array
// parameter per column, whatever the chunk size; the next chunk is built while the previous
// one runs. Measured with bench/ledger-bench.ts. Money is integer pico-dollars (see
// ledger-rows.ts). Indexes are few on purpose (each costs ~3 µs of server CPU per row): the
// key, request_id (request()), and (tenant_id, ts) (a customer's calls, newest first).
// event_json is text: exactly what was written (jsonb would reorder keys), and not parsed on the
// way in (the sink writes it with JSON.stringify; a json column would lex every event once
// more, about a fifth of the server's time per row). Ad-hoc SQL casts: event_json::jsonb->'tags'.
//
// Migration 2 (ledger schema v2) adds guardrail_verdict (NULL) and guardrail_detectors (a JSON
// array as text, like SQLite, so both share one row and one query; '[]' by default) with ADD
// COLUMN IF NOT EXISTS: a constant default is a catalog change (PostgreSQL 11+), no rewrite, and
// every partition gets the columns. Two partial indexes keep only flagged rows (FLAGGED_PREDICATE
// in ledger-queries.ts), (ts, event_id) and (tenant_id, ts, event_id), for Security's newest-first
// list; pass and no-verdict rows skip them. Building them reads every existing partition once,
// inside the migration (writes wait, and spool if that takes over 10 s); operators of a very
// large ledger can build them beforehand under the same names (CREATE INDEX .. ON ONLY, then
// each partition CONCURRENTLY and ATTACH), and the migration keeps them (IF NOT EXISTS).

import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { LedgerEvent } from '../ledger-event.ts';
import type { GuardrailEventQuery, GuardrailEventRow, LedgerReader, LedgerSink, RequestQuery, SpendQuery, SpendRow } from '../ledger-sink.ts';
import type { MigrationReport } from '../../stores/identity-store.ts';
import { requireLimit, type Migration } from '../../stores/identity-rows.ts';
import { describeServer, PgPool, type PgConnectionOptions } from '../../stores/postgres/pg-pool.ts';
import { quoteSchema, readMigrationVersion, runMigrations } from '../../stores/postgres/pg-schema.ts';
import { batchRows, COLUMNS, eventFromColumn, eventInstantMs, InvalidLedgerEvent, utcDay, type LedgerRow } from './ledger-rows.ts';
import { guardrailEventFrom, guardrailEventsSql, requestsSql, spendRowFrom, spendSql, type SqlDialect } from './ledger-queries.ts';

export const POSTGRES_LEDGER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger: ledger_events, partitioned by day on ts',
    sql: `
      CREATE TABLE ledger_events (
        event_id text COLLATE "C" NOT NULL,
        ts timestamptz NOT NULL,
        day date NOT NULL,
        request_id text COLLATE "C" NOT NULL,
        endpoint text NOT NULL,
        stream boolean NOT NULL,
        tenant_id text COLLATE "C",
        feature_id text COLLATE "C",
        key_id text COLLATE "C",
        team_id text COLLATE "C",
        user_id_hash text COLLATE "C",
        model_alias text COLLATE "C",
        model_resolved text COLLATE "C",
        provider text COLLATE "C",
        deployment_id text COLLATE "C",
        status text COLLATE "C" NOT NULL,
        error_code text,
        http_status integer NOT NULL,
        cache_hit boolean NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cached_input_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        reasoning_tokens bigint NOT NULL,
        total_tokens bigint NOT NULL,
        usage_estimated boolean NOT NULL,
        cost_input_pico bigint NOT NULL,
        cost_output_pico bigint NOT NULL,
        cost_total_pico bigint NOT NULL,
        cost_saved_pico bigint NOT NULL,
        price_missing boolean NOT NULL,
        latency_ms bigint NOT NULL,
        schema_version integer NOT NULL,
        event_json text NOT NULL,
        PRIMARY KEY (ts, event_id)
      ) PARTITION BY RANGE (ts);
      COMMENT ON COLUMN ledger_events.cost_total_pico IS 'USD x 10^12 (pico-dollars), exact; divide by 1e12 for dollars';
      CREATE INDEX ledger_events_request ON ledger_events (request_id);
      CREATE INDEX ledger_events_tenant ON ledger_events (tenant_id, ts);
    `,
  },
  {
    version: 2,
    name: 'ledger: guardrail_verdict, guardrail_detectors, flagged-row indexes',
    // The WHERE is ledger-rows.ts FLAGGED_PREDICATE.
    sql: `
      ALTER TABLE ledger_events
        ADD COLUMN IF NOT EXISTS guardrail_verdict text COLLATE "C",
        ADD COLUMN IF NOT EXISTS guardrail_detectors text NOT NULL DEFAULT '[]';
      CREATE INDEX IF NOT EXISTS ledger_events_guardrail ON ledger_events (ts, event_id) WHERE guardrail_verdict IN ('flag', 'redact', 'block');
      CREATE INDEX IF NOT EXISTS ledger_events_guardrail_tenant ON ledger_events (tenant_id, ts, event_id) WHERE guardrail_verdict IN ('flag', 'redact', 'block');
    `,
  },
];

/** Lock namespace for pg_advisory_xact_lock(int, int): "Tled"; the second key names the schema and purpose. */
const LEDGER_LOCK = 0x546c6564;
const MIGRATIONS_TABLE = 'ledger_schema_migrations';
const PARTITION_LOCK_TIMEOUT_MS = 10_000;
/** The array type of each column, for unnest. */
const COLUMN_TYPES: Readonly<Record<keyof LedgerRow, string>> = {
  event_id: 'text', ts_ms: 'timestamptz', day: 'date', request_id: 'text', endpoint: 'text', stream: 'boolean',
  tenant_id: 'text', feature_id: 'text', key_id: 'text', team_id: 'text', user_id_hash: 'text',
  model_alias: 'text', model_resolved: 'text', provider: 'text', deployment_id: 'text',
  status: 'text', error_code: 'text', http_status: 'integer', cache_hit: 'boolean',
  input_tokens: 'bigint', output_tokens: 'bigint', cached_input_tokens: 'bigint', cache_write_tokens: 'bigint',
  reasoning_tokens: 'bigint', total_tokens: 'bigint', usage_estimated: 'boolean',
  cost_input_pico: 'bigint', cost_output_pico: 'bigint', cost_total_pico: 'bigint', cost_saved_pico: 'bigint', price_missing: 'boolean',
  latency_ms: 'bigint', guardrail_verdict: 'text', guardrail_detectors: 'text', schema_version: 'integer', event_json: 'text',
};
const COLUMN_NAMES = COLUMNS.map((c) => (c === 'ts_ms' ? 'ts' : c));
const MONEY = 'sum(cost_total_pico)::text AS cost_pico, sum(cost_saved_pico)::text AS saved_pico';
const DAY_TEXT = "to_char(day, 'YYYY-MM-DD')";
export const POSTGRES_DIALECT: SqlDialect = {
  tsColumn: 'ts',
  tsValue: (ms) => new Date(ms).toISOString(),
  placeholder: (position) => `$${position}`,
  eventColumn: 'event_json',
  detectorContains: (placeholder) => `EXISTS (SELECT 1 FROM json_array_elements_text(guardrail_detectors::json) AS d(name) WHERE strpos(d.name, ${placeholder}) > 0)`,
};

/** The pool options (pg-pool.ts); defaults here: poolSize 4, queryTimeoutMillis 30000, applicationName "tollgate-ledger". */
export interface PostgresLedgerSinkOptions extends PgConnectionOptions {
  /** Where the tables live; created on first use when missing. Default "public". */
  schema?: string;
  /** Rows per INSERT statement. Default 500. */
  chunkSize?: number;
}

export class PostgresLedgerSink implements LedgerSink, LedgerReader {
  readonly name = 'postgres';
  readonly #db: PgPool;
  readonly #schema: string;
  readonly #table: string;
  /** The chunk INSERT, as a named statement: prepared once per connection, planned once (planning it costs ms on a partitioned table). */
  readonly #insert: { readonly name: string; readonly text: string };
  readonly #chunkSize: number;
  /** Days whose partition is known to exist. */
  readonly #partitions = new Set<string>();
  #migrated: Promise<MigrationReport> | undefined;

  constructor(options: PostgresLedgerSinkOptions) {
    this.#schema = options.schema ?? 'public';
    this.#table = `${quoteSchema(this.#schema)}.ledger_events`;
    describeServer(options.connectionString); // a bad URL is refused before a bad chunk size
    this.#chunkSize = options.chunkSize ?? 500;
    if (!Number.isInteger(this.#chunkSize) || this.#chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${options.chunkSize}`);
    const text = insertSql(this.#table);
    this.#insert = { name: `tollgate_ledger_insert_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
    this.#db = new PgPool(options, {
      poolSize: 4,
      queryTimeoutMillis: 30_000,
      applicationName: 'tollgate-ledger',
      // A bug upstream, not the database's failure: retrying will not help.
      passThrough: (error) => error instanceof InvalidLedgerEvent,
    });
  }

  /** Applies pending ledger migrations (also done on first use); replicas racing apply each version once. */
  async migrate(): Promise<MigrationReport> {
    const report = await this.#db.transaction((client) => migrate(client, this.#schema));
    this.#migrated ??= Promise.resolve(report);
    return report;
  }

  /** 0 when the schema or its ledger_schema_migrations table does not exist yet. */
  async schemaVersion(): Promise<number> {
    return readMigrationVersion(this.#db, this.#schema, MIGRATIONS_TABLE);
  }

  async write(events: readonly LedgerEvent[], lines?: readonly string[]): Promise<void> {
    if (!Array.isArray(events)) throw new TypeError('write() takes an array of ledger events');
    if (events.length === 0) return;
    await this.#ready();
    try {
      await this.#writeBatch(events, lines);
    } catch (error) {
      // A partition dropped under us (retention): forget what we knew, create, retry once.
      if ((error as { cause?: { code?: string } }).cause?.code !== '23514') throw error;
      this.#partitions.clear();
      await this.#writeBatch(events, lines);
    }
  }

  async spend(query: SpendQuery): Promise<SpendRow[]> {
    const { sql, params, dimensions } = spendSql(query, POSTGRES_DIALECT, this.#table, MONEY, DAY_TEXT);
    await this.#ready();
    const { rows } = await this.#db.query(sql, params);
    return rows
      .filter((row) => Number(row.requests) > 0)
      .map((row) => spendRowFrom(row, dimensions, (r) => ({ cost: BigInt(String(r.cost_pico ?? 0)), saved: BigInt(String(r.saved_pico ?? 0)) })));
  }

  async requests(query: RequestQuery): Promise<LedgerEvent[]> {
    const { sql, params } = requestsSql(query, POSTGRES_DIALECT, this.#table, requireLimit(query.limit));
    await this.#ready();
    const { rows } = await this.#db.query(sql, params);
    return rows.map((row) => eventFromColumn(row.event_json));
  }

  async guardrailEvents(query: GuardrailEventQuery): Promise<GuardrailEventRow[]> {
    const { sql, params } = guardrailEventsSql(query, POSTGRES_DIALECT, this.#table, requireLimit(query.limit));
    await this.#ready();
    const { rows } = await this.#db.query(sql, params);
    return rows.map(guardrailEventFrom);
  }

  async request(requestId: string): Promise<LedgerEvent | undefined> {
    if (typeof requestId !== 'string') throw new TypeError('requestId must be a string');
    await this.#ready();
    // Materialised first: with ORDER BY .. LIMIT 1 alone the planner may walk the (ts, event_id)
    // key of every partition backwards looking for the id, instead of probing request_id.
    const { rows } = await this.#db.query(
      `WITH found AS MATERIALIZED (SELECT ts, event_id, event_json FROM ${this.#table} WHERE request_id = $1)
       SELECT event_json FROM found ORDER BY ts DESC, event_id DESC LIMIT 1`,
      [requestId],
    );
    return rows.length ? eventFromColumn(rows[0].event_json) : undefined;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  /** Migrates once per sink; a failed attempt (database down) is retried on the next call. */
  #ready(): Promise<MigrationReport> {
    if (!this.#migrated) {
      const attempt = this.#db.transaction((client) => migrate(client, this.#schema));
      this.#migrated = attempt;
      attempt.catch(() => {
        if (this.#migrated === attempt) this.#migrated = undefined;
      });
    }
    return this.#migrated;
  }

  /**
   * One transaction. Each chunk's rows are built (and checked) while the previous chunk runs on
   * the server, one statement in flight at a time. An invalid event or a failed chunk rolls the
   * whole batch back, once the statement in flight has settled.
   */
  async #writeBatch(events: readonly LedgerEvent[], lines: readonly string[] | undefined): Promise<void> {
    await this.#ensurePartitions(events);
    await this.#db.transaction(async (client) => {
      const seen = new Set<string>();
      let inFlight: Promise<unknown> | undefined;
      try {
        for (let start = 0; start < events.length; start += this.#chunkSize) {
          const end = start + this.#chunkSize;
          const rows = batchRows(events.slice(start, end), lines?.slice(start, end), seen);
          const values = rows.length ? chunkParams(rows) : undefined;
          if (inFlight) await inFlight;
          inFlight = values ? client.query({ ...this.#insert, values }) : undefined;
        }
        if (inFlight) await inFlight;
      } catch (error) {
        await inFlight?.catch(() => undefined);
        throw error;
      }
    });
  }

  /** The partitions of the batch's days (and of the day after the last), when not known to exist. */
  async #ensurePartitions(events: readonly LedgerEvent[]): Promise<void> {
    const days = new Set<string>();
    for (const event of events) {
      // An invalid timestamp is reported by the row check, with the event's id.
      const ms = eventInstantMs(event?.timestamp);
      if (ms !== undefined) days.add(utcDay(ms));
    }
    if (days.size === 0) return;
    const sorted = [...days].sort();
    const missing = sorted.filter((day) => !this.#partitions.has(day));
    if (missing.length === 0) return;
    // Tomorrow's partition too, made ahead so the first batch after midnight need not wait.
    const ahead = nextDay(sorted[sorted.length - 1]);
    if (!this.#partitions.has(ahead)) missing.push(ahead);
    await this.#db.transaction((client) => createPartitions(client, this.#schema, missing));
    for (const day of missing) this.#partitions.add(day);
  }
}

/**
 * The chunk INSERT: one array parameter per column, zipped back into rows by ROWS FROM, except
 * the events themselves, sent as one text of event_json lines split on the server by
 * string_to_array (JSON.stringify never writes a raw newline). An array of JSON texts would
 * make the client escape every quote in them and the server unescape it again.
 */
function insertSql(table: string): string {
  const sources = COLUMNS.map((column, i) =>
    column === 'event_json' ? `unnest(string_to_array($${i + 1}::text, E'\\n'))` : `unnest($${i + 1}::${COLUMN_TYPES[column]}[])`,
  );
  return `INSERT INTO ${table} (${COLUMN_NAMES.join(', ')}) SELECT * FROM ROWS FROM (${sources.join(', ')}) ON CONFLICT (ts, event_id) DO NOTHING`;
}

/**
 * The parameters of one chunk, in COLUMNS order: array literals written here (pg would escape
 * every element of a JS array one by one), and the events as lines.
 */
function chunkParams(rows: readonly LedgerRow[]): string[] {
  return COLUMNS.map((column) => {
    if (column === 'event_json') return rows.map((row) => row.event_json).join('\n');
    const kind = COLUMN_TYPES[column];
    let literal = '{';
    for (let i = 0; i < rows.length; i++) {
      if (i > 0) literal += ',';
      const value = rows[i][column];
      if (value === null) literal += 'NULL';
      else if (column === 'ts_ms') literal += new Date(value as number).toISOString();
      else if (kind === 'text') literal += quoteElement(value as string);
      else if (kind === 'boolean') literal += value ? 't' : 'f';
      else literal += String(value); // integers, bigints, and days (YYYY-MM-DD needs no quotes)
    }
    return `${literal}}`;
  });
}

const ARRAY_SPECIAL = /["\\]/;

/** A text element of an array literal: always quoted (so "", NULL and commas stay text). */
function quoteElement(text: string): string {
  return ARRAY_SPECIAL.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`;
}

function migrate(client: pg.PoolClient, schema: string): Promise<MigrationReport> {
  return runMigrations(client, schema, { table: MIGRATIONS_TABLE, migrations: POSTGRES_LEDGER_MIGRATIONS, lock: { key: LEDGER_LOCK, name: `${schema}:migrate` } });
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** The day after. */
export function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

/**
 * The partition of each day, when missing. Under an advisory lock, so replicas racing for one
 * day do not collide. Each is created as a plain table and then attached: ATTACH PARTITION holds
 * only SHARE UPDATE EXCLUSIVE on ledger_events (CREATE TABLE .. PARTITION OF would take ACCESS
 * EXCLUSIVE and queue every insert behind a long report); it adds the key and indexes itself.
 */
async function createPartitions(client: pg.PoolClient, schema: string, days: readonly string[]): Promise<void> {
  const quoted = quoteSchema(schema);
  await client.query(`SET LOCAL lock_timeout = ${PARTITION_LOCK_TIMEOUT_MS}`);
  await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [LEDGER_LOCK, `${schema}:partitions`]);
  for (const day of days) {
    // DDL takes no parameters: names and bounds are built from a checked YYYY-MM-DD only.
    if (!DAY.test(day)) throw new RangeError(`not a day: ${JSON.stringify(day)}`);
    const name = `ledger_events_p${day.replaceAll('-', '')}`;
    const found = await client.query('SELECT to_regclass($1) AS t', [`${quoted}.${name}`]);
    if (found.rows[0].t !== null) continue;
    await client.query(`CREATE TABLE ${quoted}.${name} (LIKE ${quoted}.ledger_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)`);
    await client.query(
      `ALTER TABLE ${quoted}.ledger_events ATTACH PARTITION ${quoted}.${name} FOR VALUES FROM ('${day}T00:00:00Z') TO ('${nextDay(day)}T00:00:00Z')`,
    );
  }
}
