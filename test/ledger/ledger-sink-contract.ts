// The one contract every SQL ledger sink passes (a LedgerSink that is also a LedgerReader).
// Each test gets a fresh, empty ledger from `open`; the upgrade tests get a ledger made by the
// previous schema (migration 1: no guardrail columns) from `legacy`, when the backend gives one.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import type { GuardrailEventQuery, GuardrailEventRow, LedgerReader, LedgerSink, SpendRow } from '../../src/ledger/ledger-sink.ts';
import { migrateLedgerSink } from '../../src/ledger/open-ledger-sink.ts';
import { COLUMNS, InvalidLedgerEvent, ledgerRow } from '../../src/ledger/sinks/ledger-rows.ts';
import { ledgerEvent, ledgerTime, pricedCost, type TestPrice } from '../helpers/ledger-events.ts';

export type ReadableSink = LedgerSink & LedgerReader;

export interface OpenedLedger {
  sink: ReadableSink;
  /** Closes the sink and removes its data. */
  cleanup: () => Promise<void>;
  /** Another sink on the same data (absent for in-memory SQLite). The test closes it. */
  reopen?: () => Promise<ReadableSink>;
}

/** A ledger as the previous schema made it, and a look at its table the readers do not give. */
export interface LegacyLedger {
  /** The sink on it, not used yet (the upgrade happens on its first call). */
  sink: ReadableSink;
  /** The table's column names. */
  columns(): Promise<string[]>;
  /** The stored guardrail columns of each row, by event_id. */
  guardrailColumns(): Promise<Record<string, { guardrail_verdict: string | null; guardrail_detectors: string }>>;
  /** Closes the sink and removes the data. */
  cleanup(): Promise<void>;
}

/** Makes a ledger at migration 1 (no guardrail columns) holding `rows` (V1_COLUMNS of each event), then opens a sink on it. */
export type OpenLegacyLedger = (rows: ReadonlyArray<Record<string, unknown>>) => Promise<LegacyLedger>;

/** The columns migration 1 created. */
export const V1_COLUMNS = COLUMNS.filter((column) => column !== 'guardrail_verdict' && column !== 'guardrail_detectors');

/** A v1 event, as a gateway before the guardrail fields wrote it (and as old spools hold it). */
function v1Event(overrides: Parameters<typeof ledgerEvent>[0] = {}): LedgerEvent {
  const event = ledgerEvent({ schema_version: 1, ...overrides });
  const { guardrail_detectors: _none, ...outcome } = event.outcome;
  return { ...event, outcome } as unknown as LedgerEvent;
}

const HOUR = 3_600_000;

/** Every event the sink holds, newest first, paging with the cursor. */
async function allEvents(sink: LedgerReader, pageSize = 1000): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  let before: { timestamp: string; eventId: string } | undefined;
  for (;;) {
    const page = await sink.requests({ filters: {}, limit: pageSize, before });
    out.push(...page);
    if (page.length < pageSize) return out;
    const last = page[page.length - 1];
    before = { timestamp: last.timestamp, eventId: last.event_id };
  }
}

/** Newest first, ties by event_id descending (byte order): the order requests() returns. */
function newestFirst(events: readonly LedgerEvent[]): LedgerEvent[] {
  return [...events].sort((a, b) => {
    const ta = Date.parse(a.timestamp);
    const tb = Date.parse(b.timestamp);
    if (ta !== tb) return tb - ta;
    return a.event_id < b.event_id ? 1 : a.event_id > b.event_id ? -1 : 0;
  });
}

/** Exact dollars as the sum of the events' costs: integer pico-dollars added, then divided once. */
function exactSum(amounts: readonly number[]): number {
  const pico = amounts.reduce((sum, usd) => sum + BigInt(Math.round(usd * 1e12)), 0n);
  const digits = pico.toString().padStart(13, '0');
  return Number(`${digits.slice(0, -12)}.${digits.slice(-12)}`);
}

function byGroup(rows: readonly SpendRow[]): Record<string, SpendRow> {
  return Object.fromEntries(rows.map((r) => [Object.values(r.group).map((v) => v ?? '∅').join('|'), r]));
}

/** The row guardrailEvents() answers for an event. */
function guardrailRow(e: LedgerEvent): GuardrailEventRow {
  return {
    request_id: e.request_id,
    event_id: e.event_id,
    timestamp: new Date(Date.parse(e.timestamp)).toISOString(),
    tenant_id: e.tenant_id,
    team_id: e.team_id,
    key_id: e.key_id,
    alias: e.model_alias,
    endpoint: e.endpoint,
    status: e.outcome.status,
    guardrail_verdict: e.outcome.guardrail_verdict as GuardrailEventRow['guardrail_verdict'],
    guardrail_detectors: [...e.outcome.guardrail_detectors],
    error_code: e.outcome.error_code,
  };
}

