// Which calls' traces are kept (src/telemetry/tracing/trace-sampling.ts): by trace id against the
// ratio (the same id always gets the same answer), and by the client's sampled flag when it sent
// a traceparent.

import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { test } from 'node:test';
import type { FinishedCall } from '../../src/telemetry/finished-call.ts';
import { keepTrace, traceIdSampled } from '../../src/telemetry/tracing/trace-sampling.ts';
import { ledgerEvent } from '../helpers/ledger-events.ts';

/** 10 000 well-spread trace ids, the same every run. */
const IDS = Array.from({ length: 10_000 }, (_, i) => hash('sha256', `trace-${i}`, 'hex').slice(0, 32));

function call(traceId: string, over: Partial<FinishedCall> = {}): FinishedCall {
  return { event: ledgerEvent({ trace_id: traceId }), timeline: { stages: [], attempts: [] }, receivedAt: 0, endedAt: 1, receivedAtEpochMs: 0, spanId: '1'.repeat(16), ...over };
}

test('ratio 1 keeps every trace and ratio 0 none', () => {
  assert.ok(IDS.every((id) => traceIdSampled(id, 1)));
  assert.ok(IDS.every((id) => !traceIdSampled(id, 0)));
  assert.equal(traceIdSampled('f'.repeat(32), 0), false, 'the largest id is not kept at 0');
  assert.equal(traceIdSampled('0'.repeat(31) + '1', 1), true);
});

test('a ratio keeps about that share of traces', () => {
  for (const ratio of [0.01, 0.25, 0.5, 0.9]) {
    const kept = IDS.filter((id) => traceIdSampled(id, ratio)).length / IDS.length;
    assert.ok(Math.abs(kept - ratio) < 0.02, `ratio ${ratio}: kept ${kept}`);
  }
});

test('the decision depends on the trace id only, and a trace kept at a ratio is kept at any higher one', () => {
  for (const id of IDS.slice(0, 500)) {
    assert.equal(traceIdSampled(id, 0.3), traceIdSampled(id, 0.3));
    if (traceIdSampled(id, 0.3)) assert.ok(traceIdSampled(id, 0.6), id);
  }
});

test('the client\'s traceparent decides for its calls: sampled is kept at ratio 0, not sampled is dropped at ratio 1', () => {
  const id = IDS[0]!;
  assert.equal(keepTrace(call(id, { parentSpanId: 'a'.repeat(16), traceFlags: '01' }), 0), true);
  assert.equal(keepTrace(call(id, { parentSpanId: 'a'.repeat(16), traceFlags: '00' }), 1), false);
  assert.equal(keepTrace(call(id, { parentSpanId: 'a'.repeat(16), traceFlags: '03' }), 0), true, 'other flag bits do not matter');
});

test('without a client traceparent (or without its flags) the ratio decides', () => {
  const kept = IDS.find((id) => traceIdSampled(id, 0.5))!;
  const dropped = IDS.find((id) => !traceIdSampled(id, 0.5))!;
  assert.equal(keepTrace(call(kept, { traceFlags: '01' }), 0.5), true);
  assert.equal(keepTrace(call(dropped, { traceFlags: '01' }), 0.5), false);
  assert.equal(keepTrace(call(dropped, { parentSpanId: 'a'.repeat(16) }), 0.5), false, 'flags unknown: the ratio decides');
});
