// What the SQL ledger sinks share: exact money in pico-dollars, the UTC day, the timestamps the
// ledger accepts, and the row checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import { eventInstantMs, InvalidLedgerEvent, ledgerRow, picoToUsd, queryInstantMs, usdToPico, utcDay } from '../../src/ledger/sinks/ledger-rows.ts';
import { FLAGGED_PREDICATE, guardrailEventFrom, guardrailEventsSql } from '../../src/ledger/sinks/ledger-queries.ts';
import { ledgerEvent } from '../helpers/ledger-events.ts';

/** The slow path alone: the shortest decimal of the double, rounded at 12 places. */
function viaDigits(usd: number): bigint {
  const [mantissa, exponent = '0'] = String(Math.abs(usd)).split('e');
  const [whole, fraction = ''] = mantissa.split('.');
  const digits = BigInt(whole + fraction);
  const shift = 12 - fraction.length + Number(exponent);
  const pico = shift >= 0 ? digits * 10n ** BigInt(shift) : (digits * 2n + 10n ** BigInt(-shift)) / (2n * 10n ** BigInt(-shift));
  return usd < 0 ? -pico : pico;
}

test('usdToPico: exact for prices quoted to 1e-12 $, the fast path agrees with the digits everywhere', () => {
  assert.equal(usdToPico(0), 0n);
  assert.equal(usdToPico(-0), 0n);
  assert.equal(usdToPico(0.1), 100_000_000_000n);
  assert.equal(usdToPico(0.1 + 0.2), 300_000_000_000n, '0.30000000000000004 is 0.3 to the pico-dollar');
  assert.equal(usdToPico(1.875e-8), 18_750n);
  assert.equal(usdToPico(7.500000000000001e-5), 75_000_000n);
  assert.equal(usdToPico(1e-13), 0n);
  assert.equal(usdToPico(5e-13), 1n, 'half a pico-dollar rounds away from zero');
  assert.equal(usdToPico(-5e-13), -1n);
  assert.equal(usdToPico(5_000_000.25), 5_000_000_250_000_000_000n);
  assert.equal(usdToPico(1e21), 10n ** 33n);
  assert.throws(() => usdToPico(Number.NaN), RangeError);
  assert.throws(() => usdToPico(Number.POSITIVE_INFINITY), RangeError);
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 50_000; i++) {
    const tokens = Math.floor(random() * 200_000);
    const perToken = Math.round(random() * 1e7) / 1e12; // up to $10 per million, in 1e-12 steps
    const usd = i % 3 === 0 ? Math.round(tokens * perToken * 1e12) / 1e12 : tokens * perToken * (i % 2 ? 1 : -1);
    assert.equal(usdToPico(usd), viaDigits(usd), `${usd}`);
  }
});

test('picoToUsd: one correctly rounded conversion', () => {
  assert.equal(picoToUsd(0n), 0);
  assert.equal(picoToUsd(300_000_000_000n), 0.3);
  assert.equal(picoToUsd(1_000_000_000_000n), 1);
  assert.equal(picoToUsd(-18_750n), -1.875e-8);
  assert.equal(picoToUsd(15_000_000_750_000_000_000n), 15_000_000.75);
  assert.equal(picoToUsd(10n ** 40n), 1e28);
});

