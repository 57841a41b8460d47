// The ledger writer across real process deaths. A child process records events at a steady rate
// into a file sink that takes 50 ms a batch (the JSONL sink, src/ledger/sinks/jsonl-file-sink.ts,
// behind a 50 ms delay; a plain file sink if that module is absent), and reports each event it
// recorded on stdout (pipes are synchronous on Linux, so a reported event was recorded). Then:
// - SIGTERM: its handler stops producing and calls close(); every recorded event is in the sink.
// - SIGTERM while the sink is down: every event is in the spool, and the next writer replays it.
// - kill -9: a new writer on the same spool folder replays the write-ahead log; at most the events
//   of the last flush interval may be lost (in practice none). Without the write-ahead log, the
//   loss is printed for comparison.
//
// This file is also the child: TOLLGATE_LEDGER_CHILD=1 runs the producer instead of the tests.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import type { LedgerSink } from '../../src/ledger/ledger-sink.ts';
import { createLedgerWriter } from '../../src/ledger/ledger-writer.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { FileSink, ledgerEvent, memoryLogger, sleep, spoolFiles, waitFor } from '../helpers/ledger-test-sinks.ts';

const FLUSH_INTERVAL_MS = 100;
const PER_TICK = 5; // events recorded every millisecond or so: ~5 000 a second
const SINK_DELAY_MS = 50;
/** Loaded by name, so that this test does not need it to exist. */
const JSONL_SINK_MODULE = '../../src/ledger/sinks/jsonl-file-sink.ts';

/** The sink the child writes to: the JSONL sink if there is one, slowed down, and failing on demand. */
async function fileSink(dir: string, options: { delayMs: number; failing: boolean }): Promise<LedgerSink> {
  const directory = join(dir, 'sink');
  mkdirSync(directory, { recursive: true });
  const module = (await import(JSONL_SINK_MODULE).catch(() => undefined)) as { JsonlFileSink?: new (o: { directory: string }) => LedgerSink } | undefined;
  const inner: LedgerSink = module?.JsonlFileSink ? new module.JsonlFileSink({ directory }) : new FileSink(join(directory, 'ledger.jsonl'));
  return {
    name: 'jsonl',
    async write(events) {
      if (options.delayMs > 0) await sleep(options.delayMs);
      if (options.failing) throw new Error('the ledger sink is down');
      await inner.write(events);
    },
    close: () => inner.close(),
  };
}

/** The distinct event ids in the sink's files (a torn line is skipped). */
function storedIds(dir: string): Set<string> {
  const ids = new Set<string>();
  const directory = join(dir, 'sink');
  let files: string[] = [];
  try {
    files = readdirSync(directory).filter((name) => name.endsWith('.jsonl'));
  } catch {
    return ids;
  }
  for (const file of files) {
    for (const line of readFileSync(join(directory, file), 'utf8').split('\n')) {
      try {
        if (line.trim() !== '') ids.add((JSON.parse(line) as LedgerEvent).event_id);
      } catch {
        // a torn line
      }
    }
  }
  return ids;
}

async function runChild(): Promise<void> {
  const env = process.env;
  const sink = await fileSink(env.LEDGER_DIR!, { delayMs: SINK_DELAY_MS, failing: env.LEDGER_SINK_FAILING === '1' });
  const writer = createLedgerWriter({
    sinks: [sink],
    spoolDir: env.LEDGER_SPOOL_DIR!,
    flushIntervalMs: FLUSH_INTERVAL_MS,
    writeAheadLog: env.LEDGER_WAL !== '0',
    logger: createLogger({ level: 'warn', write: (text) => process.stderr.write(text) }),
    metrics: new Metrics(),
  });
  let recorded = 0;
  let stopped = false;
  const produce = () => {
    if (stopped) return;
    for (let i = 0; i < PER_TICK; i++) writer.record(ledgerEvent(recorded++));
    process.stdout.write(`recorded ${recorded} ${Date.now()}\n`);
    setTimeout(produce, 1);
  };
  process.on('SIGTERM', () => {
    stopped = true; // the server stops taking requests first, then the ledger closes
    writer.close().then(
      () => {
        process.stdout.write(`closed ${recorded} ${JSON.stringify(writer.stats())}\n`);
        process.exit(0);
      },
      (error) => {
        process.stderr.write(`close failed: ${(error as Error).stack}\n`);
        process.exit(1);
      },
    );
  });
  produce();
}

interface Child {
  /** (events recorded, when) as reported. */
  readonly progress: { recorded: number; at: number }[];
  readonly lines: string[];
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

function startChild(dir: string, env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, TOLLGATE_LEDGER_CHILD: '1', LEDGER_DIR: dir, LEDGER_SPOOL_DIR: join(dir, 'spool'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result: Child = {
    progress: [],
    lines: [],
    stderr: '',
    exited: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))),
    kill: (signal) => child.kill(signal),
  };
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      result.lines.push(line);
      const match = /^recorded (\d+) (\d+)$/.exec(line);
      if (match) result.progress.push({ recorded: Number(match[1]), at: Number(match[2]) });
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (result.stderr += text));
  return result;
}

