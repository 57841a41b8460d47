// The ledger writer's write-ahead log: every recorded event is appended to a segment file under
// <spoolDir>/_wal/ before any sink has it, so a kill -9 loses (almost) nothing.
//
// Cost on the request path: none beyond an array push. record() only queues the event; the
// append happens delayMs later (or after the current event-loop turn when delayMs is 0), as one
// asynchronous write of everything recorded meanwhile. While that write runs, new events collect
// and go out together in the next one (group commit), so there is one write in flight at a time
// and writes grow with load instead of multiplying. The main thread pays, outside any request,
// the JSON.stringify of each event (~3.5 µs for a 1.1 KB event where this was measured; the
// sinks reuse that text, see ledger-entry.ts) and the dispatch of each write.
//
// What a kill -9 can lose: the events recorded since the last write started, i.e. the last
// delayMs (or the current event-loop turn) and one write to the page cache: about delayMs of
// traffic normally, more only if the disk stalls. A written event survives a process kill: it is
// in the kernel's page cache. There is no fsync per write, so a power loss or kernel crash can
// lose what the kernel had not yet written back (seconds).
//
// A segment is deleted once each of its events is stored by every sink or appended to that
// sink's spool; the current segment is rotated every rotateMs, so the write-ahead log holds only
// the events still in memory. At start, segments a previous process left behind (it was killed)
// are adopted: hard-linked into every sink's spool folder (or copied, where links are not
// supported) and then removed, so each sink replays them; the sinks are idempotent on event_id, so
// events that had been stored already are not duplicated.

