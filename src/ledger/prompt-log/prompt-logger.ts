// Prompt and completion logging for the teams and tenants that opted in (ledger.prompt_logging).
//
// On the request path: wants() is two Set lookups, and record() only queues the entry. Off it,
// batches are redacted and truncated (prompt-text.ts, yielding to the event loop between
// entries) and saved; a batch the store refuses is dropped and logged, never retried or spooled
// (prompts are personal data: no copies on disk outside the table). The queue is bounded;
// entries beyond it are dropped and counted.
//
// Store operations run one at a time, in order (saves, deletions, purges). A deletion also drops
// matching entries still queued or being prepared, so nothing recorded before it can land after
// it. Expired rows are purged at start and every hour.

import { setImmediate as turn } from 'node:timers/promises';
import type { Logger } from '../../logging/logger.ts';
import { prepareCompletion, preparePrompt } from './prompt-text.ts';
import { selectorColumn, type PromptLogRow, type PromptLogSelector, type PromptLogStore } from './prompt-log-store.ts';
import type { RedactionCounts, RedactionKind } from '../../redaction/redact.ts';

export interface PromptLogSettings {
  /** Team ids whose calls are logged. */
  readonly teams: readonly string[];
  /** Tenant ids whose calls are logged. */
  readonly tenants: readonly string[];
  readonly retentionDays: number;
  /** Longest prompt (as JSON) and completion stored, in characters each. */
  readonly maxChars: number;
}

/** Whose call it is: what wants() decides on. */
export interface PromptLogSubject {
  readonly teamId?: string | null;
  readonly tenantId?: string | null;
}

export interface PromptLogEntry extends PromptLogSubject {
  readonly requestId: string;
  /** When the request arrived: ISO 8601 or epoch ms (the ledger event's timestamp). */
  readonly timestamp: string | number;
  readonly keyId?: string | null;
  /** The ledger's user_id_hash. */
  readonly userHash?: string | null;
  /** The model alias the client named. */
  readonly alias?: string | null;
  /** The request body (or its messages) as parsed; not changed, and not to be changed after record(). */
  readonly prompt: unknown;
  /** The response text. */
  readonly completion: string;
}

export interface PromptLoggerStats {
  /** Entries waiting to be stored. */
  readonly queued: number;
  /** Rows stored. */
  readonly stored: number;
  /** Entries dropped because the queue was full. */
  readonly dropped: number;
  /** Entries lost because the store failed (or they could not be prepared). */
  readonly failed: number;
  /** Rows (and queued entries) deleted on request. */
  readonly deleted: number;
  /** Rows purged after their retention period. */
  readonly purged: number;
  /** Redactions made, by kind. */
  readonly redactions: Readonly<Partial<Record<RedactionKind, number>>>;
}

export interface PromptLogger {
  /** Some team or tenant is listed: calls may be logged. */
  readonly active: boolean;
  /** Whether this call's prompt and completion are to be logged (its team or its tenant is listed). */
  wants(subject: PromptLogSubject): boolean;
  /** Queues the call for logging (when wanted); never throws, never waits. */
  record(entry: PromptLogEntry): void;
  /** The stored row (waiting for the entry first when it is still queued). With an actor, the read is logged. */
  get(requestId: string, actor?: string): Promise<PromptLogRow | undefined>;
  /** Deletes every stored row and queued entry the selector names; returns how many. */
  deleteBy(selector: PromptLogSelector, actor?: string): Promise<number>;
  /** Deletes expired rows now; returns how many. */
  purge(): Promise<number>;
  /** Stores everything queued so far. */
  flush(): Promise<void>;
  stats(): PromptLoggerStats;
  /** Stores what is queued, stops the timers and closes the store. */
  close(): Promise<void>;
}

