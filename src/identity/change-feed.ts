// Keeps this replica's identity caches in step with the database. Every committed change to a
// team, tenant or key writes a row to the store's change feed in the same transaction; this poll
// reads the rows after the last one it has fully processed and invalidates what they name. It
// also catches changes made by the CLI straight against the database. Redis pub/sub, when
// configured, delivers the same events faster; this feed is what makes delivery certain.
//
// Seqs are assigned when a row is inserted, but transactions may commit out of order: seq 12 can
// become visible before seq 11. So the cursor only advances over a contiguous run of seqs seen.
// Seqs missing below one already seen are waited for (re-read on every poll) until that seen
// seq has been known for `gapTimeoutMs`; then every gap below it is taken to be a rolled-back
// transaction or a sequence jump (PostgreSQL skips values after a crash, prune empties the
// table) that will never fill, and the cursor moves past all of them at once.

import type { Logger } from '../logging/logger.ts';
import type { IdentityStore } from '../stores/identity-store.ts';
import type { ObjectKind } from './records.ts';

const STARTUP_REPLAY = 1_000;

export interface ChangeFeedOptions {
  store: IdentityStore;
  invalidate(kind: ObjectKind, id: string): void;
  logger: Logger;
  pollMs: number;
  /** How long a gap in seqs is waited for before it is skipped. */
  gapTimeoutMs?: number;
  /** Rows read per query. */
  batch?: number;
  /** How often old feed rows and expired secrets are pruned, and how old they must be. */
  pruneEveryMs?: number;
  retainMs?: number;
  now?: () => number;
}

export interface ChangeFeed {
  /** Resolves after one more poll has completed (tests, and shutdown ordering). */
  pollNow(): Promise<void>;
  stop(): void;
}

export function startChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const gapTimeoutMs = options.gapTimeoutMs ?? 60_000;
  const batch = options.batch ?? 1_000;
  const pruneEveryMs = options.pruneEveryMs ?? 3_600_000;
  const retainMs = options.retainMs ?? 86_400_000;
  /** Every seq ≤ cursor is processed (or given up on). */
  let cursor: number | undefined;
  /** Seqs above the cursor already processed, with when each was first seen. */
  const ahead = new Map<number, number>();
  let failing = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let lastPrune = now();

  function advance(): void {
    for (;;) {
      while (ahead.delete(cursor! + 1)) cursor!++;
      if (ahead.size === 0) return;
      // A gap below the lowest seq seen: once that seq has waited out the timeout, so has every
      // missing seq below it, and the cursor jumps to it.
      let lowest = Infinity;
      for (const seq of ahead.keys()) if (seq < lowest) lowest = seq;
      if (now() - ahead.get(lowest)! < gapTimeoutMs) return;
      cursor = lowest - 1;
    }
  }

  /** Reads every row above the cursor, page by page, and invalidates the ones not seen yet. */
  async function readAll(): Promise<void> {
    let from = cursor!;
    for (;;) {
      const rows = await store.changesAfter(from, batch);
      for (const change of rows) {
        if (change.seq <= cursor! || ahead.has(change.seq)) continue;
        ahead.set(change.seq, now());
        options.invalidate(change.kind, change.id);
      }
      if (rows.length < batch) break;
      from = rows[rows.length - 1]!.seq;
    }
    advance();
  }

  async function poll(): Promise<void> {
    try {
      // Start a little behind the newest row: a lower seq may still be committing, and replaying
      // recent changes against an empty cache costs nothing.
      if (cursor === undefined) cursor = Math.max(0, (await store.lastChangeSeq()) - STARTUP_REPLAY);
      await readAll();
      if (failing) logger.info('identity change feed recovered');
      failing = false;
      if (now() - lastPrune > pruneEveryMs) {
        lastPrune = now();
        await store.prune(now() - retainMs);
      }
    } catch (err) {
      if (!failing) logger.warn('identity change feed unavailable; cached keys keep working', { error: err instanceof Error ? err.message : String(err) });
      failing = true;
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll().finally(schedule);
    }, options.pollMs);
    timer.unref();
  }

  running = poll().finally(schedule);
  return {
    async pollNow() {
      await running;
      await poll();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
