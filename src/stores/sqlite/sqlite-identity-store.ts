// IdentityStore on SQLite through node:sqlite (no native addon). One synchronous connection per
// store: each method runs start to finish without yielding, so a transaction never interleaves
// with another call in this process; BEGIN IMMEDIATE plus busy_timeout orders writers across
// processes. Statements are prepared on first use and cached (tables exist only after migrate).

import { openSqliteDatabase, StatementCache } from './sqlite-database.ts';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { AuditEntry, AuditQuery, Change, ObjectKind, ObjectTypes, VirtualKey } from '../../identity/records.ts';
import {
  StoreConflict,
  StoreUnavailable,
  type IdentityStore,
  type KeyPlacement,
  type KeyMatch,
  type ListQuery,
  type MigrationReport,
} from '../identity-store.ts';
import {
  AUDIT_COLUMNS,
  auditEntryFromRow,
  auditFilter,
  auditValues,
  changeFromRow,
  docFromColumn,
  expectedDoc,
  isoInstant,
  listFilter,
  objectRow,
  objectTable,
  requireEpochMs,
  requireLimit,
  requireSeq,
  sameDoc,
  toNumber,
  type ObjectRow,
} from '../identity-rows.ts';
import { readSqliteSchemaVersion, runSqliteMigrations } from './sqlite-migrations.ts';

/** The database clock in epoch ms (the same clock as Date.now() in this process). */
const NOW_MS = "CAST(round(unixepoch('subsec') * 1000) AS INTEGER)";
const NOW_ISO = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

