// A finished model call as OpenTelemetry spans, with the gateway's own ids. Pure: the same call
// always gives the same spans (no clock, no randomness).
//
//   gateway.request   SERVER  span id = call.spanId; parent = the client's span when it sent a
//   │                         traceparent; the call as the client saw it: what it asked for, what
//   │                         served, tokens, cost, who called, and the text when it is logged
//   ├─ gateway.auth / gateway.policy / gateway.cache / gateway.route    INTERNAL, one per stage mark
//   └─ gateway.provider  CLIENT  one per upstream attempt; span id = the id the attempt sent
//                                upstream in its traceparent, so the provider's own spans are its
//                                children
//
// Tokens and cost are on gateway.request only: GenAI backends sum gen_ai.usage.* over a trace's
// spans, so putting them on the attempt as well would count them twice. The request span is also
// what the GenAI conventions call the operation ("if the request was retried automatically, the
// span SHOULD cover the duration of the logical operation with all retries").
//
// Status: an attempt that failed is an error (a client span: any failure of the call). The request
// span follows the HTTP server conventions: an error when the gateway answered 5xx, or when the
// exchange broke after a 2xx started (a stream that failed mid-way, a client that went away); a
// 4xx refusal (limits, auth, a bad request) is the client's, so its status stays unset, and its
// error.type still says why.
//
// Stage spans are the gateway's alone (no id of theirs is sent anywhere): their ids are derived
// from the request span's id and their position, so building the same call twice gives the same
// ids.
//
// Times: the timeline holds performance.now() values; each becomes epoch time as
// receivedAtEpochMs + (t - receivedAt). A mark that never ended ends when the response did.

import { hash } from 'node:crypto';
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { preparePrompt } from '../../ledger/prompt-log/prompt-text.ts';
import type { LedgerEvent } from '../../ledger/ledger-event.ts';
import type { AttemptMark, FinishedCall, MonotonicMs, StageMark } from '../finished-call.ts';
import { ERROR_TYPE, GEN_AI, genAiOperation, genAiProviderName, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, TOLLGATE } from './genai-conventions.ts';
import { inputMessages, outputMessages } from './genai-messages.ts';

export const REQUEST_SPAN = 'gateway.request';
export const PROVIDER_SPAN = 'gateway.provider';

/** What every span of the exporter shares, and how much text a span may carry. */
export interface SpanSource {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** The longest prompt (as JSON) and completion put on a span, in characters each. */
  readonly maxTextChars: number;
}

/** How many spans the call becomes (without building them). */
export function spanCount(call: FinishedCall): number {
  return 1 + call.timeline.stages.length + call.timeline.attempts.length;
}

export function callSpans(call: FinishedCall, source: SpanSource): ReadableSpan[] {
  const { event, timeline } = call;
  const traceId = event.trace_id;
  const self: SpanContext = { traceId, spanId: call.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false };
  const parent: SpanContext | undefined = call.parentSpanId === undefined ? undefined : {
    traceId, spanId: call.parentSpanId, traceFlags: Number.parseInt(call.traceFlags ?? '01', 16) & 0xff, isRemote: true,
  };
  const epoch = (t: MonotonicMs) => call.receivedAtEpochMs + (t - call.receivedAt);
  const ended = (start: MonotonicMs, end: MonotonicMs) => epoch(end >= start && end > 0 ? end : Math.max(start, call.endedAt));

  const spans: ReadableSpan[] = [new GatewaySpan(REQUEST_SPAN, SpanKind.SERVER, self, parent, epoch(call.receivedAt), epoch(call.endedAt), requestAttributes(call, source.maxTextChars), requestStatus(event), source)];
  timeline.stages.forEach((stage, i) => {
    const context: SpanContext = { traceId, spanId: stageSpanId(call.spanId, i), traceFlags: TraceFlags.SAMPLED, isRemote: false };
    spans.push(new GatewaySpan(STAGE_NAMES[stage.stage], SpanKind.INTERNAL, context, self, epoch(stage.start), ended(stage.start, stage.end), stage.stage === 'guard' ? guardAttributes(event) : {}, UNSET, source));
  });
  timeline.attempts.forEach((attempt, i) => {
    const context: SpanContext = { traceId, spanId: attempt.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false };
    spans.push(new GatewaySpan(PROVIDER_SPAN, SpanKind.CLIENT, context, self, epoch(attempt.start), ended(attempt.start, attempt.end), attemptAttributes(event, attempt, i), attemptStatus(attempt), source));
  });
  return spans;
}

