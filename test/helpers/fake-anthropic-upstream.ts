// A fake Anthropic Messages API on a real HTTP server, for end-to-end tests. It speaks the
// wire as https://api.anthropic.com does: POST /v1/messages with x-api-key and
// anthropic-version headers (401 / 400 without them), `message` objects with text, tool_use
// and thinking blocks, usage with cache_creation_input_tokens / cache_read_input_tokens,
// SSE streams framed `event: X\ndata: {...}\n\n` (message_start, content_block_start, ping,
// content_block_delta, content_block_stop, message_delta, message_stop, error) and error
// bodies `{"type":"error","error":{"type","message"},"request_id"}`. Its behaviour comes
// from the request's `model` (the deployment's pinned model).
//
// Streams are written in many small writes cut at odd byte offsets (through UTF-8
// characters and mid-line), so a relay is exercised across chunk boundaries. Every byte
// written back is recorded, so tests can compare what the client got byte for byte.
//
// Behaviours (the request's model): text (default), tools, thinking; rate-limited (429 +
// retry-after), overloaded (529), server-error (500), invalid (400), prompt-too-long (400),
// key-echo (400 quoting the x-api-key it got); stream-error (an `event: error` mid-stream),
// broken-stream (socket destroyed mid-event), broken-stream-clean (destroyed right after a
// complete event), hang (never answers).

import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback, readRequestBody, RequestLog } from './request-log.ts';

/** The models the fake understands; anything else answers like `text`. */
export type FakeAnthropicBehaviour =
  | 'text'
  | 'tools'
  | 'thinking'
  | 'rate-limited'
  | 'overloaded'
  | 'server-error'
  | 'invalid'
  | 'prompt-too-long'
  | 'stream-error'
  | 'broken-stream'
  | 'broken-stream-clean'
  | 'key-echo'
  | 'hang';

export interface RecordedAnthropicResponse {
  status: number;
  headers: Record<string, string>;
  /** Every piece written, in order (one res.write each). */
  readonly chunks: Buffer[];
  /** All bytes written so far. */
  body(): Buffer;
}

export interface RecordedAnthropicRequest {
  readonly method: string;
  /** Path and query as received, e.g. /v1/messages. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The parsed JSON body, or undefined when it was not JSON. */
  readonly body: any;
  readonly response: RecordedAnthropicResponse;
  /** True once the response was fully written. */
  finished: boolean;
  /** Resolves when the exchange ends (finished, destroyed or closed by the caller). */
  readonly ended: Promise<void>;
}

export interface FakeAnthropicUpstream {
  /** http://127.0.0.1:<port>, what a deployment's api_base points at. */
  readonly url: string;
  /** The x-api-key the fake accepts. */
  readonly apiKey: string;
  readonly requests: RecordedAnthropicRequest[];
  /** The last request whose body named `model` (or the last request at all). */
  last(model?: string): RecordedAnthropicRequest;
  /** The request the gateway tagged with this X-Request-Id. */
  byRequestId(id: string): RecordedAnthropicRequest;
  waitForRequest(model: string, timeoutMs?: number): Promise<RecordedAnthropicRequest>;
  close(): Promise<void>;
}

// ── the canned answers (exported so tests assert exact values) ─────────────────

/** Text deltas, with multi-byte characters so odd byte splits cut through them. */
export const FAKE_AN_TEXT_PARTS = ['Hello', '! How can I help you today? ☀️', ' Café, naïve — all fine.'] as const;
export const FAKE_AN_TEXT = FAKE_AN_TEXT_PARTS.join('');

/** The `text` answer's usage: input excludes the cache reads and writes, as Anthropic reports it. */
export const FAKE_AN_USAGE = Object.freeze({
  input_tokens: 21,
  cache_creation_input_tokens: 7,
  cache_read_input_tokens: 1024,
  cache_creation: { ephemeral_5m_input_tokens: 7, ephemeral_1h_input_tokens: 0 },
  output_tokens: 19,
  service_tier: 'standard',
});
/** input + cache creation + cache read + output. */
export const FAKE_AN_TOTAL_TOKENS = 21 + 7 + 1024 + 19;

