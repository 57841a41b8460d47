// Request bodies for Langfuse's ingestion endpoint and what its answers mean. Pure: no I/O.
//
// From Langfuse's API definition (langfuse/langfuse fern/apis/server/definition/ingestion.yml,
// POST /api/public/ingestion) and its handler (web/src/pages/api/public/ingestion.ts):
// - the body is {"batch": [event, …], "metadata"?}; "Batch sizes are limited to 3.5 MB in total"
//   (the server's body parser refuses more than 4.5 MB with 413);
// - the answer is 207 {successes: [{id, status}], errors: [{id, status, message?, error?}]}, one
//   entry per envelope id: "The API does not return a 4xx status code for input errors. Instead,
//   it responds with a 207 status code, which includes a list of the encountered errors";
// - 400 is a body that is not {batch: [...]}, 401/403 bad keys (or ingestion suspended), 429 a
//   rate limit, 5xx a server failure (per-event 500s come back inside a 207).

import type { IngestionEvent } from './ingestion-events.ts';

/** Langfuse's documented batch limit. */
export const DEFAULT_MAX_BATCH_BYTES = 3_500_000;

/** One event, serialized once: its JSON and its size in UTF-8 bytes. */
export interface SerializedEvent {
  /** The envelope id (what the 207 answer refers to). */
  readonly id: string;
  readonly json: string;
  readonly bytes: number;
  /** The prompt and completion were left out to fit the batch limit. */
  readonly textOmitted: boolean;
}

const PREFIX = '{"batch":[';
const SUFFIX = ']}';
/** Bytes of an empty batch body. */
export const BATCH_OVERHEAD = PREFIX.length + SUFFIX.length;

/**
 * The event as JSON, if it fits a batch on its own. One that does not (a prompt of megabytes with
 * a large max_text_chars) is sent without its input and output, marked text_omitted in its
 * metadata, rather than lost; undefined if even that does not fit.
 */
export function serializeEvent(event: IngestionEvent, maxBatchBytes: number): SerializedEvent | undefined {
  const json = JSON.stringify(event);
  const bytes = Buffer.byteLength(json);
  if (bytes + BATCH_OVERHEAD <= maxBatchBytes) return { id: event.id, json, bytes, textOmitted: false };
  const { input: _input, output: _output, ...rest } = event.body as { input?: unknown; output?: unknown; metadata: Record<string, unknown> };
  const slim = { ...event, body: { ...rest, metadata: { ...rest.metadata, text_omitted: 'too_large' } } };
  const slimJson = JSON.stringify(slim);
  const slimBytes = Buffer.byteLength(slimJson);
  if (slimBytes + BATCH_OVERHEAD > maxBatchBytes) return undefined;
  return { id: event.id, json: slimJson, bytes: slimBytes, textOmitted: true };
}

/** A batch under construction: at most maxEvents events and maxBytes bytes of body. */
export class BatchBuilder {
  readonly events: SerializedEvent[] = [];
  #bytes = BATCH_OVERHEAD;
  readonly #maxEvents: number;
  readonly #maxBytes: number;

  constructor(maxEvents: number, maxBytes: number) {
    this.#maxEvents = Math.max(1, maxEvents);
    this.#maxBytes = maxBytes;
  }

  get full(): boolean {
    return this.events.length >= this.#maxEvents;
  }

  /** Adds the event if it fits; false if it does not (it goes into the next batch). */
  add(event: SerializedEvent): boolean {
    const bytes = this.#bytes + event.bytes + (this.events.length > 0 ? 1 : 0);
    if (this.full || bytes > this.#maxBytes) return false;
    this.events.push(event);
    this.#bytes = bytes;
    return true;
  }
}

/** The request body for these events. */
export function batchBody(events: readonly SerializedEvent[]): string {
  return PREFIX + events.map((e) => e.json).join(',') + SUFFIX;
}

export interface EventError {
  readonly id: string;
  readonly status: number;
  /** Langfuse's message and error text, shortened. */
  readonly message: string;
}

export interface BatchVerdict {
  /** Langfuse stored them (or answered 2xx without saying otherwise). */
  readonly accepted: readonly SerializedEvent[];
  /** Refused for good (invalid, unauthorized for the key, not found): not sent again. */
  readonly rejected: readonly EventError[];
  /** Failed on Langfuse's side (5xx, 429 per event): worth sending again. */
  readonly retry: readonly SerializedEvent[];
}

const MAX_MESSAGE_CHARS = 300;

/**
 * Splits a 2xx answer's events by the per-event results. Only errors are trusted to name events:
 * an event the answer does not mention was accepted with the rest (the status was 2xx), and an
 * answer that is not the documented JSON means all of them were.
 */
export function judgeBatch(events: readonly SerializedEvent[], responseText: string): BatchVerdict {
  const errors = new Map<string, { status: number; message: string }>();
  for (const entry of parseErrors(responseText)) errors.set(entry.id, entry);
  const accepted: SerializedEvent[] = [];
  const rejected: EventError[] = [];
  const retry: SerializedEvent[] = [];
  for (const event of events) {
    const error = errors.get(event.id);
    if (!error) accepted.push(event);
    else if (error.status >= 500 || error.status === 429) retry.push(event);
    else rejected.push({ id: event.id, ...error });
  }
  return { accepted, rejected, retry };
}

function parseErrors(text: string): EventError[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  const out: EventError[] = [];
  for (const entry of errors) {
    if (!entry || typeof entry !== 'object') continue;
    const { id, status, message, error } = entry as Record<string, unknown>;
    if (typeof id !== 'string') continue;
    const parts = [message, error].map((p) => (typeof p === 'string' ? p : p === undefined ? '' : JSON.stringify(p))).filter((p) => p !== '');
    out.push({ id, status: typeof status === 'number' ? status : 500, message: shorten(parts.join(': ')) });
  }
  return out;
}

/** What to do with a whole batch after an HTTP answer. */
export type StatusAction =
  /** 2xx: look at the per-event results. */
  | 'judge'
  /** 401, 403: the keys are wrong, or the project may not ingest: drop, say so loudly. */
  | 'unauthorized'
  /** 413: split the batch, or drop a single event. */
  | 'too_large'
  /** 408, 429, 5xx: send again after a backoff. */
  | 'retry'
  /** Anything else (400, 404, 3xx): sending it again would get the same answer. */
  | 'refused';

export function statusAction(status: number): StatusAction {
  if (status >= 200 && status < 300) return 'judge';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 413) return 'too_large';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'refused';
}

/** Langfuse's error text from a non-2xx body ({message, error} or plain text), shortened. */
export function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const parts = [parsed.error, parsed.message].filter((p): p is string => typeof p === 'string' && p !== '');
    if (parts.length > 0) return shorten(parts.join(': '));
  } catch {
    // not JSON: the text itself
  }
  return shorten(body.trim());
}

function shorten(text: string): string {
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS)}…`;
}
