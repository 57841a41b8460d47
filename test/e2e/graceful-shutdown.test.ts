// Graceful shutdown of the real gateway process (`node src/main.ts serve`): SIGTERM while
// streams and a slow call are in flight. Readiness must turn 503 at once, new work must not be
// taken on, every in-flight answer must finish whole (all chunks and [DONE]) within
// server.shutdown_grace_ms, the process must exit 0, and the SQLite ledger file, read after the
// exit, must hold exactly one row per request. A stream longer than the grace period is cut at
// the deadline, and its row is still written.
//
// The upstream is a fake OpenAI API in this process that paces its chunks, so the streams are
// still running when the signal arrives. No assertion bounds wall-clock time from above (slow
// CI machines); the test waits for log lines and events instead.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { listenOnLoopback, readRequestBody, type LoopbackServer } from '../helpers/request-log.ts';
import { parseSse } from '../helpers/sse-wire.ts';

const MASTER_KEY = 'sk-master-graceful-shutdown-0123456789';
const NODE = process.execPath;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ── a paced upstream ────────────────────────────────────────────────────────

/** What the paced upstream saw of one call. */
interface UpstreamCall {
  readonly model: string;
  readonly stream: boolean;
  /** Content chunks written so far. */
  written: number;
  /** The whole answer was written. */
  finished: boolean;
}

interface PacedUpstream extends LoopbackServer {
  readonly baseURL: string;
  readonly calls: UpstreamCall[];
}

/** The content of chunk `i` (0-based), so the client can check it got every one, in order. */
const piece = (i: number) => `c${i} `;
const fullText = (chunks: number) => Array.from({ length: chunks }, (_, i) => piece(i)).join('');

/**
 * An OpenAI-compatible upstream whose model name sets the pace: `paced-N-D` streams N content
 * chunks D ms apart (a non-stream call answers after N×D ms). Usage is sent when asked for.
 */
async function startPacedUpstream(): Promise<PacedUpstream> {
  const calls: UpstreamCall[] = [];
  const server = await listenOnLoopback((req, res) => {
    readRequestBody(req, (_raw, body) => {
      const model = String(body?.model ?? '');
      const [, n = '20', d = '50'] = /^paced-(\d+)-(\d+)$/.exec(model) ?? [];
      const call: UpstreamCall = { model, stream: body?.stream === true, written: 0, finished: false };
      calls.push(call);
      void answer(res, call, Number(n), Number(d), body?.stream_options?.include_usage === true).catch(() => res.destroy());
    });
  });
  return { ...server, baseURL: `${server.url}/v1`, calls };
}

