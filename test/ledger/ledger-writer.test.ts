// The ledger writer: batching, fan-out, spooling and replay, overflow, close, restart recovery,
// torn spool lines, poison events, and a record() that never throws.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import { createLedgerWriter, type LedgerWriter, type LedgerWriterOptions } from '../../src/ledger/ledger-writer.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { ledgerEvent, MemorySink, memoryLogger, sleep, spoolFiles, waitFor } from '../helpers/ledger-test-sinks.ts';

const dirs: string[] = [];
const writers: LedgerWriter[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ledger-writer-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  for (const writer of writers.splice(0)) await writer.close().catch(() => {});
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  readonly writer: LedgerWriter;
  readonly metrics: Metrics;
  readonly logger: ReturnType<typeof memoryLogger>;
  readonly spoolDir: string;
}

function setup(options: Partial<LedgerWriterOptions> & Pick<LedgerWriterOptions, 'sinks'>, spoolDir = tempDir()): Setup {
  const metrics = new Metrics();
  const logger = memoryLogger();
  const writer = createLedgerWriter({ spoolDir, logger, metrics, retryMinMs: 30, retryMaxMs: 60, ...options });
  writers.push(writer);
  return { writer, metrics, logger, spoolDir };
}

function recordRange(writer: LedgerWriter, from: number, to: number): void {
  for (let i = from; i < to; i++) writer.record(ledgerEvent(i));
}

function ids(from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(`evt-${i}`);
  return out;
}

function sortedIds(sink: MemorySink): string[] {
  return [...sink.stored.keys()].sort();
}

test('batches: a full batch goes out right away, the rest after flushIntervalMs; record() itself never calls the sink', async () => {
  const sink = new MemorySink();
  const { writer } = setup({ sinks: [sink], flushIntervalMs: 80, batchSize: 100 });

  const start = performance.now();
  recordRange(writer, 0, 10);
  assert.equal(sink.attempts, 0, 'record() is synchronous and hands nothing to the sink itself');
  await sleep(30);
  assert.equal(sink.batches.length, 0, 'fewer than batchSize events wait for the flush interval');
  await waitFor(() => sink.batches.length === 1, 'the interval flush');
  assert.equal(sink.batches[0].size, 10);
  assert.ok(sink.batches[0].at - start >= 75, `sent after the interval (${(sink.batches[0].at - start).toFixed(1)} ms)`);

  const second = performance.now();
  recordRange(writer, 10, 260);
  assert.equal(sink.attempts, 1, 'still nothing from record() itself');
  await waitFor(() => sink.batches.length === 3, 'two full batches');
  assert.ok(sink.batches[2].at - second < 60, 'full batches do not wait for the interval');
  await waitFor(() => sink.batches.length === 4, 'the remainder');
  assert.deepEqual(sink.batches.map((b) => b.size), [10, 100, 100, 50]);
  assert.deepEqual(sortedIds(sink), ids(0, 260).sort());
});

test('flush() resolves once everything recorded before it is stored', async () => {
  const sink = new MemorySink({ delayMs: 5 });
  const { writer, metrics } = setup({ sinks: [sink], flushIntervalMs: 10_000, batchSize: 64 });
  recordRange(writer, 0, 1000);
  await writer.flush();
  assert.equal(sink.stored.size, 1000);
  assert.equal(metrics.counter('tollgate_ledger_written_total', 'Ledger events a sink stored, live or replayed from its spool.').get({ sink: 'memory' }), 1000);
  assert.equal(writer.stats().sinks.memory.queued, 0);
});

test('fan-out: every sink gets every event, and a slow or failing sink holds back no other', async () => {
  const fast = new MemorySink({ name: 'fast' });
  const slow = new MemorySink({ name: 'slow', delayMs: 200 });
  const broken = new MemorySink({ name: 'broken' });
  broken.failing = true;
  const { writer } = setup({ sinks: [fast, slow, broken], flushIntervalMs: 20, batchSize: 50 });

  recordRange(writer, 0, 200);
  await waitFor(() => fast.stored.size === 200, 'the fast sink');
  assert.ok(slow.stored.size < 200, 'the slow sink is still on its first batch');
  assert.equal(broken.stored.size, 0);
  await waitFor(() => slow.stored.size === 200, 'the slow sink', 10_000);
  broken.failing = false;
  await waitFor(() => broken.stored.size === 200, 'the broken sink, once back, from its spool');
  for (const sink of [fast, slow, broken]) assert.deepEqual(sortedIds(sink), ids(0, 200).sort(), sink.name);
});