export const FAKE_AN_TOOL_TEXT = "I'll check the weather in both cities.";
export const FAKE_AN_TOOL_USES = Object.freeze([
  { type: 'tool_use' as const, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'fahrenheit' } },
  { type: 'tool_use' as const, id: 'toolu_01CaXqGSvGdvBxJ4d8H9bZcE', name: 'get_time', input: {} },
]);
/** How the first tool's input is streamed (the second streams only ''), as the API does. */
export const FAKE_AN_TOOL_JSON_PIECES = ['', '{"location": "San Fra', 'ncisco, CA", "unit": "fah', 'renheit"}'] as const;
export const FAKE_AN_TOOL_USAGE = Object.freeze({
  input_tokens: 472,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
  output_tokens: 89,
  service_tier: 'standard',
});

export const FAKE_AN_THINKING_PARTS = ['The user asks for 27 × 453.', '\n27 × 453 = 27 × 400 + 27 × 53 = 10800 + 1431 = 12231.'] as const;
export const FAKE_AN_THINKING = FAKE_AN_THINKING_PARTS.join('');
export const FAKE_AN_SIGNATURE = 'EuYBCkQYAiJAzFKz1pF3VQ2bpGkEm8ofBP0U7e6wXfq2hQ4ydV9cE0m3vM6tYq4Z7qYcKjd1ZpD0Cw4YQy1uT2dO8r5xRgYhEgzN3pL6yQ1vR8sA4fUaDP0kS2mJ7nH6cW9bXiIwq7tGvE3xY5ZdN1pQ8aR4fK2jL6sW0hM9cT3bV7nY1xU5eD8gA2kP4iO6rS0mH1wbPQhHRzZXN0aW5nIGRlbW8gc2lnbmF0dXJlGAI=';
export const FAKE_AN_THINKING_ANSWER = '27 × 453 = **12,231**';
export const FAKE_AN_THINKING_USAGE = Object.freeze({
  input_tokens: 46,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
  output_tokens: 127,
  service_tier: 'standard',
});

export const FAKE_AN_RATE_LIMIT_MESSAGE = 'This request would exceed the rate limit for your organization (4f7a1c2e-9b3d-4e8a-a6f1-2c5d7e9b0a13) of 50,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.';
export const FAKE_AN_RETRY_AFTER = '17';
export const FAKE_AN_OVERLOADED_MESSAGE = 'Overloaded';
export const FAKE_AN_SERVER_ERROR_MESSAGE = 'Internal server error';
export const FAKE_AN_INVALID_MESSAGE = 'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row';
export const FAKE_AN_PROMPT_TOO_LONG_MESSAGE = 'prompt is too long: 210000 tokens > 200000 maximum';
/** The text the `stream-error` stream sends before its error event. */
export const FAKE_AN_STREAM_ERROR_TEXT = 'Once upon';

/** Byte sizes the stream writes cycle through: odd, so lines and UTF-8 characters are cut. */
const WRITE_SIZES = [5, 1, 17, 3, 29, 11, 2, 41, 7, 13, 97, 23] as const;

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function anthropicId(prefix: string): string {
  const bytes = randomBytes(24);
  let out = prefix;
  for (let i = 0; i < 24; i++) out += BASE62[bytes[i]! % 62];
  return out;
}

function sseEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

function splitAtOddOffsets(bytes: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  let k = 0;
  for (let i = 0; i < bytes.length; k++) {
    const size = WRITE_SIZES[k % WRITE_SIZES.length]!;
    pieces.push(bytes.subarray(i, i + size));
    i += size;
  }
  return pieces;
}

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'thinking'; thinking: string; signature: string };

interface Answer {
  content: Block[];
  stopReason: 'end_turn' | 'tool_use';
  usage: Record<string, unknown>;
}

