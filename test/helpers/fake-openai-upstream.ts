// A fake OpenAI API on a real HTTP server, for end-to-end tests. It speaks OpenAI's wire
// format as the real API does (response and chunk shapes, usage with cached tokens, SSE
// framing, tool calls streamed as deltas, error envelopes) and picks its behaviour from
// the request's `model`, which is the deployment's pinned model.

import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback, readRequestBody, RequestLog } from './request-log.ts';

/** The models the fake understands; anything else answers like `ok`. */
export type FakeBehaviour =
  | 'ok'
  | 'tools'
  | 'rate-limited'
  | 'server-error'
  | 'overloaded'
  | 'bad-auth'
  | 'context-too-long'
  | 'hang'
  | 'hang-stream'
  | 'broken-stream'
  | 'stream-error'
  | 'not-json'
  /** Answers with the last user message's text (streamed in 7-character deltas). */
  | 'echo';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query as received, e.g. /v1/chat/completions. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The parsed JSON body, or undefined when it was not JSON. */
  readonly body: any;
  /** performance.now() when the request was fully received. */
  readonly receivedAt: number;
  /** True once the response was fully written. */
  finished: boolean;
  /** True when the connection closed before the response was finished (the caller went away). */
  closedByClient: boolean;
  /** performance.now() when the connection closed early. */
  closedAt?: number;
  /** Resolves when the exchange ends, either way. */
  readonly ended: Promise<void>;
}

export interface FakeOpenAIUpstream {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** url + '/v1', what a deployment's api_base points at. */
  readonly baseURL: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** The last request whose body named `model` (or the last request at all). */
  last(model?: string): RecordedRequest;
  /** The request the gateway tagged with this X-Request-Id. */
  byRequestId(id: string): RecordedRequest;
  /** Resolves true once `record`'s connection is closed by the caller, false after `timeoutMs`. */
  waitForClientClose(record: RecordedRequest, timeoutMs: number): Promise<boolean>;
  /** Resolves when a request for `model` has arrived (e.g. before aborting it). */
  waitForRequest(model: string, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

// ── the canned answers (exported so tests assert exact values) ─────────────────

export const FAKE_TEXT_PARTS = ['Hello', ' from', ' the', ' fake', ' upstream', '.'] as const;
export const FAKE_TEXT = FAKE_TEXT_PARTS.join('');

export const FAKE_USAGE = Object.freeze({
  prompt_tokens: 21,
  completion_tokens: 6,
  total_tokens: 27,
  prompt_tokens_details: { cached_tokens: 8, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
});

export const FAKE_TOOL_CALLS = Object.freeze([
  { id: 'call_Xq1hV8dYbq3kWcB2Zt9Lm0aa', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } },
  { id: 'call_Rr7pQ2sTuv4wXyZ5Ab6Cd1bb', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Tokyo","unit":"celsius"}' } },
]);

/** How the tool-call arguments are split into deltas, as OpenAI does (a few characters at a time). */
function argumentPieces(args: string): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < args.length; i += 5) pieces.push(args.slice(i, i + 5));
  return pieces;
}

/** The fake's embedding for input `index`: values exactly representable as float32. */
export function fakeEmbedding(index: number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, i) => ((index + 1) * (i + 1)) / 8 - 1);
}

export const FAKE_CONTEXT_MESSAGE = "This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.";
export const FAKE_RATE_LIMIT_MESSAGE = 'Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 7s.';
export const FAKE_SERVER_ERROR_MESSAGE = 'The server had an error while processing your request. Sorry about that!';
export const FAKE_OVERLOADED_MESSAGE = 'The engine is currently overloaded, please try again later.';

/** OpenAI's masked echo of a key: `sk-up***...***ab12`. */
export function maskKey(key: string): string {
  return key.length <= 9 ? '*'.repeat(key.length) : `${key.slice(0, 5)}${'*'.repeat(key.length - 9)}${key.slice(-4)}`;
}

// ── wire helpers ─────────────────────────────────────────────────────────────

function upstreamHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'x-request-id': `req_${randomBytes(16).toString('hex')}`,
    'openai-processing-ms': '42',
    'openai-version': '2020-10-01',
    ...extra,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...upstreamHeaders(extra) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, type: string, param: string | null, code: string | null, extra: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message, type, param, code } }, extra);
}