test('a failing sink: its batches are spooled, then replayed once it recovers, with no event stored twice', async () => {
  const sink = new MemorySink();
  const { writer, metrics, logger, spoolDir } = setup({ sinks: [sink], flushIntervalMs: 10, batchSize: 100 });
  sink.failing = true;

  recordRange(writer, 0, 1000);
  await writer.flush();
  assert.equal(sink.stored.size, 0);
  const stats = writer.stats().sinks.memory;
  assert.equal(stats.spooled, 1000, 'all of it is in the spool');
  assert.equal(stats.down, true);
  assert.ok(stats.failures >= 1);
  assert.equal(metrics.gauge('tollgate_ledger_spooled_events', "Ledger events in a sink's spool files, waiting to be replayed into it.").get({ sink: 'memory' }), 1000);
  assert.ok(metrics.counter('tollgate_ledger_write_failures_total', 'Ledger batch writes a sink failed or did not answer in time; their events went to its spool.').get({ sink: 'memory' }) >= 1);
  assert.ok(spoolFiles(spoolDir).some((file) => file.startsWith('memory/')), 'a spool segment under <spoolDir>/memory/');
  assert.equal(logger.count('ledger sink failed: spooling its events to disk and retrying'), 1, 'logged once per outage');

  // Still down: more events, still spooled (while retries keep failing).
  recordRange(writer, 1000, 1500);
  await sleep(150);
  sink.failing = false;
  await waitFor(() => sink.stored.size === 1500, 'the replay');
  assert.deepEqual(sortedIds(sink), ids(0, 1500).sort());
  assert.deepEqual(sink.duplicates(), [], 'each event was stored exactly once');
  await waitFor(() => writer.stats().sinks.memory.spooled === 0 && spoolFiles(join(spoolDir, 'memory')).length === 0, 'the spool to empty: replayed segments are deleted');
  assert.equal(writer.stats().sinks.memory.down, false);
  assert.equal(logger.count('ledger sink recovered: replaying its spool'), 1);
  assert.equal(writer.stats().dropped, 0);
});

test('a sink that never answers: its batch times out into the spool, and is replayed once the sink is back', async () => {
  const sink = new MemorySink();
  sink.hanging = true;
  const { writer } = setup({ sinks: [sink], flushIntervalMs: 10, writeTimeoutMs: 100 });
  recordRange(writer, 0, 50);
  await waitFor(() => writer.stats().sinks.memory.spooled === 50, 'the timed-out batch in the spool');
  sink.hanging = false;
  await waitFor(() => sink.stored.size === 50, 'the replay');
  assert.deepEqual(sortedIds(sink), ids(0, 50).sort());
});

