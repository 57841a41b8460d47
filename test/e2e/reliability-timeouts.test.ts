// Timeouts end to end over real HTTP: a deployment's timeout_ms bounds one whole (non-stream)
// attempt, so a hung upstream holds the client only that long per attempt; a stream gets
// ttft_timeout_ms until its first event and then only stream_timeout_ms between chunks, so a
// long but lively stream is never cut; the client's x-gateway-timeout-ms bounds the whole
// request (a stream's whole length too), is capped at router.max_timeout_ms, and must be a
// positive whole number of milliseconds.
//
// Upper bounds on elapsed time are generous (seconds where the expected time is 300 ms) and
// always below what the slow upstream would have taken, so they prove the cut without
// flaking on a slow machine.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { assertCleanStream, assertEndsWithErrorEvent, chatWire, streamedText } from '../helpers/sse-wire.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-reliability-timeouts-0001';
const UPSTREAM_KEY = 'sk-upstream-reliability-timeouts-0001';
/** router.max_timeout_ms of the second gateway: it also caps every alias's own request timeout. */
const MAX_TIMEOUT_MS = 600;

let upstream: FaultUpstream;
let gw: TestGateway;
/** The same aliases behind router.max_timeout_ms: ${MAX_TIMEOUT_MS}. */
let capped: TestGateway;
let client: OpenAI;

function dep(id: string, model: string, extra = ''): string {
  return `      - { id: ${id}, provider: openai_compatible, model: ${model}, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY}${extra ? `, ${extra}` : ''} }`;
}

before(async () => {
  upstream = await startFaultUpstream();
  const yaml = (router: string) => `
general_settings:
  master_key: ${MASTER_KEY}
router: { num_retries: 0, disable_cooldowns: true, backoff: { initial_ms: 0, max_ms: 0 }${router} }
models:
  hang:
    deployments:
${dep('hang-1', 'hang', 'timeout_ms: 300')}
  hang-retry:
    routing: { num_retries: 1 }
    deployments:
${dep('hang-retry-1', 'hang-retry-a', 'timeout_ms: 300')}
${dep('hang-retry-2', 'hang-retry-b', 'timeout_ms: 300')}
  slow:
    deployments:
${dep('slow-1', 'slow')}
  slow-stream:
    deployments:
${dep('slow-stream-1', 'slow-stream')}
  ttft:
    deployments:
${dep('ttft-1', 'ttft', 'ttft_timeout_ms: 300')}
  long-stream:
    deployments:
${dep('long-stream-1', 'long-stream', 'ttft_timeout_ms: 300, stream_timeout_ms: 1500')}
  idle-stream:
    deployments:
${dep('idle-stream-1', 'idle-stream', 'ttft_timeout_ms: 5000, stream_timeout_ms: 300')}
`;
  gw = await startTestGateway(yaml(''));
  capped = await startTestGateway(yaml(`, max_timeout_ms: ${MAX_TIMEOUT_MS}`));
  client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  await gw?.shutdown();
  await capped?.shutdown();
  await upstream?.close();
});

const TIMEOUT_HEADER = 'x-gateway-timeout-ms';

function assertTimeoutError(answer: Awaited<ReturnType<typeof chatWire>>): void {
  assert.equal(answer.status, 504, answer.text);
  assert.equal(answer.json?.error?.code, 'upstream_timeout', answer.text);
  assert.equal(answer.json?.error?.type, 'timeout_error');
  assert.equal(answer.headers.get('x-gateway-error-code'), 'upstream_timeout');
}

