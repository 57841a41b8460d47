// Sends every model call's spans to an OpenTelemetry collector over OTLP/HTTP (JSON), in
// batches, without ever slowing or failing a request.
//
// observe() is a few field reads and a push: the sampling decision (by trace id, or the client's
// sampled flag), the call's span count (1 + its stage and attempt marks) against the bounded
// queue, and a timer. Calls beyond the queue are dropped and counted.
//
// A batch goes out every scheduled_delay_ms, or as soon as max_export_batch_size spans are
// waiting. By default it is whole calls handed to a worker thread (worker-call-exporter.ts),
// which builds the spans (call-spans.ts), encodes them to OTLP/JSON by hand (otlp-json.ts) and
// POSTs them (otlp-http-exporter.ts, no retries inside an export): the event loop that serves
// requests posts one message per batch. When an SDK SpanExporter is given instead (tests, other
// transports), the spans are built here as ReadableSpan objects, yielding to the event loop every
// BUILD_SLICE_CALLS calls, and a call's spans may span two batches.
//
// One export is in flight at a time and each is bounded by export_timeout_ms whatever the
// collector does (refuse, hang, trickle): its spans are then dropped and counted, and the next
// batch goes. At most 1 + STRAGGLERS connections go to the collector, so one that never answers
// cannot pile up sockets and memory. close() shuts the worker (and its pool) down, so nothing of
// the exporter outlives close().

import { setImmediate as turn } from 'node:timers/promises';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../../logging/logger.ts';
import type { CallObserver, FinishedCall } from '../finished-call.ts';
import { callSpans, spanCount, type SpanSource } from './call-spans.ts';
import { classify, settlesBy, type Batch, type Failure } from './export-outcome.ts';
import { WorkerCallExporter, type CallExporter } from './worker-call-exporter.ts';
import { keepTrace } from './trace-sampling.ts';
import { DROP_REASONS, EXPORT_FAILURES, type DropReason, type ExportFailure, type TracingHooks, type TracingStats } from './tracing-stats.ts';

export const TRACING_DEFAULTS = Object.freeze({
  serviceName: 'tollgate',
  sampleRatio: 1,
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMs: 1000,
  exportTimeoutMs: 10_000,
  closeTimeoutMs: 5000,
  maxTextChars: 16_000,
});

/** Exports abandoned at their timeout that may still be open; beyond them an export waits for a connection. */
const STRAGGLERS = 4;
/** Calls turned into spans between two turns of the event loop while a batch is built. */
const BUILD_SLICE_CALLS = 16;
/** Repeated warnings (queue full, failures while the collector stays down) at most this often. */
const WARN_EVERY_MS = 60_000;

export interface OtlpTraceObserverOptions {
  /** The OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  readonly endpoint: string;
  /** Sent with every export (e.g. authorization); never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** service.name of the resource. Default "tollgate". */
  readonly serviceName?: string;
  /** service.version of the resource, when given. */
  readonly serviceVersion?: string;
  /** More resource attributes (deployment.environment.name, service.namespace, …); service.name wins. */
  readonly resourceAttributes?: Readonly<Record<string, string>>;
  /** Share of traces kept, 0..1, decided by trace id (a client's traceparent decides for its calls). Default 1. */
  readonly sampleRatio?: number;
  /** Spans waiting at most; more are dropped and counted. Default 2048. */
  readonly maxQueueSize?: number;
  /** Spans per export. Default 512. */
  readonly maxExportBatchSize?: number;
  /** Waiting spans go out at least this often. Default 1000 ms. */
  readonly scheduledDelayMs?: number;
  /** One export's time, retries included. Default 10 s. */
  readonly exportTimeoutMs?: number;
  /** close() delivers what it can within this. Default 5 s. */
  readonly closeTimeoutMs?: number;
  /** Longest prompt (as JSON) and completion put on a span, in characters each. Default 16 000. */
  readonly maxTextChars?: number;
  readonly hooks?: TracingHooks;
  readonly logger?: Logger;
  /** Where batches go instead of the OTLP/HTTP exporter for `endpoint` (tests, other transports). */
  readonly exporter?: SpanExporter;
}