export interface SqliteIdentityStoreOptions {
  /** A file path, or ":memory:". */
  path: string;
  /** How long a writer waits for another process's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

export class SqliteIdentityStore implements IdentityStore {
  readonly backend = 'sqlite' as const;
  readonly #db: DatabaseSync;
  readonly #statements: StatementCache;

  constructor(options: SqliteIdentityStoreOptions) {
    try {
      this.#db = openSqliteDatabase(options.path, options.busyTimeoutMs, ['foreign_keys = ON']);
      this.#statements = new StatementCache(this.#db);
    } catch (error) {
      throw storeError(error);
    }
  }

  async migrate(): Promise<MigrationReport> {
    return this.#run(() => runSqliteMigrations(this.#db));
  }

  async schemaVersion(): Promise<number> {
    return this.#run(() => readSqliteSchemaVersion(this.#db));
  }

  async get<K extends ObjectKind>(kind: K, id: string): Promise<ObjectTypes[K] | undefined> {
    const { table, idColumn } = objectTable(kind);
    return this.#run(() => {
      const row = this.#statements.get(`SELECT doc FROM ${table} WHERE ${idColumn} = ?`).get(id);
      return row ? docFromColumn<ObjectTypes[K]>(row.doc) : undefined;
    });
  }

  async list<K extends ObjectKind>(kind: K, query: ListQuery): Promise<Array<ObjectTypes[K]>> {
    const { table, idColumn } = objectTable(kind);
    const limit = requireLimit(query.limit);
    const { where, params } = listFilter(kind, query, () => '?');
    return this.#run(() =>
      this.#statements.get(`SELECT doc FROM ${table}${where} ORDER BY ${idColumn} LIMIT ?`)
        .all(...(params as SQLInputValue[]), limit)
        .map((row) => docFromColumn<ObjectTypes[K]>(row.doc)),
    );
  }

  async create<K extends ObjectKind>(kind: K, object: ObjectTypes[K], audit: AuditEntry): Promise<void> {
    const row = objectRow(kind, object);
    const auditRow = auditValues(audit);
    this.#write(() => {
      this.#insertObject(kind, row.id, row.doc, row.values);
      this.#record(kind, row.id, auditRow);
    });
  }

  async update<K extends ObjectKind>(kind: K, object: ObjectTypes[K], audit: AuditEntry & { before: ObjectTypes[K] }, placement?: KeyPlacement): Promise<void> {
    const row = objectRow(kind, object);
    const expected = expectedDoc(kind, row.id, audit);
    const auditRow = auditValues(audit);
    this.#write(() => {
      if (kind === 'key') {
        const team = (object as VirtualKey).team_id;
        if (team !== (audit.before as VirtualKey).team_id) this.#requireTeam(team, placement);
      }
      this.#swapObject(kind, row, expected);
      this.#record(kind, row.id, auditRow);
    });
  }

  async remove(kind: ObjectKind, id: string, audit: AuditEntry): Promise<void> {
    const { table, idColumn } = objectTable(kind);
    const auditRow = auditValues(audit);
    this.#write(() => {
      // A key's secrets go with it: key_secrets.key_id is ON DELETE CASCADE. A team goes only
      // while no key names it, decided by the DELETE itself.
      const sql =
        kind === 'team'
          ? 'DELETE FROM teams WHERE team_id = ?1 AND NOT EXISTS (SELECT 1 FROM keys WHERE team_id = ?1)'
          : `DELETE FROM ${table} WHERE ${idColumn} = ?`;
      const result = this.#statements.get(sql).run(id);
      if (result.changes === 0) {
        if (!this.#exists(kind, id)) throw new StoreConflict(`${kind} ${JSON.stringify(id)} does not exist`, 'missing');
        throw new StoreConflict(`team ${JSON.stringify(id)} still has keys`, 'in_use');
      }
      this.#record(kind, id, auditRow);
    });
  }

  async countKeys(teamId: string): Promise<number> {
    return this.#run(() => toNumber(this.#statements.get('SELECT count(*) AS n FROM keys WHERE team_id = ?').get(teamId)?.n));
  }

  async createKey(key: VirtualKey, secretHash: string, audit: AuditEntry, placement?: KeyPlacement): Promise<void> {
    const row = objectRow('key', key);
    const auditRow = auditValues(audit);
    this.#write(() => {
      this.#requireTeam(key.team_id, placement);
      this.#insertObject('key', row.id, row.doc, row.values);
      this.#insertSecret(secretHash, row.id);
      this.#record('key', row.id, auditRow);
    });
  }

  async rotateKey(key: VirtualKey, newSecretHash: string, previousValidUntil: string, audit: AuditEntry & { before: VirtualKey }): Promise<void> {
    const row = objectRow('key', key);
    const expected = expectedDoc('key', row.id, audit);
    const until = isoInstant(previousValidUntil, 'previousValidUntil');
    const auditRow = auditValues(audit);
    this.#write(() => {
      this.#swapObject('key', row, expected);
      this.#statements.get('UPDATE key_secrets SET expires_at = ? WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?)').run(until, row.id, until);
      this.#insertSecret(newSecretHash, row.id);
      this.#record('key', row.id, auditRow);
    });
  }

  async findKeyBySecretHash(secretHash: string): Promise<KeyMatch | undefined> {
    return this.#run(() => {
      const row = this.#statements.get(
        `SELECT k.doc AS doc, s.expires_at AS expires_at FROM key_secrets s JOIN keys k ON k.key_id = s.key_id
         WHERE s.secret_hash = ? AND (s.expires_at IS NULL OR s.expires_at > ${NOW_ISO})`,
      ).get(secretHash);
      if (!row) return undefined;
      const match: KeyMatch = { key: docFromColumn<VirtualKey>(row.doc) };
      if (row.expires_at !== null) match.secret_expires_at = String(row.expires_at);
      return match;
    });
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    const auditRow = auditValues(entry);
    this.#write(() => this.#insertAudit(auditRow));
  }

  async queryAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const limit = requireLimit(query.limit);
    const { where, params } = auditFilter(query, () => '?');
    return this.#run(() =>
      this.#statements.get(`SELECT seq, ${AUDIT_COLUMNS} FROM audit_log${where} ORDER BY seq DESC LIMIT ?`)
        .all(...(params as SQLInputValue[]), limit)
        .map((row) => auditEntryFromRow(row)),
    );
  }

  async changesAfter(afterSeq: number, limit: number): Promise<Change[]> {
    const after = requireSeq(afterSeq, 'afterSeq');
    const count = requireLimit(limit);
    return this.#run(() =>
      this.#statements.get('SELECT seq, kind, object_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?')
        .all(after, count)
        .map((r) => changeFromRow(r)),
    );
  }

  async lastChangeSeq(): Promise<number> {
    return this.#run(() => toNumber(this.#statements.get('SELECT coalesce(max(seq), 0) AS seq FROM changes').get()?.seq));
  }

  async prune(beforeMs: number): Promise<void> {
    const before = requireEpochMs(beforeMs, 'beforeMs');
    this.#write(() => {
      this.#statements.get('DELETE FROM changes WHERE at_ms < ?').run(before);
      this.#statements.get('DELETE FROM key_secrets WHERE expires_at IS NOT NULL AND expires_at < ?').run(new Date(before).toISOString());
    });
  }

  async close(): Promise<void> {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  #insertObject(kind: ObjectKind, id: string, doc: string, values: unknown[]): void {
    const { table, idColumn, columns } = objectTable(kind);
    const names = [idColumn, 'doc', ...columns];
    const sql = `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (${idColumn}) DO NOTHING`;
    const result = this.#statements.get(sql).run(id, doc, ...(values as SQLInputValue[]));
    if (result.changes === 0) throw new StoreConflict(`${kind} ${JSON.stringify(id)} already exists`, 'exists');
  }

  /**
   * The compare-and-swap of update and rotateKey, inside the caller's write transaction: BEGIN
   * IMMEDIATE holds the write lock, so nothing can change the row between the read and the write.
   */
  #swapObject(kind: ObjectKind, row: ObjectRow, expected: string): void {
    const { table, idColumn, columns } = objectTable(kind);
    const stored = this.#statements.get(`SELECT doc FROM ${table} WHERE ${idColumn} = ?`).get(row.id);
    if (!stored) throw new StoreConflict(`${kind} ${JSON.stringify(row.id)} does not exist`, 'missing');
    if (!sameDoc(String(stored.doc), expected)) {
      throw new StoreConflict(`${kind} ${JSON.stringify(row.id)} was changed by another write after it was read`, 'changed');
    }
    const assignments = ['doc', ...columns].map((c) => `${c} = ?`).join(', ');
    this.#statements.get(`UPDATE ${table} SET ${assignments} WHERE ${idColumn} = ?`).run(row.doc, ...(row.values as SQLInputValue[]), row.id);
  }

  /** Inside the write transaction (BEGIN IMMEDIATE holds the lock, so no delete can slip in). */
  #requireTeam(teamId: string, placement: KeyPlacement | undefined): void {
    if (placement?.teamMustExist && !this.#exists('team', teamId)) {
      throw new StoreConflict(`team ${JSON.stringify(teamId)} does not exist`, 'team_missing');
    }
  }

  #exists(kind: ObjectKind, id: string): boolean {
    const { table, idColumn } = objectTable(kind);
    return this.#statements.get(`SELECT 1 AS found FROM ${table} WHERE ${idColumn} = ?`).get(id) !== undefined;
  }

  #insertSecret(secretHash: string, keyId: string): void {
    if (typeof secretHash !== 'string' || secretHash === '') throw new TypeError('secret hash must be a non-empty string');
    const result = this.#statements.get('INSERT INTO key_secrets (secret_hash, key_id) VALUES (?, ?) ON CONFLICT (secret_hash) DO NOTHING').run(secretHash, keyId);
    if (result.changes === 0) throw new StoreConflict('that secret hash is already in use', 'exists');
  }

  /** The audit entry and the change-feed row that go with every mutation. */
  #record(kind: ObjectKind, id: string, auditRow: unknown[]): void {
    this.#insertAudit(auditRow);
    this.#statements.get(`INSERT INTO changes (kind, object_id, at_ms) VALUES (?, ?, ${NOW_MS})`).run(kind, id);
  }

  #insertAudit(auditRow: unknown[]): void {
    this.#statements.get(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(...(auditRow as SQLInputValue[]));
  }


  #run<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storeError(error);
    }
  }

  /** One write transaction; rolled back if `work` throws. */
  #write(work: () => void): void {
    this.#run(() => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        work();
        this.#db.exec('COMMIT');
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }
}

/** Our own errors pass through; anything from SQLite becomes StoreUnavailable. */
function storeError(error: unknown): Error {
  if (error instanceof StoreConflict || error instanceof StoreUnavailable || error instanceof TypeError || error instanceof RangeError) {
    return error;
  }
  const detail = error as { message?: string; errstr?: string; errcode?: number };
  const reason = detail.errstr && !detail.message?.includes(detail.errstr) ? `${detail.message} (${detail.errstr})` : detail.message;
  return new StoreUnavailable(`SQLite identity store failed: ${reason ?? String(error)}`, { cause: error });
}
