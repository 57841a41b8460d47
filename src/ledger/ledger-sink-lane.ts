// One sink's side of the ledger writer (src/ledger/ledger-writer.ts): its bounded queue, its
// batches, its spool and the replay of that spool. Each sink has its own lane, so a slow or
// failing sink never holds back another.
//
// - Batches: one write to the sink at a time, of up to batchSize events, when batchSize events
//   are queued or the writer's flush timer marks the lane due (every flushIntervalMs).
// - A write that rejects or does not answer within writeTimeoutMs is appended to the spool, and
//   the sink counts as down: for a backoff (retryMinMs doubling up to retryMaxMs), later batches
//   go straight to the spool rather than waiting on a dead sink; then a live batch or the replay
//   loop tries it again. The replay loop feeds spooled segments back, oldest first, and deletes
//   each once the sink accepted all of it. Live traffic comes first: the replay waits while the
//   queue is more than half full.
// - Queue full (the sink cannot keep up): further events for this sink go to its spool, logged
//   once per episode. If the spool disk falls behind by maxSpoolBacklog events (it stalls, or
//   writes slower than events arrive), further events are dropped, counted
//   (tollgate_ledger_dropped_total{reason="spool_backlog"}) and logged as errors.
// - An event the sink refuses as invalid (an error named InvalidLedgerEvent, with its eventId) is
//   set aside in <spool>/rejected/ and the rest of the batch is written again; without an eventId
//   the batch is halved until the culprit is found. Any other error counts as the sink being down.

import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.ts';
import type { Counter, Gauge } from '../telemetry/metrics.ts';
import type { LedgerEvent } from './ledger-event.ts';
import type { LedgerSink } from './ledger-sink.ts';
import { eventLines, LedgerSpool, segmentName } from './ledger-spool.ts';
import { linesOf, type LedgerEntry } from './ledger-entry.ts';
import { EntryQueue } from './ledger-entry-queue.ts';
import { Abandoned, boundedSinkWrite } from './bounded-sink-write.ts';

export type LedgerSpoolReason = 'sink_failed' | 'sink_down' | 'overflow' | 'shutdown';
export type LedgerDropReason = 'spool_failed' | 'spool_backlog' | 'invalid_event' | 'after_close' | 'internal';

export interface LedgerLaneMetrics {
  readonly queueDepth: Gauge;
  readonly spooledEvents: Gauge;
  readonly written: Counter;
  readonly failures: Counter;
  readonly spooled: Counter;
  readonly rejected: Counter;
}

export interface SinkLaneOptions {
  readonly sink: LedgerSink;
  readonly dir: string;
  readonly batchSize: number;
  readonly maxQueued: number;
  /** Overflow events waiting for their spool append, at most. */
  readonly maxSpoolBacklog: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly writeTimeoutMs: number;
  readonly maxSegmentBytes: number;
  readonly logger: Logger;
  readonly metrics: LedgerLaneMetrics;
  readonly now: () => number;
  /** The lane is done with these entries: stored by the sink, or in its spool. */
  readonly settle: (entries: readonly LedgerEntry[]) => void;
  readonly drop: (count: number, reason: LedgerDropReason, error?: unknown) => void;
}

export interface SinkLaneStats {
  /** Events in memory: queued, in the batch being written, and waiting to be spooled. */
  readonly queued: number;
  readonly inFlight: number;
  readonly spooled: number;
  readonly written: number;
  readonly failures: number;
  readonly rejected: number;
  readonly down: boolean;
  readonly overflowing: boolean;
}