export class OtlpTraceObserver implements CallObserver {
  readonly name = 'otlp';
  /** A given SpanExporter (spans are built here); undefined when the worker exports. */
  readonly #exporter: SpanExporter | undefined;
  /** Builds, encodes and sends spans on a worker thread (when no SpanExporter was given). */
  readonly #worker: CallExporter | undefined;
  readonly #source: SpanSource;
  readonly #ratio: number;
  readonly #maxQueue: number;
  readonly #batchSize: number;
  readonly #delayMs: number;
  readonly #exportTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #hooks: TracingHooks;
  readonly #logger: Logger | undefined;
  /** Where exports go, for logs: scheme, host and port (no credentials, no path). */
  readonly #origin: string;

  /** Calls whose spans are not built yet, oldest first. */
  #calls: FinishedCall[] = [];
  /** Spans built but left out of the last batch (a call's spans span two batches). */
  #carry: ReadableSpan[] = [];
  /** Spans waiting: those of #calls plus #carry. */
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #kick: NodeJS.Immediate | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** close()'s deadline has passed: no export is sent any more, the one open is given up. */
  #cutOff = false;
  /** Ends the export in flight as failed (timeout). */
  #giveUp: (() => void) | undefined;

  #exported = 0;
  #sampledOut = 0;
  readonly #dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  readonly #failed = Object.fromEntries(EXPORT_FAILURES.map((r) => [r, 0])) as Record<ExportFailure, number>;
  /** The last export failed (a success after that is logged as a recovery). */
  #failing = false;
  readonly #lastWarn = new Map<string, number>();

