// The identity store contract on SQLite (a file per test in a temp dir, and :memory:), plus
// migration from several threads at once and the URL forms openIdentityStore accepts.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { runSqliteMigrations, SQLITE_MIGRATIONS } from '../../src/stores/sqlite/sqlite-migrations.ts';
import type { MigrationReport } from '../../src/stores/identity-store.ts';
import { identityStoreContract } from './identity-store.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-sqlite-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

identityStoreContract('SQLite file', async () => {
  const url = `sqlite:${join(dir, `store-${++files}.db`)}`;
  const file = url.slice('sqlite:'.length);
  const store = await openIdentityStore({ url });
  return {
    store,
    openSibling: () => openIdentityStore({ url }),
    cleanup: async () => {
      await store.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
});

identityStoreContract('SQLite :memory:', async () => {
  const store = await openIdentityStore({ url: 'sqlite::memory:' });
  return { store, cleanup: () => store.close() };
});

const STORE_MODULE = pathToFileURL(join(import.meta.dirname, '../../src/stores/sqlite/sqlite-identity-store.ts')).href;

/** Each worker opens its own connection, waits at the barrier, then migrates. */
const MIGRATE_IN_WORKER = `
  const { workerData, parentPort } = require('node:worker_threads');
  import(workerData.module).then(async ({ SqliteIdentityStore }) => {
    const store = new SqliteIdentityStore({ path: workerData.file });
    const barrier = new Int32Array(workerData.barrier);
    Atomics.add(barrier, 1, 1);
    Atomics.wait(barrier, 0, 0);
    try {
      parentPort.postMessage({ report: await store.migrate() });
    } catch (error) {
      parentPort.postMessage({ error: String(error) });
    } finally {
      await store.close();
    }
  });
`;

test('SQLite: three threads migrating one new file at once apply each version exactly once', async () => {
  const file = join(dir, 'threads.db');
  const barrier = new SharedArrayBuffer(8);
  const flags = new Int32Array(barrier);
  const workers = Array.from({ length: 3 }, () => new Worker(MIGRATE_IN_WORKER, { eval: true, workerData: { module: STORE_MODULE, file, barrier } }));
  const exited = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
  const results = workers.map(
    (worker) =>
      new Promise<{ report?: MigrationReport; error?: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
  );
  while (Atomics.load(flags, 1) < 3) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  const outcomes = await Promise.all(results);
  await Promise.all(exited);
  for (const outcome of outcomes) assert.equal(outcome.error, undefined);
  const reports = outcomes.map((o) => o.report!);
  const version = reports[0].version;
  assert.ok(reports.every((r) => r.version === version));
  assert.deepEqual(reports.flatMap((r) => r.applied).sort((a, b) => a - b), Array.from({ length: version }, (_, i) => i + 1));
});

test('openIdentityStore: sqlite:PATH and sqlite://PATH are relative to the working directory, parents created', async () => {
  for (const [prefix, sub] of [['sqlite:', 'single'], ['sqlite://', 'double']]) {
    const file = join(dir, sub, 'nested', 'deeper', 'identity.db');
    const store = await openIdentityStore({ url: `${prefix}${relative(process.cwd(), file)}` });
    assert.equal(store.backend, 'sqlite');
    assert.ok((await store.migrate()).version > 0);
    await store.close();
    assert.ok(existsSync(file), `${prefix} created ${file}`);
  }
  const absolute = await openIdentityStore({ url: `sqlite://${join(dir, 'absolute.db')}` });
  await absolute.close();
  assert.ok(existsSync(join(dir, 'absolute.db')));
});

test('openIdentityStore: postgres:// and postgresql:// open PostgreSQL without connecting', async () => {
  for (const url of ['postgres://u:p@127.0.0.1:1/db', 'postgresql://127.0.0.1:1/db']) {
    const store = await openIdentityStore({ url, schema: 'tenant_a' });
    assert.equal(store.backend, 'postgres');
    await store.close();
  }
  await assert.rejects(openIdentityStore({ url: 'postgres://127.0.0.1/db', schema: 'Bad-Name' }), /schema must match/);
});

test('openIdentityStore: any other URL is refused, naming the accepted forms and never the password', async () => {
  for (const url of ['mysql://bob:hunter2@db.internal:3306/gw', 'redis://:hunter2@cache:6379', 'sqlite:', 'identity.db', 'file:identity.db']) {
    await assert.rejects(openIdentityStore({ url }), (error: Error) => {
      assert.match(error.message, /accepted forms: postgres:\/\/.*sqlite:PATH.*sqlite::memory:/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  }
  await assert.rejects(openIdentityStore({ url: 'mysql://bob:hunter2@db.internal/gw' }), /mysql:\/\/bob:\*\*\*@db\.internal\/gw/);
  await assert.rejects(openIdentityStore({ url: 'postgres://bob:hunter2@[bad/gw' }), (error: Error) => !error.message.includes('hunter2'));
});

test('SQLite: migrating a version-1 database to version 2 keeps every audit entry and change, and seqs keep increasing', async () => {
  const file = join(dir, 'upgrade.db');
  const db = new DatabaseSync(file);
  runSqliteMigrations(db, SQLITE_MIGRATIONS.slice(0, 1));
  db.exec(`INSERT INTO audit_log (at, actor, action, object_type, object_id, after_doc) VALUES ('2025-01-01T00:00:00.000Z', 'master', 'team.create', 'team', 't1', '{"team_id":"t1"}')`);
  db.exec(`INSERT INTO changes (kind, object_id, at_ms) VALUES ('team', 't1', 1), ('key', 'k1', 2)`);
  db.close();
  // A second v1 database whose changes were all pruned: numbering must go on after the migration.
  const pruned = join(dir, 'upgrade-pruned.db');
  const old = new DatabaseSync(pruned);
  runSqliteMigrations(old, SQLITE_MIGRATIONS.slice(0, 1));
  for (let i = 0; i < 50; i++) old.exec(`INSERT INTO changes (kind, object_id, at_ms) VALUES ('team', 't${i}', ${i})`);
  old.exec('DELETE FROM changes');
  old.close();
  const prunedStore = await openIdentityStore({ url: `sqlite:${pruned}` });
  try {
    await prunedStore.migrate();
    await prunedStore.create('limit', { scope: 'global', rpm_limit: 5, source: 'api', created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' },
      { at: '2025-01-01T00:00:00.000Z', actor: 'master', action: 'limit.create', object_type: 'limit', object_id: 'global' });
    assert.equal(await prunedStore.lastChangeSeq(), 51, 'seq goes on from 50, not from 1');
  } finally {
    await prunedStore.close();
  }
  const store = await openIdentityStore({ url: `sqlite:${file}` });
  try {
    assert.deepEqual((await store.migrate()).applied, [2]);
    assert.deepEqual((await store.changesAfter(0, 10)).map((c) => [c.seq, c.kind, c.id]), [[1, 'team', 't1'], [2, 'key', 'k1']]);
    assert.deepEqual((await store.queryAudit({ limit: 10 })).map((e) => [e.seq, e.action, e.object_id]), [[1, 'team.create', 't1']]);
    await store.create('limit', { scope: 'global', rpm_limit: 5, source: 'api', created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' },
      { at: '2025-01-01T00:00:00.000Z', actor: 'master', action: 'limit.create', object_type: 'limit', object_id: 'global' });
    assert.deepEqual((await store.changesAfter(2, 10)).map((c) => [c.seq, c.kind]), [[3, 'limit']]);
    assert.equal((await store.queryAudit({ limit: 1 }))[0]!.seq, 2);
  } finally {
    await store.close();
  }
});
