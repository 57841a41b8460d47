// One finished model call as Langfuse ingestion events: a trace-create and a generation-create.
// Pure: the same FinishedCall always gives the same events (no clock, no randomness), so a batch
// sent again after a timeout upserts the same trace and generation instead of duplicating them.
//
// Shapes follow Langfuse's ingestion API definition (langfuse/langfuse,
// fern/apis/server/definition/ingestion.yml: TraceBody, CreateGenerationBody, BaseEvent) and the
// server's validation of it (packages/shared/src/server/ingestion/types.ts: ids 1-800 characters,
// ISO 8601 datetimes with offset, usageDetails a map of non-negative integers, costDetails a map of
// non-negative USD amounts, levels DEBUG | DEFAULT | WARNING | ERROR).
//
// Ids:
// - trace: the ledger's trace_id (the W3C trace id: the client's traceparent, or a new one). A
//   call without a traceparent gets its own trace; calls an agent makes under one traceparent land
//   in one Langfuse trace; and the id is the one the gateway's OpenTelemetry spans carry (and the
//   one Langfuse's own OpenTelemetry-based SDKs use), so the same trace can be found everywhere.
//   request_id was the other candidate, but clients choose it (x-request-id) and may reuse it.
// - generation: the ledger's event_id (a UUID, unique per call, the ledger's own idempotency
//   key), so a Langfuse generation and its ledger row share an id.
// - envelopes: `<event_id>:trace` and `<event_id>:generation`. Langfuse deduplicates on the
//   envelope id and upserts on the body id ("the event id should be unique per request … if you
//   want to update a trace, you'd use the same body id, but separate event IDs").

import { preparePrompt, prepareCompletion } from '../../ledger/prompt-log/prompt-text.ts';
import { redact } from '../../redaction/redact.ts';
import type { LedgerCost, LedgerEvent, LedgerStatus, LedgerUsage } from '../../ledger/ledger-event.ts';
import type { AttemptMark, FinishedCall, MonotonicMs } from '../finished-call.ts';

export type ObservationLevel = 'DEBUG' | 'DEFAULT' | 'WARNING' | 'ERROR';

/** Langfuse's TraceBody (the fields Tollgate sets). */
export interface TraceBody {
  readonly id: string;
  readonly timestamp: string;
  readonly name?: string;
  readonly userId?: string;
  readonly sessionId?: string;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly tags: readonly string[];
  readonly environment?: string;
  readonly release?: string;
}

/** Langfuse's CreateGenerationBody (the fields Tollgate sets). */
export interface GenerationBody {
  readonly id: string;
  readonly traceId: string;
  readonly name: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly completionStartTime?: string;
  readonly model?: string;
  readonly modelParameters: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly usageDetails: Readonly<Record<string, number>>;
  readonly costDetails?: Readonly<Record<string, number>>;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly level: ObservationLevel;
  readonly statusMessage?: string;
  readonly version?: string;
  readonly environment?: string;
}

export type IngestionEvent =
  | { readonly id: string; readonly timestamp: string; readonly type: 'trace-create'; readonly body: TraceBody }
  | { readonly id: string; readonly timestamp: string; readonly type: 'generation-create'; readonly body: GenerationBody };

export interface IngestionEventOptions {
  /** Langfuse environment (lower-case letters, digits, - and _; not starting with "langfuse"). */
  readonly environment?: string;
  /** Shown on traces (the deployed Tollgate release, for example). */
  readonly release?: string;
  /** Longest prompt (as JSON) and completion sent, in characters each; longer ones are cut. */
  readonly maxTextChars: number;
}

/** Each call becomes this many ingestion events (queues count in events). */
export const EVENTS_PER_CALL = 2;

/** Request parameters copied to modelParameters when the prompt (the request body) is logged. */
const MODEL_PARAMETERS = [
  'temperature', 'top_p', 'top_k', 'max_tokens', 'max_completion_tokens', 'frequency_penalty', 'presence_penalty',
  'seed', 'n', 'reasoning_effort', 'stop', 'stop_sequences', 'service_tier', 'parallel_tool_calls',
] as const;
/** A string parameter longer than this is not a setting (and is left out). */
const MAX_PARAMETER_CHARS = 200;

