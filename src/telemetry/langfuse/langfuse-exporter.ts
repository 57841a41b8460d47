// Sends every finished model call to Langfuse through its public ingestion API, in batches, in
// the background. Langfuse being down, slow, hanging or refusing connections never slows or fails
// a request, and never grows memory:
//
// - observe() is O(1): a bounds check and an array push. It never throws and never waits. Calls
//   beyond max_queue events are dropped and counted. A queued call holds its raw prompt (up to
//   the gateway's body limit) until it is converted, so at most maxQueuedTexts calls keep theirs;
//   beyond that, calls are still exported, without input and output (and counted).
// - Turning a call into events (which redacts the prompt and completion when there are any, see
//   ingestion-events.ts) happens in the sender, not in observe(), yielding to the event loop
//   between calls that carry text.
// - One request in flight at a time, bounded by timeout_ms. A batch is sent as soon as batch_size
//   events are waiting, and every flush_interval_ms otherwise; each request body stays under
//   3.5 MB. Retries, partial failures and refusals are batch-delivery.ts's.
// - close() sends what is queued within its own deadline, then drops the rest (counted) and
//   resolves; it never rejects.
// - Every call is exported, whatever its traceparent's sampled flag (call.traceFlags): Langfuse
//   is used as the record of LLM calls and their cost, which sampling would make incomplete.
//
// The secret key is only ever in the Authorization header (ingestion-client.ts); log lines carry
// the host's origin and the public key, and text from Langfuse's answers is scrubbed of the secret.

import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  DEFAULT_LANGFUSE_BATCH_SIZE,
  DEFAULT_LANGFUSE_FLUSH_INTERVAL_MS,
  DEFAULT_LANGFUSE_MAX_QUEUE,
  DEFAULT_LANGFUSE_MAX_RETRIES,
  DEFAULT_LANGFUSE_MAX_TEXT_CHARS,
  DEFAULT_LANGFUSE_TIMEOUT_MS,
} from '../../config/langfuse-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import type { CallObserver, FinishedCall } from '../finished-call.ts';
import { BatchDelivery, describeError, type ExportOutcome, type ExportReason } from './batch-delivery.ts';
import { BatchBuilder, DEFAULT_MAX_BATCH_BYTES, serializeEvent, type SerializedEvent } from './ingestion-batch.ts';
import { IngestionClient } from './ingestion-client.ts';
import { EVENTS_PER_CALL, toIngestionEvents, type IngestionEventOptions } from './ingestion-events.ts';
import { ThrottledLog } from './throttled-log.ts';

export type { ExportOutcome, ExportReason } from './batch-delivery.ts';

export interface LangfuseExporterStats {
  /** Events waiting to be sent (not counting a batch in flight). */
  readonly queued: number;
  readonly sent: number;
  readonly dropped: number;
  readonly failed: number;
  /** HTTP requests made (retries included). */
  readonly requests: number;
  /** Requests that were retries. */
  readonly retries: number;
  /** Calls exported without their prompt and completion because too many with text were waiting. */
  readonly textsOmitted: number;
}

export interface LangfuseExporterOptions {
  /** Langfuse's base URL, e.g. https://cloud.langfuse.com. */
  readonly host: string;
  readonly publicKey: string;
  /** Sent only in the Authorization header; never logged. */
  readonly secretKey: string;
  readonly logger: Logger;
  readonly environment?: string;
  readonly release?: string;
  /** Default 1000. */
  readonly flushIntervalMs?: number;
  /** Events per request; default 100. */
  readonly batchSize?: number;
  /** Events waiting at most; default 10 000. */
  readonly maxQueue?: number;
  /** One request, start to end of the answer; default 10 000. */
  readonly timeoutMs?: number;
  /** Retries after a network error, timeout, 429 or 5xx; default 3. */
  readonly maxRetries?: number;
  /** Longest prompt (as JSON) and completion sent, in characters each; default 100 000. */
  readonly maxTextChars?: number;
  /** Queued calls that keep their prompt and completion; default 1000 (as the prompt log's queue). */
  readonly maxQueuedTexts?: number;
  /** Request body limit in bytes; default 3 500 000 (Langfuse's documented batch limit). */
  readonly maxBatchBytes?: number;
  /** First retry waits up to this (full jitter, doubling); default 500. */
  readonly retryBaseMs?: number;
  /** Longest wait between retries, Retry-After included; default 30 000. */
  readonly retryMaxMs?: number;
  /** How long close() may take to send what is queued; default 5000. */
  readonly closeTimeoutMs?: number;
  /** Called for every count (e.g. to feed a Prometheus counter); must not throw (errors are ignored). */
  readonly onCount?: (outcome: ExportOutcome, reason: ExportReason, events: number) => void;
  /** Jitter source; default Math.random. */
  readonly random?: () => number;
}

