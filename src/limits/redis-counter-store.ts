// The Redis CounterStore: counters shared by every replica. Each call is one Lua script
// (src/limits/redis-scripts.ts), so it is atomic and costs one round trip; EVALSHA, falling
// back to EVAL when the server does not know the script yet (restart, SCRIPT FLUSH).
//
// It never hangs and never crashes the process: the client connects in the background, a call
// made while Redis is down (or before the first connection within connectTimeoutMs) fails at
// once, and a call without an answer within commandTimeoutMs fails; all as
// CounterStoreUnavailable, for the caller's fail-open or fail-closed policy. A timed-out call may
// still be applied by Redis later: its lease and reservation then expire by their TTLs.
//
// Time is the caller's `now` (the gateway clock; replicas are NTP-synced), never Redis TIME:
// window boundaries then match the gateway's own headers, and tests inject a clock. Key expiry
// (PEXPIRE) is Redis's own clock, so it is only a safety net, never part of the semantics.

import { once } from 'node:events';
import { createClient } from '@redis/client';
import { validateAcquire, validateBudgetQuery, validateCharge, validateClaim, validateSettle } from './counter-input.ts';
import {
  CounterStoreUnavailable,
  type AcquireRequest,
  type AcquireResult,
  type BudgetState,
  type ChargeRequest,
  type CounterStore,
  type Refusal,
  type SettleRequest,
} from './counter-store.ts';
import { ACQUIRE_SCRIPT, BUDGETS_SCRIPT, CHARGE_SCRIPT, SETTLE_SCRIPT, type LuaScript } from './redis-scripts.ts';
import { BUDGET_RETENTION_MS, LATE_SETTLE_GRACE_MS, UNKNOWN_RETRY_MS, isCorrectable, windowIndex } from './sliding-window.ts';
import { describeRedisUrl } from '../redis/redis-url.ts';

export interface RedisCounterStoreOptions {
  /** redis://[user:password@]host:port[/db] */
  readonly url: string;
  /** Prepended to every key, e.g. "tollgate:" (or "{tollgate}:" on Redis Cluster). */
  readonly keyPrefix: string;
  /** Default 1000 ms. */
  readonly connectTimeoutMs?: number;
  /** Default 1000 ms. */
  readonly commandTimeoutMs?: number;
  /**
   * How long a settle waits for the next acquire to go out with it (default 2 ms). Settles are
   * off the response path; sending them with the next acquire keeps each request at one round
   * trip even at one request in flight, instead of the settle delaying the next acquire.
   */
  readonly settleDelayMs?: number;
}

interface DeferredSettle {
  readonly keys: string[];
  readonly args: string[];
  resolve(): void;
  reject(error: unknown): void;
}

/** Settles waiting beyond this many are sent at once. */
const MAX_DEFERRED_SETTLES = 256;

const REFUSAL_KINDS = [undefined, 'window', 'concurrency', 'budget'] as const;

export class RedisCounterStore implements CounterStore {
  readonly backend = 'redis' as const;
  readonly #client;
  readonly #prefix: string;
  readonly #where: string;
  readonly #commandTimeoutMs: number;
  /** Until then a call waits for the first connection; afterwards it fails at once while Redis is down. */
  readonly #startupDeadline: number;
  readonly #settleDelayMs: number;
  #deferred: DeferredSettle[] = [];
  #settleTimer: NodeJS.Timeout | undefined;
  #lastError: Error | undefined;
  #closed = false;

