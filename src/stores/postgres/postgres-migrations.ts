// The PostgreSQL schema of the identity store, as versioned migrations, and the runner that
// applies them. The runner takes a transaction-scoped advisory lock before it looks at
// anything, so several replicas starting at once apply each version exactly once: the first
// creates the schema and tables, the others wait on the lock and then find nothing to do.
//
// Id columns use COLLATE "C" so `ORDER BY id` and `id > after` follow byte order, the same as
// SQLite, whatever the database's default collation.

import type pg from 'pg';
import type { MigrationReport } from '../identity-store.ts';
import { pendingMigrations, type Migration } from '../identity-rows.ts';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'identity: teams, tenants, keys, key_secrets, audit_log, changes',
    sql: `
      CREATE TABLE teams (
        team_id text COLLATE "C" PRIMARY KEY,
        doc jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE tenants (
        tenant_id text COLLATE "C" PRIMARY KEY,
        doc jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE keys (
        key_id text COLLATE "C" PRIMARY KEY,
        team_id text COLLATE "C" NOT NULL,
        status text NOT NULL,
        doc jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX keys_team_id ON keys (team_id, key_id);
      CREATE INDEX keys_status ON keys (status, key_id);
      CREATE TABLE key_secrets (
        secret_hash text PRIMARY KEY,
        key_id text COLLATE "C" NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX key_secrets_key_id ON key_secrets (key_id);
      CREATE INDEX key_secrets_expires_at ON key_secrets (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE audit_log (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        object_type text NOT NULL CHECK (object_type IN ('team', 'tenant', 'key')),
        object_id text NOT NULL,
        request_id text,
        before_doc jsonb,
        after_doc jsonb
      );
      CREATE INDEX audit_log_actor ON audit_log (actor, seq);
      CREATE INDEX audit_log_action ON audit_log (action, seq);
      CREATE INDEX audit_log_object ON audit_log (object_type, object_id, seq);
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE TABLE changes (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('team', 'tenant', 'key')),
        object_id text NOT NULL,
        at_ms bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
      );
      CREATE INDEX changes_at_ms ON changes (at_ms);
    `,
  },
  {
    version: 2,
    name: 'limit policies: limit_policies, and kind "limit" in audit_log and changes',
    sql: `
      CREATE TABLE limit_policies (
        scope text COLLATE "C" PRIMARY KEY,
        doc jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      ALTER TABLE audit_log DROP CONSTRAINT audit_log_object_type_check,
        ADD CONSTRAINT audit_log_object_type_check CHECK (object_type IN ('team', 'tenant', 'key', 'limit'));
      ALTER TABLE changes DROP CONSTRAINT changes_kind_check,
        ADD CONSTRAINT changes_kind_check CHECK (kind IN ('team', 'tenant', 'key', 'limit'));
    `,
  },
];

/** Lock namespace for pg_advisory_xact_lock(int, int): "Toll" in ASCII; the second key is the schema. */
const MIGRATION_LOCK = 0x546f6c6c;
/** Waiting for another replica's migration may take longer than an ordinary statement. */
const MIGRATION_TIMEOUT_MS = 120_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Returns the schema name quoted for SQL, after checking it is a plain lower-case identifier. */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError(`schema must match ${SCHEMA_NAME} (lower-case letters, digits, underscores), got ${JSON.stringify(schema)}`);
  }
  return `"${schema}"`;
}

/** Applies pending migrations inside the caller's transaction on `client`. */
export async function runPostgresMigrations(
  client: pg.PoolClient,
  schema: string,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<MigrationReport> {
  const quoted = quoteSchema(schema);
  const run = (text: string, values?: unknown[]) => client.query({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
  await run(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
  await run('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [MIGRATION_LOCK, schema]);
  // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database.
  const exists = await run('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.rowCount === 0) await run(`CREATE SCHEMA ${quoted}`);
  await run(`SET LOCAL search_path TO ${quoted}`);
  await run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied = await run('SELECT version FROM schema_migrations');
  const pending = pendingMigrations(migrations, new Set(applied.rows.map((r) => Number(r.version))));
  for (const migration of pending) {
    await run(migration.sql);
    await run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
  }
  const version = await run('SELECT coalesce(max(version), 0) AS version FROM schema_migrations');
  return { applied: pending.map((m) => m.version), version: Number(version.rows[0].version) };
}

/** 0 when the schema or its schema_migrations table does not exist yet. */
export async function readPostgresSchemaVersion(queryable: pg.Pool | pg.PoolClient, schema: string): Promise<number> {
  const table = await queryable.query('SELECT to_regclass($1) AS t', [`${quoteSchema(schema)}.schema_migrations`]);
  if (table.rows[0].t === null) return 0;
  const result = await queryable.query(`SELECT coalesce(max(version), 0) AS version FROM ${quoteSchema(schema)}.schema_migrations`);
  return Number(result.rows[0].version);
}
