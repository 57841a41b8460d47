// A fake OpenAI-compatible API whose failures are scripted per model, for reliability tests:
// 429 storms with Retry-After, 5xx bursts, hangs, connection resets, slow first tokens and
// streams that break mid-way. Each request for a model takes the next fault from that model's
// script; when the script is empty the model's standing behaviour applies (a normal answer
// unless set otherwise). Answers speak OpenAI's wire format, streaming included, and say which
// model served them ("served by <model>"), so a test sees where a request ended up.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback, readRequestBody } from './request-log.ts';

export type Fault =
  /** A normal answer, after `latencyMs` (whole calls) or `ttftMs` (streams), chunks `chunkDelayMs` apart. */
  | { kind: 'ok'; latencyMs?: number; ttftMs?: number; chunkDelayMs?: number }
  /** An error status with OpenAI's error body; `code` goes in error.code (e.g. context_length_exceeded). */
  | { kind: 'status'; status: number; retryAfter?: string; code?: string; message?: string }
  /** Accepts the request and never answers. */
  | { kind: 'hang' }
  /** Drops the connection as soon as the request arrives. */
  | { kind: 'reset' }
  /** Streams `afterChunks` content chunks, then drops the connection. */
  | { kind: 'break-stream'; afterChunks: number }
  /** Streams `afterChunks` content chunks, then an OpenAI error event. */
  | { kind: 'stream-error'; afterChunks: number };

export interface FaultRequest {
  readonly model: string;
  readonly stream: boolean;
  readonly headers: IncomingMessage['headers'];
  readonly body: any;
  /** performance.now() when it arrived. */
  readonly at: number;
  readonly fault: Fault;
}

export interface FaultUpstream {
  readonly url: string;
  /** url + '/v1', a deployment's api_base. */
  readonly baseURL: string;
  readonly requests: FaultRequest[];
  /** The next requests for `model` get these faults, in order (appended to what is queued). */
  script(model: string, ...faults: Fault[]): void;
  /** What `model` does once its script is empty (default: ok). */
  standing(model: string, fault: Fault): void;
  /** Requests received for `model`. */
  count(model: string): number;
  /** Forgets scripts, standing behaviours and the request log. */
  reset(): void;
  close(): Promise<void>;
}

export const CONTENT_PARTS = ['served', ' by', ' '] as const;
export const USAGE = Object.freeze({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFaultUpstream(): Promise<FaultUpstream> {
  const scripts = new Map<string, Fault[]>();
  const standing = new Map<string, Fault>();
  const requests: FaultRequest[] = [];
  const hanging = new Set<ServerResponse>();

  const server = await listenOnLoopback((req, res) => {
    readRequestBody(req, (_raw, body) => {
      const model = String(body?.model ?? '');
      const fault = scripts.get(model)?.shift() ?? standing.get(model) ?? { kind: 'ok' };
      const stream = body?.stream === true;
      requests.push({ model, stream, headers: req.headers, body, at: performance.now(), fault });
      void answer(res, model, stream, body?.stream_options?.include_usage === true, fault, hanging).catch(() => res.destroy());
    });
  });

  return {
    url: server.url,
    baseURL: `${server.url}/v1`,
    requests,
    script(model, ...faults) {
      scripts.set(model, [...(scripts.get(model) ?? []), ...faults]);
    },
    standing(model, fault) {
      standing.set(model, fault);
    },
    count: (model) => requests.filter((r) => r.model === model).length,
    reset() {
      scripts.clear();
      standing.clear();
      requests.length = 0;
    },
    async close() {
      for (const res of hanging) res.destroy();
      await server.close();
    },
  };
}

function sse(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

async function answer(res: ServerResponse, model: string, stream: boolean, includeUsage: boolean, fault: Fault, hanging: Set<ServerResponse>): Promise<void> {
  const headers = { 'x-request-id': `req_${Math.random().toString(36).slice(2)}` };
  switch (fault.kind) {
    case 'hang':
      hanging.add(res);
      res.once('close', () => hanging.delete(res));
      return;
    case 'reset':
      res.socket?.destroy();
      return;
    case 'status': {
      const body = JSON.stringify({ error: { message: fault.message ?? `fault ${fault.status}`, type: fault.status === 429 ? 'rate_limit_exceeded' : fault.status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: fault.code ?? null } });
      res.writeHead(fault.status, { ...headers, 'content-type': 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) });
      res.end(body);
      return;
    }
    default:
      break;
  }
  const parts = [...CONTENT_PARTS, model];
  const id = 'chatcmpl-fault';
  const created = Math.floor(Date.now() / 1000);
  // A pause ends early when the gateway hangs up (a timeout, a client that left), and nothing
  // more is written then: a slow answer the gateway gave up on does not keep the process alive.
  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    res.once('close', done);
    function done() {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    }
  });
  const gone = () => res.destroyed || res.socket?.destroyed === true;
  if (!stream) {
    if (fault.kind === 'ok' && fault.latencyMs) await pause(fault.latencyMs);
    if (gone()) return;
    res.writeHead(200, { ...headers, 'content-type': 'application/json' });
    res.end(JSON.stringify({
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: parts.join('') }, finish_reason: 'stop', logprobs: null }],
      usage: USAGE,
    }));
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
  res.flushHeaders();
  if (fault.kind === 'ok' && fault.ttftMs) await pause(fault.ttftMs);
  if (gone()) return;
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...(includeUsage ? { usage: null } : {}),
  });
  res.write(sse(chunk({ role: 'assistant', content: '' }, null)));
  const limit = fault.kind === 'break-stream' || fault.kind === 'stream-error' ? fault.afterChunks : parts.length;
  for (let i = 0; i < Math.min(limit, parts.length); i++) {
    if (fault.kind === 'ok' && fault.chunkDelayMs) await pause(fault.chunkDelayMs);
    if (gone()) return;
    res.write(sse(chunk({ content: parts[i] }, null)));
  }
  if (fault.kind === 'break-stream') {
    // Half an event, then the connection drops.
    res.write('data: {"id":"chatcmpl-fault","object":"chat.comp');
    await sleep(5);
    res.socket?.destroy();
    return;
  }
  if (fault.kind === 'stream-error') {
    res.end(sse({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } }));
    return;
  }
  res.write(sse(chunk({}, 'stop')));
  if (includeUsage) res.write(sse({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: USAGE }));
  res.end(sse('[DONE]'));
}
