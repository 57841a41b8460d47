// The ledger sink contract on a real PostgreSQL (TOLLGATE_TEST_POSTGRES_URL, default
// postgresql://postgres@127.0.0.1:5432/test), one fresh schema per test, all dropped at the end;
// plus the PostgreSQL-only checks: day partitions made on demand (also by racing replicas),
// the key, the column types, and failing fast without the password when the server is away.
// Unreachable server: skipped with a message, or a failure when CI is set.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreUnavailable } from '../../src/stores/identity-store.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { openLedgerSink } from '../../src/ledger/open-ledger-sink.ts';
import { nextDay, POSTGRES_DIALECT, POSTGRES_LEDGER_MIGRATIONS, PostgresLedgerSink } from '../../src/ledger/sinks/postgres-ledger-sink.ts';
import { utcDay } from '../../src/ledger/sinks/ledger-rows.ts';
import { FLAGGED_PREDICATE, guardrailEventsSql } from '../../src/ledger/sinks/ledger-queries.ts';
import { PostgresPromptLogStore } from '../../src/ledger/prompt-log/postgres-prompt-log-store.ts';
import { PostgresIdentityStore } from '../../src/stores/postgres/postgres-identity-store.ts';
import { ledgerEvent, ledgerTime } from '../helpers/ledger-events.ts';
import { ledgerSinkContract, V1_COLUMNS, type OpenLegacyLedger, type ReadableSink } from './ledger-sink-contract.ts';
import { throwawaySchemas } from '../helpers/throwaway-schemas.ts';

const { url: URL, admin, unreachable, newSchema, dropSchema } = await throwawaySchemas('tg_ledger', 'ledger');

async function partitions(schema: string): Promise<string[]> {
  const { rows } = await admin.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
     JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'ledger_events' ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.relname);
}