function sse(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

interface ChunkBase {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  service_tier: string;
  system_fingerprint: string;
}

function chunkOf(base: ChunkBase, delta: Record<string, unknown>, finishReason: string | null, withUsage: boolean, index = 0): Record<string, unknown> {
  return { ...base, choices: [{ index, delta, logprobs: null, finish_reason: finishReason }], ...(withUsage ? { usage: null } : {}) };
}

/** The SSE frames of a whole stream, exactly as OpenAI sends them. */
function streamFrames(body: any, behaviour: FakeBehaviour): string[] {
  const includeUsage = body?.stream_options?.include_usage === true;
  const base: ChunkBase = {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: String(body.model),
    service_tier: 'default',
    system_fingerprint: 'fp_fake0001',
  };
  const frames: string[] = [];
  if (behaviour === 'tools') {
    FAKE_TOOL_CALLS.forEach((call, i) => {
      const first = { index: i, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } };
      frames.push(sse(chunkOf(base, i === 0 ? { role: 'assistant', content: null, tool_calls: [first], refusal: null } : { tool_calls: [first] }, null, includeUsage)));
      for (const piece of argumentPieces(call.function.arguments)) {
        frames.push(sse(chunkOf(base, { tool_calls: [{ index: i, function: { arguments: piece } }] }, null, includeUsage)));
      }
    });
    frames.push(sse(chunkOf(base, {}, 'tool_calls', includeUsage)));
  } else {
    const n = Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
    for (let index = 0; index < n; index++) {
      frames.push(sse(chunkOf(base, { role: 'assistant', content: '', refusal: null }, null, includeUsage, index)));
      for (const part of textParts(body, behaviour)) frames.push(sse(chunkOf(base, { content: part }, null, includeUsage, index)));
      frames.push(sse(chunkOf(base, {}, 'stop', includeUsage, index)));
    }
  }
  if (includeUsage) frames.push(sse({ ...base, choices: [], usage: FAKE_USAGE }));
  frames.push(sse('[DONE]'));
  return frames;
}

/** The answer's text in stream deltas: the canned text, or (echo) the last user message's. */
function textParts(body: any, behaviour: FakeBehaviour): readonly string[] {
  if (behaviour !== 'echo') return FAKE_TEXT_PARTS;
  const users = (Array.isArray(body?.messages) ? body.messages : []).filter((m: any) => m?.role === 'user');
  const content = users.at(-1)?.content;
  const text = typeof content === 'string' ? content : Array.isArray(content) ? content.map((p: any) => p?.text ?? '').join('') : '';
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 7) parts.push(text.slice(i, i + 7));
  return parts;
}

