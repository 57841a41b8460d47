// The ledger sink contract on SQLite (a file per test in a temp dir, and :memory:), plus the
// SQLite-only checks: the schema, sharing a file with the identity store, migration, the URL
// forms openLedgerSink accepts, and the worker thread that owns the database.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { isLedgerReader, jsonlDirectory, migrateLedgerSink, openLedgerSink } from '../../src/ledger/open-ledger-sink.ts';
import { JsonlFileSink } from '../../src/ledger/sinks/jsonl-file-sink.ts';
import { InvalidLedgerEvent } from '../../src/ledger/sinks/ledger-rows.ts';
import { POST_SLICE_EVENTS, SqliteLedgerSink } from '../../src/ledger/sinks/sqlite-ledger-sink.ts';
import { SQLITE_DIALECT, SQLITE_LEDGER_MIGRATIONS } from '../../src/ledger/sinks/sqlite-ledger-db.ts';
import { FLAGGED_PREDICATE, guardrailEventsSql } from '../../src/ledger/sinks/ledger-queries.ts';
import { StoreUnavailable } from '../../src/stores/identity-store.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { ledgerEvent } from '../helpers/ledger-events.ts';
import { ledgerSinkContract, V1_COLUMNS, type OpenLegacyLedger, type ReadableSink } from './ledger-sink-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-sqlite-ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function removeDb(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}

/** A ledger file as migration 1 made it (no guardrail columns), holding `rows`; then a sink on it. */
const openLegacySqlite: OpenLegacyLedger = async (rows) => {
  const file = join(dir, `legacy-${++files}.db`);
  const db = new DatabaseSync(file);
  try {
    db.exec(`CREATE TABLE ledger_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT`);
    db.exec(SQLITE_LEDGER_MIGRATIONS[0].sql);
    db.prepare('INSERT INTO ledger_schema_migrations (version, name) VALUES (1, ?)').run(SQLITE_LEDGER_MIGRATIONS[0].name);
    const insert = db.prepare(`INSERT INTO ledger_events (${V1_COLUMNS.join(', ')}) VALUES (${V1_COLUMNS.map(() => '?').join(', ')})`);
    for (const row of rows) {
      insert.run(...V1_COLUMNS.map((column) => {
        const value = row[column];
        return typeof value === 'boolean' ? (value ? 1 : 0) : typeof value === 'bigint' ? Number(value) : (value as string | number | null);
      }));
    }
  } finally {
    db.close();
  }
  const sink = new SqliteLedgerSink({ path: file });
  const look = <T>(work: (db: DatabaseSync) => T): T => {
    const reader = new DatabaseSync(file, { readOnly: true });
    try {
      return work(reader);
    } finally {
      reader.close();
    }
  };
  return {
    sink,
    columns: async () => look((db) => db.prepare('SELECT name FROM pragma_table_info(\'ledger_events\')').all().map((r) => String(r.name))),
    guardrailColumns: async () => look((db) => Object.fromEntries(db.prepare('SELECT event_id, guardrail_verdict, guardrail_detectors FROM ledger_events').all()
      .map((r) => [String(r.event_id), { guardrail_verdict: r.guardrail_verdict as string | null, guardrail_detectors: String(r.guardrail_detectors) }]))),
    cleanup: async () => {
      await sink.close();
      removeDb(file);
    },
  };
};

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
}, openLegacySqlite);

ledgerSinkContract('SQLite :memory:', async () => {
  const sink = (await openLedgerSink('sqlite::memory:')) as ReadableSink;
  return { sink, cleanup: () => sink.close() };
});