const DEFAULT_MAX_QUEUED_TEXTS = 1_000;
/** Calls converted between yields to the event loop when they carry no text. */
const YIELD_EVERY = 32;
/** Repeating warnings (Langfuse down, refusals, queue full) are logged at most this often. */
const WARN_INTERVAL_MS = 60_000;
/** After close's deadline, how long to wait for the aborted batch to wind down. */
const ABORT_GRACE_MS = 1_000;

export class LangfuseExporter implements CallObserver {
  readonly name = 'langfuse';
  readonly #client: IngestionClient;
  readonly #delivery: BatchDelivery;
  readonly #logger: Logger;
  readonly #warn: ThrottledLog;
  readonly #scrub: (text: string) => string;
  readonly #eventOptions: IngestionEventOptions;
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #maxQueue: number;
  readonly #maxQueuedTexts: number;
  readonly #maxBatchBytes: number;
  readonly #closeTimeoutMs: number;
  readonly #onCount: LangfuseExporterOptions['onCount'];

  /** Calls not yet converted. */
  #calls: FinishedCall[] = [];
  /** Converted events that did not fit the last batch; they go first in the next one. */
  #carry: SerializedEvent[] = [];
  /** Queued calls that carry text. */
  #queuedTexts = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #draining: Promise<void> | undefined;
  /** Calls queued and taken so far: a flush sends partial batches until the calls queued before it are taken. */
  #enqueued = 0;
  #taken = 0;
  #flushTarget = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Aborted at close's deadline: the request in flight and any backoff wait end at once. */
  readonly #stop = new AbortController();
  readonly #counts = { sent: 0, dropped: 0, failed: 0, requests: 0, retries: 0, textsOmitted: 0 };

