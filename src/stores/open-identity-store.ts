// Opens the identity store a URL names: PostgreSQL for postgres:// and postgresql://, SQLite
// for sqlite:PATH, sqlite://PATH (relative to the working directory) and sqlite::memory:.
// It does not migrate; call migrate() (the `tollgate migrate` command, or at startup).

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { IdentityStore } from './identity-store.ts';
import { redactCredentials } from './postgres/postgres-errors.ts';
import { PostgresIdentityStore } from './postgres/postgres-identity-store.ts';
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
