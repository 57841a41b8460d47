// Ledger spool files: the events one sink could not take (yet), as JSONL segment files under
// <spoolDir>/<sink>/, replayed into the sink later (src/ledger/ledger-writer.ts).
//
// - Appends go to one active segment, `s-<ms>-<pid>-<n>.jsonl`, one event per line, serialized
//   (one append at a time, in order). At maxSegmentBytes, or when the replayer wants to read it,
//   the active segment is closed: fsynced, then renamed to `s-<ms>-<pid>-<n>.<events>.jsonl`, so
//   its event count is known without reading it. Only closed segments are ever read, so new
//   events can be spooled while older ones are replayed.
// - A segment is deleted only after the sink accepted all of it. Within a run, the byte offset of
//   the last accepted batch is remembered, so a replay that fails half-way resumes there; after a
//   restart the segment is replayed from its start (the sinks are idempotent on event_id).
// - Crash safety: a segment left open by a crash (no count in its name) is counted by reading it.
//   A half-written last line fails to parse and is skipped, as is any line that is not a JSON
//   object with a string event_id. An append that fails closes the segment (so a torn line can
//   only ever be the last one), and the next append starts a new file.
// - Other files (`.tmp`, the `rejected/` folder) are ignored.

import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LedgerEvent } from './ledger-event.ts';

export const SEGMENT_SUFFIX = '.jsonl';
const COUNTED = /\.(\d+)\.jsonl$/;
const READ_CHUNK_BYTES = 256 * 1024;

let segmentCounter = 0;

/** A new segment file name, `<prefix>-<ms>-<pid>-<n>.jsonl`: unique in the process, and sorting in creation order. */
export function segmentName(prefix: string, nowMs: number): string {
  segmentCounter = (segmentCounter + 1) % 1_000_000_000;
  return `${prefix}-${String(Math.max(0, Math.floor(nowMs))).padStart(15, '0')}-${process.pid}-${String(segmentCounter).padStart(9, '0')}${SEGMENT_SUFFIX}`;
}

/** The JSONL text of events: one line each (`lines`: their JSON texts, when made already). Throws if one cannot be serialized. */
export function eventLines(events: readonly LedgerEvent[], lines?: readonly string[]): string {
  if (lines) return lines.join('\n') + '\n';
  let text = '';
  for (const event of events) text += JSON.stringify(event) + '\n';
  return text;
}

/** The event on one line, or undefined when the line is not a JSON object with a non-empty string event_id. */
function parseEventLine(data: Buffer, start: number, end: number): LedgerEvent | undefined {
  try {
    const value = JSON.parse(data.toString('utf8', start, end)) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const id = (value as { event_id?: unknown }).event_id;
    return typeof id === 'string' && id.length > 0 ? (value as LedgerEvent) : undefined;
  } catch {
    return undefined;
  }
}

