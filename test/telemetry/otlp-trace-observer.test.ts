// The trace exporter (src/telemetry/tracing/otlp-trace-observer.ts) against a fake OTLP/HTTP
// collector on a real socket: what arrives on the wire, batching, the bounded queue, sampling,
// and collectors that hang, refuse connections or answer errors. Nothing here bounds wall-clock
// time (CI machines are slow): tests wait for events and compare counters.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { AttemptMark, FinishedCall } from '../../src/telemetry/finished-call.ts';
import { OtlpTraceObserver, type OtlpTraceObserverOptions } from '../../src/telemetry/tracing/otlp-trace-observer.ts';
import type { DropReason, ExportFailure } from '../../src/telemetry/tracing/tracing-stats.ts';
import { refusingCollectorUrl, startFakeCollector, type FakeCollector } from '../helpers/fake-otlp-collector.ts';
import { ledgerEvent, type LedgerEventOverrides } from '../helpers/ledger-events.ts';
import { memoryLogger } from '../helpers/ledger-test-sinks.ts';

const SECRET_HEADER = 'Bearer otlp-secret-token-5f1c';
/** The test fails rather than hangs if close() or a flush never returns. */
const LIMIT = { timeout: 20_000 };

let collector: FakeCollector;
let sequence = 0;

before(async () => {
  collector = await startFakeCollector();
});
after(async () => {
  await collector.close();
});
beforeEach(() => {
  collector.mode({ kind: 'ok' });
  collector.exports.length = 0;
});

/** A served call with one auth stage, one route stage and one attempt: 4 spans. */
function call(over: { event?: LedgerEventOverrides; attempts?: AttemptMark[] } & Partial<Omit<FinishedCall, 'event'>> = {}): FinishedCall {
  const n = ++sequence;
  const { event, attempts, ...rest } = over;
  const t = performance.now();
  const spanId = n.toString(16).padStart(16, 'a');
  return {
    event: ledgerEvent({ trace_id: n.toString(16).padStart(32, '0'), ...event }),
    timeline: {
      stages: [{ stage: 'auth', start: t + 1, end: t + 2 }, { stage: 'route', start: t + 2, end: t + 3 }],
      attempts: attempts ?? [{ spanId: n.toString(16).padStart(16, 'c'), alias: 'chat', deployment: 'dep-1', provider: 'openai', model: 'gpt-4o-mini', start: t + 3, end: t + 50, outcome: 'ok', httpStatus: 200 }],
    },
    receivedAt: t,
    endedAt: t + 60,
    receivedAtEpochMs: Date.now(),
    spanId,
    ...rest,
  };
}

interface Recorded {
  dropped: Array<[number, DropReason]>;
  failed: Array<[ExportFailure, number]>;
  exported: number[];
}

function observer(options: Partial<OtlpTraceObserverOptions> = {}): { obs: OtlpTraceObserver; seen: Recorded } {
  const seen: Recorded = { dropped: [], failed: [], exported: [] };
  const obs = new OtlpTraceObserver({
    endpoint: collector.url,
    scheduledDelayMs: 60_000,
    exportTimeoutMs: 5000,
    closeTimeoutMs: 5000,
    hooks: {
      onDropped: (n, reason) => seen.dropped.push([n, reason]),
      onExportFailed: (reason, n) => seen.failed.push([reason, n]),
      onExported: (n) => seen.exported.push(n),
    },
    ...options,
  });
  return { obs, seen };
}

const droppedTotal = (seen: Recorded) => seen.dropped.reduce((sum, [n]) => sum + n, 0);

