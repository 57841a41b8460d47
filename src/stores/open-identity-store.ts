// Opens the identity store a URL names: PostgreSQL for postgres:// and postgresql://, SQLite
// for sqlite:PATH, sqlite://PATH (relative to the working directory) and sqlite::memory:.
// It does not migrate; call migrate() (the `tollgate migrate` command, or at startup).

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { IdentityStore, MigrationReport } from './identity-store.ts';
import { POSTGRES_MIGRATIONS } from './postgres/postgres-migrations.ts';
import { SQLITE_MIGRATIONS } from './sqlite/sqlite-migrations.ts';
import { redactCredentials } from './postgres/postgres-errors.ts';
import { SqliteIdentityStore } from './sqlite/sqlite-identity-store.ts';

export interface OpenIdentityStoreOptions {
  url: string;
  /** PostgreSQL only: the schema that holds the tables (default "public"). */
  schema?: string;
  /** PostgreSQL only: most connections open at once (default 10). */
  poolSize?: number;
}

const ACCEPTED_FORMS =
  'postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, postgresql://..., sqlite:PATH, sqlite://PATH (relative to the working directory; sqlite:///PATH is absolute) or sqlite::memory:';

export async function openIdentityStore(options: OpenIdentityStoreOptions): Promise<IdentityStore> {
  const url = options.url.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // pg is loaded only when PostgreSQL is configured: the embedded default never pays for it.
    const { PostgresIdentityStore } = await import('./postgres/postgres-identity-store.ts');
    return new PostgresIdentityStore({ connectionString: url, schema: options.schema, poolSize: options.poolSize });
  }
  const path = sqlitePath(url);
  if (path === undefined) {
    throw new Error(`unsupported identity store URL ${JSON.stringify(redactCredentials(url))}; accepted forms: ${ACCEPTED_FORMS}`);
  }
  if (path === ':memory:') return new SqliteIdentityStore({ path });
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  return new SqliteIdentityStore({ path: file });
}

/** The file path (or ":memory:") of a sqlite: URL; undefined for anything else or an empty path. */
export function sqlitePath(url: string): string | undefined {
  const match = /^sqlite:(\/\/)?(.*)$/i.exec(url);
  if (!match) return undefined;
  const path = match[2];
  if (path === '' || path === '/') return undefined;
  return path;
}

/** The schema version this build's migrations end at, for the store's backend. */
export function latestSchemaVersion(store: IdentityStore): number {
  const migrations = store.backend === 'postgres' ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS;
  return Math.max(0, ...migrations.map((m) => m.version));
}

/** The database is behind this build and migrations are not to run automatically. */
export class SchemaNotReady extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaNotReady';
  }
}

/**
 * Startup's schema step, for the gateway and the CLI alike: migrate when `migrateOnStart`,
 * otherwise insist that the schema is current (SchemaNotReady says to run `tollgate migrate`).
 */
export async function prepareSchema(store: IdentityStore, database: { url: string; migrateOnStart: boolean }): Promise<MigrationReport | undefined> {
  if (database.migrateOnStart) return store.migrate();
  const version = await store.schemaVersion();
  const latest = latestSchemaVersion(store);
  if (version >= latest) return undefined;
  const state = version === 0 ? 'has no Tollgate schema yet' : `is at schema version ${version}, and this build needs ${latest}`;
  throw new SchemaNotReady(`The database ${redactCredentials(database.url)} ${state} (database.migrate_on_start is false). Run \`tollgate migrate --config FILE\` first.`);
}