test('utcDay: the UTC calendar day, leap years and centuries included', () => {
  for (const iso of ['1970-01-01T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '2024-12-31T23:59:59.999Z', '2100-03-01T00:00:00.000Z', '9998-12-31T23:59:59.999Z']) {
    assert.equal(utcDay(Date.parse(iso)), iso.slice(0, 10));
  }
  for (let ms = 0; ms < Date.parse('2400-01-01T00:00:00Z'); ms += 86_400_000 * 7 + 3_600_000) {
    assert.equal(utcDay(ms), new Date(ms).toISOString().slice(0, 10));
  }
});

test('timestamps: events need ISO 8601 with a zone, 1970 to 9998; query bounds also take a date', () => {
  assert.equal(eventInstantMs('2026-12-02T09:00:00.000Z'), Date.parse('2026-12-02T09:00:00.000Z'));
  assert.equal(eventInstantMs('2026-12-02T10:00:00+01:00'), Date.parse('2026-12-02T09:00:00.000Z'));
  assert.equal(eventInstantMs('2026-12-02T09:00Z'), Date.parse('2026-12-02T09:00:00.000Z'));
  for (const bad of ['2026-12-02T09:00:00', '2026-12-02', 'Wed, 02 Dec 2026 09:00:00 GMT', '1969-12-31T23:59:59Z', '9999-01-01T00:00:00Z', '', 42, null]) {
    assert.equal(eventInstantMs(bad), undefined, String(bad));
  }
  assert.equal(queryInstantMs('2026-12-02', 'from'), Date.parse('2026-12-02T00:00:00Z'));
  assert.throws(() => queryInstantMs('2026-12-02T09:00:00', 'from'), /from must be an ISO-8601 timestamp with a zone/);
});

test('ledgerRow: the columns of an event; an event it cannot store names itself', () => {
  const event = ledgerEvent({ timestamp: '2026-12-02T00:30:00+01:00', cost_usd: { input: 0.1, output: 0.2, total: 0.1 + 0.2, saved: 1.875e-8 } });
  const row = ledgerRow(event);
  assert.equal(row.day, '2026-12-01');
  assert.equal(row.ts_ms, Date.parse('2026-12-01T23:30:00Z'));
  assert.deepEqual([row.cost_input_pico, row.cost_output_pico, row.cost_total_pico, row.cost_saved_pico], [100_000_000_000n, 200_000_000_000n, 300_000_000_000n, 18_750n]);
  assert.equal(row.event_json, JSON.stringify(event));
  assert.equal(row.latency_ms, 813);
  const error = (() => {
    try {
      ledgerRow(ledgerEvent({ event_id: 'e-1', usage: { output: -1 } }));
    } catch (caught) {
      return caught;
    }
  })();
  assert.ok(error instanceof InvalidLedgerEvent);
  assert.equal(error.name, 'InvalidLedgerEvent');
  assert.equal(error.eventId, 'e-1');
  assert.match(error.message, /"e-1": usage\.output must be a non-negative integer/);
});

test('ledgerRow: the guardrail columns (verdict, detectors as JSON text); absent in a v1 event, none', () => {
  const row = ledgerRow(ledgerEvent({ outcome: { guardrail_verdict: 'redact', guardrail_detectors: ['input:pii.email', 'output:secret.jwt'] } }));
  assert.deepEqual([row.guardrail_verdict, row.guardrail_detectors], ['redact', '["input:pii.email","output:secret.jwt"]']);
  const plain = ledgerRow(ledgerEvent());
  assert.deepEqual([plain.guardrail_verdict, plain.guardrail_detectors], [null, '[]']);
  const { guardrail_detectors: _none, guardrail_verdict: _reserved, ...v1Outcome } = ledgerEvent().outcome;
  const v1 = ledgerRow({ ...ledgerEvent(), schema_version: 1, outcome: v1Outcome } as unknown as LedgerEvent);
  assert.deepEqual([v1.guardrail_verdict, v1.guardrail_detectors, v1.schema_version], [null, '[]', 1]);
  for (const detectors of ['input:pii.email', [1], { a: 'b' }]) {
    assert.throws(() => ledgerRow(ledgerEvent({ outcome: { guardrail_detectors: detectors as unknown as string[] } })), InvalidLedgerEvent);
  }
});

test('guardrailEventsSql: always the partial indexes\' predicate; verdicts, filters and the detector as parameters only', () => {
  const dialect = { tsColumn: 'ts', tsValue: (ms: number) => new Date(ms).toISOString(), placeholder: (n: number) => `$${n}`, eventColumn: 'event_json', detectorContains: (p: string) => `has(${p})` };
  const all = guardrailEventsSql({ filters: {}, limit: 10 }, dialect, 'ledger_events', 10);
  assert.equal(all.sql, `SELECT request_id, event_id, ts AS ts_value, tenant_id, team_id, key_id, model_alias, endpoint, status, guardrail_verdict, guardrail_detectors, error_code FROM ledger_events WHERE ${FLAGGED_PREDICATE} ORDER BY ts DESC, event_id DESC LIMIT $1`);
  assert.deepEqual(all.params, [10]);
  const some = guardrailEventsSql({ filters: { tenant: "a'; DROP TABLE x" }, verdicts: ['block', 'flag', 'block'], detector: "'%_", limit: 5, before: { timestamp: '2026-12-02T00:00:00Z', eventId: 'e' } }, dialect, 't', 5);
  assert.equal(some.sql, `SELECT request_id, event_id, ts AS ts_value, tenant_id, team_id, key_id, model_alias, endpoint, status, guardrail_verdict, guardrail_detectors, error_code FROM t WHERE ${FLAGGED_PREDICATE} AND tenant_id = $1 AND guardrail_verdict IN ($2, $3) AND has($4) AND (ts, event_id) < ($5, $6) ORDER BY ts DESC, event_id DESC LIMIT $7`);
  assert.deepEqual(some.params, ["a'; DROP TABLE x", 'block', 'flag', "'%_", '2026-12-02T00:00:00.000Z', 'e', 5]);
  assert.equal(guardrailEventsSql({ filters: {}, verdicts: ['flag', 'redact', 'block'], limit: 1 }, dialect, 't', 1).params.length, 1, 'all three: the predicate alone');
  assert.throws(() => guardrailEventsSql({ filters: {}, verdicts: ['pass' as 'flag'], limit: 1 }, dialect, 't', 1), RangeError);
  assert.throws(() => guardrailEventsSql({ filters: { user: 'u' } as Record<string, string>, limit: 1 }, dialect, 't', 1), RangeError);
  assert.throws(() => guardrailEventsSql({ filters: {}, detector: '', limit: 1 }, dialect, 't', 1), TypeError);
  assert.throws(() => guardrailEventsSql({ filters: {}, from: 'soon', limit: 1 }, dialect, 't', 1), RangeError);
});

test('guardrailEventFrom: a row of either backend (epoch ms or a Date) → the item', () => {
  const base = { request_id: 'r', event_id: 'e', tenant_id: 'a', team_id: null, key_id: 'k', model_alias: 'm', endpoint: 'messages', status: 'success', guardrail_verdict: 'flag', guardrail_detectors: '["input:pii.email"]', error_code: null };
  const expected = { request_id: 'r', event_id: 'e', timestamp: '2026-12-02T09:00:00.000Z', tenant_id: 'a', team_id: null, key_id: 'k', alias: 'm', endpoint: 'messages', status: 'success', guardrail_verdict: 'flag', guardrail_detectors: ['input:pii.email'], error_code: null };
  assert.deepStrictEqual(guardrailEventFrom({ ...base, ts_value: Date.parse('2026-12-02T09:00:00Z') }), expected);
  assert.deepStrictEqual(guardrailEventFrom({ ...base, ts_value: new Date('2026-12-02T09:00:00Z') }), expected);
  assert.deepEqual(guardrailEventFrom({ ...base, ts_value: 0, guardrail_detectors: 'not json' }).guardrail_detectors, []);
});