describe('on the wire', () => {
  test('one call arrives as OTLP/HTTP JSON: resource, scope, the gateway\'s ids, kinds, times, status', LIMIT, async () => {
    const { obs } = observer({ headers: { authorization: SECRET_HEADER }, serviceName: 'tollgate-test', serviceVersion: '9.9.9', resourceAttributes: { 'deployment.environment.name': 'ci' } });
    const c = call({ parentSpanId: '00f067aa0ba902b7', traceFlags: '01', attempts: [
      { spanId: 'aaaaaaaaaaaaaaaa', alias: 'chat', deployment: 'dep-1', provider: 'openai', model: 'gpt-4o-mini', start: performance.now(), end: performance.now() + 5, outcome: 'failed', code: 'upstream_server_error', httpStatus: 500 },
      { spanId: 'bbbbbbbbbbbbbbbb', alias: 'chat', deployment: 'dep-2', provider: 'anthropic', model: 'claude-x', start: performance.now() + 6, end: performance.now() + 40, outcome: 'ok', httpStatus: 200 },
    ] });
    obs.observe(c);
    await obs.flush();
    assert.equal(collector.exports.length, 1);
    const sent = collector.exports[0]!;
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.equal(sent.headers.authorization, SECRET_HEADER);
    assert.equal(sent.body.resourceSpans.length, 1);
    assert.equal(sent.body.resourceSpans[0].scopeSpans.length, 1);
    assert.equal(sent.body.resourceSpans[0].scopeSpans[0].scope.name, 'tollgate');

    const spans = sent.spans;
    assert.deepEqual(spans.map((s) => s.name), ['gateway.request', 'gateway.auth', 'gateway.route', 'gateway.provider', 'gateway.provider']);
    const [request, auth, , failed, served] = spans;
    assert.equal(request!.resource['service.name'], 'tollgate-test');
    assert.equal(request!.resource['service.version'], '9.9.9');
    assert.equal(request!.resource['deployment.environment.name'], 'ci');
    for (const span of spans) assert.equal(span.traceId, c.event.trace_id, 'hex trace ids, the ledger\'s');
    assert.equal(request!.spanId, c.spanId);
    assert.equal(request!.parentSpanId, '00f067aa0ba902b7');
    assert.equal(request!.kind, 2, 'SPAN_KIND_SERVER');
    assert.equal(auth!.kind, 1, 'SPAN_KIND_INTERNAL');
    assert.equal(auth!.parentSpanId, c.spanId);
    assert.equal(failed!.kind, 3, 'SPAN_KIND_CLIENT');
    assert.equal(failed!.spanId, 'aaaaaaaaaaaaaaaa');
    assert.equal(served!.spanId, 'bbbbbbbbbbbbbbbb');
    assert.equal(served!.parentSpanId, c.spanId);
    assert.equal(failed!.status.code, 2, 'STATUS_CODE_ERROR');
    assert.equal(failed!.attributes['error.type'], 'upstream_server_error');
    assert.equal(served!.attributes['gen_ai.provider.name'], 'anthropic');
    // Times are decimal strings of epoch nanoseconds.
    assert.match(request!.startTimeUnixNano, /^\d{19}$/);
    const start = BigInt(request!.startTimeUnixNano);
    const end = BigInt(request!.endTimeUnixNano);
    assert.equal(end - start, 60_000_000n);
    assert.equal(start / 1_000_000n, BigInt(Math.floor(c.receivedAtEpochMs)));
    assert.equal(request!.attributes['gen_ai.usage.input_tokens'], 1200);
    assert.equal(request!.attributes['tollgate.tenant_id'], 'acme');
    await obs.close();
  });

  test('a call is sent on its own every scheduled_delay_ms, without a flush', LIMIT, async () => {
    const { obs, seen } = observer({ scheduledDelayMs: 20 });
    obs.observe(call());
    const spans = await collector.waitForSpans(4);
    assert.equal(spans.length, 4);
    await until(() => seen.exported.length > 0);
    assert.deepEqual(seen.exported, [4]);
    await obs.close();
  });
});