/** gateway.guard: the call's guardrail verdict and the detectors behind it (names only, never text). */
function guardAttributes(event: LedgerEvent): Attributes {
  const verdict = event.outcome.guardrail_verdict;
  if (verdict === null) return {};
  return { [TOLLGATE.guardrailVerdict]: verdict, [TOLLGATE.guardrailDetectors]: [...event.outcome.guardrail_detectors] };
}

/** The id of the request's `index`th stage span: 64 bits of a hash of the request span's id and the index. */
export function stageSpanId(requestSpanId: string, index: number): string {
  const id = hash('sha256', `${requestSpanId}/stage/${index}`, 'hex').slice(0, 16);
  return id === '0000000000000000' ? '0000000000000001' : id;
}

const STAGE_NAMES: Readonly<Record<StageMark['stage'], string>> = {
  auth: 'gateway.auth', guard: 'gateway.guard', policy: 'gateway.policy', cache: 'gateway.cache', route: 'gateway.route',
};

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/** The error.type of a call that did not succeed: the gateway's error code, else its outcome. */
export function requestErrorType(event: LedgerEvent): string | undefined {
  const status = event.outcome.status;
  if (status === 'success' || status === 'cache_hit') return undefined;
  return event.outcome.error_code ?? status;
}

export function requestStatus(event: LedgerEvent): SpanStatus {
  const http = event.outcome.http_status;
  const type = requestErrorType(event);
  const failed = http >= 500 || (http < 400 && type !== undefined);
  return failed ? { code: SpanStatusCode.ERROR, message: type ?? String(http) } : UNSET;
}

function attemptStatus(attempt: AttemptMark): SpanStatus {
  return attempt.outcome === 'failed' ? { code: SpanStatusCode.ERROR, message: attemptErrorType(attempt) } : UNSET;
}

function attemptErrorType(attempt: AttemptMark): string {
  return attempt.code ?? (attempt.httpStatus !== undefined ? String(attempt.httpStatus) : '_OTHER');
}

function requestAttributes(call: FinishedCall, maxTextChars: number): Attributes {
  const e = call.event;
  const a: Attributes = {
    [GEN_AI.operation]: genAiOperation(e.endpoint),
    [HTTP_REQUEST_METHOD]: 'POST',
    [HTTP_RESPONSE_STATUS_CODE]: e.outcome.http_status,
    [TOLLGATE.requestId]: e.request_id,
    [TOLLGATE.status]: e.outcome.status,
    [TOLLGATE.costUsd]: e.cost_usd.total,
    [TOLLGATE.priceMissing]: e.cost_usd.price_missing,
    [TOLLGATE.cacheHit]: e.cache_hit,
    [TOLLGATE.fallbackUsed]: e.outcome.fallback_used,
    [TOLLGATE.attempts]: e.outcome.attempts,
  };
  if (e.stream) a[GEN_AI.requestStream] = true;
  if (e.model_alias !== null) a[GEN_AI.requestModel] = e.model_alias;
  if (e.model_resolved !== null) a[GEN_AI.responseModel] = e.model_resolved;
  if (e.provider !== null) a[GEN_AI.provider] = genAiProviderName(e.provider);
  if (e.deployment_id !== null) a[TOLLGATE.deploymentId] = e.deployment_id;
  if (e.tenant_id !== null) a[TOLLGATE.tenantId] = e.tenant_id;
  if (e.feature_id !== null) a[TOLLGATE.featureId] = e.feature_id;
  if (e.key_id !== null) a[TOLLGATE.keyId] = e.key_id;
  if (e.team_id !== null) a[TOLLGATE.teamId] = e.team_id;
  if (e.outcome.rate_limit_tier !== null) a[TOLLGATE.rateLimitTier] = e.outcome.rate_limit_tier;
  if (e.outcome.vendor_request_id !== null) a[TOLLGATE.vendorRequestId] = e.outcome.vendor_request_id;
  const errorType = requestErrorType(e);
  if (errorType !== undefined) a[ERROR_TYPE] = errorType;
  const u = e.usage;
  if (u.input > 0 || u.output > 0) {
    a[GEN_AI.inputTokens] = u.input;
    a[GEN_AI.outputTokens] = u.output;
    if (u.cached_input > 0) a[GEN_AI.cacheReadTokens] = u.cached_input;
    if (u.cache_write > 0) a[GEN_AI.cacheWriteTokens] = u.cache_write;
    if (u.reasoning > 0) a[GEN_AI.reasoningTokens] = u.reasoning;
    if (u.estimated) a[TOLLGATE.usageEstimated] = true;
  }
  if (call.text) addText(a, call, maxTextChars);
  return a;
}