function isEventRejection(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'InvalidLedgerEvent';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface FlushWaiter {
  readonly done: number;
  readonly overflowDone: number;
  readonly resolve: () => void;
}

export class SinkLane {
  readonly name: string;
  readonly sink: LedgerSink;
  readonly spool: LedgerSpool;
  readonly #o: SinkLaneOptions;
  readonly #labels: { sink: string };
  readonly #queue = new EntryQueue();
  #overflow: LedgerEntry[] = [];
  // flush() waits on these: everything enqueued before it is done (stored, spooled or dropped).
  #enqueued = 0;
  #done = 0;
  #overflowEnqueued = 0;
  #overflowDone = 0;
  #waiters: FlushWaiter[] = [];
  #idleWaiters: (() => void)[] = [];
  /** Queued events the flush timer (or flush()) asked to send; more than batchSize go without it. */
  #due = 0;
  #busy = false;
  #inFlight = 0;
  #pumpScheduled = false;
  #spillScheduled = false;
  #spilling = false;
  // Down: the sink failed; until downUntil, batches go straight to the spool.
  #downUntil = 0;
  #downSince: number | undefined;
  #consecutiveFailures = 0;
  #overflowing = false;
  #overflowCount = 0;
  #replaying = false;
  #replayAgain = false;
  #replayTimer: NodeJS.Timeout | undefined;
  #replayAt = Infinity;
  #closing = false;
  /** Close ran out of time: everything left goes to the spool. */
  #forceSpool = false;
  readonly #aborts = new Set<(error: Error) => void>();
  #rejectedPath: string | undefined;
  #written = 0;
  #failures = 0;
  #rejected = 0;

  constructor(options: SinkLaneOptions) {
    this.#o = options;
    this.sink = options.sink;
    this.name = options.sink.name;
    this.#labels = { sink: this.name };
    this.spool = new LedgerSpool({ dir: options.dir, maxSegmentBytes: options.maxSegmentBytes, now: options.now });
    const m = options.metrics;
    m.written.inc(this.#labels, 0);
    m.failures.inc(this.#labels, 0);
    m.rejected.inc(this.#labels, 0);
    this.#updateGauges();
  }

  /** Finds what earlier runs spooled and starts replaying it. */
  start(): void {
    this.spool.scan().then(
      () => {
        this.#updateGauges();
        if (!this.spool.isEmpty) {
          this.#o.logger.warn('ledger spool from an earlier run: replaying it', { sink: this.name, events: this.spool.events, spool: this.spool.dir });
          this.#scheduleReplay(0);
        }
      },
      (error) => this.#o.logger.error('ledger spool cannot be read', { sink: this.name, spool: this.spool.dir, error: message(error) }),
    ).catch(() => {});
  }

  /** Queues one entry (O(1), no I/O); past maxQueued it waits for the spool instead. */
  push(entry: LedgerEntry): void {
    const o = this.#o;
    if (this.#queue.length < o.maxQueued) {
      this.#queue.push(entry);
      this.#enqueued++;
      if (this.#queue.length >= o.batchSize || this.#closing) this.#schedulePump();
      return;
    }
    this.#overflowEnqueued++;
    if (this.#overflow.length >= o.maxSpoolBacklog) {
      // The spool disk is not keeping up either. Not settled: the write-ahead log keeps it for the next start.
      this.#overflowDone++;
      o.drop(1, 'spool_backlog');
      return;
    }
    this.#overflow.push(entry);
    this.#overflowCount++;
    if (!this.#overflowing) {
      this.#overflowing = true;
      o.logger.warn('ledger sink cannot keep up: its queue is full, spooling new events to disk', { sink: this.name, max_queued: o.maxQueued, spool: this.spool.dir });
    }
    this.#scheduleSpill();
  }

  /** The flush timer fired: send everything queued now, in batches. */
  markDue(): void {
    this.#due = this.#queue.length;
    this.#pump();
    if (this.#overflow.length > 0) this.#scheduleSpill();
  }

  /** Whether the lane holds events in memory (so the writer's timer keeps ticking). */
  get hasPending(): boolean {
    return this.#queue.length > 0 || this.#overflow.length > 0 || this.#busy;
  }

  /** Resolves once every event pushed before the call is stored by the sink or spooled. */
  flush(): Promise<void> {
    const target = { done: this.#enqueued, overflowDone: this.#overflowEnqueued };
    this.markDue();
    if (this.#done >= target.done && this.#overflowDone >= target.overflowDone) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ ...target, resolve }));
  }

  /**
   * Sends (or, past the deadline, spools) everything queued, and stops the replay loop. May be
   * called again if events arrived meanwhile. deadline is a performance.now() time.
   */
  async drain(deadline: number): Promise<void> {
    this.#closing = true;
    if (this.#replayTimer) clearTimeout(this.#replayTimer);
    this.#replayTimer = undefined;
    this.#pump();
    if (this.#overflow.length > 0) this.#scheduleSpill();
    if (await this.#whenIdle(deadline)) return;
    if (!this.#forceSpool) {
      this.#forceSpool = true;
      this.#o.logger.warn('ledger sink too slow at shutdown: spooling what is left', { sink: this.name, queued: this.#queue.length + this.#inFlight + this.#overflow.length });
    }
    for (const abort of [...this.#aborts]) abort(new Abandoned(`ledger sink ${this.name}: abandoned at shutdown`));
    this.#pump();
    if (!(await this.#whenIdle(performance.now() + this.#o.writeTimeoutMs))) {
      this.#o.logger.error('ledger spool not writable at shutdown: events left in memory are lost unless the write-ahead log has them', { sink: this.name, queued: this.#queue.length + this.#inFlight + this.#overflow.length });
    }
  }

  /** Nothing in memory or in progress. */
  get idle(): boolean {
    return !this.#busy && this.#queue.length === 0 && !this.#spilling && !this.#spillScheduled && this.#overflow.length === 0 && !this.#replaying;
  }

  /** After drain: closes the active spool segment (it stays for the next run). */
  async finish(): Promise<void> {
    await this.spool.close();
    this.#updateGauges();
  }

  stats(): SinkLaneStats {
    return {
      queued: this.#queue.length + this.#overflow.length,
      inFlight: this.#inFlight,
      spooled: this.spool.events,
      written: this.#written,
      failures: this.#failures,
      rejected: this.#rejected,
      down: this.#downSince !== undefined,
      overflowing: this.#overflowing,
    };
  }

  // --- batches -------------------------------------------------------------------------------

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#busy) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#busy) return;
    if (this.#queue.length === 0) {
      this.#due = 0;
      return;
    }
    if (this.#due === 0 && !this.#closing && this.#queue.length < this.#o.batchSize) return;
    this.#busy = true;
    this.#run().catch(() => {}); // #run logs its own errors; a rejection here must not crash the process
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0 && (this.#due > 0 || this.#closing || this.#queue.length >= this.#o.batchSize)) {
        // A batch bound for the spool can be as large as the queue: one append instead of many.
        const spooling = this.#forceSpool || this.#o.now() < this.#downUntil;
        const batch = this.#queue.take(spooling ? this.#o.maxQueued : this.#o.batchSize);
        this.#due = Math.max(0, this.#due - batch.length);
        this.#inFlight = batch.length;
        try {
          await this.#deliver(batch, spooling);
        } catch (error) {
          this.#o.logger.error('ledger writer: unexpected error delivering a batch', { sink: this.name, error: message(error) });
          this.#o.drop(batch.length, 'internal', error);
        }
        this.#inFlight = 0;
        this.#done += batch.length;
        this.#checkWaiters();
        this.#checkOverflowEpisode();
      }
      if (this.#queue.length === 0) this.#due = 0;
    } finally {
      this.#busy = false;
      this.#inFlight = 0;
      this.#updateGauges();
      this.#notify();
    }
  }

  /** Stores a batch in the sink (unless `spooling`: the sink is down, or close ran out of time), or spools it. Never throws. */
  async #deliver(batch: LedgerEntry[], spooling: boolean): Promise<void> {
    const events = batch.map((entry) => entry.event);
    const lines = linesOf(batch);
    let reason: LedgerSpoolReason = this.#forceSpool ? 'shutdown' : 'sink_down';
    if (!spooling && !this.#forceSpool) {
      try {
        await this.#store(events, lines);
        this.#o.settle(batch);
        return;
      } catch (error) {
        if (error instanceof Abandoned) reason = 'shutdown';
        else {
          this.#failed(error);
          reason = 'sink_failed';
        }
      }
    }
    await this.#spoolEntries(batch, events, lines, reason);
  }

  /**
   * Writes events (with their JSON texts, when the caller has them) to the sink, setting aside
   * those it refuses as invalid. Rejects only when the sink failed (or did not answer): the
   * caller spools the batch then.
   */
  async #store(events: LedgerEvent[], lines?: string[]): Promise<void> {
    let pending = events;
    let pendingLines = lines;
    for (;;) {
      try {
        await this.#call(pending, pendingLines);
        this.#wrote(pending.length);
        return;
      } catch (error) {
        if (!isEventRejection(error)) throw error;
        const id = (error as { eventId?: unknown }).eventId;
        const at = typeof id === 'string' ? pending.findIndex((event) => event.event_id === id) : -1;
        if (at >= 0) {
          await this.#reject([pending[at]], error);
          pending = pending.filter((_, i) => i !== at);
          pendingLines = pendingLines?.filter((_, i) => i !== at);
          if (pending.length === 0) return;
          continue;
        }
        if (pending.length === 1) {
          await this.#reject(pending, error);
          return;
        }
        const half = pending.length >>> 1;
        await this.#store(pending.slice(0, half), pendingLines?.slice(0, half));
        await this.#store(pending.slice(half), pendingLines?.slice(half));
        return;
      }
    }
  }

  /** One sink.write, bounded by writeTimeoutMs (and abandoned by a slow close). */
  #call(events: LedgerEvent[], lines: string[] | undefined): Promise<void> {
    return boundedSinkWrite(this.sink, events, lines, this.#o.writeTimeoutMs, this.#aborts);
  }

  #wrote(count: number): void {
    this.#written += count;
    this.#o.metrics.written.inc(this.#labels, count);
    this.#consecutiveFailures = 0;
    this.#downUntil = 0;
    if (this.#downSince !== undefined) {
      this.#o.logger.warn('ledger sink recovered: replaying its spool', { sink: this.name, down_ms: Math.round(this.#o.now() - this.#downSince), spooled: this.spool.events });
      this.#downSince = undefined;
    }
    if (!this.spool.isEmpty) this.#scheduleReplay(0);
  }

  #failed(error: unknown): void {
    const o = this.#o;
    this.#failures++;
    o.metrics.failures.inc(this.#labels);
    this.#consecutiveFailures++;
    const backoff = Math.min(o.retryMaxMs, o.retryMinMs * 2 ** Math.min(this.#consecutiveFailures - 1, 20));
    const now = o.now();
    this.#downUntil = now + backoff;
    if (this.#downSince === undefined) {
      this.#downSince = now;
      o.logger.warn('ledger sink failed: spooling its events to disk and retrying', { sink: this.name, error: message(error), retry_in_ms: backoff, spool: this.spool.dir });
    } else if (o.logger.enabled('debug')) {
      o.logger.debug('ledger sink still failing', { sink: this.name, error: message(error), retry_in_ms: backoff });
    }
    this.#scheduleReplay(backoff);
  }

  /** Sets events the sink refused as invalid aside, in <spool>/rejected/, for someone to look at. */
  async #reject(events: LedgerEvent[], error: unknown): Promise<void> {
    const o = this.#o;
    this.#rejected += events.length;
    o.metrics.rejected.inc(this.#labels, events.length);
    const dir = join(this.spool.dir, 'rejected');
    this.#rejectedPath ??= join(dir, segmentName('r', o.now()));
    o.logger.error('ledger sink refused an event as invalid: set aside', { sink: this.name, event_ids: events.map((event) => event.event_id), error: message(error), file: this.#rejectedPath });
    try {
      await mkdir(dir, { recursive: true });
      await appendFile(this.#rejectedPath, eventLines(events));
    } catch (writeError) {
      o.drop(events.length, 'spool_failed', writeError);
    }
  }

  // --- spool -----------------------------------------------------------------------------------

  async #spoolEntries(batch: readonly LedgerEntry[], events: readonly LedgerEvent[], lines: readonly string[] | undefined, reason: LedgerSpoolReason): Promise<void> {
    try {
      await this.spool.append(events, lines);
    } catch (error) {
      // Not settled: if the write-ahead log has these events, the next start replays them.
      this.#o.drop(batch.length, 'spool_failed', error);
      return;
    }
    this.#o.metrics.spooled.inc({ sink: this.name, reason }, batch.length);
    this.#o.settle(batch);
    this.#scheduleReplay(this.#downSince !== undefined ? this.#downUntil - this.#o.now() : this.#o.retryMinMs);
  }

  #scheduleSpill(): void {
    if (this.#spillScheduled || this.#spilling) return;
    this.#spillScheduled = true;
    setImmediate(() => {
      this.#spillScheduled = false;
      this.#spill().catch(() => {});
    });
  }

  /** Appends the overflow to the spool, everything gathered meanwhile in one append. */
  async #spill(): Promise<void> {
    if (this.#spilling) return;
    this.#spilling = true;
    try {
      while (this.#overflow.length > 0) {
        const batch = this.#overflow;
        this.#overflow = [];
        await this.#spoolEntries(batch, batch.map((entry) => entry.event), linesOf(batch), 'overflow');
        this.#overflowDone += batch.length;
        this.#checkWaiters();
      }
    } finally {
      this.#spilling = false;
      this.#updateGauges();
      this.#checkOverflowEpisode();
      this.#notify();
    }
  }

  #checkOverflowEpisode(): void {
    if (!this.#overflowing || this.#overflow.length > 0 || this.#queue.length > this.#o.maxQueued / 2) return;
    this.#overflowing = false;
    this.#o.logger.warn('ledger sink caught up: its queue is below half full again', { sink: this.name, spooled_meanwhile: this.#overflowCount });
    this.#overflowCount = 0;
  }

  // --- replay ------------------------------------------------------------------------------------

  #scheduleReplay(delayMs: number): void {
    if (this.#closing) return;
    const delay = Math.max(0, delayMs);
    const at = this.#o.now() + delay;
    if (this.#replayTimer !== undefined) {
      if (at >= this.#replayAt) return;
      clearTimeout(this.#replayTimer);
    }
    this.#replayAt = at;
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined;
      this.#replayAt = Infinity;
      this.#replay().catch(() => {});
    }, delay);
    this.#replayTimer.unref();
  }

  /** Feeds spooled segments back to the sink, oldest first, until the spool is empty or the sink fails. */
  async #replay(): Promise<void> {
    if (this.#closing) return;
    if (this.#replaying) {
      this.#replayAgain = true;
      return;
    }
    this.#replaying = true;
    this.#replayAgain = false;
    let retryIn: number | undefined;
    let sinkError: unknown;
    const write = async (events: LedgerEvent[]) => {
      try {
        await this.#store(events);
      } catch (error) {
        sinkError = error;
        throw error;
      }
    };
    let segment: string | undefined;
    try {
      while (!this.#closing) {
        const wait = this.#downUntil - this.#o.now();
        if (wait > 0) {
          retryIn = wait;
          break;
        }
        if (this.#queue.length > this.#o.maxQueued / 2) {
          retryIn = this.#o.retryMinMs; // live traffic first
          break;
        }
        segment = await this.spool.next();
        if (segment === undefined) break;
        const result = await this.spool.replay(segment, this.#o.batchSize, write, () => this.#closing);
        if (result.skipped > 0) {
          this.#o.logger.warn('ledger spool: skipped lines that are not events (a torn last line after a crash, or damage)', { sink: this.name, segment, skipped: result.skipped });
        }
        this.#updateGauges();
      }
    } catch (error) {
      if (error instanceof Abandoned || this.#closing) {
        // Shutting down: the rest of the segment is replayed by the next run.
      } else if (error === sinkError) {
        this.#failed(error);
        retryIn = this.#downUntil - this.#o.now();
      } else {
        this.#o.logger.error('ledger spool cannot be replayed', { sink: this.name, segment, error: message(error) });
        retryIn = this.#o.retryMaxMs;
      }
    } finally {
      this.#replaying = false;
      this.#updateGauges();
      this.#notify();
      if (retryIn !== undefined) this.#scheduleReplay(retryIn);
      else if (this.#replayAgain) this.#scheduleReplay(0);
    }
  }

  // --- waiting ---------------------------------------------------------------------------------

  #checkWaiters(): void {
    if (this.#waiters.length === 0) return;
    const still: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (this.#done >= waiter.done && this.#overflowDone >= waiter.overflowDone) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  async #whenIdle(deadline: number): Promise<boolean> {
    while (!this.idle) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 2 ** 31 - 1));
        this.#idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  #notify(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  #updateGauges(): void {
    this.#o.metrics.queueDepth.set(this.#labels, this.#queue.length + this.#inFlight + this.#overflow.length);
    this.#o.metrics.spooledEvents.set(this.#labels, this.spool.events);
  }
}