describe('batching', () => {
  test('a full batch goes at once; the rest waits for the timer (or a flush); a batch holds whole calls', LIMIT, async () => {
    const { obs, seen } = observer({ maxExportBatchSize: 6 });
    const calls = [call(), call(), call()]; // 12 spans, 4 a call: a batch of 6 holds one call
    for (const c of calls) obs.observe(c);
    await collector.waitForSpans(8);
    await sleep(50);
    assert.deepEqual(collector.exports.map((e) => e.spans.length), [4, 4]);
    assert.equal(obs.stats().queued, 4, 'less than a batch: the timer (60 s) holds it');
    obs.observe(call()); // 8 spans waiting: a full batch again
    await collector.waitForSpans(12);
    await obs.flush();
    assert.deepEqual(collector.exports.map((e) => e.spans.length), [4, 4, 4, 4]);
    // Every call's spans arrived, each call's in one batch.
    const ids = new Set(collector.spans().map((s) => s.spanId));
    for (const c of calls) assert.ok(ids.has(c.spanId), c.spanId);
    assert.deepEqual(seen.exported, [4, 4, 4, 4]);
    assert.equal(obs.stats().exported, 16);
    assert.equal(obs.stats().queued, 0);
    await obs.close();
  });

  test('one export in flight at a time', LIMIT, async () => {
    collector.mode({ kind: 'hang' });
    const before = collector.received;
    const { obs } = observer({ maxExportBatchSize: 4, exportTimeoutMs: 60_000, closeTimeoutMs: 100 });
    for (let i = 0; i < 5; i++) obs.observe(call()); // five full batches waiting
    await collector.waitForRequests(before + 1);
    await sleep(100);
    assert.equal(collector.received, before + 1, 'the next batch waits for the one in flight');
    assert.equal(obs.stats().queued, 16);
    await obs.close();
    // close() gave up the export still hanging (its 60 s timeout did not have to pass): when it
    // resolves, every span is accounted for.
    assert.equal(obs.stats().dropped.export_failed, 4);
    assert.equal(obs.stats().dropped.shutdown, 16);
    assert.equal(obs.stats().failedExports.timeout, 1);
  });
});

describe('the bounded queue', () => {
  test('spans beyond max_queue_size are dropped and counted (hook and stats); the rest are exported', LIMIT, async () => {
    const { obs, seen } = observer({ maxQueueSize: 10, maxExportBatchSize: 10 });
    for (let i = 0; i < 4; i++) obs.observe(call()); // 4 spans each: the third and fourth do not fit
    assert.deepEqual(seen.dropped, [[4, 'queue_full'], [4, 'queue_full']]);
    assert.equal(obs.stats().dropped.queue_full, 8);
    assert.equal(obs.stats().queued, 8);
    await obs.flush();
    assert.equal(collector.spans().length, 8);
    await obs.close();
  });

  test('a queue that stays full logs a warning, without the collector\'s credentials', LIMIT, async () => {
    const logger = memoryLogger();
    const url = new URL(collector.url);
    url.username = 'user';
    url.password = 'pw-in-url';
    const { obs } = observer({ endpoint: url.toString(), maxQueueSize: 4, maxExportBatchSize: 4, headers: { authorization: SECRET_HEADER }, logger });
    collector.mode({ kind: 'status', status: 400 });
    for (let i = 0; i < 3; i++) obs.observe(call());
    await obs.flush();
    assert.ok(logger.count(/queue full/) >= 1);
    assert.ok(logger.count(/export failed/) >= 1);
    const text = JSON.stringify(logger.lines);
    assert.ok(!text.includes('otlp-secret-token') && !text.includes('pw-in-url'), text);
    await obs.close();
  });
});

describe('sampling', () => {
  test('ratio 0 exports nothing and counts the calls left out; a client\'s sampled traceparent still goes', LIMIT, async () => {
    const { obs } = observer({ sampleRatio: 0 });
    obs.observe(call());
    obs.observe(call());
    const traced = call({ parentSpanId: '00f067aa0ba902b7', traceFlags: '01' });
    obs.observe(traced);
    await obs.flush();
    assert.equal(obs.stats().sampledOut, 2);
    assert.deepEqual([...new Set(collector.spans().map((s) => s.traceId))], [traced.event.trace_id]);
    await obs.close();
  });

  test('a client that marked its trace not sampled gets no spans from the gateway', LIMIT, async () => {
    const { obs } = observer({ sampleRatio: 1 });
    obs.observe(call({ parentSpanId: '00f067aa0ba902b7', traceFlags: '00' }));
    await obs.flush();
    assert.equal(collector.spans().length, 0);
    assert.equal(obs.stats().sampledOut, 1);
    await obs.close();
  });
});

