// What every SQLite database of Tollgate's shares: how it is opened (WAL, a busy timeout for
// other processes' locks) and a cache of prepared statements.

import { DatabaseSync, type StatementSync } from 'node:sqlite';

/** Opens `path` with WAL, synchronous=NORMAL and `busyTimeoutMs`, then runs `pragmas` (e.g. foreign_keys = ON). */
export function openSqliteDatabase(path: string, busyTimeoutMs: number | undefined, pragmas: readonly string[] = []): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs ?? 5000)}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  for (const pragma of pragmas) db.exec(`PRAGMA ${pragma}`);
  return db;
}

/** Prepared statements by SQL text; at most `max` are kept (SQL built from queries varies). */
export class StatementCache {
  readonly #db: DatabaseSync;
  readonly #max: number;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, max = Infinity) {
    this.#db = db;
    this.#max = max;
  }

  get(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (this.#statements.size >= this.#max) this.#statements.clear();
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  clear(): void {
    this.#statements.clear();
  }
}
