// What the telemetry exporters (metrics, traces, Langfuse, alerts, the access log) get about a
// model call, once, after its response has ended: the ledger event (built whether or not the
// ledger stores it), the request's timeline (when each pipeline stage and each upstream attempt
// ran), and the prompt and completion text only when prompt logging is on for the call's team or
// tenant. Observers are called on the event loop, outside any request: observe() must be cheap
// (queue, count, return), never throw, and never wait on a network.

import type { LedgerEvent } from '../ledger/ledger-event.ts';

/** performance.now() milliseconds, like RequestContext.receivedAt. */
export type MonotonicMs = number;

/** One pipeline stage, as a span: gateway.auth, gateway.guard, gateway.policy, gateway.cache, gateway.route. */
export interface StageMark {
  readonly stage: 'auth' | 'guard' | 'policy' | 'cache' | 'route';
  readonly start: MonotonicMs;
  end: MonotonicMs;
}

/** One upstream attempt, as a span: gateway.provider. */
export interface AttemptMark {
  /** The span id sent upstream in this attempt's traceparent (16 hex digits). */
  readonly spanId: string;
  readonly alias: string;
  readonly deployment: string;
  readonly provider: string;
  /** The model name sent upstream. */
  readonly model: string;
  readonly start: MonotonicMs;
  end: MonotonicMs;
  /** Time to the first streamed event, when the attempt streamed one. */
  firstTokenAt?: MonotonicMs;
  outcome: 'ok' | 'failed' | 'pending';
  /** The upstream's HTTP status, when it answered. */
  httpStatus?: number;
  /** The gateway error code the attempt failed with. */
  code?: string;
}

/** When the request's parts ran. Filled by the pipeline as it goes; read after the response ended. */
export interface RequestTimeline {
  readonly stages: StageMark[];
  readonly attempts: AttemptMark[];
}

export function newTimeline(): RequestTimeline {
  return { stages: [], attempts: [] };
}

/** The prompt and completion, only when prompt logging is on for the call's team or tenant. */
export interface CallText {
  /** The request body (or its messages) as parsed; not to be changed. */
  readonly prompt: unknown;
  readonly completion: string;
}

export interface FinishedCall {
  readonly event: LedgerEvent;
  readonly timeline: RequestTimeline;
  /** performance.now() when the request arrived and when its response ended. */
  readonly receivedAt: MonotonicMs;
  readonly endedAt: MonotonicMs;
  /** Epoch milliseconds of receivedAt (for exporters that need wall-clock times). */
  readonly receivedAtEpochMs: number;
  /** The incoming traceparent's parent span id, when the client sent one. */
  readonly parentSpanId?: string;
  /**
   * The W3C trace-flags the gateway propagates (ctx.trace.flags: the client's when it sent a
   * traceparent, else '01'). The trace exporter drops the spans of a trace the client marked as
   * not sampled (flags without the 01 bit).
   */
  readonly traceFlags?: string;
  /** The gateway.request span's id (ctx.trace.spanId). */
  readonly spanId: string;
  readonly text?: CallText;
}

export interface CallObserver {
  /** A short name for logs and the dropped-telemetry metric ("otlp", "langfuse", "alerts"…). */
  readonly name: string;
  observe(call: FinishedCall): void;
  /** Sends what is buffered (bounded by its own deadline) and stops. Never rejects. */
  close(): Promise<void>;
}
