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
import { quoteSchema } from '../../stores/postgres/postgres-migrations.ts';

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

/**
 * pg_advisory_xact_lock(int, int): the same key as the identity store's migrations ("Toll", then
 * the schema), so the two never race to create a shared schema (CREATE SCHEMA is not safe to
 * run concurrently, IF NOT EXISTS or not).
 */
const MIGRATION_LOCK = 0x546f6c6c;
const MIGRATION_TIMEOUT_MS = 120_000;

/** Applies pending migrations inside the caller's transaction on `client`. */
export async function runPostgresPromptLogMigrations(
  client: pg.PoolClient,
  schema: string,
  migrations: readonly Migration[] = POSTGRES_PROMPT_LOG_MIGRATIONS,
): Promise<MigrationReport> {
  const quoted = quoteSchema(schema);
  const run = (text: string, values?: unknown[]) => client.query({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
  await run(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
  await run('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [MIGRATION_LOCK, schema]);
  // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database. Another
  // writer without our lock may create it meanwhile: that is fine too.
  const exists = await run('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.rowCount === 0) {
    await run('SAVEPOINT create_schema');
    try {
      await run(`CREATE SCHEMA ${quoted}`);
      await run('RELEASE SAVEPOINT create_schema');
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== '42P06' && code !== '23505') throw error;
      await run('ROLLBACK TO SAVEPOINT create_schema');
    }
  }
  await run(`SET LOCAL search_path TO ${quoted}`);
  await run(`CREATE TABLE IF NOT EXISTS ${PROMPT_LOG_MIGRATIONS_TABLE} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied = await run(`SELECT version FROM ${PROMPT_LOG_MIGRATIONS_TABLE}`);
  const pending = pendingMigrations(migrations, new Set(applied.rows.map((r) => Number(r.version))));
  for (const migration of pending) {
    await run(migration.sql);
    await run(`INSERT INTO ${PROMPT_LOG_MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
  }
  const version = await run(`SELECT coalesce(max(version), 0) AS version FROM ${PROMPT_LOG_MIGRATIONS_TABLE}`);
  return { applied: pending.map((m) => m.version), version: Number(version.rows[0].version) };
}

export async function readPostgresPromptLogVersion(queryable: pg.Pool | pg.PoolClient, schema: string): Promise<number> {
  const table = await queryable.query('SELECT to_regclass($1) AS t', [`${quoteSchema(schema)}.${PROMPT_LOG_MIGRATIONS_TABLE}`]);
  if (table.rows[0].t === null) return 0;
  const result = await queryable.query(`SELECT coalesce(max(version), 0) AS version FROM ${quoteSchema(schema)}.${PROMPT_LOG_MIGRATIONS_TABLE}`);
  return Number(result.rows[0].version);
}