test('overflow: past maxQueued, events go to the spool (logged once), none is dropped, and all arrive', async () => {
  const sink = new MemorySink({ delayMs: 40 });
  const { writer, metrics, logger } = setup({ sinks: [sink], flushIntervalMs: 10, batchSize: 50, maxQueued: 100 });

  // 2000 requests finishing over 20 event-loop turns, while the sink takes 40 ms a batch.
  for (let i = 0; i < 2000; i += 100) {
    recordRange(writer, i, i + 100);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await writer.flush();
  const spooled = metrics.counter('tollgate_ledger_spooled_total', "Ledger events appended to a sink's spool, by reason: sink_failed, sink_down, overflow, shutdown.");
  const overflowed = spooled.get({ sink: 'memory', reason: 'overflow' });
  assert.ok(overflowed > 500, `most of it overflowed to the spool (${overflowed})`);
  assert.equal(logger.count('ledger sink cannot keep up: its queue is full, spooling new events to disk'), 1, 'once per episode');
  await waitFor(() => sink.stored.size === 2000, 'everything, through the replay', 15_000);
  assert.deepEqual(sortedIds(sink), ids(0, 2000).sort());
  assert.deepEqual(sink.duplicates(), []);
  assert.equal(writer.stats().dropped, 0);
  assert.equal(metrics.counter('tollgate_ledger_dropped_total', 'Ledger events neither stored nor spooled (the spool disk failed or fell behind). Should stay 0.').get({ reason: 'spool_backlog' }), 0);
  assert.equal(logger.count('ledger sink caught up: its queue is below half full again'), 1);
});

test('a burst beyond the queue and the spool backlog (in one event-loop turn, before the spool can write) is dropped, counted and logged', async () => {
  const sink = new MemorySink({ delayMs: 20 });
  const { writer, metrics, logger } = setup({ sinks: [sink], flushIntervalMs: 10, batchSize: 10, maxQueued: 10, maxSpoolBacklog: 10 });
  recordRange(writer, 0, 100);
  await writer.flush();
  const dropped = metrics.counter('tollgate_ledger_dropped_total', 'Ledger events neither stored nor spooled (the spool disk failed or fell behind). Should stay 0.');
  assert.equal(dropped.get({ reason: 'spool_backlog' }), 80);
  assert.equal(logger.count('LEDGER EVENTS DROPPED: neither stored nor spooled; check the spool disk'), 1);
  await waitFor(() => sink.stored.size === 20, 'the 20 kept');
});

test('close() stores everything queued, closes the sinks, leaves no spool, write-ahead or lock file, and drops (counts) later events', async () => {
  const a = new MemorySink({ name: 'a', delayMs: 10 });
  const b = new MemorySink({ name: 'b' });
  const { writer, spoolDir, metrics } = setup({ sinks: [a, b], flushIntervalMs: 60_000, batchSize: 100 });
  recordRange(writer, 0, 1234);
  await writer.close();
  assert.deepEqual(sortedIds(a), ids(0, 1234).sort());
  assert.deepEqual(sortedIds(b), ids(0, 1234).sort());
  assert.equal(a.closed && b.closed, true);
  assert.deepEqual(spoolFiles(spoolDir), []);
  assert.equal(existsSync(join(spoolDir, '_writer.lock')), false);

  assert.doesNotThrow(() => writer.record(ledgerEvent(9999)));
  assert.equal(writer.stats().dropped, 1);
  assert.equal(metrics.counter('tollgate_ledger_dropped_total', 'Ledger events neither stored nor spooled (the spool disk failed or fell behind). Should stay 0.').get({ reason: 'after_close' }), 1);
  await writer.close(); // idempotent
});

test('close() with a sink down spools everything; a new writer on the folder replays it into the recovered sink', async () => {
  const spoolDir = tempDir();
  const down = new MemorySink({ name: 'pg' });
  down.failing = true;
  const first = setup({ sinks: [down], flushIntervalMs: 10 }, spoolDir);
  recordRange(first.writer, 0, 700);
  await first.writer.close();
  assert.equal(down.stored.size, 0);
  assert.equal(first.writer.stats().sinks.pg.spooled, 700);
  assert.equal(first.writer.stats().dropped, 0);
  assert.ok(spoolFiles(spoolDir).length > 0);
  assert.ok(spoolFiles(spoolDir).every((file) => file.startsWith('pg/')), 'only spool segments remain (no write-ahead log)');
  assert.equal(first.logger.count('ledger writer closed with spooled events: the next start replays them'), 1);

  const back = new MemorySink({ name: 'pg' });
  const second = setup({ sinks: [back], flushIntervalMs: 10 }, spoolDir);
  second.writer.record(ledgerEvent(700));
  await waitFor(() => back.stored.size === 701, 'the replay of the previous spool');
  assert.deepEqual(sortedIds(back), ids(0, 701).sort());
  assert.deepEqual(back.duplicates(), []);
  assert.equal(second.logger.count('ledger spool from an earlier run: replaying it'), 1);
  await waitFor(() => spoolFiles(spoolDir).length === 0, 'the spool to be deleted');
});

test('close() gives a hanging sink closeTimeoutMs, then spools what is left', async () => {
  const spoolDir = tempDir();
  const sink = new MemorySink();
  sink.hanging = true;
  const { writer, metrics } = setup({ sinks: [sink], flushIntervalMs: 10, closeTimeoutMs: 200, writeTimeoutMs: 60_000 }, spoolDir);
  recordRange(writer, 0, 300);
  const start = performance.now();
  await writer.close();
  assert.ok(performance.now() - start < 2000, 'close() did not wait for the sink');
  assert.equal(writer.stats().sinks.memory.spooled, 300);
  assert.equal(metrics.counter('tollgate_ledger_spooled_total', "Ledger events appended to a sink's spool, by reason: sink_failed, sink_down, overflow, shutdown.").get({ sink: 'memory', reason: 'shutdown' }), 300);

  const back = new MemorySink();
  setup({ sinks: [back] }, spoolDir);
  await waitFor(() => back.stored.size === 300, 'the replay');
});

test('a spool segment with a torn last line: the line is skipped, the rest replayed, and the file deleted', async () => {
  const spoolDir = tempDir();
  mkdirSync(join(spoolDir, 'memory'), { recursive: true });
  const lines = [0, 1, 2].map((i) => JSON.stringify(ledgerEvent(i))).join('\n') + '\n';
  const torn = JSON.stringify(ledgerEvent(3)).slice(0, 40);
  writeFileSync(join(spoolDir, 'memory', 's-000000000000001-1-000000001.jsonl'), lines + 'not json at all\n' + torn);
  // A last line that lost only its newline is still a whole event.
  writeFileSync(join(spoolDir, 'memory', 's-000000000000002-1-000000002.jsonl'), JSON.stringify(ledgerEvent(4)));

  const sink = new MemorySink();
  const { writer, logger } = setup({ sinks: [sink] }, spoolDir);
  await waitFor(() => sink.stored.size === 4 && spoolFiles(spoolDir).length === 0 && logger.count(/^ledger spool: skipped lines/) === 1, 'the replay');
  assert.deepEqual(sortedIds(sink), ['evt-0', 'evt-1', 'evt-2', 'evt-4']);
  const skipped = logger.lines.filter((line) => line.msg.startsWith('ledger spool: skipped lines'));
  assert.equal(skipped.length, 1);
  assert.equal(skipped[0].fields?.skipped, 2, 'the garbage line and the torn one');
  assert.equal(writer.stats().sinks.memory.spooled, 0);
});

test('write-ahead log: a killed writer\'s segments are adopted by the next one and replayed into every sink', async () => {
  const killedDir = tempDir();
  const hanging = new MemorySink({ name: 'a' });
  hanging.hanging = true;
  const alsoHanging = new MemorySink({ name: 'b' });
  alsoHanging.hanging = true;
  const killed = setup({ sinks: [hanging, alsoHanging], flushIntervalMs: 10, writeTimeoutMs: 60_000, closeTimeoutMs: 100 }, killedDir);
  recordRange(killed.writer, 0, 400);
  await waitFor(() => readdirSync(join(killedDir, '_wal')).some((f) => f.endsWith('.jsonl')), 'a write-ahead segment');
  await sleep(50);
  const walFiles = readdirSync(join(killedDir, '_wal')).filter((f) => f.endsWith('.jsonl'));
  const logged = walFiles.reduce((n, f) => n + readFileSync(join(killedDir, '_wal', f), 'utf8').split('\n').filter(Boolean).length, 0);
  assert.equal(logged, 400, 'every recorded event is logged ahead while no sink has it');

  // What a kill -9 leaves: the write-ahead segments (the writer above is still "running").
  const restartDir = tempDir();
  cpSync(join(killedDir, '_wal'), join(restartDir, '_wal'), { recursive: true });
  const a = new MemorySink({ name: 'a' });
  const b = new MemorySink({ name: 'b' });
  const restarted = setup({ sinks: [a, b] }, restartDir);
  assert.equal(restarted.logger.count(/did not close its ledger writer/), 1);
  await waitFor(() => a.stored.size === 400 && b.stored.size === 400, 'the adopted segments replayed');
  assert.deepEqual(sortedIds(a), ids(0, 400).sort());
  assert.deepEqual(sortedIds(b), ids(0, 400).sort());
  await waitFor(() => spoolFiles(restartDir).length === 0, 'adopted segments deleted once replayed');
});

test('write-ahead segments are deleted once their events are stored', async () => {
  const sink = new MemorySink();
  const { writer, spoolDir } = setup({ sinks: [sink], flushIntervalMs: 10, writeAheadRotateMs: 30 });
  for (let round = 0; round < 5; round++) {
    recordRange(writer, round * 100, round * 100 + 100);
    await sleep(15);
  }
  await writer.flush();
  await waitFor(() => spoolFiles(spoolDir).length === 0, 'write-ahead segments to go');
  assert.equal(writer.stats().writeAhead?.segments, 1, 'only the (empty) current segment');
});

test('each event is serialized once: the write-ahead log and every sink share its JSON text', async () => {
  const a = new MemorySink({ name: 'a' });
  const b = new MemorySink({ name: 'b' });
  const { writer } = setup({ sinks: [a, b], flushIntervalMs: 10, writeAheadDelayMs: 0 });
  const reads = new Map<string, number>();
  const events = Array.from({ length: 20 }, (_, i) => {
    const event = ledgerEvent(i);
    const version = event.prompt_version;
    // JSON.stringify reads every enumerable property once per serialization.
    Object.defineProperty(event, 'prompt_version', {
      enumerable: true,
      get: () => {
        reads.set(event.event_id, (reads.get(event.event_id) ?? 0) + 1);
        return version;
      },
    });
    return event;
  });
  for (const event of events) writer.record(event);
  await waitFor(() => writer.stats().writeAhead!.writes > 0, 'the write-ahead append');
  await writer.flush();
  for (const event of events) {
    const text = JSON.stringify({ ...event });
    assert.equal(a.lines.get(event.event_id), text, 'sink a got the JSON text');
    assert.equal(b.lines.get(event.event_id), text, 'sink b got the same text');
  }
  const total = [...reads.values()].reduce((sum, n) => sum + n, 0);
  // One serialization each (the write-ahead log's), plus the one per event in the loop above.
  assert.equal(total, events.length * 2);
});

test('an event that cannot be serialized reaches the sinks without a JSON text (the sink reports it as usual)', async () => {
  const sink = new MemorySink();
  const { writer } = setup({ sinks: [sink], flushIntervalMs: 10 });
  const cyclic = ledgerEvent(1);
  (cyclic as unknown as { metadata: Record<string, unknown> }).metadata = { self: cyclic };
  writer.record(ledgerEvent(0));
  writer.record(cyclic);
  await writer.flush();
  assert.equal(sink.stored.size, 2);
  assert.equal(sink.lines.get('evt-0'), undefined, 'a batch with an unserializable event goes without texts');
});

test('an event the sink refuses as invalid is set aside in rejected/, and the rest of its batch is stored', async () => {
  const sink = new MemorySink();
  sink.refuse.add('evt-5');
  sink.refuse.add('evt-17');
  const { writer, spoolDir, metrics } = setup({ sinks: [sink], flushIntervalMs: 10, batchSize: 32 });
  recordRange(writer, 0, 40);
  await writer.flush();
  assert.equal(sink.stored.size, 38);
  assert.equal(writer.stats().sinks.memory.rejected, 2);
  assert.equal(writer.stats().sinks.memory.down, false, 'a refused event is not an outage');
  assert.equal(metrics.counter('tollgate_ledger_rejected_total', "Ledger events a sink refused as invalid, set aside in its spool folder's rejected/ files.").get({ sink: 'memory' }), 2);
  const rejected = spoolFiles(spoolDir).filter((file) => file.startsWith('memory/rejected/'));
  assert.equal(rejected.length, 1);
  const setAside = readFileSync(join(spoolDir, rejected[0]), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as LedgerEvent).event_id);
  assert.deepEqual(setAside.sort(), ['evt-17', 'evt-5']);

  // Without an event id, the batch is halved until the culprit is found.
  sink.refuseWithId = false;
  sink.refuse.add('evt-61');
  recordRange(writer, 40, 80);
  await writer.flush();
  assert.equal(sink.stored.size, 77);
  assert.equal(sink.stored.has('evt-61'), false);
  assert.equal(writer.stats().sinks.memory.rejected, 3);
});

