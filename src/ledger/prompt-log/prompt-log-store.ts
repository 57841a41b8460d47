// Where logged prompts and completions live: one row per request in `prompt_log`, already
// redacted and truncated (prompt-text.ts), until it expires or is deleted on request. Two
// backends: SQLite (node:sqlite) and PostgreSQL; test/ledger/prompt-log-store-contract.ts runs
// every method against both.
//
// The table may share a database with the identity store and the ledger: its migrations are
// recorded in their own `prompt_log_migrations` table.

import type { Migration } from '../../stores/identity-rows.ts';
import type { MigrationReport } from '../../stores/identity-store.ts';

export type { MigrationReport };

/** One logged call, as stored and as the admin API returns it. */
export interface PromptLogRow {
  readonly request_id: string;
  /** ISO 8601 (UTC, milliseconds): when the request arrived. */
  readonly ts: string;
  /** ISO 8601: when the row is purged. */
  readonly expires_at: string;
  readonly tenant_id: string | null;
  readonly team_id: string | null;
  readonly key_id: string | null;
  /** The ledger's user_id_hash (HMAC of the end user's id), never the id. */
  readonly user_id_hash: string | null;
  readonly model_alias: string | null;
  /** The request as redacted JSON text. */
  readonly prompt: string;
  /** The response text, redacted. */
  readonly completion: string;
}

/** Which rows to delete: exactly one of the three. */
export type PromptLogSelector = { readonly requestId: string } | { readonly userHash: string } | { readonly tenantId: string };

export interface PromptLogStore {
  readonly backend: 'sqlite' | 'postgres';
  /** Creates or upgrades the table; safe to run from several processes at once. */
  migrate(): Promise<MigrationReport>;
  /** 0 before the first migration. */
  schemaVersion(): Promise<number>;
  /** Stores a batch in one transaction; a request_id already stored is left as it is. Returns the rows added. */
  save(rows: readonly PromptLogRow[]): Promise<number>;
  get(requestId: string): Promise<PromptLogRow | undefined>;
  /** Deletes every row the selector names; returns how many. */
  deleteBy(selector: PromptLogSelector): Promise<number>;
  /** Deletes the rows whose expires_at is at or before `nowMs`; returns how many. */
  purgeExpired(nowMs: number): Promise<number>;
  close(): Promise<void>;
}

/** Rows deleted per statement: large deletes run in chunks, so no transaction holds the table long. */
export const DELETE_CHUNK = 5000;
/** Rows per INSERT statement. */
export const SAVE_CHUNK = 500;

export const PROMPT_LOG_COLUMNS = ['request_id', 'ts', 'expires_at', 'tenant_id', 'team_id', 'key_id', 'user_id_hash', 'model_alias', 'prompt', 'completion'] as const;

/** The column a selector filters on, and its value; throws TypeError unless exactly one is given. */
export function selectorColumn(selector: PromptLogSelector): { column: 'request_id' | 'user_id_hash' | 'tenant_id'; value: string } {
  const given = Object.entries(selector ?? {}).filter(([, value]) => value !== undefined);
  if (given.length !== 1) throw new TypeError('deleteBy takes exactly one of requestId, userHash or tenantId');
  const [name, value] = given[0]!;
  const column = ({ requestId: 'request_id', userHash: 'user_id_hash', tenantId: 'tenant_id' } as const)[name as 'requestId'];
  if (!column) throw new TypeError(`deleteBy: unknown selector ${JSON.stringify(name)}`);
  if (typeof value !== 'string' || value === '') throw new TypeError(`deleteBy: ${name} must be a non-empty string`);
  return { column, value };
}

/** Epoch ms of an ISO-8601 instant with a zone; TypeError otherwise (a caller bug). */
export function instantMs(value: unknown, field: string): number {
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new TypeError(`${field} must be an ISO-8601 timestamp with a zone, got ${JSON.stringify(value)}`);
  return ms;
}

export function requireEpochMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${field} must be epoch milliseconds, got ${String(value)}`);
  return Math.trunc(value);
}

/** A row checked for the store: text fields are strings, nullable ones string or null. */
export function checkRow(row: PromptLogRow): { tsMs: number; expiresMs: number } {
  if (typeof row?.request_id !== 'string' || row.request_id === '') throw new TypeError('request_id must be a non-empty string');
  for (const field of ['tenant_id', 'team_id', 'key_id', 'user_id_hash', 'model_alias'] as const) {
    const value = row[field];
    if (value !== null && typeof value !== 'string') throw new TypeError(`${field} must be a string or null`);
  }
  if (typeof row.prompt !== 'string' || typeof row.completion !== 'string') throw new TypeError('prompt and completion must be strings');
  return { tsMs: instantMs(row.ts, 'ts'), expiresMs: instantMs(row.expires_at, 'expires_at') };
}

/** Later batches win nothing: within one batch the first row of a request_id is kept. */
export function firstOfEach(rows: readonly PromptLogRow[]): PromptLogRow[] {
  const seen = new Set<string>();
  return rows.filter((row) => !seen.has(row.request_id) && (seen.add(row.request_id), true));
}

export function isoFromMs(ms: unknown): string {
  return new Date(Number(ms)).toISOString();
}

export type { Migration };