/** The call's trace-create and generation-create events, in that order. */
export function toIngestionEvents(call: FinishedCall, options: IngestionEventOptions): [IngestionEvent, IngestionEvent] {
  const { event } = call;
  const times = callTimes(call);
  const startIso = iso(times.start);
  const endIso = iso(times.end);
  const text = call.text ? callText(call, options.maxTextChars) : undefined;
  // A traceparent from the client means the trace is the client's: the gateway adds its
  // generation and its attributes, but leaves the trace's name, input and output to the client
  // (an upsert would overwrite them). Otherwise the gateway started the trace and describes it.
  const ownsTrace = call.parentSpanId === undefined;
  const env = options.environment ? { environment: options.environment } : {};
  const sessionId = event.metadata.session_id;

  const trace: TraceBody = {
    id: event.trace_id,
    timestamp: startIso,
    ...(ownsTrace ? { name: event.endpoint } : {}),
    ...(event.user_id_hash ? { userId: event.user_id_hash } : {}),
    ...(typeof sessionId === 'string' && sessionId !== '' ? { sessionId } : {}),
    ...(ownsTrace && text ? { input: text.input, ...(text.output !== undefined ? { output: text.output } : {}) } : {}),
    metadata: traceMetadata(event),
    tags: [...event.tags],
    ...env,
    ...(options.release ? { release: options.release } : {}),
  };

  const cost = costDetails(event.cost_usd);
  const status = statusMessage(event);
  const generation: GenerationBody = {
    id: event.event_id,
    traceId: event.trace_id,
    name: event.model_alias ?? event.endpoint,
    startTime: startIso,
    endTime: endIso,
    ...(times.completionStart !== undefined ? { completionStartTime: iso(times.completionStart) } : {}),
    ...(event.model_resolved ? { model: event.model_resolved } : {}),
    modelParameters: modelParameters(event, call.text?.prompt),
    ...(text ? { input: text.input, ...(text.output !== undefined ? { output: text.output } : {}) } : {}),
    usageDetails: usageDetails(event.usage),
    ...(cost ? { costDetails: cost } : {}),
    metadata: generationMetadata(call, text?.truncated === true),
    level: levelOf(event.outcome.status),
    ...(status !== undefined ? { statusMessage: status } : {}),
    ...(event.prompt_version ? { version: event.prompt_version } : {}),
    ...env,
  };

  return [
    { id: `${event.event_id}:trace`, timestamp: endIso, type: 'trace-create', body: trace },
    { id: `${event.event_id}:generation`, timestamp: endIso, type: 'generation-create', body: generation },
  ];
}

/**
 * Langfuse's usage types are disjoint parts that add up to the total: `input` is the uncached
 * input, `input_cache_read` and `input_cache_creation` the cached and cache-writing input, `output`
 * the output without reasoning and `output_reasoning_tokens` the reasoning (this is what Langfuse
 * itself makes of OpenAI's usage, and the names its model price table uses). The UI sums the types
 * whose names contain "input" or "output" (langfuse.com/docs/observability/features/
 * token-and-cost-tracking; the OpenAI mapping is in Langfuse's ingestion/types.ts). The ledger
 * counts cached input inside `input` and reasoning inside `output`, so they are taken out here.
 */
export function usageDetails(usage: LedgerUsage): Record<string, number> {
  const cacheRead = count(usage.cached_input);
  const cacheWrite = count(usage.cache_write);
  const reasoning = count(usage.reasoning);
  const details: Record<string, number> = {
    input: Math.max(0, count(usage.input) - cacheRead - cacheWrite),
    output: Math.max(0, count(usage.output) - reasoning),
    total: count(usage.total),
  };
  if (cacheRead > 0) details.input_cache_read = cacheRead;
  if (cacheWrite > 0) details.input_cache_creation = cacheWrite;
  if (reasoning > 0) details.output_reasoning_tokens = reasoning;
  return details;
}

