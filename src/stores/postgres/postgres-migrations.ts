// The PostgreSQL schema of the identity store, as versioned migrations, applied by the shared
// runner (pg-schema.ts) under a transaction-scoped advisory lock, so several replicas starting
// at once apply each version exactly once: the first creates the schema and tables, the others
// wait on the lock and then find nothing to do.
//
// Id columns use COLLATE "C" so `ORDER BY id` and `id > after` follow byte order, the same as
// SQLite, whatever the database's default collation.

import type pg from 'pg';
import type { MigrationReport } from '../identity-store.ts';
import type { Migration } from '../identity-rows.ts';
import type { Queryable } from './pg-pool.ts';
import { readMigrationVersion, runMigrations } from './pg-schema.ts';

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
export const MIGRATION_LOCK = 0x546f6c6c;

/** Applies pending migrations inside the caller's transaction on `client`. */
export async function runPostgresMigrations(
  client: pg.PoolClient,
  schema: string,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<MigrationReport> {
  return runMigrations(client, schema, { table: 'schema_migrations', migrations, lock: { key: MIGRATION_LOCK, name: schema } });
}

/** 0 when the schema or its schema_migrations table does not exist yet. */
export async function readPostgresSchemaVersion(queryable: Queryable, schema: string): Promise<number> {
  return readMigrationVersion(queryable, schema, 'schema_migrations');
}