function completion(body: any, behaviour: FakeBehaviour): Record<string, unknown> {
  const n = Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
  const choices = behaviour === 'tools'
    ? [{ index: 0, message: { role: 'assistant', content: null, tool_calls: FAKE_TOOL_CALLS, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'tool_calls' }]
    : Array.from({ length: n }, (_, index) => ({ index, message: { role: 'assistant', content: textParts(body, behaviour).join(''), refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }));
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: String(body.model),
    choices,
    usage: FAKE_USAGE,
    service_tier: 'default',
    system_fingerprint: 'fp_fake0001',
  };
}

function float32Base64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

function embeddings(res: ServerResponse, body: any): void {
  const inputs: unknown[] = Array.isArray(body.input) ? body.input : [body.input];
  const dimensions = Number.isInteger(body.dimensions) ? body.dimensions : 8;
  const base64 = body.encoding_format === 'base64';
  const tokens = inputs.reduce<number>((sum, input) => sum + (typeof input === 'string' ? input.split(/\s+/).filter(Boolean).length : 1), 0);
  sendJson(res, 200, {
    object: 'list',
    data: inputs.map((_, index) => {
      const vector = fakeEmbedding(index, dimensions);
      return { object: 'embedding', index, embedding: base64 ? float32Base64(vector) : vector };
    }),
    model: String(body.model),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function bearerKey(headers: IncomingHttpHeaders): string {
  const match = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  return match ? match[1]!.trim() : '';
}

// ── the server ───────────────────────────────────────────────────────────────

export async function startFakeOpenAIUpstream(): Promise<FakeOpenAIUpstream> {
  const log = new RequestLog<RecordedRequest>('fake upstream');
  const requests = log.requests;

  function chat(req: RecordedRequest, res: ServerResponse): void {
    const body = req.body;
    const behaviour = String(body?.model ?? 'ok') as FakeBehaviour;
    const stream = body?.stream === true;
    switch (behaviour) {
      case 'rate-limited':
        return sendError(res, 429, FAKE_RATE_LIMIT_MESSAGE, 'requests', null, 'rate_limit_exceeded', { 'retry-after': '7', 'x-ratelimit-remaining-requests': '0' });
      case 'server-error':
        return sendError(res, 500, FAKE_SERVER_ERROR_MESSAGE, 'server_error', null, null);
      case 'overloaded':
        return sendError(res, 503, FAKE_OVERLOADED_MESSAGE, 'server_error', null, null);
      case 'bad-auth':
        return sendError(res, 401, `Incorrect API key provided: ${maskKey(bearerKey(req.headers))}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', null, 'invalid_api_key');
      case 'context-too-long':
        return sendError(res, 400, FAKE_CONTEXT_MESSAGE, 'invalid_request_error', 'messages', 'context_length_exceeded');
      case 'hang':
        return; // never answers
      case 'not-json':
        res.writeHead(200, { 'content-type': 'application/json', ...upstreamHeaders() });
        res.end('<html><body>upstream proxy says hello</body></html>{"choices": [');
        return;
      default:
        break;
    }
    if (!stream) return sendJson(res, 200, completion(body, behaviour));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...upstreamHeaders() });
    const frames = streamFrames(body, behaviour);
    if (behaviour === 'hang-stream') {
      res.write(frames[0]!);
      res.write(frames[1]!);
      return; // stalls: the connection stays open, nothing more is sent
    }
    if (behaviour === 'broken-stream') {
      res.write(frames.slice(0, 3).join(''));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (behaviour === 'stream-error') {
      res.write(frames.slice(0, 3).join(''));
      res.end(sse({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } }));
      return;
    }
    // Written as separate chunks, as a real stream arrives.
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      if (i === frames.length) {
        res.end();
        return;
      }
      res.write(frames[i++]!);
      setImmediate(next);
    };
    next();
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    readRequestBody(req, (rawBody, body) => {
      let resolveEnded!: () => void;
      const record: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        rawBody,
        body,
        receivedAt: performance.now(),
        finished: false,
        closedByClient: false,
        ended: new Promise<void>((resolve) => (resolveEnded = resolve)),
      };
      res.once('finish', () => {
        record.finished = true;
      });
      res.once('close', () => {
        if (!record.finished) {
          record.closedByClient = true;
          record.closedAt = performance.now();
        }
        resolveEnded();
      });
      log.add(record);
      const path = record.path.split('?')[0];
      if (req.method === 'POST' && path === '/v1/chat/completions') return chat(record, res);
      if (req.method === 'POST' && path === '/v1/embeddings') return embeddings(res, body ?? {});
      sendError(res, 404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error', null, null);
    });
  }

  const { url, close } = await listenOnLoopback(handle);

  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    last: (model) => log.last(model),
    byRequestId: (id) => log.byRequestId(id),
    async waitForClientClose(record, timeoutMs) {
      if (record.closedByClient) return true;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([record.ended, timedOut]);
      clearTimeout(timer);
      return record.closedByClient;
    },
    waitForRequest: (model, timeoutMs) => log.waitForRequest(model, timeoutMs, (r) => !r.finished && !r.closedByClient),
    close,
  };
}

/** A loopback port with nothing listening on it (for connection-refused tests). */
export { freePort as closedPort } from './free-port.ts';

/**
 * YAML for one alias per behaviour: alias `up-<behaviour>`, deployment id `fake-<behaviour>`,
 * provider openai_compatible, pinned model = the behaviour, keyed with `apiKey`.
 */
export function fakeAliasesYaml(baseURL: string, apiKey: string, behaviours: readonly FakeBehaviour[], extra: Partial<Record<FakeBehaviour, string>> = {}): string {
  return behaviours.map((b) => [
    `  up-${b}:`,
    '    deployments:',
    `      - id: fake-${b}`,
    '        provider: openai_compatible',
    `        model: ${b}`,
    `        api_base: ${baseURL}`,
    `        api_key: ${apiKey}`,
    ...(extra[b] ? extra[b]!.split('\n').map((line) => `        ${line}`) : []),
  ].join('\n')).join('\n') + '\n';
}