function answerFor(behaviour: string): Answer {
  switch (behaviour) {
    case 'tools':
      return {
        content: [{ type: 'text', text: FAKE_AN_TOOL_TEXT }, ...FAKE_AN_TOOL_USES.map((t) => ({ ...t, input: { ...t.input } }))],
        stopReason: 'tool_use',
        usage: structuredClone(FAKE_AN_TOOL_USAGE),
      };
    case 'thinking':
      return {
        content: [{ type: 'thinking', thinking: FAKE_AN_THINKING, signature: FAKE_AN_SIGNATURE }, { type: 'text', text: FAKE_AN_THINKING_ANSWER }],
        stopReason: 'end_turn',
        usage: structuredClone(FAKE_AN_THINKING_USAGE),
      };
    default:
      return { content: [{ type: 'text', text: FAKE_AN_TEXT }], stopReason: 'end_turn', usage: structuredClone(FAKE_AN_USAGE) };
  }
}

function message(model: string, answer: Answer): Record<string, unknown> {
  return {
    model,
    id: anthropicId('msg_01'),
    type: 'message',
    role: 'assistant',
    content: answer.content,
    stop_reason: answer.stopReason,
    stop_sequence: null,
    usage: answer.usage,
  };
}

/** The deltas one block streams as, the way the API chunks them. */
function blockDeltas(block: Block, behaviour: string): Array<Record<string, unknown>> {
  if (block.type === 'text') {
    const parts = behaviour === 'tools' ? ["I'll check the weather", ' in both cities.'] : behaviour === 'thinking' ? [block.text] : [...FAKE_AN_TEXT_PARTS];
    return parts.map((text) => ({ type: 'text_delta', text }));
  }
  if (block.type === 'thinking') {
    return [...FAKE_AN_THINKING_PARTS.map((thinking) => ({ type: 'thinking_delta', thinking })), { type: 'signature_delta', signature: block.signature }];
  }
  const pieces = Object.keys(block.input).length > 0 ? [...FAKE_AN_TOOL_JSON_PIECES] : [''];
  return pieces.map((partial_json) => ({ type: 'input_json_delta', partial_json }));
}

function blockStart(block: Block): Record<string, unknown> {
  if (block.type === 'text') return { type: 'text', text: '' };
  if (block.type === 'thinking') return { type: 'thinking', thinking: '', signature: '' };
  return { type: 'tool_use', id: block.id, name: block.name, input: {} };
}

/** A whole successful stream, exactly as the API frames it. */
function streamText(model: string, answer: Answer, behaviour: string): string {
  const { output_tokens: outputTokens, service_tier: _tier, cache_creation: _cc, ...counters } = answer.usage;
  let out = sseEvent('message_start', {
    message: { ...message(model, answer), content: [], stop_reason: null, stop_sequence: null, usage: { ...answer.usage, output_tokens: 1 } },
  });
  answer.content.forEach((block, index) => {
    out += sseEvent('content_block_start', { index, content_block: blockStart(block) });
    if (index === 0) out += sseEvent('ping', {});
    for (const delta of blockDeltas(block, behaviour)) out += sseEvent('content_block_delta', { index, delta });
    out += sseEvent('content_block_stop', { index });
  });
  out += sseEvent('message_delta', { delta: { stop_reason: answer.stopReason, stop_sequence: null }, usage: { ...counters, output_tokens: outputTokens } });
  out += sseEvent('message_stop', {});
  return out;
}

function streamErrorText(model: string): string {
  const answer = answerFor('text');
  return sseEvent('message_start', {
    message: { ...message(model, answer), content: [], stop_reason: null, stop_sequence: null, usage: { ...answer.usage, output_tokens: 1 } },
  })
    + sseEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
    + sseEvent('ping', {})
    + sseEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: FAKE_AN_STREAM_ERROR_TEXT } })
    + sseEvent('error', { error: { details: null, type: 'overloaded_error', message: FAKE_AN_OVERLOADED_MESSAGE } });
}

function responseHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'request-id': anthropicId('req_011C'),
    'anthropic-organization-id': '4f7a1c2e-9b3d-4e8a-a6f1-2c5d7e9b0a13',
    via: '1.1 google',
    ...extra,
  };
}

// ── the server ───────────────────────────────────────────────────────────────

export interface FakeAnthropicOptions {
  /** The x-api-key the fake accepts (any other gets 401 authentication_error). */
  apiKey: string;
}

export async function startFakeAnthropicUpstream(options: FakeAnthropicOptions): Promise<FakeAnthropicUpstream> {
  const log = new RequestLog<RecordedAnthropicRequest>('fake Anthropic upstream');
  const requests = log.requests;

  function writeHead(record: RecordedAnthropicRequest, res: ServerResponse, status: number, headers: Record<string, string>): void {
    record.response.status = status;
    record.response.headers = headers;
    res.writeHead(status, headers);
  }

  function write(record: RecordedAnthropicRequest, res: ServerResponse, piece: Buffer): void {
    record.response.chunks.push(piece);
    res.write(piece);
  }

  function sendJson(record: RecordedAnthropicRequest, res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const bytes = Buffer.from(JSON.stringify(body));
    writeHead(record, res, status, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...responseHeaders(extra) });
    // Two writes, cut inside the JSON, as a body may arrive.
    const cut = Math.floor(bytes.length / 3) | 1;
    write(record, res, bytes.subarray(0, cut));
    write(record, res, bytes.subarray(cut));
    res.end();
  }

  function sendError(record: RecordedAnthropicRequest, res: ServerResponse, status: number, type: string, messageText: string, extra: Record<string, string> = {}): void {
    sendJson(record, res, status, { type: 'error', error: { type, message: messageText }, request_id: anthropicId('req_011C') }, extra);
  }

  /** Writes `bytes` piece by piece, a macrotask apart, then ends (or breaks off after `breakAt` bytes). */
  function writeSlowly(record: RecordedAnthropicRequest, res: ServerResponse, bytes: Buffer, breakAt?: number): void {
    const pieces = splitAtOddOffsets(breakAt === undefined ? bytes : bytes.subarray(0, breakAt));
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      if (i === pieces.length) {
        if (breakAt === undefined) res.end();
        else setTimeout(() => res.socket?.destroy(), 10);
        return;
      }
      write(record, res, pieces[i++]!);
      setImmediate(next);
    };
    next();
  }

  function messages(record: RecordedAnthropicRequest, res: ServerResponse): void {
    const headers = record.headers;
    const key = headers['x-api-key'];
    if (key === undefined || key === '') return sendError(record, res, 401, 'authentication_error', 'x-api-key header is required');
    if (key !== options.apiKey) return sendError(record, res, 401, 'authentication_error', 'invalid x-api-key');
    if (!headers['anthropic-version']) return sendError(record, res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    const body = record.body;
    if (body === undefined || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return sendError(record, res, 400, 'invalid_request_error', 'There was an issue with your request: the body is not valid JSON');
    }
    for (const field of ['model', 'max_tokens', 'messages']) {
      if (body[field] === undefined) return sendError(record, res, 400, 'invalid_request_error', `${field}: Field required`);
    }
    const behaviour = String(body.model);
    const stream = body.stream === true;
    switch (behaviour) {
      case 'rate-limited':
        return sendError(record, res, 429, 'rate_limit_error', FAKE_AN_RATE_LIMIT_MESSAGE, {
          'retry-after': FAKE_AN_RETRY_AFTER,
          'anthropic-ratelimit-input-tokens-limit': '50000',
          'anthropic-ratelimit-input-tokens-remaining': '0',
        });
      case 'overloaded':
        return sendError(record, res, 529, 'overloaded_error', FAKE_AN_OVERLOADED_MESSAGE);
      case 'server-error':
        return sendError(record, res, 500, 'api_error', FAKE_AN_SERVER_ERROR_MESSAGE);
      case 'invalid':
        return sendError(record, res, 400, 'invalid_request_error', FAKE_AN_INVALID_MESSAGE);
      case 'prompt-too-long':
        return sendError(record, res, 400, 'invalid_request_error', FAKE_AN_PROMPT_TOO_LONG_MESSAGE);
      case 'key-echo':
        // Some proxies in front of providers quote the credential they refused.
        return sendError(record, res, 400, 'invalid_request_error', `model key-echo is not enabled for key ${String(key)} (key ${String(key)} is restricted)`);
      case 'hang':
        return; // never answers
      default:
        break;
    }
    const answer = answerFor(behaviour);
    if (!stream) {
      if (behaviour === 'broken-stream' || behaviour === 'broken-stream-clean') {
        const bytes = Buffer.from(JSON.stringify(message(behaviour, answer)));
        writeHead(record, res, 200, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...responseHeaders() });
        write(record, res, bytes.subarray(0, 37));
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      }
      return sendJson(record, res, 200, message(behaviour, answer));
    }
    writeHead(record, res, 200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...responseHeaders() });
    if (behaviour === 'stream-error') return writeSlowly(record, res, Buffer.from(streamErrorText(behaviour)));
    const bytes = Buffer.from(streamText(behaviour, answer, behaviour));
    if (behaviour === 'broken-stream') {
      // Breaks off in the middle of the second text delta's data line, as a dropped connection does.
      const at = bytes.indexOf('How can I help');
      return writeSlowly(record, res, bytes, at);
    }
    if (behaviour === 'broken-stream-clean') {
      // Breaks off right after a complete event (the first text delta).
      const at = bytes.indexOf('\n\n', bytes.indexOf('"text_delta"')) + 2;
      return writeSlowly(record, res, bytes, at);
    }
    writeSlowly(record, res, bytes);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    readRequestBody(req, (rawBody, body) => {
      let resolveEnded!: () => void;
      const response: RecordedAnthropicResponse = {
        status: 0,
        headers: {},
        chunks: [],
        body() {
          return Buffer.concat(this.chunks);
        },
      };
      const record: RecordedAnthropicRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        rawBody,
        body,
        response,
        finished: false,
        ended: new Promise<void>((resolve) => (resolveEnded = resolve)),
      };
      res.once('finish', () => {
        record.finished = true;
      });
      res.once('close', () => resolveEnded());
      log.add(record);
      const path = record.path.split('?')[0];
      if (req.method === 'POST' && path === '/v1/messages') return messages(record, res);
      sendError(record, res, 404, 'not_found_error', 'Not found');
    });
  }

  const { url, close } = await listenOnLoopback(handle);

  return {
    url,
    apiKey: options.apiKey,
    requests,
    last: (model) => log.last(model),
    byRequestId: (id) => log.byRequestId(id),
    waitForRequest: (model, timeoutMs) => log.waitForRequest(model, timeoutMs),
    close,
  };
}

/**
 * YAML for one alias per behaviour: alias `an-<behaviour>`, deployment id `fake-an-<behaviour>`,
 * provider anthropic, pinned model = the behaviour, keyed with `apiKey`.
 */
export function fakeAnthropicAliasesYaml(url: string, apiKey: string, behaviours: readonly FakeAnthropicBehaviour[], extra: Partial<Record<FakeAnthropicBehaviour, string>> = {}): string {
  return behaviours.map((b) => [
    `  an-${b}:`,
    '    deployments:',
    `      - id: fake-an-${b}`,
    '        provider: anthropic',
    `        model: ${b}`,
    `        api_base: ${url}`,
    `        api_key: ${apiKey}`,
    ...(extra[b] ? extra[b]!.split('\n').map((line) => `        ${line}`) : []),
  ].join('\n')).join('\n') + '\n';
}