function isBlank(data: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = data[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

export interface SegmentReadResult {
  /** Events handed to onBatch. */
  readonly events: number;
  /** Non-empty lines that were not a ledger event (a torn last line, garbage). */
  readonly skipped: number;
  /** The read stopped early because stop() said so; the rest of the segment is still to do. */
  readonly stopped: boolean;
}

/**
 * Reads a JSONL segment from byte `from` in chunks, handing events to onBatch in batches of up
 * to batchSize (awaited: no further reading meanwhile). endOffset is the byte just after the
 * batch's last line: where a later read resumes once that batch is stored. A rejection from
 * onBatch stops the read and propagates. The last line counts even without its newline when it
 * parses (only its newline was lost); otherwise it is a torn write and skipped.
 */
export async function readSegment(
  path: string,
  options: { readonly from?: number; readonly batchSize: number; readonly stop?: () => boolean },
  onBatch: (events: LedgerEvent[], endOffset: number) => Promise<void>,
): Promise<SegmentReadResult> {
  const fh = await open(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let position = options.from ?? 0;
    let carry: Buffer | undefined;
    let carryStart = position;
    let batch: LedgerEvent[] = [];
    let lineEnd = position;
    let events = 0;
    let skipped = 0;
    const take = (data: Buffer, start: number, end: number, nextOffset: number) => {
      if (end > start && !isBlank(data, start, end)) {
        const event = parseEventLine(data, start, end);
        if (event) batch.push(event);
        else skipped++;
      }
      lineEnd = nextOffset;
    };
    const emit = async () => {
      const out = batch;
      batch = [];
      await onBatch(out, lineEnd);
      events += out.length;
    };
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      const data = carry ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      const dataStart = carry ? carryStart : position;
      position += bytesRead;
      let lineStart = 0;
      for (let nl = data.indexOf(0x0a, lineStart); nl !== -1; nl = data.indexOf(0x0a, lineStart)) {
        take(data, lineStart, nl, dataStart + nl + 1);
        lineStart = nl + 1;
        if (batch.length >= options.batchSize) {
          if (options.stop?.()) return { events, skipped, stopped: true };
          await emit();
        }
      }
      // The chunk buffer is reused by the next read: keep a copy of the unfinished line.
      carry = lineStart < data.length ? Buffer.from(data.subarray(lineStart)) : undefined;
      carryStart = dataStart + lineStart;
    }
    if (carry && carry.length > 0) take(carry, 0, carry.length, carryStart + carry.length);
    if (batch.length > 0) {
      if (options.stop?.()) return { events, skipped, stopped: true };
      await emit();
    }
    return { events, skipped, stopped: false };
  } finally {
    await fh.close();
  }
}

/** Newline-terminated lines in a file (a torn last line does not count): the event count of an uncounted segment. */
async function countLines(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let lines = 0;
    let position = 0;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) return lines;
      position += bytesRead;
      for (let i = chunk.indexOf(0x0a); i !== -1 && i < bytesRead; i = chunk.indexOf(0x0a, i + 1)) lines++;
    }
  } finally {
    await fh.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

interface ActiveSegment {
  readonly path: string;
  fh: FileHandle | undefined;
  bytes: number;
  events: number;
}

export interface SpoolReplayResult {
  /** Events the sink accepted (this call). */
  readonly replayed: number;
  readonly skipped: number;
  /** The segment was fully replayed and deleted. */
  readonly done: boolean;
}

export interface LedgerSpoolOptions {
  readonly dir: string;
  readonly maxSegmentBytes: number;
  readonly now: () => number;
}

/** One sink's spool folder. Not safe for two processes at once: the writer holds a lock on the spool root. */
export class LedgerSpool {
  readonly dir: string;
  readonly #maxSegmentBytes: number;
  readonly #now: () => number;
  /** Closed segments (path → events in it, unknown until counted). */
  readonly #closed = new Map<string, number | undefined>();
  /** Closed segments partly replayed in this run: path → bytes and events already accepted. */
  readonly #progress = new Map<string, { offset: number; events: number }>();
  #active: ActiveSegment | undefined;
  /** Appends and closes, one at a time and in order. */
  #chain: Promise<unknown> = Promise.resolve();
  /** Events handed to append() whose write has not finished. */
  #appending = 0;
  #scanned: Promise<void> | undefined;

  constructor(options: LedgerSpoolOptions) {
    this.dir = options.dir;
    this.#maxSegmentBytes = options.maxSegmentBytes;
    this.#now = options.now;
    mkdirSync(this.dir, { recursive: true });
  }

  /** Events spooled and not yet replayed (segments still being counted add theirs once counted). */
  get events(): number {
    let total = this.#appending + (this.#active?.events ?? 0);
    // max(0, …): a last line without its newline is not counted, but is replayed.
    for (const [path, count] of this.#closed) total += Math.max(0, (count ?? 0) - (this.#progress.get(path)?.events ?? 0));
    return total;
  }

  /** Whether anything is spooled (or being spooled). */
  get isEmpty(): boolean {
    return this.#closed.size === 0 && this.#appending === 0 && (this.#active?.events ?? 0) === 0;
  }

  /** Finds segments left by earlier runs (and adopted write-ahead segments) and counts the uncounted ones. */
  scan(): Promise<void> {
    this.#scanned ??= (async () => {
      const uncounted: string[] = [];
      for (const name of (await readdir(this.dir)).sort()) {
        if (!name.endsWith(SEGMENT_SUFFIX)) continue;
        const path = join(this.dir, name);
        if (path === this.#active?.path || this.#closed.has(path)) continue;
        const counted = COUNTED.exec(name);
        this.#closed.set(path, counted ? Number(counted[1]) : undefined);
        if (!counted) uncounted.push(path);
      }
      for (const path of uncounted) {
        try {
          const lines = await countLines(path);
          if (this.#closed.has(path)) this.#closed.set(path, lines);
        } catch (error) {
          if (isMissing(error)) this.#closed.delete(path);
          else throw error;
        }
      }
    })();
    return this.#scanned;
  }

  /** Appends events (`lines`: their JSON texts, when made already) to the active segment, after earlier appends. Rejects when the disk write failed. */
  append(events: readonly LedgerEvent[], lines?: readonly string[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const text = eventLines(events, lines);
    this.#appending += events.length;
    const run = this.#chain.then(async () => {
      try {
        await this.#write(text, events.length);
      } finally {
        this.#appending -= events.length;
      }
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  async #write(text: string, events: number): Promise<void> {
    let active = this.#active;
    if (!active) {
      active = { path: join(this.dir, segmentName('s', this.#now())), fh: undefined, bytes: 0, events: 0 };
      this.#active = active;
    }
    try {
      if (!active.fh) {
        try {
          active.fh = await open(active.path, 'a');
        } catch (error) {
          if (!isMissing(error)) throw error;
          // The folder went away (a temp cleaner?): make it again.
          await mkdir(this.dir, { recursive: true });
          active.fh = await open(active.path, 'a');
        }
      }
      const bytes = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await active.fh.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      active.bytes += bytes.length;
      active.events += events;
    } catch (error) {
      // Whatever part of the text reached the file is a torn last line: nothing goes after it.
      await this.#closeActive().catch(() => {});
      throw error;
    }
    if (active.bytes >= this.#maxSegmentBytes) await this.#closeActive();
  }

  /** Closes the active segment, so the replayer can read it. */
  rotate(): Promise<void> {
    const run = this.#chain.then(() => this.#closeActive());
    this.#chain = run.catch(() => {});
    return run;
  }

  async #closeActive(): Promise<void> {
    const active = this.#active;
    if (!active) return;
    this.#active = undefined;
    if (!active.fh) return;
    await active.fh.sync().catch(() => {});
    await active.fh.close().catch(() => {});
    if (active.events === 0) {
      await unlink(active.path).catch(() => {});
      return;
    }
    const counted = active.path.slice(0, -SEGMENT_SUFFIX.length) + `.${active.events}${SEGMENT_SUFFIX}`;
    try {
      await rename(active.path, counted);
      this.#closed.set(counted, active.events);
    } catch {
      this.#closed.set(active.path, active.events);
    }
  }

  /** The oldest closed segment; when there is none, the active one is closed first. Undefined when the spool is empty. */
  async next(): Promise<string | undefined> {
    await this.scan();
    if (this.#closed.size === 0 && (this.#active?.events ?? 0) > 0) await this.rotate();
    let oldest: string | undefined;
    for (const path of this.#closed.keys()) if (oldest === undefined || path < oldest) oldest = path;
    return oldest;
  }

  /**
   * Replays one closed segment through write (batches of batchSize), resuming where an earlier
   * replay in this run stopped. The segment is deleted once all of it was written. A rejection
   * from write propagates, after recording how far the segment got.
   */
  async replay(path: string, batchSize: number, write: (events: LedgerEvent[]) => Promise<void>, stop?: () => boolean): Promise<SpoolReplayResult> {
    const progress = this.#progress.get(path) ?? { offset: 0, events: 0 };
    let replayed = 0;
    let result: SegmentReadResult;
    try {
      result = await readSegment(path, { from: progress.offset, batchSize, stop }, async (events, endOffset) => {
        await write(events);
        replayed += events.length;
        progress.offset = endOffset;
        progress.events += events.length;
        this.#progress.set(path, progress);
      });
    } catch (error) {
      if (!isMissing(error)) throw error;
      // Deleted from outside: nothing left to replay.
      this.#forget(path);
      return { replayed, skipped: 0, done: true };
    }
    if (result.stopped) return { replayed, skipped: result.skipped, done: false };
    await unlink(path).catch((error) => {
      if (!isMissing(error)) throw error;
    });
    this.#forget(path);
    return { replayed, skipped: result.skipped, done: true };
  }

  #forget(path: string): void {
    this.#closed.delete(path);
    this.#progress.delete(path);
  }

  /** Waits for pending appends and closes the active segment (it stays on disk for the next run). */
  async close(): Promise<void> {
    await this.rotate().catch(() => {});
  }
}

const heldLocks = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the spool folder for this writer: `_writer.lock` holds the owner's pid. A lock whose
 * process is gone (a crash, a kill -9) is taken over; one held by a live process, or by another
 * writer in this process, is refused, because two writers on one spool folder would replay and
 * delete each other's files. Returns the release function. Synchronous: it runs once, at start.
 */
export function acquireSpoolLock(dir: string): () => void {
  const path = join(dir, '_writer.lock');
  const key = resolve(path);
  if (heldLocks.has(key)) throw new Error(`ledger spool folder ${dir} is already used by another ledger writer in this process`);
  try {
    writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    // Our own pid in a lock we do not hold: a previous incarnation (containers reuse pids).
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new Error(`ledger spool folder ${dir} is in use by process ${owner}; give each gateway process its own spool folder`);
    }
    writeFileSync(path, `${process.pid}\n`);
  }
  heldLocks.add(key);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    heldLocks.delete(key);
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
}
