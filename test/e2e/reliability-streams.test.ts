// Streams and reliability, end to end over real HTTP: a stream commits at its first event.
// Before it, every failure (a dropped connection, a 200 whose body dies before its first
// event, an error as the first event, a first token slower than ttft_timeout_ms, a 5xx) is
// retried or falls back, and the client gets one clean 200 stream from the deployment that
// served, with no trace of the failure. After it, nothing is retried: a failure ends the stream
// with one well-formed OpenAI error event and `data: [DONE]`, no half-written line reaches the
// client, and the tokens a broken stream delivered are charged to the virtual key.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { startFaultUpstream, USAGE, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { listenOnLoopback, readRequestBody, type LoopbackServer } from '../helpers/request-log.ts';
import { assertCleanStream, assertEndsWithErrorEvent, chatWire, providerRows, streamedText } from '../helpers/sse-wire.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-reliability-streams-0001';
const UPSTREAM_KEY = 'sk-upstream-reliability-streams-0001';
const PRICES = { input: 0.000001, output: 0.000002 };

let upstream: FaultUpstream;
/** Failures the fault upstream cannot script: a 200 whose body dies or errs before its first event. */
let raw: LoopbackServer & { counts: Map<string, number> };
let gw: TestGateway;
let client: OpenAI;

/**
 * One deployment line. `base` is the fault upstream unless said otherwise; every deployment is
 * priced so dollar spend is visible too.
 */
function dep(id: string, model: string, extra = '', base = upstream.baseURL): string {
  return `      - { id: ${id}, provider: openai_compatible, model: ${model}, api_base: "${base}", api_key: ${UPSTREAM_KEY}, input_cost_per_token: ${PRICES.input}, output_cost_per_token: ${PRICES.output}${extra ? `, ${extra}` : ''} }`;
}

/** An alias whose first deployment (`ordered`) is `<name>-primary`, backed up by `<name>-secondary`. */
function pair(name: string, primaryExtra = '', primaryBase?: string): string {
  return `  ${name}:
    routing: { strategy: ordered }
    deployments:
${dep(`${name}-1`, `${name}-primary`, primaryExtra, primaryBase)}
${dep(`${name}-2`, `${name}-secondary`)}
`;
}

