// IdentityStore on PostgreSQL through a `pg` pool. Every table lives in one schema (search_path
// is set per connection); docs are jsonb; ids sort in byte order (COLLATE "C"). A dead server
// fails fast (connect and query timeouts) as StoreUnavailable, and an idle connection dropped
// by the server (57P01 on restart, a network cut) is reported, never thrown at the process.

import type pg from 'pg';
import type { AuditEntry, AuditQuery, Change, ObjectKind, ObjectTypes, VirtualKey } from '../../identity/records.ts';
import { StoreConflict, type IdentityStore, type KeyMatch, type KeyPlacement, type ListQuery, type MigrationReport } from '../identity-store.ts';
import {
  AUDIT_COLUMNS,
  auditEntryFromRow,
  auditFilter,
  auditValues,
  changeFromRow,
  docFromColumn,
  expectedDoc,
  isoFromColumn,
  isoInstant,
  listFilter,
  objectRow,
  objectTable,
  requireEpochMs,
  requireLimit,
  requireSeq,
  toNumber,
  type ObjectRow,
} from '../identity-rows.ts';
import { PgPool, type PgConnectionOptions } from './pg-pool.ts';
import { quoteSchema } from './pg-schema.ts';
import { readPostgresSchemaVersion, runPostgresMigrations } from './postgres-migrations.ts';

/** The pool options (pg-pool.ts); defaults here: poolSize 10, queryTimeoutMillis 10000, applicationName "tollgate". */
export interface PostgresIdentityStoreOptions extends PgConnectionOptions {
  /** Where the tables live; created by migrate() when missing. Default "public". */
  schema?: string;
}

const NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';
const dollar = (index: number) => `$${index}`;
const placeholders = (from: number, count: number) => Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');

export class PostgresIdentityStore implements IdentityStore {
  readonly backend = 'postgres' as const;
  readonly #db: PgPool;
  readonly #schema: string;

  constructor(options: PostgresIdentityStoreOptions) {
    this.#schema = options.schema ?? 'public';
    quoteSchema(this.#schema);
    this.#db = new PgPool(options, { poolSize: 10, queryTimeoutMillis: 10_000, applicationName: 'tollgate', searchPath: this.#schema });
  }

  async migrate(): Promise<MigrationReport> {
    return this.#db.transaction((client) => runPostgresMigrations(client, this.#schema));
  }

  async schemaVersion(): Promise<number> {
    return readPostgresSchemaVersion(this.#db, this.#schema);
  }

  async get<K extends ObjectKind>(kind: K, id: string): Promise<ObjectTypes[K] | undefined> {
    const { table, idColumn } = objectTable(kind);
    const { rows } = await this.#db.query(`SELECT doc FROM ${table} WHERE ${idColumn} = $1`, [id]);
    return rows.length ? docFromColumn<ObjectTypes[K]>(rows[0].doc) : undefined;
  }

  async list<K extends ObjectKind>(kind: K, query: ListQuery): Promise<Array<ObjectTypes[K]>> {
    const { table, idColumn } = objectTable(kind);
    const limit = requireLimit(query.limit);
    const { where, params } = listFilter(kind, query, dollar);
    const sql = `SELECT doc FROM ${table}${where} ORDER BY ${idColumn} LIMIT $${params.length + 1}`;
    const { rows } = await this.#db.query(sql, [...params, limit]);
    return rows.map((row) => docFromColumn<ObjectTypes[K]>(row.doc));
  }

  async create<K extends ObjectKind>(kind: K, object: ObjectTypes[K], audit: AuditEntry): Promise<void> {
    const row = objectRow(kind, object);
    const auditRow = auditValues(audit);
    await this.#db.transaction(async (client) => {
      await insertObject(client, kind, row);
      await recordChange(client, kind, row.id, auditRow);
    });
  }