describe('a deployment timeout bounds each attempt', () => {
  test('a hung upstream (timeout_ms 300, no retries) → 504 upstream_timeout after ~300 ms', async () => {
    upstream.standing('hang', { kind: 'hang' });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'hang' });
    assertTimeoutError(answer);
    assert.match(answer.json.error.message, /hang-1/);
    assert.equal(answer.headers.get('x-gateway-attempts'), '1');
    assert.equal(upstream.count('hang'), 1);
    assert.ok(answer.ms >= 250, `not before the timeout: ${answer.ms.toFixed(0)} ms`);
    assert.ok(answer.ms < 3_000, `held the client ${answer.ms.toFixed(0)} ms for a 300 ms timeout`);
  });

  test('one retry on another hung deployment → two timeouts, ~600 ms in all', async () => {
    upstream.standing('hang-retry-a', { kind: 'hang' });
    upstream.standing('hang-retry-b', { kind: 'hang' });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'hang-retry' });
    assertTimeoutError(answer);
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
    assert.equal(upstream.count('hang-retry-a'), 1);
    assert.equal(upstream.count('hang-retry-b'), 1);
    assert.ok(answer.ms >= 550, `two 300 ms attempts: ${answer.ms.toFixed(0)} ms`);
    assert.ok(answer.ms < 4_000, `${answer.ms.toFixed(0)} ms`);
  });

  test('a hung stream (no headers at all) is cut by ttft_timeout_ms → 504 before any byte', async () => {
    upstream.script('ttft', { kind: 'hang' });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'ttft', stream: true });
    assertTimeoutError(answer);
    assert.ok(answer.ms >= 250 && answer.ms < 3_000, `${answer.ms.toFixed(0)} ms`);
  });
});

describe('x-gateway-timeout-ms', () => {
  test('300 cuts a call to a deployment that takes 5 s → 504 upstream_timeout after ~300 ms (OpenAI SDK)', async () => {
    upstream.script('slow', { kind: 'ok', latencyMs: 5_000 });
    const started = performance.now();
    const error = await client.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'hi' }] }, { headers: { [TIMEOUT_HEADER]: '300' } })
      .then(() => assert.fail('the call succeeded'), (err: unknown) => err);
    const ms = performance.now() - started;
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, 504);
    assert.equal(error.code, 'upstream_timeout');
    assert.equal(error.type, 'timeout_error');
    assert.ok(ms >= 250, `${ms.toFixed(0)} ms`);
    assert.ok(ms < 4_000, `cut well before the upstream's 5 s: ${ms.toFixed(0)} ms`);
  });

  test('a deadline the call fits in does not disturb it', async () => {
    upstream.script('slow', { kind: 'ok', latencyMs: 50 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'slow' }, { [TIMEOUT_HEADER]: '1500' });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.choices[0].message.content, 'served by slow');
  });

  test('300 also bounds a stream whose chunks keep coming slowly: an error event and [DONE] after ~300 ms', async () => {
    // The role chunk comes at once, then one word a second: the stream would take 4 s.
    upstream.script('slow-stream', { kind: 'ok', chunkDelayMs: 1_000 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'slow-stream', stream: true }, { [TIMEOUT_HEADER]: '300' });
    const error = assertEndsWithErrorEvent(answer);
    assert.equal(error.code, 'upstream_timeout');
    assert.equal(answer.events[0]!.json.choices[0].delta.role, 'assistant', 'the stream had started');
    assert.equal(streamedText(answer.events), '', 'cut before the first word (due at 1 s)');
    assert.ok(answer.ms >= 250 && answer.ms < 2_500, `${answer.ms.toFixed(0)} ms`);
  });

  test(`a value above router.max_timeout_ms is capped to it (${MAX_TIMEOUT_MS} ms)`, async () => {
    upstream.script('slow', { kind: 'ok', latencyMs: 5_000 });
    const answer = await chatWire(capped.baseURL, MASTER_KEY, { model: 'slow' }, { [TIMEOUT_HEADER]: '100000' });
    assertTimeoutError(answer);
    assert.ok(answer.ms >= MAX_TIMEOUT_MS - 50, `not before the cap: ${answer.ms.toFixed(0)} ms`);
    assert.ok(answer.ms < 4_000, `capped well before the upstream's 5 s: ${answer.ms.toFixed(0)} ms`);
  });

  test('below the cap the header applies as sent', async () => {
    upstream.script('slow', { kind: 'ok', latencyMs: 5_000 });
    const answer = await chatWire(capped.baseURL, MASTER_KEY, { model: 'slow' }, { [TIMEOUT_HEADER]: '200' });
    assertTimeoutError(answer);
    assert.ok(answer.ms >= 150 && answer.ms < 4_000, `${answer.ms.toFixed(0)} ms`);
  });

  test(`without the header a slow stream runs to its end: the alias timeout (${MAX_TIMEOUT_MS} ms, capped) bounds only its first event`, async () => {
    upstream.script('slow-stream', { kind: 'ok', chunkDelayMs: 300 });
    const answer = await chatWire(capped.baseURL, MASTER_KEY, { model: 'slow-stream', stream: true });
    assertCleanStream(answer);
    assert.equal(streamedText(answer.events), 'served by slow-stream');
    assert.ok(answer.ms > MAX_TIMEOUT_MS, `the stream (${answer.ms.toFixed(0)} ms) outlived the alias timeout (${MAX_TIMEOUT_MS} ms)`);
  });

  test(`with the header the cap bounds a stream's whole length too`, async () => {
    upstream.script('slow-stream', { kind: 'ok', chunkDelayMs: 300 });
    const answer = await chatWire(capped.baseURL, MASTER_KEY, { model: 'slow-stream', stream: true }, { [TIMEOUT_HEADER]: '100000' });
    const error = assertEndsWithErrorEvent(answer);
    assert.equal(error.code, 'upstream_timeout');
    assert.notEqual(streamedText(answer.events), 'served by slow-stream', 'the stream was cut');
  });

  for (const value of ['abc', '-5', '0', '1.5', '1e3', ' ', '300ms']) {
    test(`an invalid value ${JSON.stringify(value)} → 400 invalid_request naming ${TIMEOUT_HEADER}`, async () => {
      const before = upstream.count('slow');
      const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'slow' }, { [TIMEOUT_HEADER]: value });
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.json.error.code, 'invalid_request');
      assert.equal(answer.json.error.type, 'invalid_request_error');
      assert.equal(answer.json.error.param, TIMEOUT_HEADER);
      assert.match(answer.json.error.message, new RegExp(TIMEOUT_HEADER));
      assert.equal(upstream.count('slow'), before, 'nothing was sent upstream');
    });
  }
});

