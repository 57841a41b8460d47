// What the SQL ledger sinks share: exact money in pico-dollars, the UTC day, the timestamps the
// ledger accepts, and the row checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventInstantMs, InvalidLedgerEvent, ledgerRow, picoToUsd, queryInstantMs, usdToPico, utcDay } from '../../src/ledger/sinks/ledger-rows.ts';
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