  async update<K extends ObjectKind>(kind: K, object: ObjectTypes[K], audit: AuditEntry & { before: ObjectTypes[K] }, placement?: KeyPlacement): Promise<void> {
    const row = objectRow(kind, object);
    const expected = expectedDoc(kind, row.id, audit);
    const auditRow = auditValues(audit);
    await this.#db.transaction(async (client) => {
      // A key moved to another team holds that team's row the way createKey does.
      const newTeam = kind === 'key' ? (object as VirtualKey).team_id : undefined;
      if (newTeam !== undefined && newTeam !== (audit.before as VirtualKey).team_id) await holdTeam(client, newTeam, placement);
      await swapObject(client, kind, row, expected);
      await recordChange(client, kind, row.id, auditRow);
    });
  }

  async remove(kind: ObjectKind, id: string, audit: AuditEntry): Promise<void> {
    const { table, idColumn } = objectTable(kind);
    const auditRow = auditValues(audit);
    await this.#db.transaction(async (client) => {
      if (kind === 'team') {
        await removeTeam(client, id);
      } else {
        // A key's secrets go with it: key_secrets.key_id is ON DELETE CASCADE.
        const result = await client.query(`DELETE FROM ${table} WHERE ${idColumn} = $1`, [id]);
        if (result.rowCount === 0) throw new StoreConflict(`${kind} ${JSON.stringify(id)} does not exist`, 'missing');
      }
      await recordChange(client, kind, id, auditRow);
    });
  }

  async countKeys(teamId: string): Promise<number> {
    const { rows } = await this.#db.query('SELECT count(*) AS n FROM keys WHERE team_id = $1', [teamId]);
    return toNumber(rows[0].n);
  }

  async createKey(key: VirtualKey, secretHash: string, audit: AuditEntry, placement?: KeyPlacement): Promise<void> {
    const row = objectRow('key', key);
    const auditRow = auditValues(audit);
    requireSecretHash(secretHash);
    await this.#db.transaction(async (client) => {
      await holdTeam(client, key.team_id, placement);
      await insertObject(client, 'key', row);
      await insertSecret(client, secretHash, row.id);
      await recordChange(client, 'key', row.id, auditRow);
    });
  }

  async rotateKey(key: VirtualKey, newSecretHash: string, previousValidUntil: string, audit: AuditEntry & { before: VirtualKey }): Promise<void> {
    const row = objectRow('key', key);
    const expected = expectedDoc('key', row.id, audit);
    const until = isoInstant(previousValidUntil, 'previousValidUntil');
    const auditRow = auditValues(audit);
    requireSecretHash(newSecretHash);
    await this.#db.transaction(async (client) => {
      if (key.team_id !== audit.before.team_id) await holdTeam(client, key.team_id, undefined);
      await swapObject(client, 'key', row, expected);
      await client.query('UPDATE key_secrets SET expires_at = $1 WHERE key_id = $2 AND (expires_at IS NULL OR expires_at > $1)', [until, row.id]);
      await insertSecret(client, newSecretHash, row.id);
      await recordChange(client, 'key', row.id, auditRow);
    });
  }

  async findKeyBySecretHash(secretHash: string): Promise<KeyMatch | undefined> {
    const { rows } = await this.#db.query(
      `SELECT k.doc, s.expires_at FROM key_secrets s JOIN keys k ON k.key_id = s.key_id
       WHERE s.secret_hash = $1 AND (s.expires_at IS NULL OR s.expires_at > now())`,
      [secretHash],
    );
    if (!rows.length) return undefined;
    const match: KeyMatch = { key: docFromColumn<VirtualKey>(rows[0].doc) };
    if (rows[0].expires_at !== null) match.secret_expires_at = isoFromColumn(rows[0].expires_at);
    return match;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.#db.query(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (${placeholders(1, 8)})`, auditValues(entry));
  }

  async queryAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const limit = requireLimit(query.limit);
    const { where, params } = auditFilter(query, dollar);
    const sql = `SELECT seq, ${AUDIT_COLUMNS} FROM audit_log${where} ORDER BY seq DESC LIMIT $${params.length + 1}`;
    const { rows } = await this.#db.query(sql, [...params, limit]);
    return rows.map((row) => auditEntryFromRow(row));
  }

  async changesAfter(afterSeq: number, limit: number): Promise<Change[]> {
    const after = requireSeq(afterSeq, 'afterSeq');
    const count = requireLimit(limit);
    const { rows } = await this.#db.query('SELECT seq, kind, object_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2', [after, count]);
    return rows.map((row) => changeFromRow(row));
  }

  async lastChangeSeq(): Promise<number> {
    const { rows } = await this.#db.query('SELECT coalesce(max(seq), 0) AS seq FROM changes', []);
    return toNumber(rows[0].seq);
  }

  async prune(beforeMs: number): Promise<void> {
    const before = requireEpochMs(beforeMs, 'beforeMs');
    await this.#db.query(
      `WITH pruned AS (DELETE FROM changes WHERE at_ms < $1)
       DELETE FROM key_secrets WHERE expires_at < $2`,
      [before, new Date(before).toISOString()],
    );
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

