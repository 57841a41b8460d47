// PromptLogStore on SQLite (node:sqlite, no native addon). One synchronous connection: each
// call runs start to finish without yielding, except deletes and purges, which go in chunks of
// DELETE_CHUNK rows with a turn of the event loop between them. secure_delete is on: a deleted
// prompt is overwritten in the file, not left in a free page.

import { openSqliteDatabase, StatementCache } from '../../stores/sqlite/sqlite-database.ts';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { setImmediate as turn } from 'node:timers/promises';
import { StoreUnavailable } from '../../stores/identity-store.ts';
import { readSqlitePromptLogVersion, runSqlitePromptLogMigrations } from './prompt-log-migrations.ts';
import {
  checkRow,
  DELETE_CHUNK,
  firstOfEach,
  isoFromMs,
  PROMPT_LOG_COLUMNS,
  requireEpochMs,
  selectorColumn,
  type MigrationReport,
  type PromptLogRow,
  type PromptLogSelector,
  type PromptLogStore,
} from './prompt-log-store.ts';

export interface SqlitePromptLogStoreOptions {
  /** A file path, or ":memory:". */
  path: string;
  /** How long a writer waits for another process's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

const INSERT = `INSERT INTO prompt_log (${PROMPT_LOG_COLUMNS.join(', ')}) VALUES (${PROMPT_LOG_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (request_id) DO NOTHING`;

export class SqlitePromptLogStore implements PromptLogStore {
  readonly backend = 'sqlite' as const;
  readonly #db: DatabaseSync;
  readonly #statements: StatementCache;

  constructor(options: SqlitePromptLogStoreOptions) {
    try {
      this.#db = openSqliteDatabase(options.path, options.busyTimeoutMs, ['secure_delete = ON']);
      this.#statements = new StatementCache(this.#db);
    } catch (error) {
      throw storeError(error);
    }
  }

  async migrate(): Promise<MigrationReport> {
    return this.#run(() => runSqlitePromptLogMigrations(this.#db));
  }

  async schemaVersion(): Promise<number> {
    return this.#run(() => readSqlitePromptLogVersion(this.#db));
  }

  async save(rows: readonly PromptLogRow[]): Promise<number> {
    const checked = firstOfEach(rows).map((row) => ({ row, ...checkRow(row) }));
    if (checked.length === 0) return 0;
    return this.#run(() => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        let added = 0;
        const insert = this.#statements.get(INSERT);
        for (const { row, tsMs, expiresMs } of checked) {
          const values: SQLInputValue[] = [row.request_id, tsMs, expiresMs, row.tenant_id, row.team_id, row.key_id, row.user_id_hash, row.model_alias, row.prompt, row.completion];
          added += Number(insert.run(...values).changes);
        }
        this.#db.exec('COMMIT');
        return added;
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async get(requestId: string): Promise<PromptLogRow | undefined> {
    if (typeof requestId !== 'string') throw new TypeError('requestId must be a string');
    return this.#run(() => {
      const row = this.#statements.get(`SELECT ${PROMPT_LOG_COLUMNS.join(', ')} FROM prompt_log WHERE request_id = ?`).get(requestId);
      return row ? rowFromSqlite(row) : undefined;
    });
  }

  async deleteBy(selector: PromptLogSelector): Promise<number> {
    const { column, value } = selectorColumn(selector);
    if (column === 'request_id') return this.#run(() => Number(this.#statements.get('DELETE FROM prompt_log WHERE request_id = ?').run(value).changes));
    return this.#deleteChunks(`DELETE FROM prompt_log WHERE rowid IN (SELECT rowid FROM prompt_log WHERE ${column} = ? LIMIT ${DELETE_CHUNK})`, value);
  }

  async purgeExpired(nowMs: number): Promise<number> {
    const now = requireEpochMs(nowMs, 'nowMs');
    return this.#deleteChunks(`DELETE FROM prompt_log WHERE rowid IN (SELECT rowid FROM prompt_log WHERE expires_at <= ? LIMIT ${DELETE_CHUNK})`, now);
  }

  async close(): Promise<void> {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  async #deleteChunks(sql: string, value: SQLInputValue): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = this.#run(() => Number(this.#statements.get(sql).run(value).changes));
      total += deleted;
      if (deleted < DELETE_CHUNK) return total;
      await turn();
    }
  }


  #run<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storeError(error);
    }
  }
}

function rowFromSqlite(row: Record<string, SQLInputValue>): PromptLogRow {
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
  return {
    request_id: String(row.request_id),
    ts: isoFromMs(row.ts),
    expires_at: isoFromMs(row.expires_at),
    tenant_id: text(row.tenant_id),
    team_id: text(row.team_id),
    key_id: text(row.key_id),
    user_id_hash: text(row.user_id_hash),
    model_alias: text(row.model_alias),
    prompt: String(row.prompt),
    completion: String(row.completion),
  };
}

/** Argument errors pass through; anything from SQLite becomes StoreUnavailable. */
function storeError(error: unknown): Error {
  if (error instanceof StoreUnavailable || error instanceof TypeError || error instanceof RangeError) return error;
  const detail = error as { message?: string; errstr?: string };
  const reason = detail.errstr && !detail.message?.includes(detail.errstr) ? `${detail.message} (${detail.errstr})` : detail.message;
  return new StoreUnavailable(`SQLite prompt log store failed: ${reason ?? String(error)}`, { cause: error });
}
