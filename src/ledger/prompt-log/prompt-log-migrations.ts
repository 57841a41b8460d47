// The prompt_log table as versioned migrations, for SQLite and PostgreSQL, and their runners.
// Applied versions are recorded in `prompt_log_migrations` (not the identity store's
// schema_migrations), so the table can live in the identity or ledger database without the two
// schemas' versions mixing. Like src/stores/*: SQLite takes the write lock (BEGIN IMMEDIATE)
// before reading what was applied, PostgreSQL an advisory lock, so replicas migrating at once
// apply each version exactly once.
//
// Timestamps: SQLite keeps epoch milliseconds (INTEGER), PostgreSQL timestamptz; both hold
// exactly the milliseconds written.

import type { DatabaseSync } from 'node:sqlite';
import type pg from 'pg';
import { pendingMigrations, type Migration } from '../../stores/identity-rows.ts';
import type { MigrationReport } from '../../stores/identity-store.ts';
import type { Queryable } from '../../stores/postgres/pg-pool.ts';
import { readMigrationVersion, runMigrations } from '../../stores/postgres/pg-schema.ts';
import { MIGRATION_LOCK } from '../../stores/postgres/postgres-migrations.ts';

export const SQLITE_PROMPT_LOG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'prompt_log: redacted prompts and completions of opted-in teams and tenants',
    sql: `
      CREATE TABLE prompt_log (
        request_id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        tenant_id TEXT,
        team_id TEXT,
        key_id TEXT,
        user_id_hash TEXT,
        model_alias TEXT,
        prompt TEXT NOT NULL,
        completion TEXT NOT NULL
      ) STRICT;
      CREATE INDEX prompt_log_expires_at ON prompt_log (expires_at);
      CREATE INDEX prompt_log_tenant_id ON prompt_log (tenant_id);
      CREATE INDEX prompt_log_user_id_hash ON prompt_log (user_id_hash);
    `,
  },
];

export const POSTGRES_PROMPT_LOG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'prompt_log: redacted prompts and completions of opted-in teams and tenants',
    sql: `
      CREATE TABLE prompt_log (
        request_id text COLLATE "C" PRIMARY KEY,
        ts timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        tenant_id text COLLATE "C",
        team_id text COLLATE "C",
        key_id text COLLATE "C",
        user_id_hash text COLLATE "C",
        model_alias text,
        prompt text NOT NULL,
        completion text NOT NULL
      );
      CREATE INDEX prompt_log_expires_at ON prompt_log (expires_at);
      CREATE INDEX prompt_log_tenant_id ON prompt_log (tenant_id);
      CREATE INDEX prompt_log_user_id_hash ON prompt_log (user_id_hash);
    `,
  },
];

export const PROMPT_LOG_MIGRATIONS_TABLE = 'prompt_log_migrations';

/** The version this build's migrations end at. */
export function latestPromptLogVersion(backend: 'sqlite' | 'postgres'): number {
  const migrations = backend === 'postgres' ? POSTGRES_PROMPT_LOG_MIGRATIONS : SQLITE_PROMPT_LOG_MIGRATIONS;
  return Math.max(0, ...migrations.map((m) => m.version));
}

// ── SQLite ──────────────────────────────────────────────────────────────────

export function runSqlitePromptLogMigrations(db: DatabaseSync, migrations: readonly Migration[] = SQLITE_PROMPT_LOG_MIGRATIONS): MigrationReport {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS ${PROMPT_LOG_MIGRATIONS_TABLE} (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ) STRICT`);
    const rows = db.prepare(`SELECT version FROM ${PROMPT_LOG_MIGRATIONS_TABLE}`).all();
    const pending = pendingMigrations(migrations, new Set(rows.map((r) => Number(r.version))));
    const record = db.prepare(`INSERT INTO ${PROMPT_LOG_MIGRATIONS_TABLE} (version, name) VALUES (?, ?)`);
    for (const migration of pending) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name);
    }
    const version = sqliteVersion(db);
    db.exec('COMMIT');
    return { applied: pending.map((m) => m.version), version };
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

export function readSqlitePromptLogVersion(db: DatabaseSync): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(PROMPT_LOG_MIGRATIONS_TABLE);
  return table ? sqliteVersion(db) : 0;
}

function sqliteVersion(db: DatabaseSync): number {
  return Number(db.prepare(`SELECT coalesce(max(version), 0) AS version FROM ${PROMPT_LOG_MIGRATIONS_TABLE}`).get()?.version ?? 0);
}

// ── PostgreSQL ──────────────────────────────────────────────────────────────

/** Applies pending migrations inside the caller's transaction on `client`, under the identity store's migration lock ("Toll", then the schema). */
export async function runPostgresPromptLogMigrations(
  client: pg.PoolClient,
  schema: string,
  migrations: readonly Migration[] = POSTGRES_PROMPT_LOG_MIGRATIONS,
): Promise<MigrationReport> {
  return runMigrations(client, schema, { table: PROMPT_LOG_MIGRATIONS_TABLE, migrations, lock: { key: MIGRATION_LOCK, name: schema } });
}

export async function readPostgresPromptLogVersion(queryable: Queryable, schema: string): Promise<number> {
  return readMigrationVersion(queryable, schema, PROMPT_LOG_MIGRATIONS_TABLE);
}