/**
 * The ledger's USD cost, which Langfuse then shows instead of inferring its own ("ingested usage
 * and cost are prioritized over inferred"). No price known: no costDetails, so Langfuse may still
 * infer one from its model table rather than show the call as free.
 */
export function costDetails(cost: LedgerCost): Record<string, number> | undefined {
  if (cost.price_missing) return undefined;
  return { input: usd(cost.input), output: usd(cost.output), total: usd(cost.total) };
}

/** Served calls are DEFAULT; a client that left is a WARNING; every refusal or failure an ERROR. */
export function levelOf(status: LedgerStatus): ObservationLevel {
  if (status === 'success' || status === 'cache_hit') return 'DEFAULT';
  if (status === 'client_gone') return 'WARNING';
  return 'ERROR';
}

function statusMessage(event: LedgerEvent): string | undefined {
  const { status, error_code, http_status, rate_limit_tier } = event.outcome;
  if (status === 'success' || status === 'cache_hit') return undefined;
  const code = error_code ? `: ${error_code}` : '';
  const limit = rate_limit_tier ? `, limit ${rate_limit_tier}` : '';
  return `${status}${code} (HTTP ${http_status}${limit})`;
}

interface CallTimes {
  readonly start: number;
  readonly end: number;
  readonly completionStart?: number;
}

/**
 * The generation spans the whole request as the client saw it (arrival to the response's end),
 * so its latency is the ledger's latency_ms.total and its time to first token includes the
 * gateway and any retries; the provider's own share is in the metadata (latency_ms).
 * Monotonic timeline marks become wall-clock time through receivedAtEpochMs.
 */
function callTimes(call: FinishedCall): CallTimes {
  const { event } = call;
  const arrival = Number.isFinite(call.receivedAtEpochMs) ? call.receivedAtEpochMs : Date.parse(event.timestamp);
  const start = Number.isFinite(arrival) ? arrival : 0;
  const epoch = (t: MonotonicMs) => start + (t - call.receivedAt);
  let end = epoch(call.endedAt);
  if (!Number.isFinite(end) || end < start) end = start + Math.max(0, event.latency_ms.total || 0);
  const serving = servingAttempt(call.timeline.attempts);
  let completionStart: number | undefined;
  if (serving?.firstTokenAt !== undefined) completionStart = epoch(serving.firstTokenAt);
  else if (serving && event.latency_ms.ttft !== null) completionStart = epoch(serving.start) + event.latency_ms.ttft;
  if (completionStart !== undefined && !Number.isFinite(completionStart)) completionStart = undefined;
  if (completionStart !== undefined) completionStart = Math.min(end, Math.max(start, completionStart));
  return completionStart === undefined ? { start, end } : { start, end, completionStart };
}

/** The attempt that served (the last that succeeded), or else the last one tried. */
function servingAttempt(attempts: readonly AttemptMark[]): AttemptMark | undefined {
  for (let i = attempts.length - 1; i >= 0; i--) if (attempts[i]!.outcome === 'ok') return attempts[i];
  return attempts[attempts.length - 1];
}

interface CallTextOut {
  readonly input: unknown;
  readonly output?: string;
  readonly truncated: boolean;
}

/**
 * Prompt and completion go through the prompt log's preparation: redacted (secrets, e-mails,
 * cards, …), the end user's raw id removed, inline binary data left out, and cut at
 * maxTextChars. docs/ledger.md promises that logged prompts are redacted before they are stored
 * anywhere, and Langfuse is somewhere.
 */
function callText(call: FinishedCall, maxTextChars: number): CallTextOut {
  const prompt = preparePrompt(call.text!.prompt, maxTextChars);
  const completion = prepareCompletion(typeof call.text!.completion === 'string' ? call.text!.completion : '', maxTextChars);
  let input: unknown;
  try {
    input = JSON.parse(prompt.text);
  } catch {
    input = prompt.text;
  }
  const truncated = prompt.truncated || completion.truncated;
  return completion.text === '' ? { input, truncated } : { input, output: completion.text, truncated };
}

