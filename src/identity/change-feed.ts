// Keeps this replica's identity caches in step with the database. Every committed change to a
// team, tenant or key writes a row to the store's change feed in the same transaction; this poll
// reads the rows since the last poll (with an overlap, so a transaction that committed late is
// still seen) and invalidates what they name. It also catches changes made by the CLI straight
// against the database. Redis pub/sub, when configured, delivers the same events faster; this
// feed is what makes delivery certain.

import type { Logger } from '../logging/logger.ts';
import type { IdentityStore } from '../stores/identity-store.ts';
import type { ObjectKind } from './records.ts';

export interface ChangeFeedOptions {
  store: IdentityStore;
  invalidate(kind: ObjectKind, id: string): void;
  logger: Logger;
  pollMs: number;
  /** Re-read this much history each poll (ms of database clock). */
  overlapMs?: number;
  /** How often old feed rows and expired secrets are pruned, and how old they must be. */
  pruneEveryMs?: number;
  retainMs?: number;
}

export interface ChangeFeed {
  /** Resolves after the next poll has completed (tests, and shutdown ordering). */
  pollNow(): Promise<void>;
  stop(): void;
}

export function startChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const { store, logger } = options;
  const overlapMs = options.overlapMs ?? 2_000;
  const pruneEveryMs = options.pruneEveryMs ?? 3_600_000;
  const retainMs = options.retainMs ?? 86_400_000;
  const seen = new Map<number, number>();
  let since: number | undefined;
  let failing = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let lastPrune = Date.now();

  async function poll(): Promise<void> {
    try {
      const { changes, now } = await store.changesSince(since === undefined ? Number.MAX_SAFE_INTEGER : since - overlapMs);
      for (const change of changes) {
        if (seen.has(change.seq)) continue;
        seen.set(change.seq, now);
        options.invalidate(change.kind, change.id);
      }
      for (const [seq, at] of seen) if (at < now - 3 * overlapMs) seen.delete(seq);
      since = now;
      if (failing) logger.info('identity change feed recovered');
      failing = false;
      if (Date.now() - lastPrune > pruneEveryMs) {
        lastPrune = Date.now();
        await store.prune(now - retainMs);
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
