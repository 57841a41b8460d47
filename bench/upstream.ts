/**
 * Fake OpenAI-compatible upstream, run in its own process by bench/run.ts.
 *
 *   POST …/chat/completions               → a fixed chat.completion JSON (with usage), at once
 *   POST /delay-<ms>/…/chat/completions   → the same, after <ms> milliseconds
 *   body with "stream": true              → <chunks> SSE chunk events <paceMs> apart, then a usage
 *                                            chunk if stream_options.include_usage, then [DONE]
 *   POST /v1/traces                       → 200 {} (an OTLP/HTTP trace collector that accepts all)
 *   GET /v1/traces/count                  → { exports: N }, the trace exports received so far
 *   GET /health                           → 200
 *
 * Bodies are serialised once at start-up. Usage: node bench/upstream.ts '{"chunks":20,"paceMs":5}'
 * When forked with IPC it reports { type: 'listening', port } and exits when the parent goes away.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface UpstreamOptions {
  port: number;
  chunks: number;
  paceMs: number;
}

const options: UpstreamOptions = { port: 0, chunks: 20, paceMs: 5, ...JSON.parse(process.argv[2] ?? '{}') };

const CREATED = 1_700_000_000;
const MODEL = 'gpt-4o-mini';

const completionBody = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello from the Tollgate bench upstream.', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
    system_fingerprint: 'fp_bench',
  }),
);

const jsonHeaders = {
  'content-type': 'application/json',
  'content-length': String(completionBody.length),
};

const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

function sseEvent(payload: unknown): Buffer {
  return Buffer.from(`data: ${JSON.stringify(payload)}\n\n`);
}

function chunkPayload(index: number, last: boolean): unknown {
  const delta = index === 0 ? { role: 'assistant', content: `tok${index} ` } : { content: `tok${index} ` };
  return {
    id: 'chatcmpl-bench-stream',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: MODEL,
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: last ? 'stop' : null }],
  };
}

const streamChunks: Buffer[] = [];
for (let i = 0; i < options.chunks; i++) streamChunks.push(sseEvent(chunkPayload(i, i === options.chunks - 1)));
const usageChunk = sseEvent({
  id: 'chatcmpl-bench-stream',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: MODEL,
  system_fingerprint: 'fp_bench',
  choices: [],
  usage: { prompt_tokens: 12, completion_tokens: options.chunks, total_tokens: 12 + options.chunks },
});
const doneChunk = Buffer.from('data: [DONE]\n\n');

const notFoundBody = Buffer.from('{"error":{"message":"not found","type":"invalid_request_error"}}');
const STREAM_RE = /"stream"\s*:\s*true/;
const USAGE_RE = /"include_usage"\s*:\s*true/;
const DELAY_RE = /^\/delay-(\d+)\//;

function delayFor(url: string): number {
  const m = DELAY_RE.exec(url);
  return m ? Number(m[1]) : 0;
}

function sendStream(res: http.ServerResponse, includeUsage: boolean): void {
  res.writeHead(200, sseHeaders);
  res.write(streamChunks[0]);
  let next = 1;
  const finish = (): void => {
    if (includeUsage) res.write(usageChunk);
    res.end(doneChunk);
  };
  if (next >= streamChunks.length) return finish();
  const timer = setInterval(() => {
    res.write(streamChunks[next++]);
    if (next >= streamChunks.length) {
      clearInterval(timer);
      finish();
    }
  }, options.paceMs);
  res.on('close', () => clearInterval(timer));
}

function respond(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  if (STREAM_RE.test(body)) {
    sendStream(res, USAGE_RE.test(body));
    return;
  }
  const delay = delayFor(req.url ?? '');
  if (delay > 0) {
    setTimeout(() => {
      res.writeHead(200, jsonHeaders);
      res.end(completionBody);
    }, delay);
    return;
  }
  res.writeHead(200, jsonHeaders);
  res.end(completionBody);
}

/** OTLP trace exports received (GET /v1/traces/count), so the bench can show tracing really ran. */
let traceExports = 0;

const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  if (req.method === 'POST' && url.endsWith('/chat/completions')) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => respond(req, res, body));
    return;
  }
  if (req.method === 'POST' && url === '/v1/traces') {
    // The governed path's OTLP/HTTP trace exporter points here: a collector that accepts all.
    traceExports++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
      res.end('{}');
    });
    return;
  }
  if (req.method === 'GET' && url === '/v1/traces/count') {
    const body = JSON.stringify({ exports: traceExports });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
    return;
  }
  if (req.method === 'GET' && url === '/health') {
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
    return;
  }
  req.resume();
  res.writeHead(404, { 'content-type': 'application/json', 'content-length': String(notFoundBody.length) });
  res.end(notFoundBody);
});

server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.requestTimeout = 0;

server.listen(options.port, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  if (process.send) process.send({ type: 'listening', port });
  else console.log(`bench upstream listening on http://127.0.0.1:${port}`);
});

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
