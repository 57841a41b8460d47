// The identity store contract on a real PostgreSQL (TOLLGATE_TEST_POSTGRES_URL, default
// postgresql://postgres@127.0.0.1:5432/test), one fresh schema per test, all dropped at the end;
// plus how the store fails when the server is down, silent, or drops its connections.
// Unreachable server: skipped with a message, or a failure when CI is set.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { StoreConflict, StoreUnavailable } from '../../src/stores/identity-store.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { PostgresIdentityStore } from '../../src/stores/postgres/postgres-identity-store.ts';
import { identityStoreContract } from './identity-store.contract.ts';
import { audit, auditBefore, hashOf, key, team } from './identity-fixtures.ts';
import { throwawaySchemas } from '../helpers/throwaway-schemas.ts';

const { url: URL, admin, unreachable, newSchema, dropSchema } = await throwawaySchemas('tg_test', 'store');

if (unreachable) {
  test('IdentityStore contract: PostgreSQL, and the PostgreSQL-only store tests', { skip: `${unreachable}; skipped` }, () => undefined);
} else {
  identityStoreContract('PostgreSQL', async () => {
    const schema = newSchema();
    const store = await openIdentityStore({ url: URL, schema, poolSize: 4 });
    return {
      store,
      openSibling: () => openIdentityStore({ url: URL, schema, poolSize: 2 }),
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  test('PostgreSQL: tables live in the schema, docs are jsonb, each migration recorded once', async () => {
    const schema = newSchema();
    const stores = await Promise.all([1, 2, 3].map(() => openIdentityStore({ url: URL, schema, poolSize: 1 })));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const tables = await admin.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema]);
      assert.deepEqual(
        tables.rows.map((r) => r.table_name),
        ['audit_log', 'changes', 'key_secrets', 'keys', 'limit_policies', 'schema_migrations', 'teams', 'tenants'],
      );
      const doc = await admin.query("SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'teams' AND column_name = 'doc'", [schema]);
      assert.equal(doc.rows[0].data_type, 'jsonb');
      const versions = await admin.query(`SELECT version, count(*)::int AS n FROM "${schema}".schema_migrations GROUP BY version`);
      assert.ok(versions.rows.length > 0 && versions.rows.every((r) => r.n === 1));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: a team delete waits for a key create in flight for that team, then refuses it as in_use', async () => {
    const schema = newSchema();
    const store = await openIdentityStore({ url: URL, schema, poolSize: 4 });
    try {
      await store.migrate();
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      await store.create('team', team('u'), audit('team.create', 'team', 'u'));
      await store.createKey(key('mover', 'u'), hashOf('mover'), audit('key.create', 'key', 'mover'));
      // Every key write sleeps after its row is written, before its transaction commits.
      await admin.query(`
        CREATE FUNCTION "${schema}".slow_key() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.4); RETURN NEW; END $$;
        CREATE TRIGGER slow_key AFTER INSERT OR UPDATE ON "${schema}".keys FOR EACH ROW EXECUTE FUNCTION "${schema}".slow_key()`);
      const isInUse = (error: unknown) => error instanceof StoreConflict && error.reason === 'in_use';

      const creating = store.createKey(key('k', 't'), hashOf('k'), audit('key.create', 'key', 'k'));
      await new Promise((r) => setTimeout(r, 150));
      await assert.rejects(store.remove('team', 't', audit('team.delete', 'team', 't')), isInUse);
      await creating;
      assert.ok(await store.get('team', 't'), 'the team is still there');

      // The same for a key moved to the team by an update.
      await store.create('team', team('v'), audit('team.create', 'team', 'v'));
      const mover = (await store.get('key', 'mover'))!;
      const moving = store.update('key', { ...mover, team_id: 'v' }, auditBefore('key.update', 'key', 'mover', mover));
      await new Promise((r) => setTimeout(r, 150));
      await assert.rejects(store.remove('team', 'v', audit('team.delete', 'team', 'v')), isInUse);
      await moving;
      assert.equal((await store.get('key', 'mover'))?.team_id, 'v');
      assert.ok(await store.get('team', 'v'));
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: an update waiting on a concurrent writer re-checks before against the committed row', async () => {
    const schema = newSchema();
    const store = await openIdentityStore({ url: URL, schema, poolSize: 4 });
    const locker = await admin.connect();
    try {
      await store.migrate();
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      const read = (await store.get('team', 't'))!;
      // Another session changes the row and holds it uncommitted while our update starts.
      await locker.query('BEGIN');
      await locker.query(`UPDATE "${schema}".teams SET doc = jsonb_set(doc, '{rpm_limit}', '1') WHERE team_id = 't'`);
      const updating = store.update('team', { ...read, team_alias: 'mine' }, auditBefore('team.update', 'team', 't', read));
      await new Promise((r) => setTimeout(r, 150));
      await locker.query('COMMIT');
      await assert.rejects(updating, (error: unknown) => error instanceof StoreConflict && error.reason === 'changed');
      const stored = (await store.get('team', 't'))!;
      assert.equal(stored.rpm_limit, 1);
      assert.equal(stored.team_alias, read.team_alias);
    } finally {
      locker.release();
      await store.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: a query blocked past queryTimeoutMillis fails as StoreUnavailable', async () => {
    const schema = newSchema();
    const store = new PostgresIdentityStore({ connectionString: URL, schema, queryTimeoutMillis: 300 });
    const locker = await admin.connect();
    try {
      await store.migrate();
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${schema}".teams IN ACCESS EXCLUSIVE MODE`);
      const started = Date.now();
      await assert.rejects(store.get('team', 't'), (error: Error) => {
        assert.ok(error instanceof StoreUnavailable, `${error.name}: ${error.message}`);
        assert.match(error.message, /unavailable: .*(timeout|canceling statement)/i);
        return true;
      });
      assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
      await store.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: a connection the server terminates (57P01) is reported, replaced, and never crashes', async () => {
    const schema = newSchema();
    const applicationName = `tg_test_${randomBytes(4).toString('hex')}`;
    const reported: StoreUnavailable[] = [];
    const store = new PostgresIdentityStore({ connectionString: URL, schema, applicationName, onPoolError: (e) => reported.push(e) });
    try {
      await store.migrate();
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
      assert.ok(killed.rowCount! >= 1);
      for (let i = 0; i < 100 && reported.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(reported.length >= 1, 'the pool error was reported');
      assert.ok(reported[0] instanceof StoreUnavailable);
      assert.match(reported[0].message, /unavailable/);
      assert.deepEqual(await store.get('team', 't'), team('t'));
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });
}

test('PostgreSQL: a refused connection is StoreUnavailable, fast, without the password', async () => {
  const store = await openIdentityStore({ url: 'postgresql://tollgate:s3cret-pw@127.0.0.1:1/test', schema: 'anything' });
  try {
    const calls = [() => store.migrate(), () => store.get('team', 'x'), () => store.remove('team', 'x', audit('team.delete', 'team', 'x'))];
    for (const call of calls) {
      await assert.rejects(call(), (error: Error) => {
        assert.ok(error instanceof StoreUnavailable, `${error.name}: ${error.message}`);
        assert.match(error.message, /PostgreSQL at 127\.0\.0\.1:1\/test is unavailable: .*ECONNREFUSED/);
        assert.doesNotMatch(error.message, /s3cret-pw/);
        return true;
      });
    }
  } finally {
    await store.close();
  }
});

test('PostgreSQL: a server that accepts but never answers fails within connectionTimeoutMillis', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  const store = new PostgresIdentityStore({ connectionString: `postgres://u:pw-xyz@127.0.0.1:${port}/db`, connectionTimeoutMillis: 300 });
  const started = Date.now();
  try {
    await assert.rejects(store.schemaVersion(), (error: Error) => {
      assert.ok(error instanceof StoreUnavailable);
      assert.match(error.message, /unavailable: .*timeout/i);
      assert.doesNotMatch(error.message, /pw-xyz/);
      return true;
    });
    assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`);
  } finally {
    await store.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
