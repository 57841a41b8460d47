// The JSONL ledger sink: one line per event, exactly the event, in a file per UTC day of the
// event; appends across batches; at-least-once (a retried batch repeats lines, consumers
// dedupe on event_id); batches never interleave; a torn last line does not swallow the next.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import { InvalidLedgerEvent } from '../../src/ledger/sinks/ledger-rows.ts';
import { JsonlFileSink, jsonlFileName } from '../../src/ledger/sinks/jsonl-file-sink.ts';
import { ledgerEvent, ledgerTime } from '../helpers/ledger-events.ts';

const root = mkdtempSync(join(tmpdir(), 'tollgate-jsonl-ledger-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(root, `ledger-${++dirs}`, 'nested');

function lines(dir: string, day: string): string[] {
  const text = readFileSync(join(dir, jsonlFileName(day)), 'utf8');
  assert.ok(text.endsWith('\n'), 'every line ends with a newline');
  return text.slice(0, -1).split('\n');
}

test('one line per event, exactly the event, in the file of its UTC day; the directory is created', async () => {
  const dir = newDir();
  const sink = new JsonlFileSink({ directory: dir });
  const events = [
    ledgerEvent({ timestamp: '2026-12-01T23:59:59.999Z' }),
    ledgerEvent({ timestamp: '2026-12-02T00:30:00.000+01:00' }), // 2026-12-01T23:30Z
    ledgerEvent({ timestamp: '2026-12-02T00:00:00.000Z', metadata: { note: 'line\nbreak \u2028 "quoted"' } }),
  ];
  try {
    assert.equal(sink.name, 'jsonl');
    await sink.write(events);
    assert.deepEqual(readdirSync(dir).sort(), ['ledger-2026-12-01.jsonl', 'ledger-2026-12-02.jsonl']);
    assert.deepEqual(lines(dir, '2026-12-01'), [JSON.stringify(events[0]), JSON.stringify(events[1])]);
    assert.deepEqual(lines(dir, '2026-12-02'), [JSON.stringify(events[2])]);
    assert.deepStrictEqual(JSON.parse(lines(dir, '2026-12-02')[0]) as LedgerEvent, events[2]);
  } finally {
    await sink.close();
  }
});

test('batches append; a retried batch is written again (at-least-once), a repeat within a batch once; dedupe on event_id restores the set', async () => {
  const dir = newDir();
  const sink = new JsonlFileSink({ directory: dir, sync: false });
  const [a, b, c] = [0, 1, 2].map((i) => ledgerEvent({ timestamp: ledgerTime(i) }));
  try {
    await sink.write([a, b, b]);
    await sink.write([a, b]); // the retry of a batch whose acknowledgement was lost
    await sink.write([c]);
    const written = lines(dir, '2026-12-02').map((l) => JSON.parse(l) as LedgerEvent);
    assert.deepEqual(written.map((e) => e.event_id), [a.event_id, b.event_id, a.event_id, b.event_id, c.event_id]);
    const deduped = new Map(written.map((e) => [e.event_id, e]));
    assert.deepStrictEqual([...deduped.values()], [a, b, c]);
  } finally {
    await sink.close();
  }
  // A new sink on the same directory appends to the same files.
  const again = new JsonlFileSink({ directory: dir });
  try {
    await again.write([ledgerEvent({ timestamp: ledgerTime(3), request_id: 'later' })]);
    assert.equal(lines(dir, '2026-12-02').length, 6);
  } finally {
    await again.close();
  }
});

test('concurrent batches never interleave: every line is one whole event', async () => {
  const dir = newDir();
  const sink = new JsonlFileSink({ directory: dir, sync: false });
  const big = 'x'.repeat(20_000);
  const batches = Array.from({ length: 20 }, (_, b) =>
    Array.from({ length: 50 }, (_, i) => ledgerEvent({ timestamp: ledgerTime(b * 100 + i), metadata: { big, batch: String(b) } })),
  );
  try {
    await Promise.all(batches.map((batch) => sink.write(batch)));
    const written = lines(dir, '2026-12-02').map((l) => JSON.parse(l) as LedgerEvent);
    assert.equal(written.length, 1000);
    // Each batch's lines are contiguous and in order.
    for (let start = 0; start < written.length; start += 50) {
      const batch = written.slice(start, start + 50);
      assert.ok(batch.every((e) => e.metadata.batch === batch[0].metadata.batch));
    }
    assert.equal(new Set(written.map((e) => e.event_id)).size, 1000);
  } finally {
    await sink.close();
  }
});

test('a torn last line (a crash mid-write) is left on its own line; the next event starts a new one', async () => {
  const dir = newDir();
  mkdirSync(dir, { recursive: true });
  const torn = JSON.stringify(ledgerEvent()).slice(0, 40);
  writeFileSync(join(dir, jsonlFileName('2026-12-02')), `${JSON.stringify(ledgerEvent())}\n${torn}`);
  const sink = new JsonlFileSink({ directory: dir });
  const event = ledgerEvent({ request_id: 'after-crash' });
  try {
    await sink.write([event]);
    const all = lines(dir, '2026-12-02');
    assert.equal(all.length, 3);
    assert.equal(all[1], torn);
    assert.deepStrictEqual(JSON.parse(all[2]), event);
  } finally {
    await sink.close();
  }
});

test('many days with few open files: every event in its day file', async () => {
  const dir = newDir();
  const sink = new JsonlFileSink({ directory: dir, maxOpenFiles: 2, sync: false });
  const events = Array.from({ length: 60 }, (_, i) => ledgerEvent({ timestamp: ledgerTime((i % 10) * 86_400_000 + i) }));
  try {
    await sink.write(events.slice(0, 30));
    await sink.write(events.slice(30));
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 10);
    let total = 0;
    for (const file of files) {
      const day = file.slice('ledger-'.length, -'.jsonl'.length);
      const dayEvents = lines(dir, day).map((l) => JSON.parse(l) as LedgerEvent);
      assert.ok(dayEvents.every((e) => new Date(e.timestamp).toISOString().startsWith(day)));
      total += dayEvents.length;
    }
    assert.equal(total, 60);
  } finally {
    await sink.close();
  }
});

test('a batch with an invalid event is refused whole; nothing is written', async () => {
  const dir = newDir();
  const sink = new JsonlFileSink({ directory: dir });
  try {
    await assert.rejects(sink.write([ledgerEvent(), ledgerEvent({ timestamp: 'not a time' })]), InvalidLedgerEvent);
    await sink.write([]);
    assert.equal(existsSync(dir), false);
  } finally {
    await sink.close();
  }
});

test('close waits for queued batches; writes after close are refused', async () => {
  const dir = newDir();
  const sink = new JsonlFileSink({ directory: dir });
  const pending = [sink.write([ledgerEvent()]), sink.write([ledgerEvent()])];
  await sink.close();
  await Promise.all(pending);
  assert.equal(lines(dir, '2026-12-02').length, 2);
  await assert.rejects(sink.write([ledgerEvent()]), /closed/);
  await sink.close();
});

test('a write that fails (the directory is a file) rejects, and the sink works once the cause is gone', async () => {
  const dir = newDir();
  mkdirSync(join(dir, '..'), { recursive: true });
  writeFileSync(dir, 'not a directory');
  const sink = new JsonlFileSink({ directory: dir });
  try {
    await assert.rejects(sink.write([ledgerEvent()]), (error: NodeJS.ErrnoException) => ['EEXIST', 'ENOTDIR'].includes(error.code ?? ''));
    rmSync(dir);
    await sink.write([ledgerEvent()]);
    assert.equal(lines(dir, '2026-12-02').length, 1);
  } finally {
    await sink.close();
  }
});

test('a day file a consumer moved or deleted is made again by name: later lines are not lost', async () => {
  const dir = newDir();
  const sink = new JsonlFileSink({ directory: dir, sync: false });
  try {
    await sink.write([ledgerEvent({ request_id: 'first' })]);
    rmSync(join(dir, jsonlFileName('2026-12-02')));
    await sink.write([ledgerEvent({ request_id: 'second' })]);
    assert.deepEqual(lines(dir, '2026-12-02').map((l) => (JSON.parse(l) as LedgerEvent).request_id), ['second']);
    rmSync(dir, { recursive: true });
    await sink.write([ledgerEvent({ request_id: 'third' })]);
    assert.deepEqual(lines(dir, '2026-12-02').map((l) => (JSON.parse(l) as LedgerEvent).request_id), ['third']);
  } finally {
    await sink.close();
  }
});
