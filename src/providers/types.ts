// The provider contract. Central code knows only these types; everything a provider's
// wire format means lives in that provider's folder under src/providers/.
//
// The canonical request and response are OpenAI's chat-completions shapes: every client
// speaks them, and OpenAI-compatible providers can then pass bodies through untouched.

import type { Readable } from 'node:stream';
import type { ErrorCode } from '../errors/codes.ts';

// ── canonical chat (OpenAI wire) ──────────────────────────────────────────────
export interface TextPart { type: 'text'; text: string; [extra: string]: unknown }
export interface ImagePart { type: 'image_url'; image_url: { url: string; detail?: string }; [extra: string]: unknown }
export type ContentPart = TextPart | ImagePart | { type: string; [extra: string]: unknown };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  [extra: string]: unknown;
}

export interface FunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; [extra: string]: unknown } | null;
  tools?: FunctionTool[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: { type: string; json_schema?: unknown; [extra: string]: unknown };
  n?: number | null;
  stop?: string | string[] | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  user?: string;
  metadata?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; [extra: string]: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: number; [extra: string]: unknown } | null;
  /** Extension carried over from Anthropic: tokens written to the prompt cache. */
  cache_creation_input_tokens?: number;
  [extra: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | null;

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[]; refusal?: string | null; [extra: string]: unknown };
    finish_reason: FinishReason;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsage;
  system_fingerprint?: string | null;
  [extra: string]: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; tool_calls?: ToolCallDelta[]; refusal?: string | null; [extra: string]: unknown };
    finish_reason: FinishReason;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsage | null;
  [extra: string]: unknown;
}

// ── usage, as the ledger will want it ─────────────────────────────────────────
export interface Usage {
  inputTokens: number; // all input tokens, cached ones included
  outputTokens: number; // all output tokens, reasoning ones included
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  totalTokens: number;
}

// ── deployments: one pinned provider model behind an alias ───────────────────
export interface SimulatorFailures {
  rate_429: number;
  rate_500: number;
  rate_503: number;
  rate_timeout: number;
  rate_broken_stream: number;
}

export interface SimulatorSettings {
  /** Delay before a non-streamed response starts (streams use ttft_ms). */
  latency_ms: number;
  /** Delay before the first streamed chunk. */
  ttft_ms: number;
  /** Output pace; 0 means no pacing. */
  tokens_per_second: number;
  output_tokens: number;
  failures: SimulatorFailures;
}

export interface Deployment {
  readonly id: string;
  readonly alias: string;
  readonly provider: string;
  readonly model: string;
  readonly apiBase?: string;
  readonly apiKey?: string;
  readonly apiVersion?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly weight: number;
  /** Total time for a non-streamed call; for a stream, the longest pause between chunks. */
  readonly timeoutMs: number;
  readonly streamTimeoutMs: number;
  /** Time to open a connection to the provider. */
  readonly connectTimeoutMs: number;
  /** Streams: time until the first event arrives (defaults to streamTimeoutMs). */
  readonly ttftTimeoutMs?: number;
  /** Priority tier: lower orders are used first; higher ones only when no lower one is available. */
  readonly order: number;
  /** Whether background health checks probe this deployment (when router.health_checks is on). */
  readonly healthCheck: boolean;
  readonly dropParams: boolean;
  readonly region?: string;
  /** Deployment-scope limits: this deployment's share of the vendor key's quota. */
  readonly rpm?: number;
  readonly tpm?: number;
  readonly maxParallelRequests?: number;
  /** Price overrides from config (USD); the price table fills the rest from @pydantic/genai-prices. */
  readonly inputCostPerToken?: number;
  readonly outputCostPerToken?: number;
  /** Cached input tokens read (LiteLLM's cache_read_input_token_cost). */
  readonly cacheReadInputTokenCost?: number;
  /** Input tokens written to the prompt cache (LiteLLM's cache_creation_input_token_cost). */
  readonly cacheCreationInputTokenCost?: number;
  readonly inputCostPerRequest?: number;
  readonly modelInfo: Readonly<Record<string, unknown>>;
  readonly simulator?: SimulatorSettings;
}

// ── upstream I/O ──────────────────────────────────────────────────────────────
export interface UpstreamRequest {
  /** scheme://host[:port], the key of the connection pool */
  origin: string;
  /** path and query, starting with '/' */
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as it arrives, chunk by chunk (a byte stream). */
  body: Readable;
}

export interface SendOptions {
  signal: AbortSignal;
  /** The deployment being called (in-process transports read their settings from it). */
  deployment: Deployment;
  /** Time allowed until the response headers arrive. */
  headersTimeoutMs: number;
  /** Longest pause allowed between two body chunks. */
  bodyTimeoutMs: number;
}

