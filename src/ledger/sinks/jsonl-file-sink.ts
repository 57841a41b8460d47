// The ledger as JSON Lines files: one line per event (the event exactly as in docs/ledger.md),
// in DIR/ledger-YYYY-MM-DD.jsonl by the event's UTC day. Naming the file after the event's day
// (not the day it was written) means a replayed or retried batch lands in the same file as the
// first copy, and each file holds one day whatever the writer's clock did.
//
// Idempotence: at-least-once. A batch that is retried after a failure (or replayed from the
// spool) may append lines that are already there; consumers dedupe on event_id, within a file
// since both copies share the event's day. Within one batch an event is written once.
//
// Writes are asynchronous (fs/promises) and serialised (batches never interleave); write()
// resolves once the batch's lines are written to each file and, with `sync` (the default),
// flushed to disk (fdatasync). A crash in the middle of a line leaves a partial line: the next
// append starts on a new line, so only that one line is unreadable and consumers skip lines
// that do not parse.

import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { LedgerEvent } from '../ledger-event.ts';
import type { LedgerSink } from '../ledger-sink.ts';
import { batchRows } from './ledger-rows.ts';

export interface JsonlFileSinkOptions {
  /** The directory of the files; created when missing. */
  directory: string;
  /** fdatasync each file a batch wrote before write() resolves. Default true. */
  sync?: boolean;
  /** Files kept open, the most recently written. Default 4. */
  maxOpenFiles?: number;
}

interface OpenFile {
  readonly handle: FileHandle;
  /** The file's identity when opened: a file moved or deleted since is reopened by name. */
  readonly dev: number;
  readonly ino: number;
  /** The file ended without a newline when opened (a torn last line): start on a new one. */
  newlineFirst: boolean;
}

const NEWLINE = 0x0a;

/** The file of a UTC day in the sink's directory. */
export function jsonlFileName(day: string): string {
  return `ledger-${day}.jsonl`;
}

export class JsonlFileSink implements LedgerSink {
  readonly name = 'jsonl';
  readonly directory: string;
  readonly #sync: boolean;
  readonly #maxOpen: number;
  /** Open files by day, least recently used first. */
  readonly #files = new Map<string, OpenFile>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: JsonlFileSinkOptions) {
    if (typeof options.directory !== 'string' || options.directory === '') throw new TypeError('the JSONL sink needs a directory');
    this.directory = options.directory;
    this.#sync = options.sync ?? true;
    this.#maxOpen = Math.max(1, options.maxOpenFiles ?? 4);
  }

  async write(events: readonly LedgerEvent[], lines?: readonly string[]): Promise<void> {
    // Checked (and serialised) before anything is queued: a bad event rejects the whole batch.
    const rows = batchRows(events, lines);
    if (rows.length === 0) return;
    if (this.#closed) throw new Error('the JSONL ledger sink is closed');
    const byDay = new Map<string, string[]>();
    for (const row of rows) {
      let lines = byDay.get(row.day);
      if (!lines) byDay.set(row.day, (lines = []));
      lines.push(row.event_json);
    }
    const run = this.#queue.then(() => this.#append(byDay));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.all(files.map((f) => f.handle.close().catch(() => undefined)));
  }

  async #append(byDay: ReadonlyMap<string, string[]>): Promise<void> {
    for (const [day, lines] of byDay) {
      const file = await this.#file(day);
      const text = `${file.newlineFirst ? '\n' : ''}${lines.join('\n')}\n`;
      try {
        await writeAll(file.handle, Buffer.from(text, 'utf8'));
        file.newlineFirst = false;
        if (this.#sync) await file.handle.datasync();
      } catch (error) {
        // The file may now end in a torn line: reopen it next time, which checks its end again.
        this.#files.delete(day);
        await file.handle.close().catch(() => undefined);
        throw error;
      }
    }
  }

  async #file(day: string): Promise<OpenFile> {
    const path = join(this.directory, jsonlFileName(day));
    const known = this.#files.get(day);
    if (known) {
      this.#files.delete(day);
      // A consumer may have moved or deleted the file: writing on would lose the lines.
      const current = await stat(path).catch(() => undefined);
      if (current && current.ino === known.ino && current.dev === known.dev) {
        this.#files.set(day, known);
        return known;
      }
      await known.handle.close().catch(() => undefined);
    }
    let handle: FileHandle;
    try {
      handle = await open(path, 'a+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The directory went away (or was never made): make it again.
      await mkdir(this.directory, { recursive: true });
      handle = await open(path, 'a+');
    }
    let file: OpenFile;
    try {
      const { size, dev, ino } = await handle.stat();
      file = { handle, dev, ino, newlineFirst: !(await endsWithNewline(handle, size)) };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    this.#files.set(day, file);
    while (this.#files.size > this.#maxOpen) {
      const [oldest, old] = this.#files.entries().next().value!;
      this.#files.delete(oldest);
      await old.handle.close().catch(() => undefined);
    }
    return file;
  }
}

/** An empty file counts as ending with a newline. */
async function endsWithNewline(handle: FileHandle, size: number): Promise<boolean> {
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  return last[0] === NEWLINE;
}

async function writeAll(handle: FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
}