export function ledgerSinkContract(name: string, open: () => Promise<OpenedLedger>, legacy?: OpenLegacyLedger): void {
  const it = (title: string, work: (sink: ReadableSink, opened: OpenedLedger) => Promise<void>) =>
    test(title, async () => {
      const opened = await open();
      try {
        await work(opened.sink, opened);
      } finally {
        await opened.cleanup();
      }
    });

  describe(`LedgerSink contract: ${name}`, () => {
    it('an empty ledger: no requests, no spend, no request by id; an empty batch is a no-op', async (sink) => {
      await sink.write([]);
      assert.deepEqual(await sink.requests({ filters: {}, limit: 10 }), []);
      assert.deepEqual(await sink.spend({ groupBy: [], filters: {} }), []);
      assert.deepEqual(await sink.spend({ groupBy: ['tenant'], filters: {} }), []);
      assert.equal(await sink.request('nope'), undefined);
    });

    it('round trip: readers return exactly the events written (every field, nulls, unicode, awkward numbers)', async (sink, opened) => {
      const events = [
        ledgerEvent(),
        ledgerEvent({
          timestamp: ledgerTime(1),
          key_id: null, key_alias: null, team_id: null, tenant_id: null, feature_id: null, user_id_hash: null,
          prompt_version: null, model_alias: null, model_resolved: null, provider: null, deployment_id: null, region: null,
          tags: [], metadata: {}, stream: true, endpoint: 'messages',
          usage: { input: 0, output: 0, cached_input: 0, total: 0, estimated: true },
          cost_usd: { input: 0, output: 0, total: 0, price_missing: true },
          latency_ms: { provider: null, ttft: 12.345, gateway: 1e-3, total: 0.001 },
          outcome: { status: 'upstream_error', error_code: 'upstream_timeout', http_status: 504, vendor_request_id: null, attempts: 3, fallback_chain: ['a/b:timeout(upstream_timeout)', 'a/c:error(500)'], rate_limit_tier: null },
        }),
        ledgerEvent({
          timestamp: ledgerTime(2),
          tenant_id: 'tenant "quoted" \\ back\'slash',
          feature_id: '特徴 🚀',
          metadata: { a: '\u2028line\u2029sep', b: '\u0000nul', c: '</script>' },
          cost_usd: { input: 7.500000000000001e-5, output: 1e-12, total: 7.500000000100001e-5, saved: 0.1 + 0.2 },
          usage: { input: 2 ** 40, output: 9_007_199_254, total: 2 ** 40 + 9_007_199_254 },
        }),
      ];
      await sink.write(events);
      const read = await sink.requests({ filters: {}, limit: 10 });
      assert.deepStrictEqual(read, newestFirst(events));
      // Exactly as written: the same JSON text, key order included.
      assert.deepEqual(read.map((e) => JSON.stringify(e)), newestFirst(events).map((e) => JSON.stringify(e)));
      for (const event of events) assert.deepStrictEqual(await sink.request(event.request_id), event);
      if (opened.reopen) {
        const again = await opened.reopen();
        try {
          assert.deepStrictEqual(await again.requests({ filters: {}, limit: 10 }), newestFirst(events));
        } finally {
          await again.close();
        }
      }
    });

    it('write(events, lines) stores the JSON texts it is given as they are (the writer serialized them once already)', async (sink) => {
      const events = [ledgerEvent({ timestamp: ledgerTime(0) }), ledgerEvent({ timestamp: ledgerTime(1), tenant_id: 'globex' })];
      // Texts of the same events with one marker field more: what comes back shows they were stored, not re-made.
      const lines = events.map((event) => JSON.stringify({ ...event, serialized_by: 'writer' }));
      await sink.write(events, lines);
      for (const event of events) assert.deepStrictEqual(await sink.request(event.request_id), { ...event, serialized_by: 'writer' });
      const [globex] = await sink.spend({ groupBy: [], filters: { tenant: 'globex' } });
      assert.equal(globex.requests, 1, 'the columns are the events\' own');
    });

    it('idempotent on event_id: a batch written twice, and an event repeated within a batch, keep one row each', async (sink) => {
      const a = ledgerEvent({ timestamp: ledgerTime(0) });
      const b = ledgerEvent({ timestamp: ledgerTime(1) });
      const c = ledgerEvent({ timestamp: ledgerTime(2) });
      await sink.write([a, b]);
      await sink.write([a, b]);
      await sink.write([b, c, c, a, c]);
      assert.deepStrictEqual(await allEvents(sink), newestFirst([a, b, c]));
      const [total] = await sink.spend({ groupBy: [], filters: {} });
      assert.equal(total.requests, 3);
      assert.equal(total.cost_usd, exactSum([a, b, c].map((e) => e.cost_usd.total)));
      // A replay from a second sink instance (another replica) is absorbed too.
      await sink.write([c, a]);
      assert.equal((await allEvents(sink)).length, 3);
    });

    it('a batch with an event that cannot be stored is refused whole, before anything is written', async (sink) => {
      const good = ledgerEvent();
      const bad = [
        ledgerEvent({ timestamp: 'yesterday' }),
        ledgerEvent({ timestamp: '2026-12-02T09:00:00' }),
        ledgerEvent({ event_id: '' }),
        ledgerEvent({ usage: { input: 1.5 } }),
        ledgerEvent({ cost_usd: { total: Number.NaN } }),
      ];
      for (const event of bad) {
        await assert.rejects(sink.write([good, event]), (error: unknown) => error instanceof InvalidLedgerEvent);
      }
      assert.deepEqual(await sink.requests({ filters: {}, limit: 10 }), []);
      await sink.write([good]);
      assert.equal((await sink.requests({ filters: {}, limit: 10 })).length, 1);
    });

    it('spend: sums by each dimension, nulls as their own group, groups in order', async (sink) => {
      const day1 = '2026-12-01T23:59:59.999Z';
      const day2 = '2026-12-02T00:00:00.000Z';
      const events = [
        ledgerEvent({ timestamp: day1, tenant_id: 'acme', feature_id: 'bot', model_alias: 'fast', key_id: 'k1', team_id: 't1', provider: 'openai', deployment_id: 'oa-1', usage: { input: 10, output: 1, cached_input: 2, total: 11 }, cost_usd: { total: 0.1, saved: 0 } }),
        ledgerEvent({ timestamp: day2, tenant_id: 'acme', feature_id: 'search', model_alias: 'smart', key_id: 'k2', team_id: 't1', provider: 'anthropic', deployment_id: 'an-1', usage: { input: 20, output: 2, cached_input: 0, total: 22 }, cost_usd: { total: 0.2, saved: 0 } }),
        ledgerEvent({ timestamp: day2, tenant_id: 'Zeta', feature_id: 'bot', model_alias: 'fast', key_id: 'k1', team_id: 't2', provider: 'openai', deployment_id: 'oa-2', usage: { input: 30, output: 3, cached_input: 5, total: 33 }, cost_usd: { total: 0, saved: 0.3 }, outcome: { status: 'cache_hit' } }),
        ledgerEvent({ timestamp: day2, tenant_id: null, feature_id: null, model_alias: 'fast', key_id: 'k1', team_id: 't2', provider: null, deployment_id: null, usage: { input: 40, output: 0, cached_input: 0, total: 40 }, cost_usd: { total: 0, saved: 0 }, outcome: { status: 'rate_limited', error_code: 'rate_limited', http_status: 429 } }),
      ];
      await sink.write(events);

      const tenants = await sink.spend({ groupBy: ['tenant'], filters: {} });
      assert.deepEqual(tenants.map((r) => r.group), [{ tenant: null }, { tenant: 'Zeta' }, { tenant: 'acme' }], 'nulls first, then byte order');
      const t = byGroup(tenants);
      assert.deepEqual(t.acme, { group: { tenant: 'acme' }, requests: 2, errors: 0, input_tokens: 30, output_tokens: 3, cached_input_tokens: 2, total_tokens: 33, cost_usd: 0.3, saved_usd: 0 });
      assert.deepEqual(t.Zeta, { group: { tenant: 'Zeta' }, requests: 1, errors: 0, input_tokens: 30, output_tokens: 3, cached_input_tokens: 5, total_tokens: 33, cost_usd: 0, saved_usd: 0.3 });
      assert.equal(t['∅'].errors, 1, 'rate_limited counts as an error; success and cache_hit do not');

      const dims = { feature: 'feature_id', model: 'model_alias', key: 'key_id', team: 'team_id', provider: 'provider', deployment: 'deployment_id' } as const;
      for (const [dim, field] of Object.entries(dims) as Array<[keyof typeof dims, (typeof dims)[keyof typeof dims]]>) {
        const rows = await sink.spend({ groupBy: [dim], filters: {} });
        const expected = new Map<string | null, number>();
        for (const e of events) expected.set(e[field], (expected.get(e[field]) ?? 0) + 1);
        assert.deepEqual(
          Object.fromEntries(rows.map((r) => [String(r.group[dim]), r.requests])),
          Object.fromEntries([...expected].map(([k, v]) => [String(k), v])),
          `group by ${dim}`,
        );
        assert.equal(rows.reduce((s, r) => s + r.input_tokens, 0), 100);
      }

      const days = await sink.spend({ groupBy: ['day'], filters: {} });
      assert.deepEqual(days.map((r) => [r.group.day, r.requests, r.cost_usd]), [['2026-12-01', 1, 0.1], ['2026-12-02', 3, 0.2]]);

      const pairs = await sink.spend({ groupBy: ['team', 'model', 'team'], filters: {} });
      assert.deepEqual(pairs.map((r) => [r.group, r.requests]), [
        [{ team: 't1', model: 'fast' }, 1],
        [{ team: 't1', model: 'smart' }, 1],
        [{ team: 't2', model: 'fast' }, 2],
      ]);

      const [total] = await sink.spend({ groupBy: [], filters: {} });
      assert.deepEqual(total, { group: {}, requests: 4, errors: 1, input_tokens: 100, output_tokens: 6, cached_input_tokens: 7, total_tokens: 106, cost_usd: 0.3, saved_usd: 0.3 });
    });

    it('spend: filters and a from (inclusive) / to (exclusive) range', async (sink) => {
      const at = (h: number) => ledgerTime(h * HOUR);
      const events = [
        ledgerEvent({ timestamp: at(0), tenant_id: 'a', feature_id: 'f1', model_alias: 'm1', key_id: 'k1', team_id: 't1', provider: 'p1' }),
        ledgerEvent({ timestamp: at(1), tenant_id: 'a', feature_id: 'f2', model_alias: 'm1', key_id: 'k2', team_id: 't1', provider: 'p2' }),
        ledgerEvent({ timestamp: at(2), tenant_id: 'b', feature_id: 'f1', model_alias: 'm2', key_id: 'k1', team_id: 't2', provider: 'p1' }),
        ledgerEvent({ timestamp: at(3), tenant_id: 'b', feature_id: 'f2', model_alias: 'm2', key_id: 'k2', team_id: 't2', provider: 'p2' }),
      ];
      await sink.write(events);
      const count = async (query: Partial<Parameters<ReadableSink['spend']>[0]>) =>
        (await sink.spend({ groupBy: [], filters: {}, ...query }))[0]?.requests ?? 0;
      assert.equal(await count({ filters: { tenant: 'a' } }), 2);
      assert.equal(await count({ filters: { feature: 'f1' } }), 2);
      assert.equal(await count({ filters: { model: 'm2' } }), 2);
      assert.equal(await count({ filters: { key: 'k2' } }), 2);
      assert.equal(await count({ filters: { team: 't1' } }), 2);
      assert.equal(await count({ filters: { provider: 'p1' } }), 2);
      assert.equal(await count({ filters: { tenant: 'a', feature: 'f1' } }), 1);
      assert.equal(await count({ filters: { tenant: 'a', team: 't2' } }), 0);
      assert.equal(await count({ filters: { tenant: 'A' } }), 0, 'filters are exact, case-sensitive');
      assert.equal(await count({ from: at(1) }), 3, 'from is inclusive');
      assert.equal(await count({ to: at(3) }), 3, 'to is exclusive');
      assert.equal(await count({ from: at(1), to: at(3) }), 2);
      assert.equal(await count({ from: ledgerTime(HOUR + 1) }), 2, 'millisecond precision');
      // The same instant written with an offset.
      assert.equal(await count({ from: '2026-12-02T11:00:00+01:00' }), 3);
      assert.equal(await count({ from: '2026-12-02', to: '2026-12-03' }), 4, 'a date is UTC midnight');
      assert.equal(await count({ from: at(2), filters: { key: 'k1' } }), 1);
      const rows = await sink.spend({ groupBy: ['tenant'], filters: { provider: 'p2' }, from: at(1) });
      assert.deepEqual(rows.map((r) => [r.group.tenant, r.requests]), [['a', 1], ['b', 1]]);
      await assert.rejects(sink.spend({ groupBy: ['colour' as 'tenant'], filters: {} }), RangeError);
      await assert.rejects(sink.spend({ groupBy: [], filters: { user: 'x' } as Record<string, string> }), RangeError);
      await assert.rejects(sink.spend({ groupBy: [], filters: {}, from: 'last tuesday' }), RangeError);
    });

    it('spend: totals equal the sum of usage × price exactly, however many events and however large', async (sink) => {
      const prices: TestPrice[] = [
        { input: 2.5e-6, output: 1e-5 },
        { input: 1.5e-7, output: 6e-7 },
        { input: 1.875e-8, output: 7.5e-8 },
        { input: 3e-6, output: 1.5e-5 },
      ];
      const events: LedgerEvent[] = [];
      for (let i = 0; i < 1200; i++) {
        const price = prices[i % prices.length];
        const input = (i * 7919) % 20_000;
        const output = (i * 104_729) % 4_000;
        events.push(ledgerEvent({ timestamp: ledgerTime(i), model_alias: `m${i % prices.length}`, usage: { input, output, total: input + output }, cost_usd: pricedCost(price, input, output) }));
      }
      // Ten events of $0.10: a double sum gives 0.9999999999999999.
      for (let i = 0; i < 10; i++) events.push(ledgerEvent({ timestamp: ledgerTime(i), model_alias: 'dime', cost_usd: { total: 0.1 } }));
      await sink.write(events);
      const rows = byGroup(await sink.spend({ groupBy: ['model'], filters: {} }));
      for (let m = 0; m < prices.length; m++) {
        const mine = events.filter((e) => e.model_alias === `m${m}`);
        assert.equal(rows[`m${m}`].cost_usd, exactSum(mine.map((e) => e.cost_usd.total)), `model m${m}`);
        assert.equal(rows[`m${m}`].input_tokens, mine.reduce((s, e) => s + e.usage.input, 0));
      }
      assert.equal(rows.dime.cost_usd, 1);
      // Large amounts: 3 × $5,000,000.25 is past what one int64 sum of pico-dollars holds (9.2e18).
      const big = [1, 2, 3].map((i) => ledgerEvent({ timestamp: ledgerTime(i), model_alias: 'whale', cost_usd: { total: 5_000_000.25, saved: 4_000_000.5 } }));
      await sink.write(big);
      const [whale] = await sink.spend({ groupBy: ['model'], filters: { model: 'whale' } });
      assert.equal(whale.cost_usd, 15_000_000.75);
      assert.equal(whale.saved_usd, 12_000_001.5);
    });

    it('requests: newest first, paged by (timestamp, event_id), filtered, ranged', async (sink) => {
      const same = ledgerTime(5 * HOUR);
      const events = [
        ...Array.from({ length: 5 }, (_, i) => ledgerEvent({ timestamp: ledgerTime(i * HOUR), user_id_hash: i % 2 ? 'u-odd' : 'u-even', tenant_id: i < 3 ? 'a' : 'b' })),
        // Ties on the timestamp are broken by event_id.
        ...['e-3', 'e-1', 'e-2'].map((id) => ledgerEvent({ event_id: id, timestamp: same, outcome: { status: 'budget_blocked', http_status: 429 } })),
      ];
      await sink.write(events);
      const expected = newestFirst(events);
      assert.deepEqual(expected.slice(0, 3).map((e) => e.event_id), ['e-3', 'e-2', 'e-1']);
      for (const size of [1, 2, 3, 8, 9]) {
        assert.deepStrictEqual(await allEvents(sink, size), expected, `pages of ${size}`);
      }
      const page = await sink.requests({ filters: {}, limit: 2, before: { timestamp: same, eventId: 'e-2' } });
      assert.deepEqual(page.map((e) => e.event_id), ['e-1', expected[3].event_id]);
      const ids = async (query: Partial<Parameters<ReadableSink['requests']>[0]>) =>
        (await sink.requests({ filters: {}, limit: 100, ...query })).map((e) => e.event_id);
      assert.deepEqual(await ids({ filters: { user: 'u-odd' } }), newestFirst(events.filter((e) => e.user_id_hash === 'u-odd')).map((e) => e.event_id));
      assert.deepEqual(await ids({ filters: { status: 'budget_blocked' } }), ['e-3', 'e-2', 'e-1']);
      assert.deepEqual(await ids({ filters: { tenant: 'b', user: 'u-even' } }), [events[4].event_id]);
      assert.deepEqual(await ids({ from: ledgerTime(1 * HOUR), to: ledgerTime(3 * HOUR) }), [events[2].event_id, events[1].event_id]);
      for (const filter of ['tenant', 'feature', 'model', 'key', 'team'] as const) {
        assert.equal((await ids({ filters: { [filter]: 'nobody' } })).length, 0, filter);
      }
      await assert.rejects(sink.requests({ filters: {}, limit: 0 }), RangeError);
      await assert.rejects(sink.requests({ filters: {}, limit: 1001 }), RangeError);
      await assert.rejects(sink.requests({ filters: { provider: 'x' } as Record<string, string>, limit: 1 }), RangeError);
    });

    it('request(id): the event of that request id; an unknown id is undefined', async (sink) => {
      const events = Array.from({ length: 20 }, (_, i) => ledgerEvent({ request_id: `r-${i}`, timestamp: ledgerTime(i * 1000) }));
      await sink.write(events);
      for (const event of [events[0], events[7], events[19]]) assert.deepStrictEqual(await sink.request(event.request_id), event);
      assert.equal(await sink.request('r-20'), undefined);
      assert.equal(await sink.request(''), undefined);
    });

    it('timestamps with an offset: the instant decides the order and the UTC day; the text is kept as written', async (sink) => {
      const late = ledgerEvent({ timestamp: '2026-12-02T00:30:00.000+01:00' }); // 2026-12-01T23:30Z
      const early = ledgerEvent({ timestamp: '2026-12-01T23:45:00Z' });
      await sink.write([late, early]);
      assert.deepStrictEqual(await sink.requests({ filters: {}, limit: 10 }), [early, late]);
      const days = await sink.spend({ groupBy: ['day'], filters: {} });
      assert.deepEqual(days.map((r) => [r.group.day, r.requests]), [['2026-12-01', 2]]);
      const page = await sink.requests({ filters: {}, limit: 10, before: { timestamp: early.timestamp, eventId: early.event_id } });
      assert.deepStrictEqual(page, [late]);
    });

    it('many rows: several large batches across days, retried, all kept once, sums exact', async (sink) => {
      const events = Array.from({ length: 6000 }, (_, i) => {
        const input = 100 + (i % 977);
        const output = i % 313;
        return ledgerEvent({
          timestamp: ledgerTime(i * 37_000, '2026-11-30T12:00:00.000Z'),
          tenant_id: `t${i % 7}`,
          usage: { input, output, total: input + output },
          cost_usd: pricedCost({ input: 1.25e-7, output: 1e-6 }, input, output),
        });
      });
      await sink.write(events.slice(0, 2500));
      await sink.write(events.slice(2000, 6000)); // overlaps the first batch by 500
      await sink.write(events.slice(5500)); // a retried tail
      const [total] = await sink.spend({ groupBy: [], filters: {} });
      assert.equal(total.requests, 6000);
      assert.equal(total.input_tokens, events.reduce((s, e) => s + e.usage.input, 0));
      assert.equal(total.cost_usd, exactSum(events.map((e) => e.cost_usd.total)));
      const days = await sink.spend({ groupBy: ['day'], filters: {} });
      assert.ok(days.length >= 3, `spans ${days.length} days`);
      assert.equal(days.reduce((s, r) => s + r.requests, 0), 6000);
      const tenants = await sink.spend({ groupBy: ['tenant', 'day'], filters: {} });
      assert.equal(tenants.reduce((s, r) => s + r.requests, 0), 6000);
      const read = await allEvents(sink);
      assert.equal(read.length, 6000);
      assert.deepStrictEqual(read, newestFirst(events));
    });

    it('concurrent batches (as from several writers) all land', async (sink) => {
      const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 250 }, (_, i) => ledgerEvent({ timestamp: ledgerTime(b * 1000 + i) })));
      await Promise.all(batches.map((batch) => sink.write(batch)));
      await Promise.all(batches.slice(0, 4).map((batch) => sink.write(batch)));
      assert.equal((await sink.spend({ groupBy: [], filters: {} }))[0].requests, 2000);
    });

    it('guardrails: the verdict and detectors are stored and read back; guardrailEvents lists flag, redact and block only, newest first', async (sink) => {
      const at = (h: number) => ledgerTime(h * HOUR);
      const guard = (verdict: LedgerEvent['outcome']['guardrail_verdict'], detectors: string[]) => ({ guardrail_verdict: verdict, guardrail_detectors: detectors });
      const events = [
        ledgerEvent({ timestamp: at(0), tenant_id: 'a', outcome: guard('pass', []) }),
        ledgerEvent({ timestamp: at(1), tenant_id: 'a', team_id: 't1', key_id: 'k1', model_alias: 'm1', outcome: guard('flag', ['input:pii.email']) }),
        ledgerEvent({ timestamp: at(2), tenant_id: 'b', team_id: 't2', key_id: 'k2', model_alias: 'm2', endpoint: 'messages', outcome: guard('redact', ['input:pii.email', 'output:secret.jwt']) }),
        ledgerEvent({
          timestamp: at(3), tenant_id: 'a', team_id: 't1', key_id: 'k2', model_alias: 'm1',
          outcome: { ...guard('block', ['input:injection.override', 'input:lakera.prompt_attack']), status: 'invalid_request', error_code: 'guardrail_blocked', http_status: 400 },
        }),
        ledgerEvent({ timestamp: at(4), tenant_id: 'b', team_id: null, key_id: null, model_alias: null, outcome: guard('block', ['input:scanner_unavailable:lakera']) }),
        ledgerEvent({ timestamp: at(5), tenant_id: 'a', outcome: guard(null, []) }),
        ledgerEvent({ timestamp: at(6), tenant_id: null, outcome: guard('pass', ['input:scanner_unavailable:lakera']) }),
        ledgerEvent({ timestamp: at(7), tenant_id: 'c', outcome: guard('flag', ['in%put:odd_name', 'x"y\\z', 'ünï 🚀']) }),
        // Ties on the timestamp are broken by event_id.
        ...['g-2', 'g-3', 'g-1'].map((id) => ledgerEvent({ event_id: id, timestamp: at(8), tenant_id: 'c', outcome: guard('flag', ['output:pii.phone']) })),
      ];
      await sink.write(events);
      assert.deepStrictEqual(await sink.request(events[2].request_id), events[2], 'the event keeps its guardrail fields');
      assert.deepStrictEqual(await allEvents(sink), newestFirst(events));

      const flagged = (e: LedgerEvent) => ['flag', 'redact', 'block'].includes(e.outcome.guardrail_verdict ?? '');
      const expected = (keep: (e: LedgerEvent) => boolean = () => true) => newestFirst(events.filter((e) => flagged(e) && keep(e))).map((e) => e.event_id);
      const ids = async (query: Partial<GuardrailEventQuery> = {}) => (await sink.guardrailEvents({ filters: {}, limit: 100, ...query })).map((r) => r.event_id);

      const all = await sink.guardrailEvents({ filters: {}, limit: 100 });
      assert.deepStrictEqual(all, newestFirst(events.filter(flagged)).map(guardrailRow));
      assert.deepEqual(all.slice(0, 3).map((r) => r.event_id), ['g-3', 'g-2', 'g-1']);
      assert.deepStrictEqual(all.find((r) => r.event_id === events[3].event_id), {
        request_id: events[3].request_id, event_id: events[3].event_id, timestamp: at(3), tenant_id: 'a', team_id: 't1', key_id: 'k2', alias: 'm1',
        endpoint: 'chat.completions', status: 'invalid_request', guardrail_verdict: 'block',
        guardrail_detectors: ['input:injection.override', 'input:lakera.prompt_attack'], error_code: 'guardrail_blocked',
      });

      // Verdicts.
      assert.deepEqual(await ids({ verdicts: ['block'] }), expected((e) => e.outcome.guardrail_verdict === 'block'));
      assert.deepEqual(await ids({ verdicts: ['flag', 'redact', 'flag'] }), expected((e) => e.outcome.guardrail_verdict !== 'block'));
      assert.deepEqual(await ids({ verdicts: [] }), expected(), 'no verdicts: all three');
      await assert.rejects(sink.guardrailEvents({ filters: {}, limit: 10, verdicts: ['pass' as 'flag'] }), RangeError);

      // Filters, exact.
      assert.deepEqual(await ids({ filters: { tenant: 'a' } }), expected((e) => e.tenant_id === 'a'));
      assert.deepEqual(await ids({ filters: { team: 't1' } }), expected((e) => e.team_id === 't1'));
      assert.deepEqual(await ids({ filters: { key: 'k2' } }), expected((e) => e.key_id === 'k2'));
      assert.deepEqual(await ids({ filters: { model: 'm1' } }), expected((e) => e.model_alias === 'm1'));
      assert.deepEqual(await ids({ filters: { tenant: 'a', key: 'k2' }, verdicts: ['block'] }), [events[3].event_id]);
      assert.deepEqual(await ids({ filters: { tenant: 'A' } }), [], 'case-sensitive');
      await assert.rejects(sink.guardrailEvents({ filters: { feature: 'x' } as Record<string, string>, limit: 10 }), RangeError);

      // Detectors: a substring of one name (a whole name too), case-sensitive, never across two names, wildcards literal.
      const detector = (text: string) => expected((e) => e.outcome.guardrail_detectors.some((d) => d.includes(text)));
      for (const text of ['pii.email', 'input:pii.email', 'output:', 'lakera', 'scanner_unavailable', '%', '_', 'x"y\\z', '"', '\\', '🚀', 'pii']) {
        assert.deepEqual(await ids({ detector: text }), detector(text), `detector ${JSON.stringify(text)}`);
      }
      assert.ok((await ids({ detector: '_' })).length >= 3, 'underscores match as themselves');
      assert.deepEqual(await ids({ detector: '%' }), [events[7].event_id]);
      assert.deepEqual(await ids({ detector: 'PII' }), []);
      assert.deepEqual(await ids({ detector: 'email","output' }), [], 'never across two names');
      assert.deepEqual(await ids({ detector: 'email,output' }), []);
      assert.deepEqual(await ids({ detector: ',' }), []);
      assert.deepEqual(await ids({ detector: 'lakera', verdicts: ['block'], filters: { tenant: 'b' } }), [events[4].event_id]);
      await assert.rejects(sink.guardrailEvents({ filters: {}, limit: 10, detector: '' }), TypeError);

      // Range and paging.
      assert.deepEqual(await ids({ from: at(2), to: at(7) }), expected((e) => e.timestamp >= at(2) && e.timestamp < at(7)));
      for (const size of [1, 2, 3, 7, 8]) {
        const seen: string[] = [];
        let before: { timestamp: string; eventId: string } | undefined;
        for (;;) {
          const page = await sink.guardrailEvents({ filters: {}, limit: size, before });
          seen.push(...page.map((r) => r.event_id));
          if (page.length < size) break;
          const last = page[page.length - 1];
          before = { timestamp: last.timestamp, eventId: last.event_id };
        }
        assert.deepEqual(seen, expected(), `pages of ${size}`);
      }
      const page = await sink.guardrailEvents({ filters: {}, limit: 2, before: { timestamp: at(8), eventId: 'g-2' } });
      assert.deepEqual(page.map((r) => r.event_id), ['g-1', events[7].event_id]);
      await assert.rejects(sink.guardrailEvents({ filters: {}, limit: 0 }), RangeError);
      await assert.rejects(sink.guardrailEvents({ filters: {}, limit: 1001 }), RangeError);
    });

    it('guardrails: a v1 event (from an old spool or write-ahead log) is stored as written, with no verdict and no detectors', async (sink) => {
      const old = [v1Event({ timestamp: ledgerTime(0) }), v1Event({ timestamp: ledgerTime(1), tenant_id: 'globex' })];
      assert.equal('guardrail_detectors' in old[0].outcome, false);
      await sink.write(old.slice(0, 1));
      await sink.write(old.slice(1), old.slice(1).map((e) => JSON.stringify(e)));
      assert.deepStrictEqual(await sink.requests({ filters: {}, limit: 10 }), newestFirst(old), 'exactly as written');
      assert.deepEqual(await sink.guardrailEvents({ filters: {}, limit: 10 }), []);
      const row = ledgerRow(old[0]);
      assert.deepEqual([row.guardrail_verdict, row.guardrail_detectors], [null, '[]']);
      await assert.rejects(sink.write([ledgerEvent({ outcome: { guardrail_detectors: 'input:pii.email' as unknown as string[] } })]), InvalidLedgerEvent);
      await assert.rejects(sink.write([ledgerEvent({ outcome: { guardrail_detectors: [7] as unknown as string[] } })]), InvalidLedgerEvent);
      await assert.rejects(sink.write([ledgerEvent({ outcome: { guardrail_verdict: 1 as unknown as 'flag' } })]), InvalidLedgerEvent);
    });
  });

  if (!legacy) return;
  describe(`LedgerSink contract: ${name}, upgrading a ledger made before the guardrail columns`, () => {
    test('the first call adds the columns in place; rows written before read as no verdict and no detectors, and as written', async () => {
      const old = [v1Event({ timestamp: ledgerTime(0), tenant_id: 'a' }), v1Event({ timestamp: ledgerTime(HOUR), tenant_id: 'b' })];
      const ledger = await legacy(old.map((event) => {
        const row = ledgerRow(event);
        return Object.fromEntries(V1_COLUMNS.map((column) => [column, row[column]]));
      }));
      try {
        const before = await ledger.columns();
        assert.ok(before.includes('event_json') && !before.includes('guardrail_verdict') && !before.includes('guardrail_detectors'), `the old shape: ${before.join(', ')}`);
        // The first call (a read here; a write does the same) migrates.
        assert.deepStrictEqual(await ledger.sink.requests({ filters: {}, limit: 10 }), newestFirst(old));
        const after = await ledger.columns();
        assert.ok(after.includes('guardrail_verdict') && after.includes('guardrail_detectors'), `the new columns: ${after.join(', ')}`);
        assert.deepEqual(await migrateLedgerSink(ledger.sink), { applied: [], version: 2 });
        assert.deepEqual(await ledger.guardrailColumns(), Object.fromEntries(old.map((e) => [e.event_id, { guardrail_verdict: null, guardrail_detectors: '[]' }])));
        assert.deepEqual(await ledger.sink.guardrailEvents({ filters: {}, limit: 10 }), []);

        const fresh = ledgerEvent({ timestamp: ledgerTime(2 * HOUR), tenant_id: 'a', outcome: { guardrail_verdict: 'redact', guardrail_detectors: ['input:pii.email'] } });
        await ledger.sink.write([fresh, ...old]);
        assert.deepStrictEqual(await ledger.sink.requests({ filters: {}, limit: 10 }), newestFirst([...old, fresh]));
        assert.deepStrictEqual(await ledger.sink.guardrailEvents({ filters: { tenant: 'a' }, limit: 10 }), [guardrailRow(fresh)]);
        assert.deepEqual((await ledger.guardrailColumns())[fresh.event_id], { guardrail_verdict: 'redact', guardrail_detectors: '["input:pii.email"]' });
        const [total] = await ledger.sink.spend({ groupBy: [], filters: {} });
        assert.equal(total.requests, 3);
      } finally {
        await ledger.cleanup();
      }
    });
  });
}