async function answer(res: ServerResponse, call: UpstreamCall, chunks: number, delayMs: number, includeUsage: boolean): Promise<void> {
  const id = `chatcmpl-paced-${Math.random().toString(36).slice(2)}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 7, completion_tokens: chunks, total_tokens: 7 + chunks };
  // Stops early when the gateway hangs up, so a cut stream does not keep writing.
  const gone = () => res.destroyed || res.socket?.destroyed === true;
  if (!call.stream) {
    await sleep(chunks * delayMs);
    if (gone()) return;
    const text = JSON.stringify({
      id, object: 'chat.completion', created, model: call.model,
      choices: [{ index: 0, message: { role: 'assistant', content: fullText(chunks) }, finish_reason: 'stop', logprobs: null }],
      usage,
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(text);
    call.written = chunks;
    call.finished = true;
    return;
  }
  const sse = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id, object: 'chat.completion.chunk', created, model: call.model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...(includeUsage ? { usage: null } : {}),
  });
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(sse(chunk({ role: 'assistant', content: '' }, null)));
  for (let i = 0; i < chunks; i++) {
    if (i > 0) await sleep(delayMs);
    if (gone()) return;
    res.write(sse(chunk({ content: piece(i) }, null)));
    call.written++;
  }
  res.write(sse(chunk({}, 'stop')));
  if (includeUsage) res.write(sse({ id, object: 'chat.completion.chunk', created, model: call.model, choices: [], usage }));
  res.end(sse('[DONE]'));
  call.finished = true;
}

// ── the gateway process ─────────────────────────────────────────────────────

interface GatewayProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly ledgerFile: string;
  /** Resolves with the exit code and signal once the process is gone and its output is read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line whose msg is `msg`. */
  logLine(msg: string, timeoutMs?: number): Promise<Record<string, any>>;
  output(): string;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
const killAll = () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};
process.once('exit', killAll);
after(() => {
  killAll();
  process.off('exit', killAll);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startGatewayProcess(upstream: PacedUpstream, graceMs: number): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-graceful-'));
  dirs.push(dir);
  const ledgerFile = join(dir, 'ledger.db');
  const configFile = join(dir, 'tollgate.yaml');
  writeFileSync(configFile, `
server: { log_level: info, access_log: true, shutdown_grace_ms: ${graceMs} }
database: { url: "sqlite::memory:" }
ledger:
  sinks: ["sqlite:${ledgerFile}"]
  spool_dir: ${join(dir, 'spool')}
router:
  num_retries: 0
  health_checks: { enabled: false }
models:
  slow:
    deployments: [{ id: paced, provider: openai, model: paced-40-50, api_base: "${upstream.baseURL}", api_key: sk-upstream }]
  slow-plain:
    deployments: [{ id: paced-plain, provider: openai, model: paced-40-50, api_base: "${upstream.baseURL}", api_key: sk-upstream }]
  endless:
    deployments: [{ id: paced-long, provider: openai, model: paced-400-50, api_base: "${upstream.baseURL}", api_key: sk-upstream }]
`);
  const child = spawn(NODE, [MAIN, 'serve', '--config', configFile, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, TOLLGATE_MASTER_KEY: MASTER_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => { stdout += t; });
  child.stderr!.setEncoding('utf8').on('data', (t: string) => { stderr += t; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const output = () => `stdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-2000)}`;

  async function logLine(msg: string, timeoutMs = 15_000): Promise<Record<string, any>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Record<string, any>;
        if (parsed.msg === msg) return parsed;
      }
      if (child.exitCode !== null) assert.fail(`the gateway exited (${child.exitCode}) before logging "${msg}"\n${output()}`);
      if (performance.now() > deadline) assert.fail(`no "${msg}" log line within ${timeoutMs} ms\n${output()}`);
      await sleep(10);
    }
  }

  const url = String((await logLine('tollgate listening', 30_000)).url);
  return { url, child, ledgerFile, exited, logLine, output };
}

/** Sends SIGTERM and waits for the exit (SIGKILL after `killAfterMs`, which then fails the exit assertion). */
async function terminate(gw: GatewayProcess, killAfterMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timer = setTimeout(() => gw.child.kill('SIGKILL'), killAfterMs);
  try {
    return await gw.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The ledger rows in the file, read after the process is gone. */
function ledgerRows(file: string): Array<{ request_id: string; status: string; http_status: number; stream: number; output_tokens: number }> {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare('SELECT request_id, status, http_status, stream, output_tokens FROM ledger_events ORDER BY request_id').all() as any;
  } finally {
    db.close();
  }
}

// ── raw HTTP, one fresh connection per request ──────────────────────────────

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The connection broke before the body ended. */
  aborted: boolean;
}

/**
 * One request on its own connection (no pooling, so "a new connection" means one). `onData`
 * sees the body as it arrives. Rejects with the socket error (e.g. ECONNREFUSED).
 */
function raw(url: string, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}, onData?: (text: string) => void): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(`${url}${path}`, {
      method,
      agent: false,
      headers: { authorization: `Bearer ${MASTER_KEY}`, ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
    }, (res) => {
      let text = '';
      let aborted = false;
      res.setEncoding('utf8');
      res.on('data', (t: string) => {
        text += t;
        onData?.(text);
      });
      res.on('aborted', () => { aborted = true; });
      res.on('error', () => { aborted = true; });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, aborted: aborted || !res.complete }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A streamed chat call; `started` resolves once its first content chunk has arrived. */
function rawStream(url: string, model: string, requestId: string): { started: Promise<void>; done: Promise<RawAnswer> } {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => { markStarted = resolve; });
  const done = raw(url, 'POST', '/v1/chat/completions', {
    model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'a long answer, please' }],
  }, { 'x-request-id': requestId }, (text) => {
    if (text.includes('"content":"c0 "')) markStarted();
  });
  done.then(markStarted, markStarted);
  return { started, done };
}

/** Checks a raw stream arrived whole: every chunk in order, usage, then [DONE]. */
function assertWholeStream(answer: RawAnswer, chunks: number, what: string): void {
  assert.equal(answer.status, 200, `${what}: ${answer.body.slice(0, 300)}`);
  assert.equal(answer.aborted, false, `${what} was cut: ${answer.body.slice(-300)}`);
  const events = parseSse(answer.body);
  assert.equal(events.at(-1)?.data, '[DONE]', `${what} ends with [DONE]`);
  const text = events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join('');
  assert.equal(text, fullText(chunks), `${what}: every chunk, in order`);
  assert.ok(events.some((e) => e.json?.usage?.completion_tokens === chunks), `${what}: usage arrived`);
  assert.ok(!events.some((e) => e.json?.error), `${what}: no error event`);
}

// ── the tests ───────────────────────────────────────────────────────────────

describe('graceful shutdown (SIGTERM on the gateway process)', () => {
  let upstream: PacedUpstream;
  before(async () => {
    upstream = await startPacedUpstream();
  });
  after(async () => {
    await upstream.close();
  });

  test('in-flight streams and calls finish whole, readiness is 503 at once, exit 0, one ledger row each', async () => {
    const gw = await startGatewayProcess(upstream, 10_000);
    const ready = await raw(gw.url, 'GET', '/health/ready');
    assert.equal(ready.status, 200);

    // Three raw streams, one through the OpenAI SDK, and one slow non-stream call: 40 chunks 50 ms
    // apart (2 s), so all are still running when the signal arrives, even on a slow machine.
    const streams = ['gs-stream-0', 'gs-stream-1', 'gs-stream-2'].map((id) => ({ id, ...rawStream(gw.url, 'slow', id) }));
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0, timeout: 30_000 });
    let sdkFirstChunk!: () => void;
    const sdkStarted = new Promise<void>((resolve) => { sdkFirstChunk = resolve; });
    const sdkStream = (async () => {
      const stream = await client.chat.completions.create(
        { model: 'slow', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'a long answer, please' }] },
        { headers: { 'X-Request-Id': 'gs-sdk-stream' } },
      );
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
        if (text.length > 0) sdkFirstChunk();
      }
      return { text, usage };
    })();
    sdkStream.then(sdkFirstChunk, sdkFirstChunk);
    const plain = client.chat.completions.create(
      { model: 'slow-plain', messages: [{ role: 'user', content: 'a slow answer, please' }] },
      { headers: { 'X-Request-Id': 'gs-plain' } },
    );
    plain.catch(() => {});

    await Promise.all([...streams.map((s) => s.started), sdkStarted]);
    // The non-stream call shows nothing until it ends: wait until the upstream has it too.
    while (upstream.calls.filter((c) => c.model === 'paced-40-50').length < 5) await sleep(10);
    assert.ok(upstream.calls.every((c) => !c.finished), 'none has finished before the signal');

    gw.child.kill('SIGTERM');
    const shuttingDown = await gw.logLine('shutting down');
    assert.equal(shuttingDown.in_flight, 5, 'five requests in flight when the signal arrived');

    // Right after the signal, while the streams still run, on new connections: readiness says
    // 503 draining (the port stays open so a probe can see it), and new work is not taken on: it
    // is refused before any work with a retryable 503 and Connection: close.
    const probe = await raw(gw.url, 'GET', '/health/ready');
    assert.deepEqual([probe.status, JSON.parse(probe.body), probe.headers.connection], [503, { status: 'draining' }, 'close']);
    const late = await raw(gw.url, 'POST', '/v1/chat/completions', { model: 'slow', messages: [{ role: 'user', content: 'too late' }] }, { 'x-request-id': 'gs-late' });
    assert.deepEqual([late.status, JSON.parse(late.body).error?.code, late.headers.connection, late.headers['retry-after']], [503, 'shutting_down', 'close', '1']);
    await assert.rejects(
      new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 }).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'too late' }] }),
      (err: any) => err instanceof OpenAI.InternalServerError && err.status === 503 && err.code === 'shutting_down',
    );
    assert.equal(upstream.calls.filter((c) => c.model === 'paced-40-50').length, 5, 'the refused requests never reached the upstream');

    for (const stream of streams) {
      const answer = await stream.done;
      assertWholeStream(answer, 40, stream.id);
    }
    const sdk = await sdkStream;
    assert.equal(sdk.text, fullText(40), 'the SDK stream got every chunk');
    assert.equal(sdk.usage?.completion_tokens, 40);
    const completion = await plain;
    assert.equal(completion.choices[0]?.message.content, fullText(40));

    const exit = await terminate(gw);
    assert.deepEqual(exit, { code: 0, signal: null }, gw.output());
    await gw.logLine('stopped');

    const rows = ledgerRows(gw.ledgerFile);
    assert.deepEqual(rows.map((r) => r.request_id), ['gs-plain', 'gs-sdk-stream', 'gs-stream-0', 'gs-stream-1', 'gs-stream-2'], 'exactly one row per request (the refused ones were never taken on)');
    for (const row of rows) {
      assert.deepEqual([row.status, row.http_status, row.output_tokens], ['success', 200, 40], `${row.request_id}: ${JSON.stringify(row)}`);
      assert.equal(row.stream, row.request_id === 'gs-plain' ? 0 : 1);
    }
  });

  test('a stream longer than the grace period is cut at the deadline; exit 0, and its ledger row is written', async () => {
    const gw = await startGatewayProcess(upstream, 1_000);
    // 400 chunks 50 ms apart (20 s): far longer than the 1 s grace.
    const long = rawStream(gw.url, 'endless', 'gs-endless');
    await long.started;
    const signalled = performance.now();
    gw.child.kill('SIGTERM');
    await gw.logLine('shutting down');

    const answer = await long.done;
    assert.ok(performance.now() - signalled >= 950, 'the stream ran on until the grace period was over');
    assert.equal(answer.status, 200);
    assert.equal(answer.aborted, true, 'the client sees the stream cut');
    assert.ok(!answer.body.includes('[DONE]'));
    const exit = await terminate(gw);
    assert.deepEqual(exit, { code: 0, signal: null }, gw.output());
    const call = upstream.calls.find((c) => c.model === 'paced-400-50')!;
    assert.equal(call.finished, false, 'the upstream call was cut too');

    const rows = ledgerRows(gw.ledgerFile);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.request_id, 'gs-endless');
    assert.equal(rows[0]!.status, 'client_gone', 'the row says the stream did not reach its end');
    assert.equal(rows[0]!.stream, 1);
  });
});