export interface Transport {
  send(req: UpstreamRequest, options: SendOptions): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

// ── streams ───────────────────────────────────────────────────────────────────
export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

/**
 * How the router treats a failure. The first four are transient (retried, and counted against
 * the deployment's circuit breaker); context_window and content_policy go to their dedicated
 * fallbacks; the rest fail fast (auth and not_found still count against the deployment, since
 * they mean it is misconfigured, not that the request is wrong).
 */
export type FailureClass =
  | 'rate_limit' | 'timeout' | 'server_error' | 'connect_error'
  | 'context_window' | 'content_policy' | 'bad_request' | 'auth' | 'not_found';

/** What a provider's failure means, decided by the provider's own adapter. */
export interface UpstreamFailure {
  code: ErrorCode;
  message: string;
  /** What the router does about it (retry, fall back, fail fast). */
  class: FailureClass;
  retryAfterSeconds?: number;
}

export interface StreamStep<S> {
  state: S;
  /** Canonical chunks to send to the client, in order. */
  out: ChatChunk[];
  /** Set once the provider has reported usage. */
  usage?: Usage;
  /** Set when the provider reported an error inside the stream. */
  error?: UpstreamFailure;
  /** Set when the provider's stream is complete (a later event would be ignored). */
  done?: boolean;
  /** Set on a chunk that only carries usage (no choices): shown to the client only if it asked. */
  usageOnly?: boolean;
  /** Characters of generated output in the event, to estimate usage when a stream breaks off. */
  outputChars?: number;
}

/** A pure stream reducer: (state, provider event) → (state, canonical chunks). */
export interface StreamReducer<S> {
  init(): S;
  step(state: S, event: SseEvent): StreamStep<S>;
}

// ── the adapter ───────────────────────────────────────────────────────────────
export interface ChatCodec {
  /**
   * 'openai' means the provider speaks OpenAI's chat wire: bodies and stream events pass
   * through verbatim, and the stream reducer only reports usage, errors and the end
   * (its `out` stays empty). 'translated' providers return canonical chunks in `out`.
   */
  readonly wire: 'openai' | 'translated';
  /**
   * Whether the provider accepts a top-level request field. Unsupported fields fail the
   * request with unsupported_param, or are dropped when the deployment sets drop_params.
   * OpenAI-compatible providers accept unknown fields and forward them unchanged.
   * `value` lets a provider accept a field only at values it can honour (e.g. n = 1).
   */
  supportsParam(name: string, value: unknown): boolean;
  /**
   * `source` is the client's JSON text when `req` is exactly that text parsed (only `model`
   * still to be pinned): a passthrough provider may forward it instead of re-serialising.
   */
  toRequest(req: ChatRequest, dep: Deployment, source?: string): UpstreamRequest;
  fromResponse(body: unknown, dep: Deployment): ChatCompletion;
  readonly stream: StreamReducer<any>;
}

export interface EmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
  [extra: string]: unknown;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface EmbeddingsCodec {
  toRequest(req: EmbeddingsRequest, dep: Deployment): UpstreamRequest;
  fromResponse(body: unknown, dep: Deployment): EmbeddingsResponse;
}

/** A provider that speaks Anthropic's Messages API natively: /v1/messages passes through. */
export interface MessagesPassthrough {
  /** `clientHeaders` are the caller's lower-cased headers (e.g. anthropic-version, anthropic-beta). */
  toRequest(body: Record<string, unknown>, dep: Deployment, clientHeaders: Readonly<Record<string, string | string[] | undefined>>): UpstreamRequest;
  usageFromResponse(body: unknown): Usage | undefined;
  /** A failure reported inside a success-status body (e.g. a 200 carrying an error object). */
  failureInBody?(body: unknown): UpstreamFailure | undefined;
  /** Reads usage out of the provider's own stream events; the events themselves are forwarded raw. */
  readonly streamUsage: StreamReducer<any>;
}

export interface ProviderAdapter {
  readonly name: string;
  /** Used when a deployment sets no api_base. */
  readonly defaultApiBase?: string;
  /** Config problems with this deployment (missing api_base, api_version, ...), as fix-it messages. */
  validate(dep: Deployment): string[];
  readonly chat: ChatCodec;
  readonly embeddings?: EmbeddingsCodec;
  readonly messages?: MessagesPassthrough;
  mapError(status: number, bodyText: string, headers: UpstreamResponse['headers']): UpstreamFailure;
  /** The response header carrying the provider's own id of a call (lower-case), for the ledger. */
  readonly requestIdHeader?: string;
  /** gen_ai.provider.name in traces, where the OpenTelemetry GenAI conventions name this provider (else its name). */
  readonly genAiProviderName?: string;
  /** Providers that are not reached over HTTP (the simulator) bring their own transport. */
  createTransport?(): Transport;
}