/** A schema as migration 1 made it (no guardrail columns), with a partition per day of `rows` holding them; then a sink on it. */
const openLegacyPostgres: OpenLegacyLedger = async (rows) => {
  const schema = newSchema();
  const client = await admin.connect();
  try {
    await client.query('BEGIN');
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`SET LOCAL search_path TO "${schema}"`);
    await client.query(POSTGRES_LEDGER_MIGRATIONS[0].sql);
    await client.query('CREATE TABLE ledger_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    await client.query('INSERT INTO ledger_schema_migrations (version, name) VALUES (1, $1)', [POSTGRES_LEDGER_MIGRATIONS[0].name]);
    for (const day of new Set(rows.map((row) => utcDay(row.ts_ms as number)))) {
      await client.query(`CREATE TABLE ledger_events_p${day.replaceAll('-', '')} PARTITION OF ledger_events FOR VALUES FROM ('${day}T00:00:00Z') TO ('${nextDay(day)}T00:00:00Z')`);
    }
    const names = V1_COLUMNS.map((column) => (column === 'ts_ms' ? 'ts' : column));
    for (const row of rows) {
      const values = V1_COLUMNS.map((column) => {
        const value = row[column];
        return column === 'ts_ms' ? new Date(value as number).toISOString() : typeof value === 'bigint' ? String(value) : value;
      });
      await client.query(`INSERT INTO ledger_events (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`, values);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  const sink = new PostgresLedgerSink({ connectionString: URL, schema, poolSize: 2 });
  return {
    sink,
    columns: async () => (await admin.query("SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'ledger_events' ORDER BY ordinal_position", [schema])).rows.map((r) => r.column_name),
    guardrailColumns: async () => Object.fromEntries((await admin.query(`SELECT event_id, guardrail_verdict, guardrail_detectors FROM "${schema}".ledger_events`)).rows
      .map((r) => [r.event_id, { guardrail_verdict: r.guardrail_verdict, guardrail_detectors: r.guardrail_detectors }])),
    cleanup: async () => {
      await sink.close();
      await dropSchema(schema);
    },
  };
};

if (unreachable) {
  test('LedgerSink contract: PostgreSQL, and the PostgreSQL-only ledger tests', { skip: `${unreachable}; skipped` }, () => undefined);
} else {
  ledgerSinkContract('PostgreSQL', async () => {
    const schema = newSchema();
    const sink = (await openLedgerSink(URL, { schema, poolSize: 4 })) as ReadableSink;
    return {
      sink,
      reopen: async () => (await openLedgerSink(URL, { schema, poolSize: 1 })) as ReadableSink,
      cleanup: async () => {
        await sink.close();
        await dropSchema(schema);
      },
    };
  }, openLegacyPostgres);

  test('PostgreSQL: one partition per UTC day, made on demand (and the next day ahead); key (ts, event_id); event_json as text', async () => {
    const schema = newSchema();
    const sink = new PostgresLedgerSink({ connectionString: URL, schema, poolSize: 2 });
    try {
      assert.equal(await sink.schemaVersion(), 0);
      await sink.write([ledgerEvent({ timestamp: '2026-12-01T23:59:59.999Z' }), ledgerEvent({ timestamp: '2026-12-02T00:00:00.000Z' })]);
      assert.equal(await sink.schemaVersion(), 2);
      assert.deepEqual(await partitions(schema), ['ledger_events_p20261201', 'ledger_events_p20261202', 'ledger_events_p20261203']);
      const counts = await admin.query(`SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM "${schema}".ledger_events GROUP BY 1 ORDER BY 1`);
      assert.deepEqual(counts.rows.map((r) => [r.part.replace(/^.*\./, ''), r.n]), [['ledger_events_p20261201', 1], ['ledger_events_p20261202', 1]]);
      const key = await admin.query(
        `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = $1 AND t.relname = 'ledger_events' AND c.contype = 'p'`,
        [schema],
      );
      assert.equal(key.rows[0].def, 'PRIMARY KEY (ts, event_id)');
      const types = await admin.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'ledger_events' AND column_name IN ('event_json', 'cost_total_pico', 'ts', 'day') ORDER BY 1",
        [schema],
      );
      assert.deepEqual(types.rows.map((r) => [r.column_name, r.data_type]), [['cost_total_pico', 'bigint'], ['day', 'date'], ['event_json', 'text'], ['ts', 'timestamp with time zone']]);
      // A later day far from the first gets its own partition too.
      await sink.write([ledgerEvent({ timestamp: '2027-03-04T05:06:07.000Z' })]);
      assert.ok((await partitions(schema)).includes('ledger_events_p20270304'));
      const indexes = await admin.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'ledger_events_p20270304' ORDER BY 1`, [schema]);
      assert.equal(indexes.rows.length, 5, `the key, request_id, tenant and the two flagged-row indexes on each partition: ${indexes.rows.map((r) => r.indexname).join(', ')}`);
    } finally {
      await sink.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: the guardrail columns (text, the detectors a JSON array, \'[]\' by default) and the partial indexes Security\'s query uses', async () => {
    const schema = newSchema();
    const sink = new PostgresLedgerSink({ connectionString: URL, schema, poolSize: 2 });
    const client = await admin.connect();
    try {
      await sink.write([
        ledgerEvent({ timestamp: '2026-12-01T10:00:00Z', tenant_id: 'acme', outcome: { guardrail_verdict: 'block', guardrail_detectors: ['input:injection.override'] } }),
        ledgerEvent({ timestamp: '2026-12-02T10:00:00Z', tenant_id: 'acme' }),
      ]);
      const columns = await admin.query(
        "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'ledger_events' AND column_name LIKE 'guardrail%' ORDER BY 1",
        [schema],
      );
      assert.deepEqual(columns.rows.map((r) => [r.column_name, r.data_type, r.is_nullable, r.column_default]), [
        ['guardrail_detectors', 'text', 'NO', "'[]'::text"],
        ['guardrail_verdict', 'text', 'YES', null],
      ]);
      const defs = await admin.query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'ledger_events' AND indexname LIKE '%guardrail%' ORDER BY 1", [schema]);
      assert.deepEqual(defs.rows.map((r) => r.indexname), ['ledger_events_guardrail', 'ledger_events_guardrail_tenant']);
      for (const row of defs.rows) assert.match(row.indexdef, /WHERE \(guardrail_verdict = ANY \(ARRAY\['flag'::text, 'redact'::text, 'block'::text\]\)\)$/, row.indexdef);
      assert.match(FLAGGED_PREDICATE, /^guardrail_verdict IN \('flag', 'redact', 'block'\)$/);
      // With scans and sorts discouraged (a tiny table plans anything cheaply), the plans show the
      // indexes serve the query newest first (the partitions' copies are named after their columns).
      await client.query('BEGIN');
      for (const setting of ['enable_seqscan', 'enable_bitmapscan', 'enable_sort']) await client.query(`SET LOCAL ${setting} = off`);
      await client.query(`SET LOCAL search_path TO "${schema}"`);
      const planOf = async (query: Parameters<typeof guardrailEventsSql>[0]) => {
        const { sql, params } = guardrailEventsSql(query, POSTGRES_DIALECT, 'ledger_events', 10);
        return (await client.query(`EXPLAIN ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      };
      assert.match(await planOf({ filters: {}, limit: 10 }), /Index Scan Backward using ledger_events_p20261202_ts_event_id_idx\d*/);
      assert.match(await planOf({ filters: { tenant: 'acme' }, limit: 10, detector: 'injection' }), /using ledger_events_p20261202_tenant_id_ts_event_id_idx\d*/);
      await client.query('ROLLBACK');
      const partial = await admin.query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'ledger_events_p20261202' AND indexdef LIKE '%WHERE%' ORDER BY 1", [schema]);
      assert.deepEqual(partial.rows.map((r) => r.indexname), ['ledger_events_p20261202_tenant_id_ts_event_id_idx', 'ledger_events_p20261202_ts_event_id_idx']);
    } finally {
      client.release();
      await sink.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: replicas racing on a new schema and new days migrate once, create each partition once, keep each event once', async () => {
    const schema = newSchema();
    const sinks = [1, 2, 3, 4].map(() => new PostgresLedgerSink({ connectionString: URL, schema, poolSize: 2 }));
    try {
      const events = Array.from({ length: 900 }, (_, i) => ledgerEvent({ timestamp: ledgerTime(i * 600_000) }));
      // Every replica writes every event (a replayed spool on each), at once.
      await Promise.all(sinks.map((sink) => sink.write(events)));
      const { rows } = await admin.query(`SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM "${schema}".ledger_events`);
      assert.deepEqual(rows[0], { n: 900, d: 900 });
      const migrations = await admin.query(`SELECT version FROM "${schema}".ledger_schema_migrations`);
      assert.deepEqual(migrations.rows.map((r) => r.version).sort(), [1, 2]);
      assert.ok((await partitions(schema)).length >= 7);
    } finally {
      await Promise.all(sinks.map((s) => s.close()));
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: a dropped day partition (retention) is made again when an event for that day arrives', async () => {
    const schema = newSchema();
    const sink = new PostgresLedgerSink({ connectionString: URL, schema, poolSize: 2 });
    try {
      await sink.write([ledgerEvent({ timestamp: '2026-12-01T10:00:00Z' })]);
      await admin.query(`DROP TABLE "${schema}".ledger_events_p20261201`);
      await sink.write([ledgerEvent({ timestamp: '2026-12-01T11:00:00Z', request_id: 'late' })]);
      assert.equal((await sink.request('late'))?.request_id, 'late');
    } finally {
      await sink.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: the ledger can live in the identity store\'s schema (separate migration tables)', async () => {
    const schema = newSchema();
    const identity = await openIdentityStore({ url: URL, schema, poolSize: 1 });
    const sink = new PostgresLedgerSink({ connectionString: URL, schema, poolSize: 1 });
    try {
      const version = (await identity.migrate()).version;
      assert.deepEqual(await sink.migrate(), { applied: [1, 2], version: 2 });
      await sink.write([ledgerEvent({ request_id: 'same-schema' })]);
      assert.equal(await identity.schemaVersion(), version);
      assert.deepEqual((await identity.migrate()).applied, []);
      assert.equal((await sink.request('same-schema'))?.request_id, 'same-schema');
    } finally {
      await sink.close();
      await identity.close();
      await dropSchema(schema);
    }
  });

  test('PostgreSQL: identity store, ledger sink and prompt log migrating a fresh schema at once all succeed (one CREATE SCHEMA lock)', async () => {
    for (let round = 0; round < 5; round++) {
      const schema = newSchema();
      const identities = [1, 2].map(() => new PostgresIdentityStore({ connectionString: URL, schema, poolSize: 1 }));
      const sinks = [1, 2].map(() => new PostgresLedgerSink({ connectionString: URL, schema, poolSize: 1 }));
      const prompts = [1, 2].map(() => new PostgresPromptLogStore({ connectionString: URL, schema, poolSize: 1 }));
      try {
        await Promise.all([...identities.map((s) => s.migrate()), ...sinks.map((s) => s.migrate()), ...prompts.map((s) => s.migrate())]);
        assert.ok((await identities[0].schemaVersion()) > 0);
        assert.ok((await sinks[0].schemaVersion()) > 0);
        assert.ok((await prompts[0].schemaVersion()) > 0);
      } finally {
        await Promise.all([...identities, ...sinks, ...prompts].map((s) => s.close()));
        await dropSchema(schema);
      }
    }
  });
}

test('PostgreSQL: a refused connection fails the write fast as StoreUnavailable, without the password', async () => {
  const sink = new PostgresLedgerSink({ connectionString: 'postgresql://tollgate:s3cret-pw@127.0.0.1:1/test', schema: 'anything' });
  try {
    for (const call of [() => sink.write([ledgerEvent()]), () => sink.spend({ groupBy: [], filters: {} }), () => sink.request('x')]) {
      await assert.rejects(call(), (error: Error) => {
        assert.ok(error instanceof StoreUnavailable, `${error.name}: ${error.message}`);
        assert.match(error.message, /PostgreSQL at 127\.0\.0\.1:1\/test is unavailable: .*ECONNREFUSED/);
        assert.doesNotMatch(error.message, /s3cret-pw/);
        return true;
      });
    }
  } finally {
    await sink.close();
  }
});
