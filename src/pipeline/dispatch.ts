import { GatewayError } from '../errors/gateway-error.ts';
import type { Deployment, ProviderAdapter, Transport, UpstreamRequest, UpstreamResponse } from '../providers/types.ts';
import { redactCredentials } from '../providers/shared/redact-credentials.ts';
import { readAll } from '../streams/read-all.ts';
import type { AttemptMark } from '../telemetry/finished-call.ts';
import { traceparentHeader, type RequestContext } from './request-context.ts';

/** Thrown when the client went away: nothing more is written for that request. */
export class ClientGone extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGone';
  }
}

const TIMEOUT = Symbol('upstream timeout');
const MAX_ERROR_BODY = 1 << 20;
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

export interface UpstreamCall {
  readonly deployment: Deployment;
  readonly adapter: ProviderAdapter;
  readonly response: UpstreamResponse;
  /** performance.now() when the request was sent and when its headers arrived. */
  readonly sentAt: number;
  readonly headersAt: number;
  /** Aborts the upstream request when the client goes away or the deployment's time runs out. */
  readonly signal: AbortSignal;
  /** Streams: the first event arrived, so the time-to-first-token clock stops. */
  firstEvent(): void;
  /** Stops the timeout clock; call once the response is fully consumed. */
  done(): void;
}

/** How long one attempt may take: its deadline, and whether that deadline also bounds a stream after its first event. */
export interface AttemptTime {
  /** performance.now() by which the request must be answered. */
  readonly deadline: number;
  /** The client set the deadline (x-gateway-timeout-ms): it bounds a stream's whole length too. */
  readonly strict: boolean;
}

export type TransportFor = (adapter: ProviderAdapter) => Transport;

/** What a call needs from the app: the transports. */
export interface UpstreamDeps {
  readonly transportFor: TransportFor;
}


/** Turns a thrown transport error (or abort) into a GatewayError naming the deployment. */
export function upstreamFailure(err: unknown, dep: Deployment, signal: AbortSignal): Error {
  if (err instanceof GatewayError || err instanceof ClientGone) return err;
  if (signal.aborted) {
    if (signal.reason === TIMEOUT) return timeoutError(dep);
    return new ClientGone();
  }
  const code = (err as { code?: string }).code;
  if (code && TIMEOUT_CODES.has(code)) return timeoutError(dep);
  // Network errors carry a code (ECONNREFUSED, UND_ERR_SOCKET, ...); anything else is a bug.
  if (!code) return new GatewayError('internal_error', `Internal error while calling deployment ${dep.id}.`, { deployment: dep.id, cause: err });
  return new GatewayError('upstream_unreachable', `Deployment ${dep.id} (${dep.provider}) could not be reached: ${code}.`, { deployment: dep.id, cause: err, failureClass: 'connect_error' });
}

function timeoutError(dep: Deployment): GatewayError {
  return new GatewayError('upstream_timeout', `Deployment ${dep.id} (${dep.provider}) did not answer within its timeout.`, { deployment: dep.id, failureClass: 'timeout' });
}

/**
 * Dispatch stage, one attempt: sends the request through the provider's transport, aborting
 * it if the client disconnects or time runs out. A non-streamed call gets the deployment's
 * timeout; a stream gets its time-to-first-token timeout until the first event, then the
 * transport's idle timeout between chunks. Neither outlives the request's deadline. Provider
 * error statuses are mapped by the provider's own adapter into a GatewayError with its class.
 *
 * `attempt` is this attempt's mark on the request's timeline: its span id goes upstream as the
 * traceparent's parent, and the upstream's status is noted on it (the caller ends it).
 */
