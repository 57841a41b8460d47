// PromptLogStore on PostgreSQL through a `pg` pool: the table lives in one schema (search_path
// per connection). A dead server fails fast (connect and query timeouts) as StoreUnavailable,
// whose message names the server but never its credentials. Large deletes run in chunks of
// DELETE_CHUNK rows, each its own statement.

import { PgPool, type PgConnectionOptions } from '../../stores/postgres/pg-pool.ts';
import { quoteSchema } from '../../stores/postgres/pg-schema.ts';
import { readPostgresPromptLogVersion, runPostgresPromptLogMigrations } from './prompt-log-migrations.ts';
import {
  checkRow,
  DELETE_CHUNK,
  firstOfEach,
  isoFromMs,
  PROMPT_LOG_COLUMNS,
  requireEpochMs,
  SAVE_CHUNK,
  selectorColumn,
  type MigrationReport,
  type PromptLogRow,
  type PromptLogSelector,
  type PromptLogStore,
} from './prompt-log-store.ts';

/** The pool options (pg-pool.ts); defaults here: poolSize 4, queryTimeoutMillis 30000, applicationName "tollgate-prompt-log". */
export interface PostgresPromptLogStoreOptions extends PgConnectionOptions {
  /** Where the table lives; created by migrate() when missing. Default "public". */
  schema?: string;
}

const COLUMNS = PROMPT_LOG_COLUMNS.join(', ');
const PER_ROW = PROMPT_LOG_COLUMNS.length;

export class PostgresPromptLogStore implements PromptLogStore {
  readonly backend = 'postgres' as const;
  readonly #db: PgPool;
  readonly #schema: string;

  constructor(options: PostgresPromptLogStoreOptions) {
    this.#schema = options.schema ?? 'public';
    quoteSchema(this.#schema);
    this.#db = new PgPool(options, { poolSize: 4, queryTimeoutMillis: 30_000, applicationName: 'tollgate-prompt-log', searchPath: this.#schema });
  }

  async migrate(): Promise<MigrationReport> {
    return this.#db.transaction((client) => runPostgresPromptLogMigrations(client, this.#schema));
  }

  async schemaVersion(): Promise<number> {
    return readPostgresPromptLogVersion(this.#db, this.#schema);
  }

  async save(rows: readonly PromptLogRow[]): Promise<number> {
    const checked = firstOfEach(rows).map((row) => {
      const { tsMs, expiresMs } = checkRow(row);
      return [row.request_id, isoFromMs(tsMs), isoFromMs(expiresMs), row.tenant_id, row.team_id, row.key_id, row.user_id_hash, row.model_alias, row.prompt, row.completion];
    });
    if (checked.length === 0) return 0;
    return this.#db.transaction(async (client) => {
      let added = 0;
      for (let i = 0; i < checked.length; i += SAVE_CHUNK) {
        const chunk = checked.slice(i, i + SAVE_CHUNK);
        const tuples = chunk.map((_, r) => `(${PROMPT_LOG_COLUMNS.map((_, c) => `$${r * PER_ROW + c + 1}`).join(', ')})`);
        const result = await client.query(`INSERT INTO prompt_log (${COLUMNS}) VALUES ${tuples.join(', ')} ON CONFLICT (request_id) DO NOTHING`, chunk.flat());
        added += result.rowCount ?? 0;
      }
      return added;
    });
  }

  async get(requestId: string): Promise<PromptLogRow | undefined> {
    if (typeof requestId !== 'string') throw new TypeError('requestId must be a string');
    const { rows } = await this.#db.query(`SELECT ${COLUMNS} FROM prompt_log WHERE request_id = $1`, [requestId]);
    return rows.length ? rowFromPostgres(rows[0]) : undefined;
  }

  async deleteBy(selector: PromptLogSelector): Promise<number> {
    const { column, value } = selectorColumn(selector);
    if (column === 'request_id') return (await this.#db.query('DELETE FROM prompt_log WHERE request_id = $1', [value])).rowCount ?? 0;
    return this.#deleteChunks(`DELETE FROM prompt_log WHERE request_id IN (SELECT request_id FROM prompt_log WHERE ${column} = $1 LIMIT ${DELETE_CHUNK})`, value);
  }

  async purgeExpired(nowMs: number): Promise<number> {
    const now = isoFromMs(requireEpochMs(nowMs, 'nowMs'));
    return this.#deleteChunks(`DELETE FROM prompt_log WHERE request_id IN (SELECT request_id FROM prompt_log WHERE expires_at <= $1 LIMIT ${DELETE_CHUNK})`, now);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  async #deleteChunks(sql: string, value: string): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = (await this.#db.query(sql, [value])).rowCount ?? 0;
      total += deleted;
      if (deleted < DELETE_CHUNK) return total;
    }
  }
}

function rowFromPostgres(row: Record<string, unknown>): PromptLogRow {
  return {
    request_id: String(row.request_id),
    ts: isoFromMs((row.ts as Date).getTime()),
    expires_at: isoFromMs((row.expires_at as Date).getTime()),
    tenant_id: (row.tenant_id as string | null) ?? null,
    team_id: (row.team_id as string | null) ?? null,
    key_id: (row.key_id as string | null) ?? null,
    user_id_hash: (row.user_id_hash as string | null) ?? null,
    model_alias: (row.model_alias as string | null) ?? null,
    prompt: String(row.prompt),
    completion: String(row.completion),
  };
}
