// The messages between the SQLite ledger sink (sqlite-ledger-sink.ts, on the gateway's event
// loop) and its worker thread (sqlite-ledger-worker.ts, which owns the database).
//
// Requests carry an id; the worker answers each one (but part and drop) with a reply of that
// id, in the order it received them. A batch may come in several messages: parts, then the write
// that ends it (the sink posts a big batch in slices, a turn of the event loop apart, so that
// no single structured clone holds the loop for long); drop discards the parts of a batch the
// sink gave up posting. Events travel as JSON texts (JSON.stringify of each, which the worker
// stores as event_json): the ones the ledger writer made for its write-ahead log, or made here
// when an event cannot be cloned (a function somewhere in it: JSON leaves it out, as event_json
// would); otherwise as objects (structured clone).
// Readers' answers that can be long (events, spend rows) travel as JSON texts: receiving
// strings is a copy, and the sink parses them a slice at a time.
//
// Errors travel as { name, message, eventId?, cause? } and become the same classes again on the
// sink's side: InvalidLedgerEvent (with its eventId), TypeError, RangeError, and otherwise
// StoreUnavailable.

import type { LedgerEvent } from '../ledger-event.ts';
import type { GuardrailEventQuery, RequestQuery, SpendQuery } from '../ledger-sink.ts';
import { StoreUnavailable } from '../../stores/identity-store.ts';
import { InvalidLedgerEvent } from './ledger-rows.ts';

/** What the worker is started with (workerData). */
export interface WorkerSettings {
  readonly path: string;
  readonly busyTimeoutMs?: number;
}

/** A slice of a batch: the events' JSON texts, or (without them) the events as structured clones. */
export interface BatchSlice {
  readonly events?: readonly LedgerEvent[];
  readonly json?: readonly string[];
}

export type WorkerRequest =
  | ({ readonly id: number; readonly op: 'part' | 'write' } & BatchSlice)
  | { readonly id: number; readonly op: 'drop' }
  | { readonly id: number; readonly op: 'migrate' | 'schemaVersion' }
  | { readonly id: number; readonly op: 'spend'; readonly query: SpendQuery }
  | { readonly id: number; readonly op: 'requests'; readonly query: RequestQuery }
  | { readonly id: number; readonly op: 'request'; readonly requestId: string }
  | { readonly id: number; readonly op: 'guardrailEvents'; readonly query: GuardrailEventQuery }
  | { readonly id: number; readonly op: 'close' };

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly eventId?: string;
  readonly cause?: { readonly message: string; readonly code?: unknown; readonly errcode?: unknown; readonly errstr?: unknown };
}

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

/** An error as the worker sends it (call it on what SqliteLedgerDb threw). */
export function encodeError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const out: { -readonly [K in keyof WireError]: WireError[K] } = { name: error.name, message: error.message };
  if (error instanceof InvalidLedgerEvent && error.eventId !== undefined) out.eventId = error.eventId;
  const cause = error.cause as { message?: unknown; code?: unknown; errcode?: unknown; errstr?: unknown } | undefined;
  if (cause && typeof cause === 'object') {
    out.cause = { message: String(cause.message), code: cause.code, errcode: cause.errcode, errstr: cause.errstr };
  }
  return out;
}

/** The error the sink rejects with, of the class the worker threw. */
export function decodeError(wire: WireError): Error {
  switch (wire.name) {
    case 'InvalidLedgerEvent':
      return new InvalidLedgerEvent(wire.message, wire.eventId);
    case 'TypeError':
      return new TypeError(wire.message);
    case 'RangeError':
      return new RangeError(wire.message);
    default: {
      const cause = wire.cause ? Object.assign(new Error(wire.cause.message), wire.cause) : undefined;
      const message = wire.name === 'StoreUnavailable' ? wire.message : `SQLite ledger sink failed: ${wire.message}`;
      return new StoreUnavailable(message, cause ? { cause } : undefined);
    }
  }
}