  constructor(options: RedisCounterStoreOptions) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 1000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.#settleDelayMs = options.settleDelayMs ?? 2;
    this.#prefix = options.keyPrefix;
    this.#where = describeRedisUrl(options.url);
    this.#startupDeadline = Date.now() + connectTimeoutMs;
    this.#client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      // Calls have their own timeout (commandTimeoutMs). The client's default (5 s) arms an
      // AbortSignal.timeout per command, whose firing later costs a timer and a DOMException.
      commandOptions: { timeout: 0 },
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
    });
    this.#client.on('error', (error: Error) => {
      this.#lastError = error;
    });
    this.#client.on('ready', () => {
      this.#lastError = undefined;
    });
    // connect() does not settle while Redis is down (the client keeps retrying); calls check readiness.
    this.#client.connect().catch((error: Error) => {
      this.#lastError = error;
    });
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    validateAcquire(request);
    const { now } = request;
    const keys: string[] = [];
    const args: string[] = [request.leaseId, String(now), String(request.windows.length), String(request.concurrency.length), String(request.budgets.length), String(LATE_SETTLE_GRACE_MS), String(BUDGET_RETENTION_MS), String(UNKNOWN_RETRY_MS)];
    for (const w of request.windows) {
      const index = windowIndex(now, w.windowMs);
      keys.push(this.#windowKey(w.id, index), this.#windowKey(w.id, index - 1));
      args.push(String(w.limit), String(w.windowMs), String(w.cost), w.correctable ? '1' : '0');
    }
    for (const c of request.concurrency) {
      keys.push(this.#leaseKey(c.id));
      args.push(String(c.limit), String(c.leaseMs));
    }
    for (const b of request.budgets) {
      keys.push(...this.#budgetKeys(b.id));
      args.push(String(b.limit), String(b.amount), String(b.periodEndsAt), String(b.reservationTtlMs));
    }
    void this.#sendSettles();
    const reply = numbers(await this.#run(ACQUIRE_SCRIPT, keys, args));
    let at = 5;
    const windows = request.windows.map((w) => ({ id: w.id, limit: w.limit, remaining: reply[at++], resetMs: reply[at++] }));
    if (reply[0] !== 1) {
      const kind = REFUSAL_KINDS[reply[1]];
      const limits = kind === 'window' ? request.windows : kind === 'concurrency' ? request.concurrency : request.budgets;
      const limit = limits[reply[2] - 1];
      if (!kind || !limit) throw new CounterStoreUnavailable(`Redis counter store at ${this.#where} returned an unexpected reply`);
      const refused: Refusal = { kind, id: limit.id, limit: limit.limit, used: reply[3], retryAfterMs: reply[4] };
      return { ok: false, refused, windows };
    }
    const budgets = request.budgets.map((b): BudgetState => ({ id: b.id, limit: b.limit, spent: reply[at++], reserved: reply[at++] }));
    return { ok: true, windows, budgets };
  }

  async settle(request: SettleRequest): Promise<void> {
    validateSettle(request);
    const { now } = request;
    // Windows older than the previous one no longer count (their keys have expired).
    const windows = request.windows.filter((w) => isCorrectable(w, now));
    const keys: string[] = [];
    const args: string[] = [request.leaseId, String(now), String(windows.length), String(request.concurrency.length), String(request.budgets.length), String(LATE_SETTLE_GRACE_MS), String(BUDGET_RETENTION_MS)];
    for (const w of windows) {
      keys.push(this.#windowKey(w.id, windowIndex(w.acquiredAt, w.windowMs)));
      args.push(String(w.delta), String(w.windowMs));
    }
    for (const id of request.concurrency) keys.push(this.#leaseKey(id));
    for (const b of request.budgets) {
      keys.push(...this.#budgetKeys(b.id));
      args.push(String(b.actual), String(b.periodEndsAt));
    }
    if (keys.length === 0) return;
    if (this.#closed) throw new CounterStoreUnavailable(`Redis counter store at ${this.#where} is closed`);
    await new Promise<void>((resolve, reject) => {
      this.#deferred.push({ keys, args, resolve, reject });
      if (this.#deferred.length >= MAX_DEFERRED_SETTLES) this.#sendSettles();
      else this.#settleTimer ??= setTimeout(() => this.#sendSettles(), this.#settleDelayMs);
    });
  }

  /** Sends the deferred settles now, ahead of whatever command follows in the same tick; resolves when they are answered. */
  #sendSettles(): Promise<unknown> {
    if (this.#settleTimer) clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    if (this.#deferred.length === 0) return Promise.resolve();
    const batch = this.#deferred;
    this.#deferred = [];
    return Promise.allSettled(batch.map((settle) => this.#run(SETTLE_SCRIPT, settle.keys, settle.args).then(() => settle.resolve(), settle.reject)));
  }

  async budgets(ids: readonly string[], now: number): Promise<BudgetState[]> {
    validateBudgetQuery(ids, now);
    if (ids.length === 0) return [];
    void this.#sendSettles();
    const reply = numbers(await this.#run(BUDGETS_SCRIPT, ids.flatMap((id) => this.#budgetKeys(id)), [String(now), String(LATE_SETTLE_GRACE_MS)]));
    return ids.map((id, i) => ({ id, limit: reply[3 * i], spent: reply[3 * i + 1], reserved: reply[3 * i + 2] }));
  }

  async charge(request: ChargeRequest): Promise<void> {
    validateCharge(request);
    if (request.budgets.length === 0) return;
    const args = [request.chargeId, String(request.now), String(BUDGET_RETENTION_MS)];
    for (const b of request.budgets) args.push(String(b.amount), String(b.periodEndsAt));
    await this.#run(CHARGE_SCRIPT, request.budgets.map((b) => this.#budgetKeys(b.id)[0]), args);
  }

  async claimOnce(id: string, now: number, expiresAt: number): Promise<boolean> {
    validateClaim(id, now, expiresAt);
    if (expiresAt <= now) return true;
    void this.#sendSettles();
    const reply = await this.#command(['SET', `${this.#prefix}o:${id}`, '1', 'NX', 'PX', String(expiresAt - now)], 'claimOnce');
    return reply === 'OK';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Settles still waiting for an acquire to ride with go out now, and are answered (or time
    // out) before the connection closes: a replica shutting down leaks no lease.
    await this.#sendSettles();
    this.#closed = true;
    if (this.#client.isReady) {
      const closing = this.#client.close();
      const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, this.#commandTimeoutMs, 'timeout').unref());
      if ((await Promise.race([closing, timer])) !== 'timeout') return;
    }
    // Not connected (or not answering): a graceful close would wait for a server that is not there.
    this.#client.destroy();
    // @redis/client 6.3.1: destroy() while the first socket is still connecting does not see
    // that socket; it connects anyway and the client ends up ready with the socket open (the
    // process never exits). Destroy it again as soon as it connects.
    this.#client.once('connect', () => this.#client.destroy());
  }

  #windowKey(id: string, index: number): string {
    return `${this.#prefix}w:${id}:${index}`;
  }

  #leaseKey(id: string): string {
    return `${this.#prefix}c:${id}`;
  }

  #budgetKeys(id: string): [string, string] {
    return [`${this.#prefix}b:${id}`, `${this.#prefix}bz:${id}`];
  }

  #run(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#command(async () => {
      try {
        return await this.#client.sendCommand(['EVALSHA', script.sha1, String(keys.length), ...keys, ...args]);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return this.#client.sendCommand(['EVAL', script.source, String(keys.length), ...keys, ...args]);
      }
    }, script.name);
  }

  /** One command (or script call) with the command timeout; any failure is CounterStoreUnavailable. */
  async #command(command: string[] | (() => Promise<unknown>), name: string): Promise<unknown> {
    await this.#ready();
    const call = typeof command === 'function' ? command : () => this.#client.sendCommand(command);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply to ${name} within ${this.#commandTimeoutMs} ms`)), this.#commandTimeoutMs);
    });
    try {
      return await Promise.race([call(), timeout]);
    } catch (error) {
      throw this.#unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the client can take a command; otherwise fails fast (or by the startup deadline). */
  async #ready(): Promise<void> {
    if (this.#client.isReady) return;
    if (this.#closed) throw new CounterStoreUnavailable(`Redis counter store at ${this.#where} is closed`);
    const wait = this.#startupDeadline - Date.now();
    if (this.#lastError || wait <= 0) throw this.#unavailable(this.#lastError ?? new Error('not connected'));
    try {
      await once(this.#client, 'ready', { signal: AbortSignal.timeout(wait) });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'AbortError' ? new Error(`not connected within ${wait} ms`) : error;
      throw this.#unavailable(reason);
    }
  }

  #unavailable(error: unknown): CounterStoreUnavailable {
    if (error instanceof CounterStoreUnavailable) return error;
    const reason = error instanceof Error ? error.message || error.name : String(error);
    return new CounterStoreUnavailable(`Redis counter store at ${this.#where} is unavailable: ${reason}`, { cause: error });
  }
}

/** A script's reply: an array of integers. */
function numbers(reply: unknown): number[] {
  if (!Array.isArray(reply) || !reply.every((n) => typeof n === 'number')) throw new CounterStoreUnavailable(`Redis counter store: unexpected script reply ${JSON.stringify(reply)}`);
  return reply;
}

