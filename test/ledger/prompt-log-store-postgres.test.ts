// The prompt log store contract on a real PostgreSQL (TOLLGATE_TEST_POSTGRES_URL, default
// postgresql://postgres@127.0.0.1:5432/test), one fresh schema per test, all dropped at the end;
// plus the PostgreSQL-only checks: the table's shape, a schema shared with the identity store,
// and a refused connection. Unreachable server: skipped with a message, or a failure when CI is set.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPromptLogStore } from '../../src/ledger/prompt-log/open-prompt-log-store.ts';
import { StoreUnavailable } from '../../src/stores/identity-store.ts';
import { latestSchemaVersion, openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { promptLogStoreContract, promptRow } from './prompt-log-store-contract.ts';
import { throwawaySchemas } from '../helpers/throwaway-schemas.ts';

const { url: URL, admin, unreachable, newSchema, dropSchema } = await throwawaySchemas('tg_prompts', 'prompt log');

if (unreachable) {
  test('PromptLogStore contract: PostgreSQL', { skip: `${unreachable}; skipped` }, () => undefined);
} else {
  promptLogStoreContract('PostgreSQL', async () => {
    const schema = newSchema();
    const store = await openPromptLogStore({ url: URL, schema, poolSize: 4 });
    return {
      store,
      openSibling: () => openPromptLogStore({ url: URL, schema, poolSize: 2 }),
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  test('PostgreSQL: the table, its indexes and its own migrations table live in the schema', async () => {
    const schema = newSchema();
    const store = await openPromptLogStore({ url: URL, schema });
    try {
      await store.migrate();
      const tables = await admin.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema]);
      assert.deepEqual(tables.rows.map((r) => r.table_name), ['prompt_log', 'prompt_log_migrations']);
      const columns = await admin.query(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'prompt_log' ORDER BY ordinal_position",
        [schema],
      );
      assert.deepEqual(columns.rows.map((r) => `${r.column_name}:${r.data_type}:${r.is_nullable}`), [
        'request_id:text:NO',
        'ts:timestamp with time zone:NO',
        'expires_at:timestamp with time zone:NO',
        'tenant_id:text:YES',
        'team_id:text:YES',
        'key_id:text:YES',
        'user_id_hash:text:YES',
        'model_alias:text:YES',
        'prompt:text:NO',
        'completion:text:NO',
      ]);
      const indexes = await admin.query("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'prompt_log' ORDER BY 1", [schema]);
      assert.deepEqual(indexes.rows.map((r) => r.indexname), ['prompt_log_expires_at', 'prompt_log_pkey', 'prompt_log_tenant_id', 'prompt_log_user_id_hash']);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: the prompt log and the identity store share a schema, each with its own migrations', async () => {
    const schema = newSchema();
    const identity = await openIdentityStore({ url: URL, schema });
    const prompts = await openPromptLogStore({ url: URL, schema });
    try {
      // Either order, at the same time.
      const [identityReport, promptReport] = await Promise.all([identity.migrate(), prompts.migrate()]);
      assert.equal(identityReport.version, latestSchemaVersion(identity));
      assert.deepEqual(promptReport, { applied: [1], version: 1 });
      assert.equal(await identity.schemaVersion(), latestSchemaVersion(identity));
      assert.equal(await prompts.schemaVersion(), 1);
      await prompts.save([promptRow('r1')]);
      assert.ok(await prompts.get('r1'));
    } finally {
      await identity.close();
      await prompts.close();
      await dropSchema(schema);
    }
  });
}

test('PostgreSQL: a refused connection is StoreUnavailable, without the password', async () => {
  const store = await openPromptLogStore({ url: 'postgresql://tollgate:s3cret-pw@127.0.0.1:1/test', schema: 'anything' });
  try {
    for (const call of [() => store.migrate(), () => store.get('x'), () => store.save([promptRow('x')]), () => store.deleteBy({ tenantId: 't' }), () => store.purgeExpired(0)]) {
      await assert.rejects(call(), (error: Error) => {
        assert.ok(error instanceof StoreUnavailable, `${error.name}: ${error.message}`);
        assert.match(error.message, /PostgreSQL at 127\.0\.0\.1:1\/test is unavailable/);
        assert.doesNotMatch(error.message, /s3cret-pw/);
        return true;
      });
    }
  } finally {
    await store.close();
  }
});
