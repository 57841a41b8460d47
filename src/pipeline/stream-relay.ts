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

/** After the provider says the stream is complete, how long its connection may take to end. */
const AFTER_DONE_GRACE_MS = 1_000;
/**
 * Response headers normally leave with the first event (one write). If the provider is slow
 * to send one (a reasoning model thinking), they are flushed on their own after this long, so
 * the client learns the status early.
 */
const HEADERS_ALONE_AFTER_MS = 20;

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
    return new GatewayError('upstream_invalid_response', `Deployment ${dep.id} (${dep.provider}) sent a stream event that is too large: ${(err as Error).message}.`, { deployment: dep.id });
  }
  return interrupted(err, call);
}

/**
 * Streams a provider's SSE response to the client event by event, never buffering the whole
 * stream. The caller has set the response headers (writeHead) but not flushed them. The reducer reads usage and errors; the mode decides what is written. The client's
 * response ends as soon as the provider says the stream is complete.
 */
export async function relayStream(res: ServerResponse, call: UpstreamCall, reducer: StreamReducer<unknown>, mode: RelayMode): Promise<RelayResult> {
  const parser = new SseParser();
  const whole = mode.raw ? new WholeEvents() : undefined;
  const result: RelayResult = { completed: false };
  const dep = call.deployment;
  let state = reducer.init();
  let stop = false;
  let finished = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const headersTimer = setTimeout(() => {
    if (!res.headersSent && !res.destroyed) res.flushHeaders();
  }, HEADERS_ALONE_AFTER_MS);

  const finish = (closing: string) => {
    finished = true;
    res.end(closing || undefined);
    // Let the provider's connection end by itself (so it can be reused), but not forever.
    graceTimer = setTimeout(() => call.response.body.destroy(), AFTER_DONE_GRACE_MS);
    graceTimer.unref();
  };

  const handle = async (events: SseEvent[]) => {
    for (const event of events) {
      if (stop) return;
      const step = reducer.step(state, event);
      state = step.state;
      if (step.usage) result.usage = step.usage;
      if (step.error) {
        const err = new GatewayError(step.error.code, scrub(`Deployment ${dep.id} (${dep.provider}) reported an error mid-stream: ${step.error.message}`, dep), { deployment: dep.id });
        if (!mode.raw) throw err;
        result.error = err; // the provider's own error event was already forwarded
        stop = true;
        return;
      }
      if (!mode.raw) {
        const text = mode.onEvent(event, step);
        if (text) {
          result.firstByteAt ??= performance.now();
          await write(res, text, call);
        }
      }
      if (step.done) {
        result.completed = true;
        stop = true;
      }
    }
  };

  try {
    for await (const chunk of call.response.body) {
      if (finished) continue; // draining the provider's connection after the end
      if (whole) {
        const events = whole.push(chunk);
        if (events.length > 0) {
          result.firstByteAt ??= performance.now();
          await write(res, events, call);
        }
      }
      await handle(parser.push(chunk));
      if (stop) finish(mode.raw ? '' : mode.onEnd());
    }
    if (!finished) {
      await handle(parser.end());
      if (whole) {
        const rest = whole.rest();
        if (rest.length > 0) await write(res, rest, call);
      }
      if (!result.completed && !result.error) throw new GatewayError('upstream_stream_interrupted', `Deployment ${dep.id} (${dep.provider}) ended its stream before it was complete.`, { deployment: dep.id });
      finish(mode.raw ? '' : mode.onEnd());
    }
  } catch (err) {
    if (finished) return result; // the client already has the whole stream
    const failure = streamError(err, call);
    if (failure instanceof ClientGone || res.destroyed) {
      res.destroy();
      return result;
    }
    result.error = failure as GatewayError;
    res.end(mode.errorEvent(result.error));
  } finally {
    clearTimeout(headersTimer);
    if (graceTimer) clearTimeout(graceTimer);
    call.done();
  }
  return result;
}
