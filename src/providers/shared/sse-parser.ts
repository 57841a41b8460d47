import type { SseEvent } from '../types.ts';

/** Default cap on one event's size (its data plus the line being read), in characters. */
export const DEFAULT_MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

export interface SseParserOptions {
  /**
   * Largest event accepted, counted in characters of the event's accumulated data plus
   * the incomplete line currently buffered. Default 16 MiB. Exceeding it makes push()
   * throw an Error with `code === 'SSE_EVENT_TOO_LARGE'`.
   */
  maxEventBytes?: number;
}

/** The error push() throws when an event grows past `maxEventBytes`. */
export interface SseEventTooLargeError extends Error {
  code: 'SSE_EVENT_TOO_LARGE';
  limit: number;
}

/**
 * Incremental parser for text/event-stream (WHATWG HTML §9.2): feed it bytes as they
 * arrive, in chunks that may split lines or UTF-8 characters anywhere; it returns the
 * events completed so far. Handles LF, CRLF and CR line ends, comments, multi-line data.
 *
 * Linear in the input: each chunk is scanned once, and the pieces of a line that spans
 * chunks are kept in an array and joined once, when the line ends.
 */
export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly maxEventBytes: number;
  /** Pieces of the current incomplete line, and their total length. */
  private parts: string[] = [];
  private partsLength = 0;
  private data: string[] = [];
  /** Length of data.join('\n'). */
  private dataLength = 0;
  private eventName: string | undefined;
  private id: string | undefined;
  /** The last character consumed was a CR, so an LF starting the next text ends no line. */
  private pendingCR = false;
  private failure: SseEventTooLargeError | undefined;

  constructor(options: SseParserOptions = {}) {
    const max = options.maxEventBytes ?? DEFAULT_MAX_SSE_EVENT_BYTES;
    if (typeof max !== 'number' || Number.isNaN(max) || max <= 0) {
      throw new RangeError(`SseParser maxEventBytes must be a positive number, got ${String(max)}`);
    }
    this.maxEventBytes = max;
  }

  push(chunk: Uint8Array | string): SseEvent[] {
    if (this.failure) throw this.failure;
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.consume(text);
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): SseEvent[] {
    if (this.failure) throw this.failure;
    const events = this.consume(this.decoder.decode() + '\n\n');
    this.parts = [];
    this.partsLength = 0;
    this.pendingCR = false;
    return events;
  }

  private consume(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    const n = text.length;
    if (n === 0) return events; // keep pendingCR: the LF may still come in a later chunk
    let start = 0;
    if (this.pendingCR && text.charCodeAt(0) === 10) start = 1;
    this.pendingCR = false;
    for (let i = start; i < n; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      let line = text.slice(start, i);
      if (this.parts.length > 0) {
        this.parts.push(line);
        line = this.parts.join('');
        this.parts = [];
        this.partsLength = 0;
      }
      if (ch === 13) {
        if (i + 1 < n) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    if (start < n) {
      const rest = text.slice(start);
      this.parts.push(rest);
      this.partsLength += rest.length;
      this.checkSize(this.dataLength + this.partsLength);
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 58 /* ':' */) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      this.dataLength += (this.data.length > 0 ? 1 : 0) + value.length;
      this.checkSize(this.dataLength);
      this.data.push(value);
    } else if (field === 'event') this.eventName = value;
    else if (field === 'id') this.id = value;
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    // WHATWG: with an empty data buffer, a blank line only resets the event type.
    if (this.data.length === 0) {
      this.eventName = undefined;
      return undefined;
    }
    const event: SseEvent = { data: this.data.join('\n') };
    if (this.eventName !== undefined) event.event = this.eventName;
    if (this.id !== undefined) event.id = this.id;
    this.data = [];
    this.dataLength = 0;
    this.eventName = undefined;
    return event;
  }

  private checkSize(size: number): void {
    if (size <= this.maxEventBytes) return;
    const err = new Error(`SSE event exceeds the ${this.maxEventBytes}-byte limit (maxEventBytes)`) as SseEventTooLargeError;
    err.code = 'SSE_EVENT_TOO_LARGE';
    err.limit = this.maxEventBytes;
    // Drop what was buffered; the parser stays failed and rethrows on later calls.
    this.parts = [];
    this.partsLength = 0;
    this.data = [];
    this.dataLength = 0;
    this.failure = err;
    throw err;
  }
}

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * Serialises one event in the exact framing OpenAI and Anthropic use. Multi-line data
 * gets one `data:` field per line (CR, LF and CRLF all end a line in SSE), so the
 * parser reads the same data back.
 */
export function formatSseEvent(data: string, event?: string): string {
  const head = event === undefined ? '' : `event: ${event}\n`;
  if (!LINE_BREAK.test(data)) return `${head}data: ${data}\n\n`;
  return `${head}data: ${data.split(LINE_BREAK).join('\ndata: ')}\n\n`;
}