describe('a collector that fails never fails the gateway', () => {
  test('a collector that hangs: observe() keeps taking calls, the export times out, close() keeps its deadline', LIMIT, async () => {
    collector.mode({ kind: 'hang' });
    const before = collector.received;
    const { obs, seen } = observer({ maxQueueSize: 40, maxExportBatchSize: 8, exportTimeoutMs: 300, closeTimeoutMs: 300 });
    obs.observe(call());
    obs.observe(call()); // 8 spans: a full batch goes, and hangs
    await collector.waitForRequests(before + 1);
    // While the export hangs, observe() returns at once and the calls are queued, until the queue is full.
    for (let i = 0; i < 20; i++) assert.equal(obs.observe(call()), undefined);
    const stats = obs.stats();
    assert.equal(stats.queued + stats.dropped.queue_full, 80, 'every span is queued or counted as dropped');
    assert.ok(stats.dropped.queue_full > 0);
    // The hanging export gives up at its timeout: its spans are counted, and the exporter goes on.
    await until(() => seen.failed.length > 0);
    assert.deepEqual(seen.failed[0], ['timeout', 8]);
    await obs.close();
    const end = obs.stats();
    assert.equal(end.exported, 0);
    assert.equal(end.queued, 0);
    assert.equal(end.dropped.queue_full + end.dropped.export_failed + end.dropped.shutdown, 88, 'every span is accounted for');
  });

  test('a collector that refuses connections: nothing throws, the failures are counted', LIMIT, async () => {
    const { obs, seen } = observer({ endpoint: await refusingCollectorUrl(), exportTimeoutMs: 300, closeTimeoutMs: 2000 });
    assert.doesNotThrow(() => {
      for (let i = 0; i < 3; i++) obs.observe(call());
    });
    await obs.flush();
    assert.deepEqual(seen.failed, [['network_error', 12]]);
    assert.deepEqual(seen.dropped, [[12, 'export_failed']]);
    assert.equal(obs.stats().failedExports.network_error, 1);
    obs.observe(call());
    await obs.close();
    assert.equal(obs.stats().exported, 0);
    assert.equal(droppedTotal(seen), 16);
  });

  test('a collector that answers an error status: the batch is dropped and counted as http_error', LIMIT, async () => {
    collector.mode({ kind: 'status', status: 400 });
    const { obs, seen } = observer({ exportTimeoutMs: 300 });
    obs.observe(call());
    await obs.flush();
    assert.deepEqual(seen.failed, [['http_error', 4]]);
    assert.equal(obs.stats().dropped.export_failed, 4);
    // It recovers: the next batch goes through.
    collector.mode({ kind: 'ok' });
    obs.observe(call());
    await obs.flush();
    assert.equal(collector.spans().length, 4);
    assert.equal(obs.stats().exported, 4);
    await obs.close();
  });

  test('close() delivers what is queued, then drops (and counts) calls observed after it; it never rejects', LIMIT, async () => {
    const { obs, seen } = observer();
    obs.observe(call());
    obs.observe(call());
    await obs.close();
    assert.equal(collector.spans().length, 8);
    obs.observe(call());
    assert.deepEqual(seen.dropped, [[4, 'shutdown']]);
    await obs.close(); // a second close is the same close
  });

  test('a malformed call or a throwing metrics hook does not escape observe()', LIMIT, async () => {
    const obs = new OtlpTraceObserver({ endpoint: collector.url, hooks: { onDropped: () => { throw new Error('metrics bug'); } } });
    assert.doesNotThrow(() => obs.observe({} as FinishedCall));
    assert.doesNotThrow(() => obs.observe(null as unknown as FinishedCall));
    assert.equal(obs.stats().dropped.invalid, 2);
    await obs.close();
  });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}
