// What the SQLite and PostgreSQL identity stores share: which table holds each kind of object,
// how a record maps to a row (the record is the JSON doc; a few columns are copies for
// filtering), how audit and change rows map back to records, the audit/list filters, and the
// shape of a versioned migration. SQL here is built only from the constants below plus
// placeholders; every value travels as a parameter.

import type { AuditEntry, AuditQuery, Change, IdentityObject, ObjectKind, ObjectTypes } from '../identity/records.ts';
import type { ListQuery } from './identity-store.ts';

/** One schema change: applied once, in version order, inside a transaction. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

interface ObjectTable {
  readonly table: string;
  readonly idColumn: string;
  /** Columns copied from the record, besides the id and the doc. */
  readonly columns: readonly string[];
}

export const OBJECT_TABLES: { readonly [K in ObjectKind]: ObjectTable } = {
  team: { table: 'teams', idColumn: 'team_id', columns: ['created_at', 'updated_at'] },
  tenant: { table: 'tenants', idColumn: 'tenant_id', columns: ['created_at', 'updated_at'] },
  key: { table: 'keys', idColumn: 'key_id', columns: ['team_id', 'status', 'created_at', 'updated_at'] },
  limit: { table: 'limit_policies', idColumn: 'scope', columns: ['created_at', 'updated_at'] },
};

/** The table of a kind; throws on anything else, since table names go into SQL text. */
export function objectTable(kind: ObjectKind): ObjectTable {
  const table = Object.hasOwn(OBJECT_TABLES, kind) ? OBJECT_TABLES[kind] : undefined;
  if (!table) throw new TypeError(`unknown object kind ${JSON.stringify(kind)}`);
  return table;
}

/** A record as a row: id, JSON doc and the copied columns in `OBJECT_TABLES[kind].columns` order. */
export interface ObjectRow {
  id: string;
  doc: string;
  values: unknown[];
}

export function objectRow<K extends ObjectKind>(kind: K, object: ObjectTypes[K]): ObjectRow {
  const table = objectTable(kind);
  const record = object as unknown as Record<string, unknown>;
  const id = requireText(record[table.idColumn], `${kind}.${table.idColumn}`);
  const values = table.columns.map((column) =>
    column.endsWith('_at') ? isoInstant(record[column], `${kind}.${column}`) : requireText(record[column], `${kind}.${column}`),
  );
  return { id, doc: JSON.stringify(object), values };
}

/**
 * The doc a compare-and-swap expects to find: `audit.before`, serialised the way objectRow
 * serialises a record (so a record read with get() and passed back compares equal: fields that
 * are undefined are dropped on both sides). Throws TypeError when `before` is missing or names
 * another object, which is a caller bug, not a conflict.
 */
export function expectedDoc(kind: ObjectKind, id: string, audit: AuditEntry): string {
  const before = audit.before as unknown as Record<string, unknown> | null | undefined;
  if (before === null || typeof before !== 'object' || Array.isArray(before)) {
    throw new TypeError(`${kind} update needs audit.before: the ${kind} as it was read, for the compare-and-swap`);
  }
  const idColumn = objectTable(kind).idColumn;
  if (before[idColumn] !== id) {
    throw new TypeError(`audit.before.${idColumn} is ${JSON.stringify(before[idColumn])}, but the ${kind} written is ${JSON.stringify(id)}`);
  }
  return JSON.stringify(before);
}

/**
 * Whether two JSON docs are the same value, whatever their key order: what jsonb equality means
 * in PostgreSQL, applied to SQLite's stored text. Arrays keep their order; numbers compare by
 * value (both sides are parsed).
 */
export function sameDoc(stored: string, expected: string): boolean {
  return stored === expected || canonicalJson(JSON.parse(stored)) === canonicalJson(JSON.parse(expected));
}

/** JSON with every object's keys sorted. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

/** A doc column as a record: SQLite hands back JSON text, PostgreSQL (jsonb) a parsed object. */
export function docFromColumn<T = IdentityObject>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** Canonical ISO-8601 UTC with milliseconds, so text columns compare in time order. */
export function isoInstant(value: unknown, field: string): string {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new TypeError(`${field} must be an ISO-8601 timestamp, got ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

/** A timestamp column as ISO text: PostgreSQL returns Date, SQLite the stored text. */
export function isoFromColumn(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** seq, at_ms and counts: pg returns int8 as a string, node:sqlite as a number. */
export function toNumber(value: unknown): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`expected an integer from the database, got ${String(value)}`);
  return n;
}

/** A change-feed cursor: any safe integer (0 = from the start). */
export function requireSeq(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`${field} must be an integer seq, got ${String(value)}`);
  return value;
}

export function requireEpochMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${field} must be epoch milliseconds`);
  return Math.trunc(value);
}