  constructor(options: OtlpTraceObserverOptions) {
    const d = TRACING_DEFAULTS;
    this.#ratio = options.sampleRatio ?? d.sampleRatio;
    this.#maxQueue = Math.max(1, options.maxQueueSize ?? d.maxQueueSize);
    this.#batchSize = Math.max(1, Math.min(options.maxExportBatchSize ?? d.maxExportBatchSize, this.#maxQueue));
    this.#delayMs = Math.max(1, options.scheduledDelayMs ?? d.scheduledDelayMs);
    this.#exportTimeoutMs = Math.max(1, options.exportTimeoutMs ?? d.exportTimeoutMs);
    this.#closeTimeoutMs = Math.max(0, options.closeTimeoutMs ?? d.closeTimeoutMs);
    this.#hooks = options.hooks ?? {};
    this.#logger = options.logger;
    const url = new URL(options.endpoint);
    this.#origin = url.origin;
    const resource = defaultResource().merge(resourceFromAttributes({
      ...options.resourceAttributes,
      [ATTR_SERVICE_NAME]: options.serviceName ?? d.serviceName,
      ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }));
    this.#source = {
      resource,
      scope: { name: 'tollgate', ...(options.serviceVersion ? { version: options.serviceVersion } : {}) },
      maxTextChars: Math.max(1000, options.maxTextChars ?? d.maxTextChars),
    };
    this.#exporter = options.exporter;
    this.#worker = options.exporter ? undefined : new WorkerCallExporter({
      url: options.endpoint,
      headers: { ...options.headers },
      timeoutMs: this.#exportTimeoutMs,
      connections: 1 + STRAGGLERS,
      resourceAttributes: resource.attributes,
      scope: this.#source.scope,
      maxTextChars: this.#source.maxTextChars,
    });
  }

  observe(call: FinishedCall): void {
    try {
      if (!keepTrace(call, this.#ratio)) {
        this.#sampledOut += 1;
        return;
      }
      const spans = spanCount(call);
      if (this.#closed) {
        this.#drop(spans, 'shutdown');
        return;
      }
      if (this.#queued + spans > this.#maxQueue) {
        this.#drop(spans, 'queue_full');
        this.#warn('queue_full', 'trace queue full: spans dropped (the collector is slower than the traffic, or down)', { max_queue_size: this.#maxQueue, dropped_total: this.#dropped.queue_full });
        return;
      }
      this.#calls.push(call);
      this.#queued += spans;
      this.#schedule();
    } catch {
      // Nothing here may reach the call's own settling; a bug shows in the dropped counts instead.
      this.#drop(1, 'invalid');
    }
  }

  stats(): TracingStats {
    return { queued: this.#queued, exported: this.#exported, dropped: { ...this.#dropped }, failedExports: { ...this.#failed }, sampledOut: this.#sampledOut };
  }

  /** Exports everything queued now (one batch at a time, each within its timeout). Never rejects. */
  async flush(): Promise<void> {
    await this.#drain(Number.POSITIVE_INFINITY);
  }

  /** Delivers what it can within close_timeout_ms, drops (and counts) the rest, and stops. Never rejects. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#stopTimers();
    const deadline = performance.now() + this.#closeTimeoutMs;
    await this.#drain(deadline);
    // An export still open past the deadline is given up now (its spans count as failed, timeout),
    // and its connection cut, so every span is accounted for when close() resolves.
    this.#cutOff = true;
    this.#giveUp?.();
    void this.#worker?.shutdown();
    try {
      await this.#inFlight;
    } catch {
      // never rejects
    }
    const left = this.#queued;
    if (left > 0) {
      this.#calls = [];
      this.#carry = [];
      this.#queued = 0;
      this.#drop(left, 'shutdown');
    }
    await settlesBy(Promise.resolve().then(() => (this.#exporter ?? this.#worker!).shutdown()), deadline);
  }

  /** Exports batches until nothing is queued, an export fails, or the deadline (performance.now()) passes. */
  async #drain(deadline: number): Promise<void> {
    try {
      for (;;) {
        const inFlight = this.#inFlight;
        if (inFlight) {
          if (!await settlesBy(inFlight, deadline)) return;
          continue;
        }
        const remaining = deadline - performance.now();
        if (this.#queued === 0 || remaining <= 0) return;
        const failedBefore = this.#failedTotal();
        this.#start(Math.min(this.#exportTimeoutMs, remaining), true);
        await this.#inFlight;
        // A collector that just failed is not asked again in a loop; the timer tries later.
        if (this.#failedTotal() > failedBefore) return;
      }
    } catch {
      // never rejects
    }
  }

  #schedule(): void {
    if (this.#inFlight || this.#closed || this.#queued === 0) return;
    if (this.#queued >= this.#batchSize) {
      this.#kick ??= setImmediate(() => this.#fire());
      return;
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.#fire(), this.#delayMs);
      this.#timer.unref();
    }
  }

  #fire(): void {
    this.#stopTimers();
    if (this.#inFlight || this.#closed || this.#queued === 0) return;
    this.#start(this.#exportTimeoutMs, false);
  }

  /** Starts one export; when it ends, the next is scheduled (unless closing). */
  #start(timeoutMs: number, holdOpen: boolean): void {
    const run = this.#exportBatch(timeoutMs, holdOpen).catch(() => undefined).finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
    this.#inFlight = run;
  }

  #stopTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#kick) clearImmediate(this.#kick);
    this.#kick = undefined;
  }

  async #exportBatch(timeoutMs: number, holdOpen: boolean): Promise<void> {
    const batch = this.#worker ? this.#workerBatch(this.#worker) : await this.#spanBatch();
    if (!batch) return;
    const failure = await this.#send(batch.start, timeoutMs, holdOpen);
    const invalid = batch.invalid();
    if (invalid > 0) {
      this.#drop(invalid, 'invalid');
      this.#warn('invalid', 'calls could not be turned into spans', { spans: invalid });
    }
    const count = batch.spans - invalid;
    if (failure === undefined) {
      this.#exported += count;
      this.#call(() => this.#hooks.onExported?.(count));
      if (this.#failing) this.#logger?.info('trace export recovered', { endpoint: this.#origin });
      this.#failing = false;
      return;
    }
    this.#failed[failure.reason] += 1;
    this.#call(() => this.#hooks.onExportFailed?.(failure.reason, count));
    this.#drop(count, 'export_failed');
    if (!this.#failing) this.#lastWarn.delete('export_failed');
    this.#failing = true;
    this.#warn('export_failed', 'trace export failed: spans dropped', { endpoint: this.#origin, reason: failure.reason, spans: count, dropped_total: this.#dropped.export_failed, ...failure.detail });
  }

  /** The next batch for the worker: whole calls, their spans built there (some may turn out invalid). */
  #workerBatch(worker: CallExporter): Batch | undefined {
    const taken = this.#takeCalls();
    if (taken.calls.length === 0) return undefined;
    let invalid = 0;
    return {
      spans: taken.spans,
      invalid: () => invalid,
      start: (done) => worker.export(taken.calls, (result) => {
        invalid = result.invalid;
        done(result.error ? { code: ExportResultCode.FAILED, error: result.error } : { code: ExportResultCode.SUCCESS });
      }),
    };
  }

  /** The next batch for a given SpanExporter: spans built here. */
  async #spanBatch(): Promise<Batch | undefined> {
    const spans = await this.#takeBatch();
    if (spans.length === 0) return undefined;
    return { spans: spans.length, invalid: () => 0, start: (done) => this.#exporter!.export(spans, done) };
  }

  /** Up to one batch of spans, built from the oldest calls (and what the last batch left over). */
  async #takeBatch(): Promise<ReadableSpan[]> {
    const max = this.#batchSize;
    const batch = this.#carry.splice(0, max);
    let built = 0;
    while (batch.length < max && this.#calls.length > 0 && !this.#cutOff) {
      const call = this.#calls.shift()!;
      const counted = spanCount(call);
      let spans: ReadableSpan[];
      try {
        spans = callSpans(call, this.#source);
      } catch (error) {
        this.#queued -= counted;
        this.#drop(counted, 'invalid');
        this.#warn('invalid', 'a call could not be turned into spans', { request_id: call.event?.request_id, error: String((error as Error)?.message ?? error) });
        continue;
      }
      this.#queued += spans.length - counted;
      const room = max - batch.length;
      for (let i = 0; i < spans.length; i++) (i < room ? batch : this.#carry).push(spans[i]!);
      // Building spans is the exporter's main cost on the event loop: give requests a turn every
      // few calls (and after each call with prompt text, whose redaction takes a while).
      if (call.text || ++built % BUILD_SLICE_CALLS === 0) await turn();
    }
    this.#queued -= batch.length;
    return batch;
  }

  /** Whole calls, oldest first, up to one batch of spans (at least one call): the worker builds their spans. */
  #takeCalls(): { calls: FinishedCall[]; spans: number } {
    const max = this.#batchSize;
    const calls: FinishedCall[] = [];
    let spans = 0;
    while (this.#calls.length > 0 && !this.#cutOff) {
      const n = spanCount(this.#calls[0]!);
      if (calls.length > 0 && spans + n > max) break;
      calls.push(this.#calls.shift()!);
      spans += n;
    }
    this.#queued -= spans;
    return { calls, spans };
  }

  /** One export, bounded by timeoutMs: undefined when the collector took it, else why not. */
  #send(start: (done: (result: ExportResult) => void) => void, timeoutMs: number, holdOpen: boolean): Promise<Failure | undefined> {
    if (this.#cutOff) return Promise.resolve({ reason: 'timeout' });
    return new Promise((resolve) => {
      let done = false;
      const finish = (failure: Failure | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (this.#giveUp === giveUp) this.#giveUp = undefined;
        resolve(failure);
      };
      const giveUp = () => finish({ reason: 'timeout' });
      this.#giveUp = giveUp;
      const timer = setTimeout(giveUp, timeoutMs);
      // Only close() keeps the process alive for an export; otherwise the server does.
      if (!holdOpen) timer.unref();
      try {
        start((result: ExportResult) => finish(result.code === ExportResultCode.SUCCESS ? undefined : classify(result.error)));
      } catch (error) {
        finish(classify(error));
      }
    });
  }

  #failedTotal(): number {
    let total = 0;
    for (const reason of EXPORT_FAILURES) total += this.#failed[reason];
    return total;
  }

  #drop(spans: number, reason: DropReason): void {
    if (spans <= 0) return;
    this.#dropped[reason] += spans;
    this.#call(() => this.#hooks.onDropped?.(spans, reason));
  }

  #call(hook: () => void): void {
    try {
      hook();
    } catch {
      // A metrics hook's bug must not stop the exporter.
    }
  }

  #warn(kind: string, message: string, fields: Record<string, unknown>): void {
    if (!this.#logger) return;
    const now = performance.now();
    const last = this.#lastWarn.get(kind);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    this.#lastWarn.set(kind, now);
    this.#logger.warn(message, fields);
  }
}