/**
 * The prompt and completion, only for calls whose text is logged (call.text is set only then):
 * redacted and bounded by the prompt log's writer, as JSON strings (the conventions allow a JSON
 * string on spans where structured attribute values are not supported, as in the JS API).
 */
function addText(a: Attributes, call: FinishedCall, maxChars: number): void {
  const text = call.text!;
  let truncated = false;
  const input = inputMessages(call.event.endpoint, text.prompt);
  if (input) {
    const messages = preparePrompt(input.messages, maxChars);
    a[GEN_AI.inputMessages] = messages.text;
    truncated ||= messages.truncated;
    if (input.system) {
      const system = preparePrompt(input.system, maxChars);
      a[GEN_AI.systemInstructions] = system.text;
      truncated ||= system.truncated;
    }
  }
  if (text.completion) {
    const output = preparePrompt(outputMessages(text.completion), maxChars);
    a[GEN_AI.outputMessages] = output.text;
    truncated ||= output.truncated;
  }
  if (truncated) a[TOLLGATE.textTruncated] = true;
}

function attemptAttributes(event: LedgerEvent, attempt: AttemptMark, index: number): Attributes {
  const a: Attributes = {
    [GEN_AI.operation]: genAiOperation(event.endpoint),
    [GEN_AI.provider]: genAiProviderName(attempt.provider),
    [GEN_AI.requestModel]: attempt.model,
    [TOLLGATE.alias]: attempt.alias,
    [TOLLGATE.deploymentId]: attempt.deployment,
    [TOLLGATE.provider]: attempt.provider,
    [TOLLGATE.attempt]: index + 1,
  };
  if (event.stream) a[GEN_AI.requestStream] = true;
  if (attempt.httpStatus !== undefined) a[HTTP_RESPONSE_STATUS_CODE] = attempt.httpStatus;
  if (attempt.firstTokenAt !== undefined) a[GEN_AI.timeToFirstChunk] = Math.max(0, attempt.firstTokenAt - attempt.start) / 1000;
  if (attempt.outcome === 'failed') a[ERROR_TYPE] = attemptErrorType(attempt);
  return a;
}

/** Epoch milliseconds (fractional) as [seconds, nanoseconds]. */
export function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  const nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

const NO_EVENTS: TimedEvent[] = [];
const NO_LINKS: Link[] = [];

/** A finished span as the SDK's exporters read it. */
class GatewaySpan implements ReadableSpan {
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly ended = true;
  readonly links = NO_LINKS;
  readonly events = NO_EVENTS;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly attributes: Attributes;
  readonly status: SpanStatus;
  readonly #context: SpanContext;

  constructor(
    name: string, kind: SpanKind, context: SpanContext, parent: SpanContext | undefined,
    startMs: number, endMs: number, attributes: Attributes, status: SpanStatus, source: SpanSource,
  ) {
    this.name = name;
    this.kind = kind;
    this.#context = context;
    this.parentSpanContext = parent;
    this.attributes = attributes;
    this.status = status;
    this.startTime = hrTime(startMs);
    this.endTime = hrTime(Math.max(startMs, endMs));
    this.duration = hrTime(Math.max(0, endMs - startMs));
    this.resource = source.resource;
    this.instrumentationScope = source.scope;
  }

  spanContext(): SpanContext {
    return this.#context;
  }
}
