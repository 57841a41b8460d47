import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import { SseParser } from '../providers/shared/sse-parser.ts';
import type { SseEvent, StreamReducer, StreamStep, Usage } from '../providers/types.ts';
import { ClientGone, interrupted, scrub, type UpstreamCall } from './dispatch.ts';

/** How provider events become what the client sees. */
export interface RelayMode {
  /** Forward the provider's bytes untouched (native passthrough); events are only read. */
  readonly raw: boolean;
  /** Text to write for one provider event ('' for nothing). Unused in raw mode. */
  onEvent(event: SseEvent, step: StreamStep<unknown>): string;
  /** Text that closes a complete stream (e.g. `data: [DONE]`). */
  onEnd(): string;
  /** An in-stream error event, once headers are already sent. */
  errorEvent(err: GatewayError): string;
}

export interface RelayResult {
  usage?: Usage;
  completed: boolean;
  error?: GatewayError;
  /** performance.now() of the first byte written to the client. */
  firstByteAt?: number;
}

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

async function write(res: ServerResponse, data: string | Uint8Array, signal: AbortSignal): Promise<void> {
  if (res.write(data)) return;
  await once(res, 'drain', { signal });
}

/**
 * Streams a provider's SSE response to the client event by event, never buffering the
 * whole stream. The reducer reads usage and errors; the mode decides what is written.
 */
export async function relayStream(res: ServerResponse, call: UpstreamCall, reducer: StreamReducer<unknown>, mode: RelayMode): Promise<RelayResult> {
  const parser = new SseParser();
  const result: RelayResult = { completed: false };
  let state = reducer.init();
  let stop = false;
  const dep = call.deployment;

  const handle = async (events: SseEvent[]) => {
    for (const event of events) {
      if (stop) return;
      const step = reducer.step(state, event);
      state = step.state;
      if (step.usage) result.usage = step.usage;
      if (step.error) {
        const err = new GatewayError(step.error.code, scrub(`Deployment ${dep.id} (${dep.provider}) reported an error mid-stream: ${step.error.message}`, dep), { deployment: dep.id });
        if (mode.raw) {
          result.error = err; // the provider's own error event was already forwarded
          stop = true;
          return;
        }
        throw err;
      }
      if (!mode.raw) {
        const text = mode.onEvent(event, step);
        if (text) {
          result.firstByteAt ??= performance.now();
          await write(res, text, call.signal);
        }
      }
      if (step.done) {
        result.completed = true;
        stop = true;
      }
    }
  };

  // Raw mode forwards whole events only, so a break mid-event never leaves a torn frame
  // in front of the error event.
  let pending: Buffer = Buffer.alloc(0);
  const forwardComplete = async (chunk: Uint8Array) => {
    const bytes = pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([pending, chunk]);
    const end = completeEventsEnd(bytes);
    pending = bytes.subarray(end);
    if (end === 0) return;
    result.firstByteAt ??= performance.now();
    await write(res, bytes.subarray(0, end), call.signal);
  };

  try {
    for await (const chunk of call.response.body) {
      if (mode.raw) await forwardComplete(chunk);
      await handle(parser.push(chunk));
    }
    await handle(parser.end());
    if (mode.raw && pending.length > 0) await write(res, pending, call.signal);
    if (!result.completed && !result.error) throw new GatewayError('upstream_stream_interrupted', `Deployment ${dep.id} (${dep.provider}) ended its stream before it was complete.`, { deployment: dep.id });
    const closing = mode.raw ? '' : mode.onEnd();
    res.end(closing || undefined);
  } catch (err) {
    const failure = err instanceof GatewayError ? err : interrupted(err, call);
    if (failure instanceof ClientGone || res.destroyed) {
      res.destroy();
      return result;
    }
    result.error = failure as GatewayError;
    res.end(mode.errorEvent(result.error));
  } finally {
    call.done();
  }
  return result;
}
