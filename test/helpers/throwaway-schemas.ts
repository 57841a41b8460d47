// Throwaway schemas on the shared test PostgreSQL (TOLLGATE_TEST_POSTGRES_URL, default
// postgresql://postgres@127.0.0.1:5432/test): an admin pool, a fresh schema name per test, and
// every schema handed out dropped when the test file ends. `unreachable` says why the server
// cannot be used (the caller skips); with CI set, an unreachable server fails the file instead.

import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { redactCredentials } from '../../src/stores/postgres/postgres-errors.ts';

export const POSTGRES_TEST_URL = process.env.TOLLGATE_TEST_POSTGRES_URL || 'postgresql://postgres@127.0.0.1:5432/test';

export interface ThrowawaySchemas {
  readonly url: string;
  /** A small pool for the test's own checks (and the drops). */
  readonly admin: pg.Pool;
  /** Why the server cannot be used, or undefined when it can. */
  readonly unreachable: string | undefined;
  /** A new schema name, not created: the store under test creates it. Dropped when the file ends. */
  newSchema(): string;
  dropSchema(schema: string): Promise<void>;
}

/** `prefix` names the file's schemas (with the pid and a random tag); `what` names its tests in the CI failure. */
export async function throwawaySchemas(prefix: string, what: string): Promise<ThrowawaySchemas> {
  const schemaPrefix = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: POSTGRES_TEST_URL, max: 2, connectionTimeoutMillis: 2000 });
  admin.on('error', () => undefined);
  const schemas = new Set<string>();
  let counter = 0;

  async function dropSchema(schema: string): Promise<void> {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    schemas.delete(schema);
  }

  after(async () => {
    for (const schema of [...schemas]) await dropSchema(schema).catch(() => undefined);
    await admin.end();
  });

  let unreachable: string | undefined;
  try {
    await admin.query('SELECT 1');
  } catch (error) {
    const reason = (error as Error).message || (error as { code?: string }).code;
    unreachable = `PostgreSQL at ${redactCredentials(POSTGRES_TEST_URL)} unreachable: ${reason}`;
  }
  if (unreachable && process.env.CI) throw new Error(`${unreachable} (CI is set, so the PostgreSQL ${what} tests fail instead of skipping)`);

  return {
    url: POSTGRES_TEST_URL,
    admin,
    unreachable,
    newSchema() {
      const schema = `${schemaPrefix}_${++counter}`;
      schemas.add(schema);
      return schema;
    },
    dropSchema,
  };
}