test('SQLite: the schema: indexed time, day and request id, partial indexes on flagged rows; money as integer pico-dollars; migrations recorded in their own table', async () => {
  const file = join(dir, 'schema.db');
  const sink = new SqliteLedgerSink({ path: file });
  try {
    assert.equal(await sink.schemaVersion(), 0);
    assert.deepEqual(await sink.migrate(), { applied: [1, 2], version: 2 });
    assert.deepEqual(await sink.migrate(), { applied: [], version: 2 });
    await sink.write([ledgerEvent({ cost_usd: { total: 0.00486, saved: 1.875e-8 } })]);
  } finally {
    await sink.close();
  }
  const db = new DatabaseSync(file);
  try {
    const row = db.prepare('SELECT cost_total_pico, cost_saved_pico, typeof(cost_total_pico) AS type, day, ts_ms FROM ledger_events').get()!;
    assert.deepEqual({ ...row }, { cost_total_pico: 4_860_000_000, cost_saved_pico: 18_750, type: 'integer', day: '2026-12-02', ts_ms: Date.parse('2026-12-02T09:00:00.000Z') });
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_events' AND sql IS NOT NULL ORDER BY name").all().map((r) => r.name);
    assert.deepEqual(indexes, ['ledger_events_day', 'ledger_events_guardrail', 'ledger_events_guardrail_tenant', 'ledger_events_request', 'ledger_events_tenant', 'ledger_events_ts']);
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT event_json FROM ledger_events WHERE (ts_ms, event_id) < (?, ?) ORDER BY ts_ms DESC, event_id DESC LIMIT 10').all(0, '');
    assert.match(plan.map((r) => String(r.detail)).join('\n'), /ledger_events_ts/);
    assert.deepEqual(db.prepare('SELECT version FROM ledger_schema_migrations').all().map((r) => r.version), [1, 2]);
    const columns = db.prepare("SELECT name, type, \"notnull\" AS required, dflt_value FROM pragma_table_info('ledger_events') WHERE name LIKE 'guardrail%' ORDER BY cid").all().map((r) => ({ ...r }));
    assert.deepEqual(columns, [
      { name: 'guardrail_verdict', type: 'TEXT', required: 0, dflt_value: null },
      { name: 'guardrail_detectors', type: 'TEXT', required: 1, dflt_value: "'[]'" },
    ]);
    // The partial indexes hold the flagged rows only, and Security's query uses them, with a tenant or without.
    const partial = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'ledger_events_guardrail%' ORDER BY name").all();
    for (const index of partial) assert.ok(String(index.sql).endsWith(`WHERE ${FLAGGED_PREDICATE}`), String(index.sql));
    const planOf = (query: Parameters<typeof guardrailEventsSql>[0]) => {
      const { sql, params } = guardrailEventsSql(query, SQLITE_DIALECT, 'ledger_events', 10);
      return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as (string | number)[])).map((r) => String(r.detail)).join('\n');
    };
    assert.match(planOf({ filters: {}, limit: 10 }), /USING INDEX ledger_events_guardrail\b/);
    assert.match(planOf({ filters: {}, limit: 10, verdicts: ['block'], before: { timestamp: '2026-12-02T00:00:00Z', eventId: 'x' } }), /USING INDEX ledger_events_guardrail\b/);
    assert.match(planOf({ filters: { tenant: 'acme' }, limit: 10, detector: 'pii' }), /USING INDEX ledger_events_guardrail_tenant\b/);
    assert.doesNotMatch(planOf({ filters: { tenant: 'acme' }, limit: 10 }), /TEMP B-TREE/, 'newest first from the index, no sort');
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
    assert.deepEqual(reports.flatMap((r) => r.applied), [1, 2]);
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
    assert.deepEqual(await migrateLedgerSink(sink), { applied: [1, 2], version: 2 });
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

// The worker thread: the database lives there, so the event loop keeps turning during a write or
// a query, a dead worker fails its calls (never the process), and the next call starts another.

function manyEvents(count: number, from = 0) {
  return Array.from({ length: count }, (_, i) => ledgerEvent({ timestamp: new Date(Date.parse('2026-12-02T00:00:00Z') + from + i).toISOString() }));
}

test('SQLite: writes and queries run off the event loop (timers fire while they run)', async () => {
  const sink = new SqliteLedgerSink({ path: ':memory:' });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await sink.write(manyEvents(6000));
    assert.ok(ticks > 0, 'the loop ran during a 6000-event write');
    ticks = 0;
    const [total] = await sink.spend({ groupBy: [], filters: {} });
    assert.equal(total.requests, 6000);
    assert.equal((await sink.requests({ filters: {}, limit: 1000 })).length, 1000);
  } finally {
    clearInterval(timer);
    await sink.close();
  }
});

test('SQLite: a big batch posted in slices is still one transaction: a bad event in a late slice refuses it whole, with its eventId', async () => {
  const sink = new SqliteLedgerSink({ path: ':memory:' });
  try {
    const events = manyEvents(POST_SLICE_EVENTS * 3 + 7);
    const bad = ledgerEvent({ timestamp: 'yesterday' });
    await assert.rejects(sink.write([...events, bad]), (error: unknown) => {
      assert.ok(error instanceof InvalidLedgerEvent);
      assert.equal(error.name, 'InvalidLedgerEvent');
      assert.equal(error.eventId, bad.event_id);
      assert.match(error.message, /timestamp must be ISO 8601/);
      return true;
    });
    assert.deepEqual(await sink.requests({ filters: {}, limit: 10 }), []);
    await assert.rejects(sink.write([ledgerEvent({ cost_usd: { total: Number.NaN } })]), /cost_usd.total must be a finite number, got NaN/);
    await assert.rejects(sink.write({} as never), TypeError);
    await assert.rejects(sink.spend({ groupBy: ['colour' as 'tenant'], filters: {} }), RangeError);
    await assert.rejects(sink.requests({ filters: {}, limit: 0 }), RangeError);
    await assert.rejects(sink.request(42 as unknown as string), TypeError);
    await assert.rejects(sink.requests({ filters: { tenant: (() => 'x') as unknown as string }, limit: 5 }), TypeError);
    await sink.write(events);
    assert.equal((await sink.spend({ groupBy: [], filters: {} }))[0].requests, events.length);
  } finally {
    await sink.close();
  }
});

