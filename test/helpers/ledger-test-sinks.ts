// Ledger sinks for the writer's tests: an in-memory one that records every delivery and fails,
// hangs, slows down or refuses events on demand, and a JSONL file one for child processes.
// Both are idempotent on event_id, as the LedgerSink contract asks.

import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import type { LedgerSink } from '../../src/ledger/ledger-sink.ts';
import type { Logger, LogLevel } from '../../src/logging/logger.ts';
import { ledgerEvent as completeLedgerEvent } from './ledger-events.ts';

/** A valid v1 ledger event whose event_id is `evt-<n>` (request `req-<n>`, n ms after 09:00). */
export function ledgerEvent(n: number, overrides: Partial<LedgerEvent> = {}): LedgerEvent {
  return completeLedgerEvent({
    event_id: `evt-${n}`,
    timestamp: new Date(Date.UTC(2026, 11, 2, 9, 0, 0) + n).toISOString(),
    request_id: `req-${n}`,
    key_id: 'key_874f7fb497cab9190c82',
    user_id_hash: '4c1d',
    tags: ['review:42'],
    metadata: { workflow: 'refunds' },
    cost_usd: { price_table_version: 'test@1' },
    ...overrides,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() is true; throws with `what` after timeoutMs. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** What the sinks below throw for an event they refuse, like the SQL sinks' InvalidLedgerEvent. */
export class TestInvalidLedgerEvent extends TypeError {
  readonly eventId: string | undefined;
  constructor(message: string, eventId: string | undefined) {
    super(message);
    this.name = 'InvalidLedgerEvent';
    this.eventId = eventId;
  }
}

export interface MemorySinkOptions {
  readonly name?: string;
  /** Each write takes this long. */
  readonly delayMs?: number;
}

/** An in-memory sink. Stores by event_id; counts how often each event was stored. */
export class MemorySink implements LedgerSink {
  readonly name: string;
  /** Stored events by event_id. */
  readonly stored = new Map<string, LedgerEvent>();
  /** Accepted writes per event_id: 1 everywhere means no event was sent twice. */
  readonly deliveries = new Map<string, number>();
  /** The JSON text the writer passed with each stored event (undefined when it passed none). */
  readonly lines = new Map<string, string | undefined>();
  /** Accepted batches: size and when. */
  readonly batches: { size: number; at: number }[] = [];
  /** write() calls, accepted or not. */
  attempts = 0;
  delayMs: number;
  /** Reject every write (asynchronously). */
  failing = false;
  /** Throw synchronously from write(). */
  throwing = false;
  /** Never answer. */
  hanging = false;
  /** Event ids refused as invalid: the write rejects with InvalidLedgerEvent naming the first (withId) or none. */
  readonly refuse = new Set<string>();
  refuseWithId = true;
  closed = false;

  constructor(options: MemorySinkOptions = {}) {
    this.name = options.name ?? 'memory';
    this.delayMs = options.delayMs ?? 0;
  }

  write(events: readonly LedgerEvent[], lines?: readonly string[]): Promise<void> {
    this.attempts++;
    if (this.throwing) throw new Error(`${this.name}: thrown synchronously`);
    return this.#write(events, lines);
  }

  async #write(events: readonly LedgerEvent[], lines: readonly string[] | undefined): Promise<void> {
    if (this.hanging) return new Promise(() => {});
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (this.failing) throw new Error(`${this.name}: unavailable`);
    const bad = events.find((event) => this.refuse.has(event.event_id));
    if (bad) throw new TestInvalidLedgerEvent(`ledger event ${bad.event_id}: refused`, this.refuseWithId ? bad.event_id : undefined);
    for (const [i, event] of events.entries()) {
      this.lines.set(event.event_id, lines?.[i]);
      this.stored.set(event.event_id, event);
      this.deliveries.set(event.event_id, (this.deliveries.get(event.event_id) ?? 0) + 1);
    }
    this.batches.push({ size: events.length, at: performance.now() });
  }

  /** Events delivered more than once. */
  duplicates(): string[] {
    return [...this.deliveries].filter(([, count]) => count > 1).map(([id]) => id);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A sink that appends each batch as JSONL lines to a file (duplicates are removed when reading). */
export class FileSink implements LedgerSink {
  readonly name: string;
  readonly path: string;
  delayMs: number;
  failing = false;

  constructor(path: string, options: { name?: string; delayMs?: number } = {}) {
    this.path = path;
    this.name = options.name ?? 'file';
    this.delayMs = options.delayMs ?? 0;
  }

  async write(events: readonly LedgerEvent[]): Promise<void> {
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (this.failing) throw new Error(`${this.name}: unavailable`);
    await appendFile(this.path, events.map((event) => JSON.stringify(event) + '\n').join(''));
  }

  async close(): Promise<void> {
    appendFileSync(this.path, '');
  }
}

/** The spool and write-ahead files (*.jsonl) under a spool folder, relative to it. */
export function spoolFiles(spoolDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, prefix: string) => {
    if (!existsSync(dir)) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed meanwhile
    }
    for (const entry of entries) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.name.endsWith('.jsonl')) found.push(`${prefix}${entry.name}`);
    }
  };
  walk(spoolDir, '');
  return found.sort();
}

export interface LogLine {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields?: Record<string, unknown>;
}

/** A logger that keeps its lines (optionally echoing them), for asserting on what was logged. */
export function memoryLogger(options: { echo?: boolean } = {}): Logger & { readonly lines: LogLine[]; count(msg: string | RegExp): number } {
  const lines: LogLine[] = [];
  const log = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
    if (options.echo) process.stderr.write(`${level} ${msg} ${JSON.stringify(fields ?? {})}\n`);
  };
  return {
    lines,
    count: (msg) => lines.filter((line) => (typeof msg === 'string' ? line.msg === msg : msg.test(line.msg))).length,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    enabled: () => true,
    flush: () => {},
  };
}