async function insertObject(client: pg.PoolClient, kind: ObjectKind, row: ObjectRow): Promise<void> {
  const { table, idColumn, columns } = objectTable(kind);
  const names = [idColumn, 'doc', ...columns];
  const sql = `INSERT INTO ${table} (${names.join(', ')}) VALUES (${placeholders(1, names.length)}) ON CONFLICT (${idColumn}) DO NOTHING`;
  const result = await client.query(sql, [row.id, row.doc, ...row.values]);
  if (result.rowCount === 0) throw new StoreConflict(`${kind} ${JSON.stringify(row.id)} already exists`, 'exists');
}

/**
 * Compare-and-swap in one statement: the row is replaced only while its doc still equals the
 * expected one (jsonb equality: key order and number spelling do not matter). A concurrent
 * writer holding the row makes this wait, and the condition is then re-checked on the row it
 * committed, so two updates based on the same read cannot both succeed.
 */
async function swapObject(client: pg.PoolClient, kind: ObjectKind, row: ObjectRow, expected: string): Promise<void> {
  const { table, idColumn, columns } = objectTable(kind);
  const assignments = ['doc', ...columns].map((column, i) => `${column} = $${i + 2}`).join(', ');
  const result = await client.query(`UPDATE ${table} SET ${assignments} WHERE ${idColumn} = $1 AND doc = $${columns.length + 3}::jsonb`, [
    row.id,
    row.doc,
    ...row.values,
    expected,
  ]);
  if (result.rowCount !== 0) return;
  const found = await client.query(`SELECT 1 FROM ${table} WHERE ${idColumn} = $1`, [row.id]);
  if (found.rowCount === 0) throw new StoreConflict(`${kind} ${JSON.stringify(row.id)} does not exist`, 'missing');
  throw new StoreConflict(`${kind} ${JSON.stringify(row.id)} was changed by another write after it was read`, 'changed');
}

/**
 * Holds the team row (when the store has one) against deletion until this transaction ends:
 * a key written for the team commits before any delete of the team decides, so that delete
 * sees it. FOR KEY SHARE does not block ordinary team updates.
 */
/**
 * Holds the key's team row until commit (a concurrent delete waits, then sees the key). With
 * `teamMustExist`, a team that is not there (deleted meanwhile) refuses the write.
 */
async function holdTeam(client: pg.PoolClient, teamId: string, placement: KeyPlacement | undefined): Promise<void> {
  const held = await client.query('SELECT 1 FROM teams WHERE team_id = $1 FOR KEY SHARE', [teamId]);
  if (placement?.teamMustExist && held.rowCount === 0) throw new StoreConflict(`team ${JSON.stringify(teamId)} does not exist`, 'team_missing');
}

/**
 * Deletes a team only while no key names it. The row lock comes first, in its own statement, so
 * that a createKey in flight for the team (holding it FOR KEY SHARE) commits before the check;
 * the DELETE then runs on a fresh snapshot (READ COMMITTED) and sees that key.
 */
async function removeTeam(client: pg.PoolClient, id: string): Promise<void> {
  const locked = await client.query('SELECT 1 FROM teams WHERE team_id = $1 FOR UPDATE', [id]);
  if (locked.rowCount === 0) throw new StoreConflict(`team ${JSON.stringify(id)} does not exist`, 'missing');
  const result = await client.query('DELETE FROM teams WHERE team_id = $1 AND NOT EXISTS (SELECT 1 FROM keys WHERE team_id = $1)', [id]);
  if (result.rowCount === 0) throw new StoreConflict(`team ${JSON.stringify(id)} still has keys`, 'in_use');
}

async function insertSecret(client: pg.PoolClient, secretHash: string, keyId: string): Promise<void> {
  const result = await client.query('INSERT INTO key_secrets (secret_hash, key_id) VALUES ($1, $2) ON CONFLICT (secret_hash) DO NOTHING', [
    secretHash,
    keyId,
  ]);
  if (result.rowCount === 0) throw new StoreConflict('that secret hash is already in use', 'exists');
}

/** The audit entry and the change-feed row (at_ms from the database clock) in one statement. */
async function recordChange(client: pg.PoolClient, kind: ObjectKind, id: string, auditRow: unknown[]): Promise<void> {
  await client.query(
    `WITH audit AS (INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (${placeholders(1, 8)}))
     INSERT INTO changes (kind, object_id, at_ms) VALUES ($9, $10, ${NOW_MS})`,
    [...auditRow, kind, id],
  );
}

function requireSecretHash(secretHash: string): void {
  if (typeof secretHash !== 'string' || secretHash === '') throw new TypeError('secret hash must be a non-empty string');
}