function lastRecorded(child: Child): number {
  return child.progress.at(-1)?.recorded ?? 0;
}

/** Reported events recorded by `at` (ms since the epoch). */
function recordedBy(child: Child, at: number): number {
  let n = 0;
  for (const p of child.progress) if (p.at <= at) n = p.recorded;
  return n;
}

function missing(stored: Set<string>, count: number): number {
  let lost = 0;
  for (let i = 0; i < count; i++) if (!stored.has(`evt-${i}`)) lost++;
  return lost;
}

/** What a restarted gateway does: a writer on the same spool folder, kept until its spool is replayed. */
async function recover(dir: string): Promise<void> {
  const spoolDir = join(dir, 'spool');
  const sink = await fileSink(dir, { delayMs: 0, failing: false });
  const writer = createLedgerWriter({ sinks: [sink], spoolDir, logger: memoryLogger(), metrics: new Metrics(), flushIntervalMs: FLUSH_INTERVAL_MS });
  try {
    await waitFor(() => spoolFiles(spoolDir).length === 0, 'the spool and write-ahead log to be replayed', 20_000);
  } finally {
    await writer.close();
  }
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tollgate-ledger-durability-'));
}

if (process.env.TOLLGATE_LEDGER_CHILD === '1') {
  await runChild();
} else {
  test('SIGTERM: the handler calls close() and every recorded event reaches the sink', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const child = startChild(dir);
    try {
      await waitFor(() => lastRecorded(child) >= 2000, 'the child to record 2000 events', 20_000);
      child.kill('SIGTERM');
      const { code } = await child.exited;
      assert.equal(code, 0, child.stderr);
      const closed = child.lines.find((line) => line.startsWith('closed '));
      assert.ok(closed, 'the child closed its writer');
      const recorded = Number(closed.split(' ')[1]);
      assert.ok(recorded >= 2000);
      const stored = storedIds(dir);
      assert.equal(missing(stored, recorded), 0, 'no event lost');
      assert.equal(stored.size, recorded, 'and none invented');
      assert.deepEqual(spoolFiles(join(dir, 'spool')), [], 'nothing left in the spool or the write-ahead log');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SIGTERM while the sink is down: everything is spooled, and the next start replays it into the sink', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const child = startChild(dir, { LEDGER_SINK_FAILING: '1' });
    try {
      await waitFor(() => lastRecorded(child) >= 2000, 'the child to record 2000 events', 20_000);
      child.kill('SIGTERM');
      const { code } = await child.exited;
      assert.equal(code, 0, child.stderr);
      const recorded = Number(child.lines.find((line) => line.startsWith('closed '))!.split(' ')[1]);
      assert.equal(storedIds(dir).size, 0);
      assert.ok(spoolFiles(join(dir, 'spool')).every((file) => file.startsWith('jsonl/')), 'the spool holds them (no write-ahead segment is left)');
      await recover(dir);
      const stored = storedIds(dir);
      assert.equal(missing(stored, recorded), 0, 'no event lost');
      assert.equal(stored.size, recorded);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const wal of [true, false]) {
    test(`kill -9 ${wal ? 'with' : 'WITHOUT'} the write-ahead log: the restarted writer recovers ${wal ? `all but at most the last ${FLUSH_INTERVAL_MS} ms of events` : '(loss printed for comparison)'}`, { timeout: 60_000 }, async (t) => {
      const dir = tempDir();
      const child = startChild(dir, { LEDGER_WAL: wal ? '1' : '0' });
      try {
        await waitFor(() => lastRecorded(child) >= 3000, 'the child to record 3000 events', 20_000);
        const killedAt = Date.now();
        child.kill('SIGKILL');
        const { signal } = await child.exited; // reaped, so its lock is free
        assert.equal(signal, 'SIGKILL');
        const recorded = lastRecorded(child);
        const lastInterval = recorded - recordedBy(child, killedAt - FLUSH_INTERVAL_MS);
        const storedAtKill = storedIds(dir).size;
        await recover(dir);
        const lost = missing(storedIds(dir), recorded);
        t.diagnostic(`recorded ${recorded}; in the sink at the kill ${storedAtKill}; lost after recovery ${lost}; recorded in the last ${FLUSH_INTERVAL_MS} ms ${lastInterval}`);
        if (wal) {
          assert.ok(recorded - storedAtKill > 0, 'some events were only in memory (and the write-ahead log) at the kill');
          assert.ok(lost <= lastInterval, `lost ${lost}, more than the ${lastInterval} of the last flush interval`);
        } else {
          assert.ok(lost <= recorded);
        }
      } finally {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
