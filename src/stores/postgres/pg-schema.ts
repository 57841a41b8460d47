// Schema plumbing the PostgreSQL stores share: checking and quoting a schema name, creating the
// schema when missing (ensureSchema), and the versioned-migration runner each store applies its
// own migrations with (each in its own migrations table, under its own advisory lock).
//
// ensureSchema takes ONE advisory lock key for every store, so the identity store, the ledger
// sink and the prompt log starting together on a fresh schema do not both find it missing and
// race CREATE SCHEMA (which is not safe to run concurrently, IF NOT EXISTS or not: the loser
// fails with 23505 on pg_namespace). A creator outside our locks is tolerated too.

import type pg from 'pg';
import type { MigrationReport } from '../identity-store.ts';
import { pendingMigrations, type Migration } from '../identity-rows.ts';
import type { Queryable } from './pg-pool.ts';

/** Waiting for another replica's migration may take longer than an ordinary statement. */
export const MIGRATION_TIMEOUT_MS = 120_000;

/** Lock namespace for pg_advisory_xact_lock(int, int) around CREATE SCHEMA: "Tsch"; the second key is the schema. */
const SCHEMA_LOCK = 0x54736368;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Returns the schema name quoted for SQL, after checking it is a plain lower-case identifier. */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError(`schema must match ${SCHEMA_NAME} (lower-case letters, digits, underscores), got ${JSON.stringify(schema)}`);
  }
  return `"${schema}"`;
}

/** A query on `client` with the migration timeout instead of the pool's statement timeout. */
function migrationQuery(client: pg.PoolClient): (text: string, values?: unknown[]) => Promise<pg.QueryResult> {
  return (text, values) => client.query({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
}

/** pg_advisory_xact_lock(key, hashtext(name)): held until the caller's transaction ends. */
export async function advisoryXactLock(client: pg.PoolClient, key: number, name: string): Promise<void> {
  await client.query({ text: 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))', values: [key, name], query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
}

/**
 * Creates the schema when missing, inside the caller's transaction on `client`, under the one
 * schema lock every store takes. Only when missing: CREATE SCHEMA IF NOT EXISTS still needs
 * CREATE on the database. A schema created meanwhile by a writer without our lock is fine too.
 */
export async function ensureSchema(client: pg.PoolClient, schema: string): Promise<void> {
  const quoted = quoteSchema(schema);
  const run = migrationQuery(client);
  await advisoryXactLock(client, SCHEMA_LOCK, schema);
  const exists = await run('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.rowCount !== 0) return;
  await run('SAVEPOINT create_schema');
  try {
    await run(`CREATE SCHEMA ${quoted}`);
    await run('RELEASE SAVEPOINT create_schema');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '42P06' && code !== '23505') throw error; // duplicate_schema, unique_violation
    await run('ROLLBACK TO SAVEPOINT create_schema');
  }
}

export interface MigrationPlan {
  /** Where this store records the versions it applied, in the schema. */
  table: string;
  migrations: readonly Migration[];
  /** The store's advisory lock for applying its migrations: pg_advisory_xact_lock(key, hashtext(name)). */
  lock: { key: number; name: string };
}

/**
 * Applies pending migrations inside the caller's transaction on `client`. The store's lock is
 * taken before anything is looked at, so several replicas starting at once apply each version
 * exactly once: the first creates the schema and tables, the others wait and find nothing to do.
 */
export async function runMigrations(client: pg.PoolClient, schema: string, plan: MigrationPlan): Promise<MigrationReport> {
  const quoted = quoteSchema(schema);
  const run = migrationQuery(client);
  await run(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
  await advisoryXactLock(client, plan.lock.key, plan.lock.name);
  await ensureSchema(client, schema);
  await run(`SET LOCAL search_path TO ${quoted}`);
  await run(`CREATE TABLE IF NOT EXISTS ${plan.table} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied = await run(`SELECT version FROM ${plan.table}`);
  const pending = pendingMigrations(plan.migrations, new Set(applied.rows.map((r) => Number(r.version))));
  for (const migration of pending) {
    await run(migration.sql);
    await run(`INSERT INTO ${plan.table} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
  }
  const version = await run(`SELECT coalesce(max(version), 0) AS version FROM ${plan.table}`);
  return { applied: pending.map((m) => m.version), version: Number(version.rows[0].version) };
}

/** The highest version recorded in the schema's `table`; 0 when the schema or the table does not exist yet. */
export async function readMigrationVersion(queryable: Queryable, schema: string, table: string): Promise<number> {
  const found = await queryable.query('SELECT to_regclass($1) AS t', [`${quoteSchema(schema)}.${table}`]);
  if (found.rows[0].t === null) return 0;
  const result = await queryable.query(`SELECT coalesce(max(version), 0) AS version FROM ${quoteSchema(schema)}.${table}`);
  return Number(result.rows[0].version);
}