/** Sampling settings from the request body (only logged bodies are seen), plus whether it streamed. */
function modelParameters(event: LedgerEvent, prompt: unknown): Record<string, string | number | boolean | readonly string[]> {
  const params: Record<string, string | number | boolean | readonly string[]> = { stream: event.stream };
  if (!prompt || typeof prompt !== 'object' || Array.isArray(prompt)) return params;
  const body = prompt as Record<string, unknown>;
  for (const name of MODEL_PARAMETERS) {
    const value = body[name];
    if (typeof value === 'number' && Number.isFinite(value)) params[name] = value;
    else if (typeof value === 'boolean') params[name] = value;
    else if (typeof value === 'string' && value.length <= MAX_PARAMETER_CHARS) params[name] = redact(value);
    else if (Array.isArray(value) && value.length <= 16 && value.every((v) => typeof v === 'string' && v.length <= MAX_PARAMETER_CHARS)) {
      params[name] = value.map((v: string) => redact(v));
    }
  }
  return params;
}

/**
 * Who called and how it ended. The request's own string metadata (body metadata, up to 16
 * values) comes first, so a client cannot pass off its own tenant_id or status as the gateway's.
 * The key is named by its id and alias only; its secret is never in a ledger event. Null fields
 * are left out.
 */
function traceMetadata(event: LedgerEvent): Record<string, unknown> {
  const m: Record<string, unknown> = { ...event.metadata };
  put(m, 'tenant_id', event.tenant_id);
  put(m, 'feature_id', event.feature_id);
  put(m, 'team_id', event.team_id);
  put(m, 'key_id', event.key_id);
  put(m, 'key_alias', event.key_alias);
  put(m, 'request_id', event.request_id);
  put(m, 'tags', [...event.tags]);
  put(m, 'status', event.outcome.status);
  put(m, 'error_code', event.outcome.error_code);
  return m;
}

function generationMetadata(call: FinishedCall, textTruncated: boolean): Record<string, unknown> {
  const { event } = call;
  const { outcome, cost_usd: cost } = event;
  const m = traceMetadata(event);
  put(m, 'endpoint', event.endpoint);
  put(m, 'model_alias', event.model_alias);
  put(m, 'provider', event.provider);
  put(m, 'deployment_id', event.deployment_id);
  put(m, 'region', event.region);
  put(m, 'http_status', outcome.http_status);
  put(m, 'vendor_request_id', outcome.vendor_request_id);
  put(m, 'attempts', outcome.attempts);
  put(m, 'fallback_chain', [...outcome.fallback_chain]);
  put(m, 'fallback_used', outcome.fallback_used);
  put(m, 'rate_limit_tier', outcome.rate_limit_tier);
  put(m, 'cache_hit', event.cache_hit);
  put(m, 'usage_estimated', event.usage.estimated);
  put(m, 'price_missing', cost.price_missing);
  put(m, 'price_table_version', cost.price_table_version);
  if (cost.saved > 0) put(m, 'cost_saved_usd', cost.saved);
  put(m, 'latency_ms', { ...event.latency_ms });
  put(m, 'prompt_version', event.prompt_version);
  put(m, 'ledger_event_id', event.event_id);
  put(m, 'span_id', call.spanId);
  put(m, 'parent_span_id', call.parentSpanId);
  if (textTruncated) put(m, 'text_truncated', true);
  return m;
}

/** Sets the gateway's value, or, when it has none, removes one the request's metadata gave. */
function put(m: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== null && value !== undefined) m[key] = value;
  else if (Object.hasOwn(m, key)) delete m[key];
}

/** Token counts as Langfuse takes them: non-negative integers. */
function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

function usd(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Milliseconds since the epoch as ISO 8601 (UTC; Langfuse needs millisecond resolution). */
function iso(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}