import { copyFileSync, linkSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.ts';
import { lineOf, type LedgerEntry } from './ledger-entry.ts';
import { SEGMENT_SUFFIX, segmentName } from './ledger-spool.ts';

export type { LedgerEntry } from './ledger-entry.ts';

export class WalSegment {
  readonly path: string;
  createdAt: number;
  fh: FileHandle | undefined;
  /** Entries assigned to it, and those of them not yet settled everywhere. */
  entries = 0;
  pending = 0;
  /** Rotated: takes no new entries. */
  closed = false;
  /** A write to it is in progress. */
  busy = false;
  failed = false;
  released = false;

  constructor(path: string, createdAt: number) {
    this.path = path;
    this.createdAt = createdAt;
  }
}

export interface LedgerWalOptions {
  readonly dir: string;
  readonly logger: Logger;
  readonly now: () => number;
  /** The current segment is closed once it is this old (and has events). */
  readonly rotateMs: number;
  /** Events waiting for their write-ahead append beyond this are not logged ahead (the disk is stalling). */
  readonly maxBuffered: number;
  /** Gather events this long before a write (0: write after the current event-loop turn). */
  readonly delayMs: number;
}

export class LedgerWal {
  readonly dir: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #rotateMs: number;
  readonly #maxBuffered: number;
  readonly #delayMs: number;
  readonly #segments = new Set<WalSegment>();
  readonly #tasks = new Set<Promise<unknown>>();
  #current: WalSegment;
  #buffer: LedgerEntry[] = [];
  #scheduled = false;
  #writing: Promise<void> | undefined;
  #failing = false;
  #behind = false;
  /** Events recorded without a write-ahead append (the buffer was full, or the append failed). */
  unprotected = 0;
  /** Appends made (for stats). */
  writes = 0;

  constructor(options: LedgerWalOptions) {
    this.dir = options.dir;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#rotateMs = options.rotateMs;
    this.#maxBuffered = options.maxBuffered;
    this.#delayMs = options.delayMs;
    mkdirSync(this.dir, { recursive: true });
    this.#current = this.#newSegment();
  }

  /** Logs the entry ahead (soon, asynchronously). O(1): the write happens after this event-loop turn. */
  add(entry: LedgerEntry): void {
    if (this.#buffer.length >= this.#maxBuffered) {
      this.unprotected++;
      if (!this.#behind) {
        this.#behind = true;
        this.#logger.error('ledger write-ahead log is behind (disk stalled?): new events are not logged ahead until it catches up; a kill -9 would lose them', { buffered: this.#buffer.length });
      }
      return;
    }
    const seg = this.#current;
    if (seg.entries === 0) seg.createdAt = this.#now();
    seg.entries++;
    seg.pending++;
    entry.seg = seg;
    this.#buffer.push(entry);
    if (!this.#scheduled && !this.#writing) this.#schedule();
  }

  #schedule(): void {
    this.#scheduled = true;
    if (this.#delayMs > 0) setTimeout(this.#flush, this.#delayMs);
    else setImmediate(this.#flush);
  }

  /** The entry is stored or spooled by every sink: its segment may go. */
  settle(entry: LedgerEntry): void {
    const seg = entry.seg;
    if (!seg) return;
    entry.seg = undefined;
    seg.pending--;
    this.#maybeRelease(seg);
  }

  /** Rotates the current segment when it is old enough. Called on the writer's flush timer. */
  tick(): void {
    const seg = this.#current;
    if (seg.entries > 0 && this.#now() - seg.createdAt >= this.#rotateMs) this.#rotate();
  }

  /** The current segment has events, so a later tick() must rotate it. */
  get needsTick(): boolean {
    return this.#current.entries > 0;
  }

  /** Write-ahead segment files still on disk or in use (for stats). */
  get segments(): number {
    return this.#segments.size;
  }

  #newSegment(): WalSegment {
    const seg = new WalSegment(join(this.dir, segmentName('w', this.#now())), this.#now());
    this.#segments.add(seg);
    return seg;
  }

  #rotate(): void {
    const old = this.#current;
    this.#current = this.#newSegment();
    old.closed = true;
    this.#maybeRelease(old);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#writing) return;
    this.#writing = this.#drain()
      .catch((error) => this.#logger.error('ledger write-ahead log: unexpected error', { error: (error as Error)?.message }))
      .finally(() => {
        this.#writing = undefined;
        if (this.#buffer.length > 0 && !this.#scheduled) this.#schedule();
      });
  };

  /** Writes the buffer, and whatever arrives meanwhile, one write at a time. */
  async #drain(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer;
      this.#buffer = [];
      if (this.#behind) {
        this.#behind = false;
        this.#logger.warn('ledger write-ahead log caught up');
      }
      // Segments only move forward, so a Map keeps them in order.
      const texts = new Map<WalSegment, { text: string; events: number }>();
      for (const entry of batch) {
        const seg = entry.seg;
        if (!seg) continue; // already stored everywhere: no need to log it ahead
        const json = lineOf(entry);
        if (json === null) {
          this.unprotected++;
          this.#logger.error('ledger event cannot be serialized for the write-ahead log', { event_id: entry.event.event_id });
          continue;
        }
        const line = json + '\n';
        const pending = texts.get(seg);
        if (pending) {
          pending.text += line;
          pending.events++;
        } else texts.set(seg, { text: line, events: 1 });
      }
      for (const [seg, { text, events }] of texts) await this.#write(seg, text, events);
    }
  }

  async #write(seg: WalSegment, text: string, events: number): Promise<void> {
    if (seg.released || seg.pending === 0) return;
    if (seg.failed) {
      this.unprotected += events;
      return;
    }
    seg.busy = true;
    try {
      if (!seg.fh) {
        try {
          seg.fh = await open(seg.path, 'a');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          await mkdir(this.dir, { recursive: true }); // the folder went away (a temp cleaner?)
          seg.fh = await open(seg.path, 'a');
        }
      }
      this.writes++;
      const bytes = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < bytes.length) written += (await seg.fh.write(bytes, written, bytes.length - written)).bytesWritten;
      if (this.#failing) {
        this.#failing = false;
        this.#logger.warn('ledger write-ahead log is writable again');
      }
    } catch (error) {
      // A torn line may be at its end now: the segment takes no more writes.
      seg.failed = true;
      this.unprotected += events;
      if (seg === this.#current) this.#rotate();
      if (!this.#failing) {
        this.#failing = true;
        this.#logger.error('ledger write-ahead log write failed: events still go to the sinks, but a kill -9 would lose those in memory', { path: seg.path, error: (error as Error)?.message });
      }
    } finally {
      seg.busy = false;
      this.#maybeRelease(seg);
    }
  }

  #maybeRelease(seg: WalSegment): void {
    if (seg.released || !seg.closed || seg.busy || seg.pending > 0) return;
    seg.released = true;
    this.#segments.delete(seg);
    const fh = seg.fh;
    seg.fh = undefined;
    if (!fh) return; // never written: no file
    this.#track(fh.close().catch(() => {}).then(() => unlink(seg.path)).catch(() => {}));
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /**
   * Writes what is still buffered, deletes the segments whose events are all settled and closes
   * the others: those stay on disk (their events were neither stored nor spooled) and the next
   * writer on this spool folder replays them.
   */
  async close(): Promise<void> {
    this.#rotate();
    this.#current.closed = true; // nothing is added after close
    while (this.#writing || this.#buffer.length > 0) {
      if (!this.#writing) this.#flush();
      await this.#writing;
    }
    for (const seg of [...this.#segments]) {
      this.#maybeRelease(seg);
      if (!seg.released && seg.fh) {
        const fh = seg.fh;
        seg.fh = undefined;
        this.#track(fh.close().catch(() => {}));
      }
    }
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }
}

/**
 * Hands the write-ahead segments an earlier process left in walDir to every sink's spool folder:
 * a hard link each (atomic; a copy through a temporary file where links fail), then the segment
 * is removed. A crash half-way is safe: the segment stays, and links that already exist are kept.
 * Runs once at start, before the new writer logs anything. Returns the segments adopted.
 */
export function adoptWriteAheadSegments(walDir: string, spoolDirs: readonly string[]): number {
  let names: string[];
  try {
    names = readdirSync(walDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let adopted = 0;
  for (const name of names.sort()) {
    if (!name.endsWith(SEGMENT_SUFFIX)) continue;
    const from = join(walDir, name);
    if (statSync(from).size > 0) {
      if (spoolDirs.length === 0) continue; // no sink to give it to: keep it for a writer that has one
      for (const dir of spoolDirs) place(from, join(dir, name));
      adopted++;
    }
    unlinkSync(from);
  }
  return adopted;
}

function place(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    const tmp = `${to}.tmp`;
    copyFileSync(from, tmp);
    renameSync(tmp, to);
  }
}
