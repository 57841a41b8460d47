// The ledger sink contract on SQLite (a file per test in a temp dir, and :memory:), plus the
// SQLite-only checks: the schema, sharing a file with the identity store, migration, and the
// URL forms openLedgerSink accepts.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { isLedgerReader, jsonlDirectory, migrateLedgerSink, openLedgerSink } from '../../src/ledger/open-ledger-sink.ts';
import { JsonlFileSink } from '../../src/ledger/sinks/jsonl-file-sink.ts';
import { SqliteLedgerSink } from '../../src/ledger/sinks/sqlite-ledger-sink.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { ledgerEvent } from '../helpers/ledger-events.ts';
import { ledgerSinkContract, type ReadableSink } from './ledger-sink-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-sqlite-ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function removeDb(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}

ledgerSinkContract('SQLite file', async () => {
  const file = join(dir, `ledger-${++files}.db`);
  const sink = (await openLedgerSink(`sqlite:${file}`)) as ReadableSink;
  return {
    sink,
    reopen: async () => (await openLedgerSink(`sqlite:${file}`)) as ReadableSink,
    cleanup: async () => {
      await sink.close();
      removeDb(file);
    },
  };
});

ledgerSinkContract('SQLite :memory:', async () => {
  const sink = (await openLedgerSink('sqlite::memory:')) as ReadableSink;
  return { sink, cleanup: () => sink.close() };
});

test('SQLite: the schema: indexed time, day and request id; money as integer pico-dollars; migrations recorded in their own table', async () => {
  const file = join(dir, 'schema.db');
  const sink = new SqliteLedgerSink({ path: file });
  try {
    assert.equal(await sink.schemaVersion(), 0);
    assert.deepEqual(await sink.migrate(), { applied: [1], version: 1 });
    assert.deepEqual(await sink.migrate(), { applied: [], version: 1 });
    await sink.write([ledgerEvent({ cost_usd: { total: 0.00486, saved: 1.875e-8 } })]);
  } finally {
    await sink.close();
  }
  const db = new DatabaseSync(file);
  try {
    const row = db.prepare('SELECT cost_total_pico, cost_saved_pico, typeof(cost_total_pico) AS type, day, ts_ms FROM ledger_events').get()!;
    assert.deepEqual({ ...row }, { cost_total_pico: 4_860_000_000, cost_saved_pico: 18_750, type: 'integer', day: '2026-12-02', ts_ms: Date.parse('2026-12-02T09:00:00.000Z') });
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_events' AND sql IS NOT NULL ORDER BY name").all().map((r) => r.name);
    assert.deepEqual(indexes, ['ledger_events_day', 'ledger_events_request', 'ledger_events_tenant', 'ledger_events_ts']);
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT event_json FROM ledger_events WHERE (ts_ms, event_id) < (?, ?) ORDER BY ts_ms DESC, event_id DESC LIMIT 10').all(0, '');
    assert.match(plan.map((r) => String(r.detail)).join('\n'), /ledger_events_ts/);
    assert.deepEqual(db.prepare('SELECT version FROM ledger_schema_migrations').all().map((r) => r.version), [1]);
  } finally {
    db.close();
  }
});

test('SQLite: the ledger and the identity store can share one file (separate migration tables)', async () => {
  const file = join(dir, 'shared.db');
  const identity = await openIdentityStore({ url: `sqlite:${file}` });
  const ledger = (await openLedgerSink(`sqlite:${file}`)) as ReadableSink;
  try {
    const identityVersion = (await identity.migrate()).version;
    await ledger.write([ledgerEvent({ request_id: 'shared-1' })]);
    assert.equal(await identity.schemaVersion(), identityVersion);
    assert.equal((await ledger.request('shared-1'))?.request_id, 'shared-1');
    assert.deepEqual((await identity.migrate()).applied, []);
  } finally {
    await ledger.close();
    await identity.close();
  }
});

test('SQLite: two sinks on one new file migrate once and both write', async () => {
  const file = join(dir, 'two.db');
  const a = new SqliteLedgerSink({ path: file });
  const b = new SqliteLedgerSink({ path: file });
  try {
    const reports = [await a.migrate(), await b.migrate()];
    assert.deepEqual(reports.flatMap((r) => r.applied), [1]);
    await a.write([ledgerEvent({ request_id: 'from-a' })]);
    await b.write([ledgerEvent({ request_id: 'from-b' })]);
    assert.equal((await a.requests({ filters: {}, limit: 10 })).length, 2);
  } finally {
    await a.close();
    await b.close();
  }
});

test('openLedgerSink: sqlite:PATH and sqlite://PATH relative to the working directory (parents created), sqlite:///PATH absolute', async () => {
  for (const [prefix, sub] of [['sqlite:', 'single'], ['sqlite://', 'double']]) {
    const file = join(dir, sub, 'nested', 'ledger.db');
    const sink = await openLedgerSink(`${prefix}${relative(process.cwd(), file)}`);
    assert.equal(sink.name, 'sqlite');
    assert.ok(isLedgerReader(sink));
    assert.deepEqual(await migrateLedgerSink(sink), { applied: [1], version: 1 });
    await sink.close();
    assert.ok(existsSync(file), `${prefix} created ${file}`);
  }
  const absolute = await openLedgerSink(`sqlite://${join(dir, 'absolute.db')}`);
  await absolute.close();
  assert.ok(existsSync(join(dir, 'absolute.db')));
});

test('openLedgerSink: postgres URLs open without connecting; jsonl: and file: open the JSONL sink; anything else is refused without the password', async () => {
  for (const url of ['postgres://u:p@127.0.0.1:1/db', 'postgresql://127.0.0.1:1/db']) {
    const sink = await openLedgerSink(url, { schema: 'ledger_a', poolSize: 2 });
    assert.equal(sink.name, 'postgres');
    assert.ok(isLedgerReader(sink));
    await sink.close();
  }
  await assert.rejects(openLedgerSink('postgres://127.0.0.1/db', { schema: 'Bad-Name' }), /schema must match/);
  for (const url of [`jsonl:${join(dir, 'j1')}`, `file:${join(dir, 'j2')}`, `jsonl://${relative(process.cwd(), join(dir, 'j3'))}`]) {
    const sink = await openLedgerSink(url);
    assert.ok(sink instanceof JsonlFileSink);
    assert.equal(isLedgerReader(sink), false);
    assert.equal(await migrateLedgerSink(sink), undefined);
    await sink.close();
  }
  assert.equal(jsonlDirectory('jsonl:///var/ledger'), '/var/ledger');
  assert.equal(jsonlDirectory('file:ledger'), 'ledger');
  assert.equal(jsonlDirectory('jsonl:'), undefined);
  for (const url of ['mysql://bob:hunter2@db:3306/gw', 'sqlite:', 'jsonl:', 'ledger.db', 'kafka://bob:hunter2@broker/topic']) {
    await assert.rejects(openLedgerSink(url), (error: Error) => {
      assert.match(error.message, /accepted forms: postgres:\/\/.*sqlite:PATH.*sqlite::memory:.*jsonl:DIR/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  }
});

test('SQLite: a closed sink refuses writes', async () => {
  const sink = new SqliteLedgerSink({ path: ':memory:' });
  await sink.close();
  await sink.close();
  await assert.rejects(sink.write([ledgerEvent()]), /SQLite ledger sink failed/);
});
