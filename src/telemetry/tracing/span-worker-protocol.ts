// What the trace exporter's main side and its worker thread (span-worker.ts) say to each other.
// A call crosses as its ledger event's JSON text (made once, shared with the ledger: event-text.ts)
// plus its timeline and ids, so the worker rebuilds the same FinishedCall the observer saw, and
// spans are built, encoded and sent off the event loop that serves requests.

import type { Attributes } from '@opentelemetry/api';
import { eventText } from '../../ledger/event-text.ts';
import type { LedgerEvent } from '../../ledger/ledger-event.ts';
import type { CallText, FinishedCall, RequestTimeline } from '../finished-call.ts';

export interface WireCall {
  /** The ledger event's JSON text. */
  readonly event: string;
  readonly timeline: RequestTimeline;
  readonly receivedAt: number;
  readonly endedAt: number;
  readonly receivedAtEpochMs: number;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly traceFlags?: string;
  readonly text?: CallText;
}

export interface SpanWorkerSettings {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly connections: number;
  readonly resourceAttributes: Attributes;
  readonly scope: { readonly name: string; readonly version?: string };
  readonly maxTextChars: number;
}

export type ToWorker =
  | { readonly op: 'export'; readonly id: number; readonly calls: readonly WireCall[] }
  | { readonly op: 'close' };

/** An export's end: `error` set when it failed (its name, message and code, for classify()); `invalid` spans could not be built. */
export interface FromWorker {
  readonly id: number;
  readonly invalid: number;
  readonly error?: { readonly name?: string; readonly message: string; readonly code?: string | number };
}

/** The call as it crosses to the worker; undefined when its event cannot be serialized. */
export function toWire(call: FinishedCall): WireCall | undefined {
  const event = eventText(call.event);
  if (event === null) return undefined;
  return {
    event, timeline: call.timeline, receivedAt: call.receivedAt, endedAt: call.endedAt, receivedAtEpochMs: call.receivedAtEpochMs, spanId: call.spanId,
    ...(call.parentSpanId !== undefined ? { parentSpanId: call.parentSpanId } : {}),
    ...(call.traceFlags !== undefined ? { traceFlags: call.traceFlags } : {}),
    ...(call.text !== undefined ? { text: call.text } : {}),
  };
}

export function fromWire(wire: WireCall): FinishedCall {
  return { ...wire, event: JSON.parse(wire.event) as LedgerEvent };
}