test('SQLite: an event that cannot be cloned is stored as JSON would store it (functions left out)', async () => {
  const sink = new SqliteLedgerSink({ path: ':memory:' });
  try {
    const odd = ledgerEvent({ metadata: { keep: 'yes', drop: (() => 'no') as unknown as string } });
    await sink.write([...manyEvents(POST_SLICE_EVENTS + 1), odd]);
    assert.deepEqual((await sink.request(odd.request_id))?.metadata, { keep: 'yes' });
  } finally {
    await sink.close();
  }
});

test('SQLite: a worker that dies fails the calls waiting on it; the next call starts a new one on the same file', async () => {
  const file = join(dir, 'crash.db');
  const sink = new SqliteLedgerSink({ path: file });
  try {
    const kept = ledgerEvent({ request_id: 'before-crash' });
    await sink.write([kept]);
    const first = SqliteLedgerSink.workerOf(sink)!;
    const writing = sink.write(manyEvents(3000));
    await first.terminate();
    await assert.rejects(writing, (error: Error) => error instanceof StoreUnavailable && /SQLite ledger sink failed: its worker thread stopped/.test(error.message));
    await sink.write([ledgerEvent({ request_id: 'after-crash' })]);
    assert.notEqual(SqliteLedgerSink.workerOf(sink), first);
    assert.deepStrictEqual(await sink.request('before-crash'), kept);
    assert.equal((await sink.request('after-crash'))?.request_id, 'after-crash');
    // An uncaught error in the worker (here: a message it cannot read) is reported, not thrown.
    SqliteLedgerSink.workerOf(sink)!.postMessage(null);
    await assert.rejects(sink.write([ledgerEvent()]), (error: Error) => error instanceof StoreUnavailable && /its worker thread failed: .*null/.test(error.message));
    assert.equal((await sink.requests({ filters: {}, limit: 10 })).length, 2);
  } finally {
    await sink.close();
  }
});

test('SQLite :memory:: a worker that dies took the ledger with it; later calls say so rather than read an empty one', async () => {
  const sink = new SqliteLedgerSink({ path: ':memory:' });
  await sink.write([ledgerEvent()]);
  await SqliteLedgerSink.workerOf(sink)!.terminate();
  await assert.rejects(sink.requests({ filters: {}, limit: 10 }), /in-memory ledger was lost/);
  await assert.rejects(sink.write([ledgerEvent()]), /in-memory ledger was lost/);
  await sink.close();
});

test('SQLite: close() lets calls already made finish; a database that cannot be opened fails each call until it can', async () => {
  const file = join(dir, 'close.db');
  const sink = new SqliteLedgerSink({ path: file });
  const events = manyEvents(1000);
  const writing = sink.write(events);
  await sink.close();
  await writing;
  const again = new SqliteLedgerSink({ path: file });
  try {
    assert.equal((await again.spend({ groupBy: [], filters: {} }))[0].requests, 1000);
  } finally {
    await again.close();
  }

  const later = join(dir, 'not-yet', 'ledger.db');
  const waiting = new SqliteLedgerSink({ path: later });
  try {
    await assert.rejects(waiting.write([ledgerEvent()]), (error: Error) => error instanceof StoreUnavailable && /unable to open/.test(error.message));
    mkdirSync(dirname(later));
    await waiting.write([ledgerEvent({ request_id: 'opened' })]);
    assert.equal((await waiting.request('opened'))?.request_id, 'opened');
  } finally {
    await waiting.close();
  }
});

test('SQLite: an idle sink never keeps the process alive (its worker is unref\'d between calls)', async () => {
  const module = pathToFileURL(join(import.meta.dirname, '../../src/ledger/sinks/sqlite-ledger-sink.ts')).href;
  const script = `
    const { SqliteLedgerSink } = await import(${JSON.stringify(module)});
    const sink = new SqliteLedgerSink({ path: ':memory:' });
    await sink.migrate();
    console.log('migrated'); // and never closed`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'migrated');
});