function startRawUpstream(): Promise<LoopbackServer & { counts: Map<string, number> }> {
  const counts = new Map<string, number>();
  return listenOnLoopback((req, res: ServerResponse) => {
    readRequestBody(req, (_raw, body) => {
      const model = String(body?.model ?? '');
      counts.set(model, (counts.get(model) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      if (model.endsWith('headers-then-drop-primary')) {
        // 200 and its headers, then the connection dies before any event.
        setTimeout(() => res.socket?.destroy(), 20);
      } else if (model.endsWith('half-first-event-primary')) {
        // Half of the first event, then the connection dies.
        res.write('data: {"id":"chatcmpl-raw","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assis');
        setTimeout(() => res.socket?.destroy(), 20);
      } else if (model.endsWith('comment-then-slow-primary')) {
        // An SSE comment at once (a keep-alive, as OpenRouter sends while the model works), the first event only after 3 s.
        res.write(': keep-alive\n\n');
        const chunk = (delta: object, finish: string | null) => `data: ${JSON.stringify({ id: 'chatcmpl-raw', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        const late = setTimeout(() => res.end(chunk({ role: 'assistant', content: `served by ${model}` }, null) + chunk({}, 'stop') + 'data: [DONE]\n\n'), 3_000);
        res.once('close', () => clearTimeout(late));
      } else if (model.endsWith('first-event-error-primary')) {
        // The very first event is an OpenAI error object.
        res.end('data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}\n\n');
      } else {
        res.socket?.destroy();
      }
    });
  }).then((server) => Object.assign(server, { counts }));
}

before(async () => {
  upstream = await startFaultUpstream();
  raw = await startRawUpstream();
  gw = await startTestGateway(`
general_settings:
  master_key: ${MASTER_KEY}
# Up to 2 retries with no backoff wait; no cooldowns, so each test sees its primary tried first.
router: { num_retries: 2, disable_cooldowns: true, backoff: { initial_ms: 0, max_ms: 0 } }
models:
${pair('reset')}${pair('status503')}${pair('headers-then-drop', '', `${raw.url}/v1`)}${pair('half-first-event', '', `${raw.url}/v1`)}${pair('first-event-error', '', `${raw.url}/v1`)}${pair('comment-then-slow', 'ttft_timeout_ms: 300', `${raw.url}/v1`)}${pair('slow-first', 'ttft_timeout_ms: 300')}${pair('sdk-retry')}${pair('break')}${pair('error-after')}${pair('spend-break')}${pair('spend-retry')}${pair('spend-ok')}${pair('spend-gone')}  slow-first-fallback:
    routing: { num_retries: 0, fallbacks: [slow-first-backup] }
    deployments:
${dep('slow-first-fallback-1', 'slow-first-fallback-primary', 'ttft_timeout_ms: 300')}
  slow-first-backup:
    deployments:
${dep('slow-first-backup-1', 'slow-first-backup')}
`);
  client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
  await raw?.close();
});

const stream = (model: string, extra: Record<string, unknown> = {}) => ({ model, stream: true, ...extra });

describe('a stream that fails before its first event is retried: the client sees one clean stream', () => {
  /** Asserts the stream came whole from `<name>-secondary` on the second attempt. */
  function assertServedBySecondary(answer: Awaited<ReturnType<typeof chatWire>>, name: string): void {
    assertCleanStream(answer);
    assert.equal(streamedText(answer.events), `served by ${name}-secondary`);
    assert.equal(answer.headers.get('x-gateway-deployment'), `${name}-2`);
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
    assert.equal(answer.headers.get('x-gateway-fallback-used'), 'false');
    // No trace of the failure: every event is a chunk of the secondary's answer.
    for (const event of answer.events.slice(0, -1)) {
      assert.equal(event.json.object, 'chat.completion.chunk', event.data);
      assert.equal(event.json.model, `${name}-secondary`, event.data);
    }
    assert.doesNotMatch(answer.text, /"error"|-primary/);
  }

  test('connection reset before the response → the secondary streams', async () => {
    upstream.script('reset-primary', { kind: 'reset' });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('reset'));
    assertServedBySecondary(answer, 'reset');
    assert.equal(upstream.count('reset-primary'), 1);
    assert.equal(upstream.count('reset-secondary'), 1);
  });

  test('503 before the stream → the secondary streams', async () => {
    upstream.script('status503-primary', { kind: 'status', status: 503 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('status503'));
    assertServedBySecondary(answer, 'status503');
  });

  test('200 and headers, then the connection dies before any event → the secondary streams', async () => {
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('headers-then-drop'));
    assertServedBySecondary(answer, 'headers-then-drop');
    assert.equal(raw.counts.get('headers-then-drop-primary'), 1);
  });

  test('half of the first event, then the connection dies → the secondary streams, and the half event never reaches the client', async () => {
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('half-first-event'));
    assertServedBySecondary(answer, 'half-first-event');
    assert.doesNotMatch(answer.text, /chatcmpl-raw/);
    assert.equal(raw.counts.get('half-first-event-primary'), 1);
  });

  test('the first event is an error object → the secondary streams', async () => {
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('first-event-error'));
    assertServedBySecondary(answer, 'first-event-error');
    assert.equal(raw.counts.get('first-event-error-primary'), 1);
  });

  test('the first event is slower than ttft_timeout_ms → the secondary streams, without waiting for the slow one', async () => {
    upstream.script('slow-first-primary', { kind: 'ok', ttftMs: 5_000 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('slow-first'));
    assertServedBySecondary(answer, 'slow-first');
    assert.ok(answer.ms >= 250, `the primary got its ttft_timeout_ms (300 ms) first; answered after ${answer.ms.toFixed(0)} ms`);
    assert.ok(answer.ms < 4_000, `the slow first token (5 s) was not awaited; answered after ${answer.ms.toFixed(0)} ms`);
  });

  // BUG (src/pipeline/stream-relay.ts, the `for await` loop: `call.firstEvent()` runs on the
  // first chunk of bytes, before the parser has found an event): an SSE comment or a partial
  // event stops the ttft clock, so a first token slower than ttft_timeout_ms is awaited for as
  // long as stream_timeout_ms allows and never retried, and the ttft average records the comment.
  test('an SSE comment before a slow first event does not stop the ttft clock: the secondary streams', async () => {
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('comment-then-slow'));
    assert.equal(raw.counts.get('comment-then-slow-primary'), 1);
    assert.ok(answer.ms < 2_500, `the first event took 3 s, ttft_timeout_ms is 300: answered after ${answer.ms.toFixed(0)} ms by ${answer.headers.get('x-gateway-deployment')}`);
    assertServedBySecondary(answer, 'comment-then-slow');
  });

  test('a slow first event on the only deployment → the fallback alias streams (x-gateway-fallback-used)', async () => {
    upstream.script('slow-first-fallback-primary', { kind: 'ok', ttftMs: 5_000 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('slow-first-fallback'));
    assertCleanStream(answer);
    assert.equal(streamedText(answer.events), 'served by slow-first-backup');
    assert.equal(answer.headers.get('x-gateway-fallback-used'), 'true');
    assert.equal(answer.headers.get('x-gateway-fallback-alias'), 'slow-first-backup');
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
    assert.ok(answer.ms < 4_000, `answered after ${answer.ms.toFixed(0)} ms`);
  });

  test('with the OpenAI SDK (maxRetries 0): the stream iterates to its end without an error', async () => {
    upstream.script('sdk-retry-primary', { kind: 'reset' });
    const { data, response } = await client.chat.completions.create({ model: 'sdk-retry', messages: [{ role: 'user', content: 'hi' }], stream: true }).withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-gateway-attempts'), '2');
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of data) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
    }
    assert.equal(text, 'served by sdk-retry-secondary');
    assert.equal(finish, 'stop');
  });
});

describe('after the first byte: an error event and [DONE], never a retry', () => {
  test('the upstream dies mid-stream → the delivered chunks, one OpenAI error event, [DONE]; the secondary is never called', async () => {
    upstream.script('break-primary', { kind: 'break-stream', afterChunks: 2 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('break'));
    // chatWire parsed every data line as JSON: the primary's half-written last event did not get through.
    const error = assertEndsWithErrorEvent(answer);
    assert.equal(error.code, 'upstream_stream_interrupted');
    assert.equal(error.type, 'upstream_error');
    assert.match(error.message, /break-1/);
    assert.equal(streamedText(answer.events), 'served by', 'the two chunks sent before the break were relayed');
    assert.doesNotMatch(answer.text, /"object":"chat\.comp"|chat\.comp(?!letion)/, 'no fragment of the half event');
    assert.equal(answer.headers.get('x-gateway-deployment'), 'break-1');
    assert.equal(answer.headers.get('x-gateway-attempts'), '1');
    assert.equal(upstream.count('break-primary'), 1, 'not retried on the same deployment');
    assert.equal(upstream.count('break-secondary'), 0, 'not retried on another deployment');
  });

  test('an upstream error event after the first chunk → an OpenAI error event, [DONE]; no retry', async () => {
    upstream.script('error-after-primary', { kind: 'stream-error', afterChunks: 1 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('error-after'));
    const error = assertEndsWithErrorEvent(answer);
    assert.equal(error.code, 'upstream_error');
    assert.match(error.message, /error-after-1/);
    assert.equal(streamedText(answer.events), 'served');
    assert.equal(upstream.count('error-after-primary'), 1);
    assert.equal(upstream.count('error-after-secondary'), 0);
  });

  test('an error right after the role chunk is still after the first byte: no retry', async () => {
    upstream.script('error-after-primary', { kind: 'stream-error', afterChunks: 0 });
    const before = upstream.count('error-after-primary');
    const answer = await chatWire(gw.baseURL, MASTER_KEY, stream('error-after'));
    const error = assertEndsWithErrorEvent(answer);
    assert.equal(error.code, 'upstream_error');
    assert.equal(answer.events[0]!.json.choices[0].delta.role, 'assistant');
    assert.equal(upstream.count('error-after-primary'), before + 1);
    assert.equal(upstream.count('error-after-secondary'), 0);
  });

  test('with the OpenAI SDK: the chunks before the break, then an APIError upstream_stream_interrupted', async () => {
    upstream.script('break-primary', { kind: 'break-stream', afterChunks: 3 });
    const before = upstream.count('break-primary');
    const data = await client.chat.completions.create({ model: 'break', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    let error: unknown;
    try {
      for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? '';
    } catch (err) {
      error = err;
    }
    assert.equal(text, 'served by ');
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    assert.equal(error.code, 'upstream_stream_interrupted');
    assert.equal(upstream.count('break-primary'), before + 1);
    assert.equal(upstream.count('break-secondary'), 0);
  });

  test('the break is recorded against the deployment: /health/providers shows its last error', async () => {
    const rows = await providerRows(gw.url, MASTER_KEY);
    assert.equal(rows.get('break-1').last_error?.code, 'upstream_stream_interrupted');
    assert.equal(rows.get('break-2').last_error, undefined);
  });
});

describe('spend: what a stream delivered is charged to the virtual key', () => {
  let n = 0;
  const admin = (method: string, path: string, body?: unknown) => adminRequest(gw.url, MASTER_KEY, method, path, body);

  /** A fresh key with a token budget (so token spend is reported) and a large tpm limit (its headers show the input estimate). */
  async function freshKey(): Promise<{ key: string; key_id: string }> {
    const team_id = `stream-team-${++n}`;
    assert.equal((await admin('POST', '/admin/teams', { team_id })).status, 201);
    const created = await admin('POST', '/admin/keys', { team_id, token_budget: 1_000_000, tpm_limit: 1_000_000 });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return created.json;
  }

  /** The key's token and dollar spend once nothing is reserved any more (settlement follows the response). */
  async function settled(keyId: string): Promise<{ tokens: number; usd: number }> {
    const deadline = performance.now() + 3_000;
    for (;;) {
      const report = await admin('GET', `/admin/keys/${keyId}/spend`);
      assert.equal(report.status, 200, JSON.stringify(report.json));
      const tokens = report.json.budgets.find((b: any) => b.budget === 'tokens');
      const usd = report.json.budgets.find((b: any) => b.budget === 'usd');
      assert.ok(tokens && usd, JSON.stringify(report.json));
      if ((tokens.reserved === 0 && usd.reserved === 0) || performance.now() > deadline) {
        assert.equal(tokens.reserved, 0, 'nothing stays reserved');
        return { tokens: tokens.spent, usd: usd.spent };
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  const MAX_TOKENS = 50;

  /** The gateway's input-token estimate for the request, read from the tpm headers: limit - remaining - max_tokens. */
  function inputEstimate(headers: Headers): number {
    const limit = Number(headers.get('x-ratelimit-limit-tokens'));
    const remaining = Number(headers.get('x-ratelimit-remaining-tokens'));
    const input = limit - remaining - MAX_TOKENS;
    assert.ok(input > 0 && input < 100, `input estimate ${input} (limit ${limit}, remaining ${remaining})`);
    return input;
  }

  test('a complete stream is charged the provider usage (control)', async () => {
    const { key, key_id } = await freshKey();
    const answer = await chatWire(gw.baseURL, key, stream('spend-ok', { max_tokens: MAX_TOKENS }));
    assertCleanStream(answer);
    const spent = await settled(key_id);
    assert.equal(spent.tokens, USAGE.total_tokens);
    assert.equal(Math.round(spent.usd * 1e6), USAGE.prompt_tokens * 1 + USAGE.completion_tokens * 2);
  });

  test('a stream broken after 2 chunks without usage: estimated input plus the delivered output (9 chars ≈ 3 tokens)', async () => {
    const { key, key_id } = await freshKey();
    assert.equal((await settled(key_id)).tokens, 0);
    upstream.script('spend-break-primary', { kind: 'break-stream', afterChunks: 2 });
    const answer = await chatWire(gw.baseURL, key, stream('spend-break', { max_tokens: MAX_TOKENS }));
    assertEndsWithErrorEvent(answer);
    assert.equal(streamedText(answer.events), 'served by');
    const input = inputEstimate(answer.headers);
    const output = Math.ceil('served by'.length / 4);
    const spent = await settled(key_id);
    assert.ok(spent.tokens > input, `the delivered output is charged on top of the input estimate (spent ${spent.tokens}, input ${input})`);
    assert.equal(spent.tokens, input + output);
    assert.equal(Math.round(spent.usd * 1e6), input * 1 + output * 2);
  });

  test('a client that leaves mid-stream is charged the input estimate plus what it received', async () => {
    const { key, key_id } = await freshKey();
    upstream.script('spend-gone-primary', { kind: 'ok', chunkDelayMs: 300 });
    const controller = new AbortController();
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'spend-gone', stream: true, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'Say hello.' }] }),
    });
    assert.equal(res.status, 200);
    const input = inputEstimate(res.headers);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // Words come 300 ms apart: leave as soon as "served" and " by" are in.
    while (!text.includes('"content":" by"')) {
      const { value, done } = await reader.read();
      assert.equal(done, false, `the stream ended early: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    const spent = await settled(key_id);
    assert.equal(spent.tokens, input + Math.ceil('served by'.length / 4));
  });

  test('a failure before the first byte costs nothing: only the secondary\'s usage is charged', async () => {
    const { key, key_id } = await freshKey();
    upstream.script('spend-retry-primary', { kind: 'reset' });
    const answer = await chatWire(gw.baseURL, key, stream('spend-retry', { max_tokens: MAX_TOKENS }));
    assertCleanStream(answer);
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
    const spent = await settled(key_id);
    assert.equal(spent.tokens, USAGE.total_tokens);
  });
});