export async function callUpstream(
  deps: UpstreamDeps, ctx: RequestContext, dep: Deployment, adapter: ProviderAdapter,
  request: UpstreamRequest, stream: boolean, time: AttemptTime, attempt: AttemptMark,
): Promise<UpstreamCall> {
  const controller = new AbortController();
  const remaining = () => Math.max(1, time.deadline - performance.now());
  const firstPhaseMs = stream ? (dep.ttftTimeoutMs ?? dep.streamTimeoutMs) : dep.timeoutMs;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => controller.abort(TIMEOUT), Math.min(firstPhaseMs, remaining()));
  const unwatch = ctx.client.onGone(() => controller.abort(new ClientGone()));
  const stopTimer = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const done = () => {
    stopTimer();
    unwatch();
  };
  request.headers.traceparent = traceparentHeader(ctx.trace, attempt.spanId);
  request.headers['x-request-id'] = ctx.requestId;
  const sentAt = performance.now();
  let response: UpstreamResponse;
  try {
    response = await deps.transportFor(adapter).send(request, {
      signal: controller.signal,
      deployment: dep,
      headersTimeoutMs: firstPhaseMs,
      bodyTimeoutMs: stream ? dep.streamTimeoutMs : dep.timeoutMs,
    });
  } catch (err) {
    done();
    throw upstreamFailure(err, dep, controller.signal);
  }
  const headersAt = performance.now();
  attempt.httpStatus = response.status;
  if (response.status >= 400) {
    let text = '';
    try {
      text = (await readBody(response, MAX_ERROR_BODY)).toString('utf8');
    } catch {
      text = '';
    } finally {
      done();
    }
    const failure = adapter.mapError(response.status, text, response.headers);
    // A provider's auth error may quote (part of) the credential, so its text is not relayed.
    const detail = failure.code === 'upstream_auth_failed'
      ? 'the provider rejected the gateway\'s credentials for this deployment; an operator must fix its api_key'
      : failure.message;
    const message = scrub(`Deployment ${dep.id} (${dep.provider}) returned ${response.status}: ${detail}`, dep);
    throw new GatewayError(failure.code, message, {
      deployment: dep.id,
      failureClass: failure.class,
      ...(failure.retryAfterSeconds !== undefined ? { retryAfterSeconds: failure.retryAfterSeconds } : {}),
    });
  }
  const firstEvent = () => {
    if (!timer) return;
    stopTimer();
    // After the first event only the client's own deadline bounds a stream's length.
    if (time.strict) timer = setTimeout(() => controller.abort(TIMEOUT), remaining());
  };
  return { deployment: dep, adapter, response, sentAt, headersAt, signal: controller.signal, firstEvent, done };
}

/** Provider messages sometimes echo credentials: drop the deployment's key and anything key-shaped. */
export function scrub(message: string, dep: Deployment): string {
  return redactCredentials(message, dep.apiKey);
}

/** Reads a whole upstream body, failing if it grows past `limit` bytes. */
export function readBody(response: UpstreamResponse, limit: number): Promise<Buffer> {
  return readAll(response.body, limit);
}

/** Reads and parses a JSON success body; a broken or non-JSON body is the deployment's fault. */
export async function readJsonResponse(call: UpstreamCall, limit: number): Promise<{ raw: Buffer; json: unknown }> {
  let raw: Buffer;
  try {
    raw = await readBody(call.response, limit);
  } catch (err) {
    throw interrupted(err, call);
  } finally {
    call.done();
  }
  try {
    return { raw, json: JSON.parse(raw.toString('utf8')) };
  } catch {
    const dep = call.deployment;
    throw new GatewayError('upstream_invalid_response', `Deployment ${dep.id} (${dep.provider}) returned a body that is not JSON.`, { deployment: dep.id, failureClass: 'server_error' });
  }
}

export function interrupted(err: unknown, call: UpstreamCall): Error {
  const mapped = upstreamFailure(err, call.deployment, call.signal);
  if (mapped instanceof GatewayError && mapped.code === 'upstream_unreachable') {
    const dep = call.deployment;
    return new GatewayError('upstream_stream_interrupted', `Deployment ${dep.id} (${dep.provider}) broke off its response: ${(err as { code?: string }).code ?? (err as Error).message}.`, { deployment: dep.id, cause: err, failureClass: 'server_error' });
  }
  return mapped;
}