describe('stream timeouts: ttft until the first event, then idle time between chunks', () => {
  test('a first token slower than ttft_timeout_ms (300 ms) → 504 upstream_timeout before any byte (OpenAI SDK)', async () => {
    upstream.script('ttft', { kind: 'ok', ttftMs: 4_000 });
    const started = performance.now();
    const error = await client.chat.completions.create({ model: 'ttft', messages: [{ role: 'user', content: 'hi' }], stream: true })
      .then(() => assert.fail('the stream started'), (err: unknown) => err);
    const ms = performance.now() - started;
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, 504);
    assert.equal(error.code, 'upstream_timeout');
    assert.ok(ms >= 250 && ms < 3_000, `${ms.toFixed(0)} ms`);
  });

  test('a stream that starts fast but runs ~1 s (a word every 250 ms) is not cut by ttft_timeout_ms 300', async () => {
    upstream.script('long-stream', { kind: 'ok', chunkDelayMs: 250 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'long-stream', stream: true });
    assertCleanStream(answer);
    assert.equal(streamedText(answer.events), 'served by long-stream');
    assert.ok(answer.ms >= 950, `the whole stream was relayed: ${answer.ms.toFixed(0)} ms`);
  });

  test('after the first event, a pause longer than stream_timeout_ms (300 ms) ends the stream with an error event', async () => {
    // The role chunk comes at once, the first word only after 4 s.
    upstream.script('idle-stream', { kind: 'ok', chunkDelayMs: 4_000 });
    const answer = await chatWire(gw.baseURL, MASTER_KEY, { model: 'idle-stream', stream: true });
    const error = assertEndsWithErrorEvent(answer);
    assert.equal(error.code, 'upstream_timeout');
    assert.match(error.message, /idle-stream-1/);
    assert.equal(streamedText(answer.events), '');
    // The idle timeout is undici's bodyTimeout, whose timers tick every ~0.5 s: 300 ms fires after up to ~1 s.
    assert.ok(answer.ms >= 250 && answer.ms < 3_500, `${answer.ms.toFixed(0)} ms`);
  });
});