test('record() never throws: invalid events, a throwing sink and logger, and a spool that cannot be written', async () => {
  const spoolDir = tempDir();
  const sink = new MemorySink();
  sink.throwing = true;
  const metrics = new Metrics();
  const throwingLogger = {
    debug() { throw new Error('log down'); },
    info() { throw new Error('log down'); },
    warn() { throw new Error('log down'); },
    error() { throw new Error('log down'); },
    enabled() { throw new Error('log down'); },
    flush() { throw new Error('log down'); },
  };
  const writer = createLedgerWriter({ sinks: [sink], spoolDir, logger: throwingLogger, metrics, flushIntervalMs: 5, retryMinMs: 20, retryMaxMs: 20 });
  writers.push(writer);
  // Break the disk: the sink's spool folder and the write-ahead folder become files.
  rmSync(join(spoolDir, 'memory'), { recursive: true });
  writeFileSync(join(spoolDir, 'memory'), '');
  rmSync(join(spoolDir, '_wal'), { recursive: true });
  writeFileSync(join(spoolDir, '_wal'), '');

  assert.doesNotThrow(() => {
    for (let i = 0; i < 300; i++) writer.record(ledgerEvent(i));
    writer.record(null as unknown as LedgerEvent);
    writer.record({} as LedgerEvent);
    writer.record({ event_id: 42 } as unknown as LedgerEvent);
  });
  await writer.flush();
  const stats = writer.stats();
  assert.equal(stats.recorded, 300);
  assert.equal(stats.dropped, 303, 'the spool could not take them: dropped, and counted');
  const dropped = metrics.counter('tollgate_ledger_dropped_total', 'Ledger events neither stored nor spooled (the spool disk failed or fell behind). Should stay 0.');
  assert.equal(dropped.get({ reason: 'spool_failed' }), 300);
  assert.equal(dropped.get({ reason: 'invalid_event' }), 3);
  await writer.close();
});

