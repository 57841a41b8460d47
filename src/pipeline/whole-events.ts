/**
 * Index just past the last blank line (an SSE event boundary: LF LF, CR CR or CRLF CRLF)
 * in `bytes`, or 0 when no event is complete yet.
 */
export function completeEventsEnd(bytes: Buffer): number {
  for (let i = bytes.length - 1; i > 0; i--) {
    const c = bytes[i];
    if (c !== 10 && c !== 13) continue;
    const p = bytes[i - 1];
    if ((c === 10 && p === 10) || (c === 13 && p === 13)) return i + 1;
    if (c === 10 && p === 13 && i >= 3 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return 0;
}

/** Thrown when one event grows past the limit before it completes. */
export class EventTooLarge extends Error {
  readonly code = 'SSE_EVENT_TOO_LARGE';
}

/**
 * Splits a raw SSE byte stream at event boundaries, so only whole events are forwarded and a
 * break mid-event never leaves a torn frame. Linear in the bytes seen: each chunk is scanned
 * once, and the incomplete tail is kept as a list of pieces.
 */
export class WholeEvents {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly maxEventBytes: number;

  constructor(maxEventBytes = 16 * 1024 * 1024) {
    this.maxEventBytes = maxEventBytes;
  }

  /** The bytes of the events this chunk completes (possibly empty). */
  push(chunk: Buffer): Buffer {
    // A boundary may straddle the previous chunk: look at its last 3 bytes too.
    const last = this.pending[this.pending.length - 1];
    const tail = last ? last.subarray(Math.max(0, last.length - 3)) : Buffer.alloc(0);
    const probe = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
    const end = completeEventsEnd(probe) - tail.length;
    if (end <= 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes > this.maxEventBytes) throw new EventTooLarge(`an SSE event is larger than ${this.maxEventBytes} bytes`);
      return Buffer.alloc(0);
    }
    const out = this.pending.length > 0 ? Buffer.concat([...this.pending, chunk.subarray(0, end)]) : chunk.subarray(0, end);
    this.pending = end < chunk.length ? [chunk.subarray(end)] : [];
    this.pendingBytes = chunk.length - end;
    return out;
  }

  /** Whatever is left when the stream ends (an unterminated last event). */
  rest(): Buffer {
    const out = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return out;
  }
}