  constructor(options: LangfuseExporterOptions) {
    const timeoutMs = positive(options.timeoutMs, DEFAULT_LANGFUSE_TIMEOUT_MS);
    this.#client = new IngestionClient({ host: options.host, publicKey: options.publicKey, secretKey: options.secretKey, timeoutMs });
    this.#logger = options.logger;
    this.#warn = new ThrottledLog(options.logger, WARN_INTERVAL_MS);
    const secrets = [options.secretKey, Buffer.from(`${options.publicKey}:${options.secretKey}`).toString('base64')].filter((s) => s.length > 0);
    this.#scrub = (text) => secrets.reduce((out, secret) => out.split(secret).join('[secret]'), text);
    this.#eventOptions = {
      environment: options.environment,
      release: options.release,
      maxTextChars: positive(options.maxTextChars, DEFAULT_LANGFUSE_MAX_TEXT_CHARS),
    };
    this.#flushIntervalMs = positive(options.flushIntervalMs, DEFAULT_LANGFUSE_FLUSH_INTERVAL_MS);
    this.#batchSize = positive(options.batchSize, DEFAULT_LANGFUSE_BATCH_SIZE);
    this.#maxQueue = Math.max(EVENTS_PER_CALL, positive(options.maxQueue, DEFAULT_LANGFUSE_MAX_QUEUE));
    this.#maxQueuedTexts = Math.max(0, Math.trunc(options.maxQueuedTexts ?? DEFAULT_MAX_QUEUED_TEXTS));
    this.#maxBatchBytes = positive(options.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES);
    this.#closeTimeoutMs = Math.max(0, options.closeTimeoutMs ?? 5_000);
    this.#onCount = options.onCount;
    const retryBaseMs = Math.max(0, options.retryBaseMs ?? 500);
    this.#delivery = new BatchDelivery({
      client: this.#client,
      logger: this.#logger,
      warn: this.#warn,
      tally: {
        count: (outcome, reason, events) => this.#count(outcome, reason, events),
        request: (retry) => {
          this.#counts.requests++;
          if (retry) this.#counts.retries++;
        },
      },
      publicKey: options.publicKey,
      scrub: this.#scrub,
      maxRetries: Math.max(0, Math.trunc(options.maxRetries ?? DEFAULT_LANGFUSE_MAX_RETRIES)),
      retryBaseMs,
      retryMaxMs: Math.max(retryBaseMs, options.retryMaxMs ?? 30_000),
      random: options.random ?? Math.random,
      stop: this.#stop.signal,
    });
  }

  observe(call: FinishedCall): void {
    try {
      if (this.#closed) {
        this.#count('dropped', 'closed', EVENTS_PER_CALL);
        return;
      }
      if (this.#queuedEvents() + EVENTS_PER_CALL > this.#maxQueue) {
        this.#count('dropped', 'queue_full', EVENTS_PER_CALL);
        this.#warn.log('warn', 'queue_full', 'langfuse: export queue full (Langfuse slow or down?); events dropped', { max_queue: this.#maxQueue, host: this.#client.origin });
        return;
      }
      if (call.text !== undefined) {
        if (this.#queuedTexts < this.#maxQueuedTexts) {
          this.#queuedTexts++;
        } else {
          call = { ...call, text: undefined };
          this.#counts.textsOmitted++;
          this.#warn.log('warn', 'texts_omitted', 'langfuse: too many calls with prompt text waiting; calls sent without their prompt and completion', { max_queued_texts: this.#maxQueuedTexts });
        }
      }
      this.#calls.push(call);
      this.#enqueued++;
      this.#schedule();
    } catch {
      // Telemetry must never fail a request.
    }
  }

  /** Sends everything queued so far (retries included). Never rejects. */
  async flush(): Promise<void> {
    try {
      await this.#sendAll();
    } catch (err) {
      this.#logger.error('langfuse: flush failed', { error: this.#describe(err) });
    }
  }

  /** Sends what is queued within closeTimeoutMs, drops (and counts) the rest, and stops. Never rejects. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown().catch((err: unknown) => {
      this.#logger.error('langfuse: close failed', { error: this.#describe(err) });
    });
    return this.#closing;
  }

  stats(): LangfuseExporterStats {
    return { queued: this.#queuedEvents(), ...this.#counts };
  }

  #queuedEvents(): number {
    return this.#calls.length * EVENTS_PER_CALL + this.#carry.length;
  }

  #count(outcome: ExportOutcome, reason: ExportReason, events: number): void {
    if (events <= 0) return;
    this.#counts[outcome] += events;
    try {
      this.#onCount?.(outcome, reason, events);
    } catch {
      // A broken metrics callback must not stop the exporter.
    }
  }

  /** A full batch goes on the next turn; anything less waits for the interval. */
  #schedule(): void {
    if (this.#draining || this.#closed) return;
    if (this.#queuedEvents() >= this.#batchSize) {
      if (!this.#immediate) {
        this.#immediate = setImmediate(() => {
          this.#immediate = undefined;
          this.#kick();
        });
        this.#immediate.unref();
      }
      return;
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flushTarget = this.#enqueued;
        this.#kick();
      }, this.#flushIntervalMs);
      this.#timer.unref();
    }
  }

  #kick(): void {
    if (this.#draining || this.#queuedEvents() === 0) return;
    this.#clearTimers();
    this.#draining = this.#drain()
      .catch((err: unknown) => this.#logger.error('langfuse: export loop failed', { error: this.#describe(err) }))
      .finally(() => {
        this.#draining = undefined;
        if (this.#queuedEvents() > 0 && !this.#closed) this.#schedule();
      });
  }

  #clearTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }

  /**
   * Sends full batches, and partial ones while a flush is due; one request at a time. Calls that
   * arrive after a flush started wait for a full batch or the next interval, so a steady trickle
   * does not turn into back-to-back small requests.
   */
  async #drain(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const queued = this.#queuedEvents();
      if (queued === 0 || (queued < this.#batchSize && !this.#flushDue())) return;
      const batch = await this.#nextBatch();
      if (batch.length === 0) continue;
      await this.#delivery.deliver(batch);
    }
  }

  /** Some call queued before the last flush request is not sent yet (events carried over belong to the last call taken). */
  #flushDue(): boolean {
    return this.#taken < this.#flushTarget || (this.#carry.length > 0 && this.#taken <= this.#flushTarget);
  }

  /** Sends until nothing is queued or in flight (or close's deadline passed). */
  async #sendAll(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      if (this.#draining) {
        await this.#draining;
        continue;
      }
      if (this.#queuedEvents() === 0) return;
      this.#flushTarget = this.#enqueued;
      this.#kick();
      if (!this.#draining) return;
    }
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#clearTimers();
    // Not unref'd: a process shutting down waits for this deadline rather than exiting mid-send.
    const deadline = setTimeout(() => this.#stop.abort(), this.#closeTimeoutMs);
    try {
      await this.#sendAll();
    } finally {
      clearTimeout(deadline);
      this.#stop.abort();
      await this.#client.destroy();
      if (this.#draining) await Promise.race([this.#draining, delay(ABORT_GRACE_MS)]);
      const left = this.#queuedEvents();
      this.#calls = [];
      this.#carry = [];
      this.#queuedTexts = 0;
      if (left > 0) {
        this.#count('dropped', 'closed', left);
        this.#logger.warn('langfuse: closed with events not sent; dropped', { events: left, close_timeout_ms: this.#closeTimeoutMs });
      }
    }
  }

  /** Up to batch_size events and max bytes: what did not fit last time, then newly converted calls. */
  async #nextBatch(): Promise<SerializedEvent[]> {
    const batch = new BatchBuilder(this.#batchSize, this.#maxBatchBytes);
    while (this.#carry.length > 0) {
      if (!batch.add(this.#carry[0]!)) return batch.events;
      this.#carry.shift();
    }
    let plain = 0;
    while (this.#calls.length > 0 && !batch.full && !this.#stop.signal.aborted) {
      const call = this.#calls.shift()!;
      this.#taken++;
      if (call.text !== undefined) this.#queuedTexts--;
      const events = this.#convert(call);
      const fitted = events.findIndex((event) => !batch.add(event));
      if (fitted >= 0) {
        this.#carry.push(...events.slice(fitted));
        break;
      }
      // Redaction of a large prompt takes a while: let requests run in between.
      if (call.text !== undefined || ++plain >= YIELD_EVERY) {
        plain = 0;
        await nextTurn();
      }
    }
    return batch.events;
  }

  #convert(call: FinishedCall): SerializedEvent[] {
    try {
      const out: SerializedEvent[] = [];
      for (const event of toIngestionEvents(call, this.#eventOptions)) {
        const serialized = serializeEvent(event, this.#maxBatchBytes);
        if (serialized) out.push(serialized);
        else this.#count('dropped', 'too_large', 1);
      }
      return out;
    } catch (err) {
      this.#count('dropped', 'invalid', EVENTS_PER_CALL);
      this.#warn.log('error', 'invalid', 'langfuse: a call could not be converted; dropped', { request_id: call?.event?.request_id, error: this.#describe(err) });
      return [];
    }
  }

  #describe(err: unknown): string {
    return describeError(err, this.#scrub);
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