export interface PromptLoggerOptions {
  /** Migrated before the logger is created (the first purge runs at once). Closed by close(). */
  readonly store: PromptLogStore;
  readonly settings: PromptLogSettings;
  readonly logger: Logger;
  /** Epoch ms; for the purge. Default Date.now. */
  readonly now?: () => number;
  /** Queued entries are stored at least this often. Default 1000 ms. */
  readonly flushIntervalMs?: number;
  /** Entries per saved batch; a full batch is stored at once. Default 100. */
  readonly batchSize?: number;
  /** Entries waiting at most; more are dropped. Default 1000. */
  readonly maxQueued?: number;
  /** Default one hour. */
  readonly purgeIntervalMs?: number;
}

const DAY_MS = 86_400_000;

export function createPromptLogger(options: PromptLoggerOptions): PromptLogger {
  const { store, settings, logger } = options;
  const now = options.now ?? Date.now;
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  const batchSize = Math.max(1, options.batchSize ?? 100);
  const maxQueued = Math.max(1, options.maxQueued ?? 1000);
  const retentionMs = settings.retentionDays * DAY_MS;
  const teams: ReadonlySet<string> = new Set(settings.teams);
  const tenants: ReadonlySet<string> = new Set(settings.tenants);
  const active = teams.size > 0 || tenants.size > 0;

  let queue: PromptLogEntry[] = [];
  /** The batch taken from the queue and being redacted; deleteBy cancels entries in it. */
  let preparing: readonly PromptLogEntry[] = [];
  const cancelled = new WeakSet<PromptLogEntry>();
  let flushTimer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | undefined;
  /** Store operations, one at a time, in order. */
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;
  let droppedUnreported = 0;
  const counters = { stored: 0, dropped: 0, failed: 0, deleted: 0, purged: 0 };
  const redactions: RedactionCounts = {};

  function inOrder<T>(operation: () => Promise<T>): Promise<T> {
    const result = chain.then(operation);
    chain = result.catch(() => undefined);
    return result;
  }

  function wants(subject: PromptLogSubject): boolean {
    if (!active) return false;
    const { teamId, tenantId } = subject;
    return (typeof teamId === 'string' && teams.has(teamId)) || (typeof tenantId === 'string' && tenants.has(tenantId));
  }

  function schedule(): void {
    if (queue.length >= batchSize) {
      kick();
    } else if (!flushTimer && !draining) {
      flushTimer = setTimeout(kick, flushIntervalMs);
      flushTimer.unref();
    }
  }

  function kick(): void {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (draining || queue.length === 0) return;
    draining = drain().finally(() => {
      draining = undefined;
      if (queue.length > 0 && !closed) schedule();
    });
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, batchSize);
      preparing = batch;
      const prepared: Array<[PromptLogEntry, PromptLogRow]> = [];
      for (const entry of batch) {
        if (cancelled.has(entry)) continue;
        try {
          prepared.push([entry, prepareRow(entry)]);
        } catch (error) {
          counters.failed += 1;
          logger.error('prompt log entry could not be prepared', { request_id: entry.requestId, error: String((error as Error)?.message ?? error) });
        }
        await turn();
      }
      // From here to inOrder() nothing yields: a deleteBy either cancelled the entry above, or
      // its store deletion is queued after this save.
      const rows = prepared.filter(([entry]) => !cancelled.has(entry)).map(([, row]) => row);
      preparing = [];
      if (rows.length === 0) continue;
      await inOrder(() => store.save(rows)).then(
        (added) => {
          counters.stored += added;
        },
        (error: unknown) => {
          counters.failed += rows.length;
          logger.error('prompt log batch could not be stored; dropped', { rows: rows.length, error: String((error as Error)?.message ?? error) });
        },
      );
    }
    if (droppedUnreported > 0) {
      logger.warn('prompt log queue full: entries dropped', { dropped: droppedUnreported, max_queued: maxQueued });
      droppedUnreported = 0;
    }
  }

  function prepareRow(entry: PromptLogEntry): PromptLogRow {
    const tsMs = typeof entry.timestamp === 'number' ? entry.timestamp : Date.parse(entry.timestamp);
    const at = Number.isFinite(tsMs) ? Math.trunc(tsMs) : now();
    const counts: RedactionCounts = {};
    const prompt = preparePrompt(entry.prompt, settings.maxChars, counts);
    const completion = prepareCompletion(typeof entry.completion === 'string' ? entry.completion : '', settings.maxChars, counts);
    for (const [kind, n] of Object.entries(counts) as Array<[RedactionKind, number]>) redactions[kind] = (redactions[kind] ?? 0) + n;
    return {
      request_id: entry.requestId,
      ts: new Date(at).toISOString(),
      expires_at: new Date(at + retentionMs).toISOString(),
      tenant_id: entry.tenantId ?? null,
      team_id: entry.teamId ?? null,
      key_id: entry.keyId ?? null,
      user_id_hash: entry.userHash ?? null,
      model_alias: entry.alias ?? null,
      prompt: prompt.text,
      completion: completion.text,
    };
  }

  function matcher(selector: PromptLogSelector): (entry: PromptLogEntry) => boolean {
    if ('requestId' in selector && selector.requestId !== undefined) return (e) => e.requestId === selector.requestId;
    if ('userHash' in selector && selector.userHash !== undefined) return (e) => e.userHash === selector.userHash;
    if ('tenantId' in selector && selector.tenantId !== undefined) return (e) => e.tenantId === selector.tenantId;
    throw new TypeError('deleteBy takes exactly one of requestId, userHash or tenantId');
  }

  async function flush(): Promise<void> {
    kick();
    while (draining) await draining;
    await chain;
  }

  async function purge(): Promise<number> {
    const deleted = await inOrder(() => store.purgeExpired(now()));
    counters.purged += deleted;
    if (deleted > 0) logger.info('prompt log: expired prompts purged', { deleted, retention_days: settings.retentionDays });
    else logger.debug('prompt log: nothing expired to purge');
    return deleted;
  }

  function purgeInBackground(): void {
    purge().catch((error: unknown) => logger.error('prompt log purge failed', { error: String((error as Error)?.message ?? error) }));
  }

  const purgeTimer = setInterval(purgeInBackground, options.purgeIntervalMs ?? 3_600_000);
  purgeTimer.unref();
  purgeInBackground();

  return {
    active,
    wants,
    record(entry) {
      try {
        if (closed || !wants(entry)) return;
        if (typeof entry.requestId !== 'string' || entry.requestId === '') return;
        if (queue.length + preparing.length >= maxQueued) {
          counters.dropped += 1;
          droppedUnreported += 1;
          return;
        }
        queue.push(entry);
        schedule();
      } catch (error) {
        logger.error('prompt log entry could not be queued', { error: String((error as Error)?.message ?? error) });
      }
    },
    async get(requestId, actor) {
      if (queue.some((e) => e.requestId === requestId) || preparing.some((e) => e.requestId === requestId)) await flush();
      const row = await inOrder(() => store.get(requestId));
      if (actor !== undefined) logger.info('prompt log: prompt read', { request_id: requestId, found: row !== undefined, actor });
      return row;
    },
    async deleteBy(selector, actor) {
      selectorColumn(selector);
      const matches = matcher(selector);
      let removed = 0;
      queue = queue.filter((entry) => (matches(entry) ? (removed++, false) : true));
      for (const entry of preparing) {
        if (matches(entry) && !cancelled.has(entry)) {
          cancelled.add(entry);
          removed++;
        }
      }
      const stored = await inOrder(() => store.deleteBy(selector));
      const deleted = stored + removed;
      counters.deleted += deleted;
      const [by, value] = Object.entries(selector)[0] ?? [];
      logger.info('prompt log: prompts deleted on request', { by, value, deleted, ...(actor ? { actor } : {}) });
      return deleted;
    },
    purge,
    flush,
    stats: () => ({ queued: queue.length + preparing.length, ...counters, redactions: { ...redactions } }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(purgeTimer);
      await flush();
      await store.close();
    },
  };
}
