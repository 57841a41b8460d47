// Opens the prompt log store a URL names: PostgreSQL for postgres:// and postgresql:// (in
// `schema`), SQLite for sqlite:PATH, sqlite://PATH (relative to the working directory; parents
// created) and sqlite::memory:. It does not migrate: call migrate() at startup.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sqlitePath } from '../../stores/open-identity-store.ts';
import { redactCredentials } from '../../stores/postgres/postgres-errors.ts';
import type { PromptLogStore } from './prompt-log-store.ts';
import { SqlitePromptLogStore } from './sqlite-prompt-log-store.ts';

export interface OpenPromptLogStoreOptions {
  url: string;
  /** PostgreSQL only: the schema that holds the table (default "public"). */
  schema?: string;
  /** PostgreSQL only: most connections open at once (default 4). */
  poolSize?: number;
}

const ACCEPTED_FORMS =
  'postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, postgresql://..., sqlite:PATH, sqlite://PATH (relative to the working directory; sqlite:///PATH is absolute) or sqlite::memory:';

export async function openPromptLogStore(options: OpenPromptLogStoreOptions): Promise<PromptLogStore> {
  const url = options.url.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // pg is loaded only when PostgreSQL is configured.
    const { PostgresPromptLogStore } = await import('./postgres-prompt-log-store.ts');
    return new PostgresPromptLogStore({ connectionString: url, schema: options.schema, poolSize: options.poolSize });
  }
  const path = sqlitePath(url);
  if (path === undefined) {
    throw new Error(`unsupported prompt log store URL ${JSON.stringify(redactCredentials(url))}; accepted forms: ${ACCEPTED_FORMS}`);
  }
  if (path === ':memory:') return new SqlitePromptLogStore({ path });
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  return new SqlitePromptLogStore({ path: file });
}
