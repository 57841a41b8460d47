import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import { SseParser } from '../providers/shared/sse-parser.ts';
import type { SseEvent, StreamReducer, StreamStep, Usage } from '../providers/types.ts';
import { ClientGone, interrupted, scrub, type UpstreamCall } from './dispatch.ts';
import { WholeEvents } from './whole-events.ts';

/** How provider events become what the client sees. */
export interface RelayMode {
  /** Forward the provider's bytes untouched (native passthrough); events are only read. */
  readonly raw: boolean;
  /** Text to write for one provider event ('' for nothing). Unused in raw mode. */
  onEvent(event: SseEvent, step: StreamStep<unknown>): string;
  /** Text that closes a complete stream (e.g. `data: [DONE]`). */
  onEnd(): string;
  /** What ends a stream that fails after its first byte: a well-formed error event (and the end marker). */
  errorEvent(err: GatewayError): string;
}

export interface RelayResult {
  usage?: Usage;
  completed: boolean;
  /** A failure after the first byte: the client got it as an error event. */
  error?: GatewayError;
  /** performance.now() of the first byte written to the client. */
  firstByteAt?: number;
  /** ms from sending the request to the provider's first event. */
  ttftMs?: number;
  /** Characters of generated output delivered (to estimate usage when none arrived). */
  outputChars: number;
}

/** After the provider says the stream is complete, how long its connection may take to end. */
const AFTER_DONE_GRACE_MS = 1_000;

/**
 * Writes to the client, honouring backpressure. A client that stops reading for longer than
 * the deployment's stream timeout is treated as gone, so it cannot pin the upstream
 * connection forever.
 */
async function write(res: ServerResponse, data: string | Uint8Array, call: UpstreamCall): Promise<void> {
  if (res.write(data)) return;
  const stalled = AbortSignal.timeout(call.deployment.streamTimeoutMs);
  try {
    await once(res, 'drain', { signal: AbortSignal.any([call.signal, stalled]) });
  } catch (err) {
    if (stalled.aborted) {
      res.destroy();
      throw new ClientGone();
    }
    throw err;
  }
}

function streamError(err: unknown, call: UpstreamCall): Error {
  if (err instanceof GatewayError || err instanceof ClientGone) return err;
  const dep = call.deployment;
  if ((err as { code?: string })?.code === 'SSE_EVENT_TOO_LARGE') {
    return new GatewayError('upstream_invalid_response', `Deployment ${dep.id} (${dep.provider}) sent a stream event that is too large: ${(err as Error).message}.`, { deployment: dep.id, failureClass: 'server_error' });
  }
  return interrupted(err, call);
}

/**
 * Streams a provider's SSE response to the client event by event, never buffering the whole
 * stream. Nothing reaches the client until the provider's first event is in hand: `head`
 * writes the response headers then. Until that first byte, a failure (a broken or empty
 * stream, an error event, a timeout) is thrown, having written nothing, so the router may
 * retry or fall back. After it, a failure ends the stream with the mode's error event. The
 * reducer reads usage and errors; the mode decides what is written. The client's response
 * ends as soon as the provider says the stream is complete.
 */
export async function relayStream(res: ServerResponse, call: UpstreamCall, reducer: StreamReducer<unknown>, mode: RelayMode, head: () => void, capture?: string[]): Promise<RelayResult> {
  const parser = new SseParser();
  const whole = mode.raw ? new WholeEvents() : undefined;
  const result: RelayResult = { completed: false, outputChars: 0 };
  const dep = call.deployment;
  let state = reducer.init();
  let stop = false;
  let finished = false;
  let graceTimer: NodeJS.Timeout | undefined;

  const send = async (data: string | Uint8Array) => {
    if (result.firstByteAt === undefined) {
      head();
      result.firstByteAt = performance.now();
    }
    await write(res, data, call);
  };

  const finish = (closing: string) => {
    finished = true;
    if (result.firstByteAt === undefined) head();
    res.end(closing || undefined);
    // Let the provider's connection end by itself (so it can be reused), but not forever.
    graceTimer = setTimeout(() => call.response.body.destroy(), AFTER_DONE_GRACE_MS);
    graceTimer.unref();
  };

  /** Runs the reducer over events; in raw mode nothing is written here (the bytes go as they came). */
  const handle = async (events: SseEvent[]) => {
    for (const event of events) {
      if (stop) return;
      const step = reducer.step(state, event);
      state = step.state;
      capture?.push(event.data);
      if (step.usage) result.usage = step.usage;
      if (step.outputChars) result.outputChars += step.outputChars;
      if (step.error) {
        const err = new GatewayError(step.error.code, scrub(`Deployment ${dep.id} (${dep.provider}) reported an error mid-stream: ${step.error.message}`, dep), { deployment: dep.id, failureClass: step.error.class });
        // Before the first byte the error is the router's to handle (retry, fall back, or answer it).
        if (!mode.raw || result.firstByteAt === undefined) throw err;
        result.error = err; // the provider's own error event is forwarded with the bytes
        stop = true;
        return;
      }
      if (!mode.raw) {
        const text = mode.onEvent(event, step);
        if (text) await send(text);
      }
      if (step.done) {
        result.completed = true;
        stop = true;
      }
    }
  };

  try {
    /** Raw mode: bytes before the first event (comments such as `: keep-alive`), held until it arrives. */
    let held: Uint8Array | undefined;
    for await (const chunk of call.response.body) {
      if (finished) continue; // draining the provider's connection after the end
      let bytes = whole?.push(chunk);
      const parsed = parser.push(chunk);
      // Time to first token runs until a real event: a comment or half an event does not stop it.
      if (result.ttftMs === undefined && parsed.length > 0) {
        result.ttftMs = performance.now() - call.sentAt;
        call.firstEvent();
      }
      await handle(parsed);
      // Raw mode: whole events go out only after the reducer has checked them, so an error
      // event that comes first is still the router's to handle.
      if (bytes && bytes.length > 0) {
        if (held) bytes = Buffer.concat([held, bytes]);
        held = undefined;
        if (result.ttftMs === undefined) held = bytes;
        else await send(bytes);
      }
      if (stop) finish(mode.raw ? '' : mode.onEnd());
    }
    if (!finished) {
      const last = parser.end();
      if (result.ttftMs === undefined && last.length > 0) result.ttftMs = performance.now() - call.sentAt;
      await handle(last);
      if (whole) {
        const rest = held ? Buffer.concat([held, whole.rest()]) : whole.rest();
        if (rest.length > 0 && result.ttftMs !== undefined) await send(rest);
      }
      if (!result.completed && !result.error) throw new GatewayError('upstream_stream_interrupted', `Deployment ${dep.id} (${dep.provider}) ended its stream before it was complete.`, { deployment: dep.id, failureClass: 'server_error' });
      finish(mode.raw ? '' : mode.onEnd());
    }
  } catch (err) {
    if (finished) return result; // the client already has the whole stream
    const failure = streamError(err, call);
    if (failure instanceof ClientGone || res.destroyed) {
      res.destroy();
      if (result.firstByteAt === undefined) throw new ClientGone();
      return result;
    }
    if (result.firstByteAt === undefined) throw failure;
    result.error = failure as GatewayError;
    res.end(mode.errorEvent(result.error));
  } finally {
    if (graceTimer) clearTimeout(graceTimer);
    call.done();
  }
  return result;
}