test('the loud log when events are dropped, and metrics the writer exposes', async () => {
  const spoolDir = tempDir();
  const sink = new MemorySink();
  sink.failing = true;
  const { writer, logger, metrics } = setup({ sinks: [sink], flushIntervalMs: 5 }, spoolDir);
  rmSync(join(spoolDir, 'memory'), { recursive: true });
  writeFileSync(join(spoolDir, 'memory'), '');
  recordRange(writer, 0, 10);
  await writer.flush();
  const loud = logger.lines.filter((line) => line.msg.startsWith('LEDGER EVENTS DROPPED'));
  assert.equal(loud.length, 1);
  assert.equal(loud[0].level, 'error');
  assert.deepEqual(loud[0].fields?.dropped, { spool_failed: 10 });
  const text = await metrics.render();
  for (const name of ['tollgate_ledger_queue_depth', 'tollgate_ledger_spooled_events', 'tollgate_ledger_written_total', 'tollgate_ledger_write_failures_total', 'tollgate_ledger_dropped_total', 'tollgate_ledger_spooled_total', 'tollgate_ledger_rejected_total']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.match(text, /^tollgate_ledger_queue_depth\{sink="memory"\} 0$/m);
});

test('one writer per spool folder; a lock left by a dead process is taken over', async () => {
  const spoolDir = tempDir();
  const { writer } = setup({ sinks: [new MemorySink()] }, spoolDir);
  assert.throws(() => createLedgerWriter({ sinks: [new MemorySink()], spoolDir, logger: memoryLogger(), metrics: new Metrics() }), /already used by another ledger writer/);
  await writer.close();
  writeFileSync(join(spoolDir, '_writer.lock'), '999999999\n'); // no such process
  const again = setup({ sinks: [new MemorySink()] }, spoolDir);
  await again.writer.close();
  writeFileSync(join(spoolDir, '_writer.lock'), `${process.ppid}\n`); // alive
  assert.throws(() => createLedgerWriter({ sinks: [new MemorySink()], spoolDir, logger: memoryLogger(), metrics: new Metrics() }), /in use by process/);
});

test('bad options and sink names are refused at creation', () => {
  const spoolDir = tempDir();
  const make = (options: Partial<LedgerWriterOptions>) => () => createLedgerWriter({ sinks: [new MemorySink()], spoolDir, logger: memoryLogger(), metrics: new Metrics(), ...options });
  assert.throws(make({ sinks: [new MemorySink({ name: '../x' })] }), /sink name/);
  assert.throws(make({ sinks: [new MemorySink({ name: '_wal' })] }), /sink name/);
  assert.throws(make({ sinks: [new MemorySink(), new MemorySink()] }), /two sinks/);
  assert.throws(make({ batchSize: 0 }), /batchSize/);
  assert.throws(make({ maxQueued: 1.5 }), /maxQueued/);
  assert.equal(existsSync(join(spoolDir, '_writer.lock')), false, 'a refused writer holds no lock');
});