function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${field} must be a non-empty string`);
  return value;
}

export function requireLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RangeError(`limit must be an integer from 1 to 1000, got ${String(limit)}`);
  }
  return limit;
}

/** Values for INSERT INTO audit_log (at, actor, action, object_type, object_id, request_id, before_doc, after_doc). */
export function auditValues(entry: AuditEntry): unknown[] {
  objectTable(entry.object_type);
  return [
    isoInstant(entry.at, 'audit.at'),
    requireText(entry.actor, 'audit.actor'),
    requireText(entry.action, 'audit.action'),
    entry.object_type,
    requireText(entry.object_id, 'audit.object_id'),
    entry.request_id ?? null,
    entry.before ? JSON.stringify(entry.before) : null,
    entry.after ? JSON.stringify(entry.after) : null,
  ];
}

export const AUDIT_COLUMNS = 'at, actor, action, object_type, object_id, request_id, before_doc, after_doc';

export function auditEntryFromRow(row: Record<string, unknown>): AuditEntry {
  const entry: AuditEntry = {
    seq: toNumber(row.seq),
    at: isoFromColumn(row.at),
    actor: String(row.actor),
    action: String(row.action),
    object_type: row.object_type as ObjectKind,
    object_id: String(row.object_id),
  };
  if (row.request_id !== null && row.request_id !== undefined) entry.request_id = String(row.request_id);
  entry.before = row.before_doc === null || row.before_doc === undefined ? null : docFromColumn(row.before_doc);
  entry.after = row.after_doc === null || row.after_doc === undefined ? null : docFromColumn(row.after_doc);
  return entry;
}

export function changeFromRow(row: Record<string, unknown>): Change {
  return { seq: toNumber(row.seq), kind: row.kind as ObjectKind, id: String(row.object_id) };
}

/** Turns the n-th parameter (1-based) into the backend's placeholder: `?` or `$n`. */
export type Placeholder = (index: number) => string;

export interface Filter {
  /** "" or " WHERE ..." */
  where: string;
  params: unknown[];
}

function filter(conditions: Array<[column: string, op: string, value: unknown]>, placeholder: Placeholder): Filter {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [column, op, value] of conditions) {
    if (value === undefined) continue;
    params.push(value);
    parts.push(`${column} ${op} ${placeholder(params.length)}`);
  }
  return { where: parts.length ? ` WHERE ${parts.join(' AND ')}` : '', params };
}

/** The WHERE clause of queryAudit; the caller appends ORDER BY seq DESC LIMIT. */
export function auditFilter(query: AuditQuery, placeholder: Placeholder): Filter {
  if (query.object_type !== undefined) objectTable(query.object_type);
  if (query.before_seq !== undefined && !Number.isSafeInteger(query.before_seq)) throw new TypeError('before_seq must be an integer');
  return filter(
    [
      ['actor', '=', query.actor],
      ['action', '=', query.action],
      ['object_type', '=', query.object_type],
      ['object_id', '=', query.object_id],
      ['at', '>=', query.since === undefined ? undefined : isoInstant(query.since, 'since')],
      ['at', '<', query.until === undefined ? undefined : isoInstant(query.until, 'until')],
      ['seq', '<', query.before_seq],
    ],
    placeholder,
  );
}

/** The WHERE clause of list; the caller appends ORDER BY <id> LIMIT. */
export function listFilter(kind: ObjectKind, query: ListQuery, placeholder: Placeholder): Filter {
  const table = objectTable(kind);
  const keyOnly = kind === 'key';
  return filter(
    [
      [table.idColumn, '>', query.after],
      ['team_id', '=', keyOnly ? query.team_id : undefined],
      ['status', '=', keyOnly ? query.status : undefined],
    ],
    placeholder,
  );
}

/** Migrations not yet applied, after checking the list's versions strictly increase. */
export function pendingMigrations(migrations: readonly Migration[], applied: ReadonlySet<number>): Migration[] {
  migrations.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1 || (i > 0 && m.version <= migrations[i - 1].version)) {
      throw new Error(`migration list out of order at version ${m.version} (${m.name})`);
    }
  });
  return migrations.filter((m) => !applied.has(m.version));
}
