// End to end with the official OpenAI SDK: streams that fail after they started arrive as an
// in-stream error event the SDK throws, and a client that goes away cancels the upstream call.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { FAKE_TEXT_PARTS, fakeAliasesYaml, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-tollgate-master-e2e-0003';
const UPSTREAM_KEY = 'sk-upstream-stream-key-9f3a';

let upstream: FakeOpenAIUpstream;
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  upstream = await startFakeOpenAIUpstream();
  gw = await startTestGateway(`
server:
  port: 0
# These tests are about how one failure is reported: no retries, no cooldowns (test/e2e/reliability-*.test.ts cover those).
router: { num_retries: 0, disable_cooldowns: true }
general_settings:
  master_key: ${MASTER_KEY}
models:
${fakeAliasesYaml(upstream.baseURL, UPSTREAM_KEY, ['broken-stream', 'stream-error', 'hang', 'hang-stream'], { 'hang-stream': 'stream_timeout_ms: 300' })}
  slow-stream:
    deployments:
      - id: fake-slow-stream
        provider: openai_compatible
        model: hang-stream
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
`);
  client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

const hello = [{ role: 'user' as const, content: 'Say hello.' }];

/** Iterates a stream to its end or its error: the content received, and the error if any. */
async function drain(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>): Promise<{ parts: string[]; error: any }> {
  const parts: string[] = [];
  try {
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) parts.push(content);
    }
  } catch (err) {
    return { parts, error: err };
  }
  return { parts, error: undefined };
}

describe('streams that break after they started', () => {
  test('upstream connection dies mid-stream → the SDK throws upstream_stream_interrupted after the first chunks', async () => {
    const { data: stream, response } = await client.chat.completions.create({ model: 'up-broken-stream', messages: hello, stream: true }).withResponse();
    assert.equal(response.status, 200);
    const { parts, error } = await drain(stream);
    assert.deepEqual(parts, [FAKE_TEXT_PARTS[0], FAKE_TEXT_PARTS[1]], 'the chunks sent before the break were relayed');
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    assert.equal(error.code, 'upstream_stream_interrupted');
    assert.equal(error.type, 'upstream_error');
    assert.match(error.message, /fake-broken-stream/);
  });

  test('the raw wire carries a well-formed OpenAI error event, then [DONE]', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up-broken-stream', messages: hello, stream: true }),
    });
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    const error = events.at(-2)!;
    assert.ok(error.startsWith('data: '), error);
    const payload = JSON.parse(error.slice('data: '.length));
    assert.deepEqual(Object.keys(payload.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(payload.error.code, 'upstream_stream_interrupted');
    // Every event before it is whole JSON (the client never sees a half-written line).
    for (const event of events.slice(0, -2)) JSON.parse(event.slice('data: '.length));
  });

  test('an error event from the upstream mid-stream → the SDK throws upstream_error naming the deployment', async () => {
    const stream = await client.chat.completions.create({ model: 'up-stream-error', messages: hello, stream: true });
    const { parts, error } = await drain(stream);
    assert.deepEqual(parts, [FAKE_TEXT_PARTS[0], FAKE_TEXT_PARTS[1]]);
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    assert.equal(error.code, 'upstream_error');
    assert.match(error.message, /fake-stream-error/);
  });

  test('upstream stalls mid-stream past stream_timeout_ms → the SDK throws upstream_timeout', async () => {
    const started = performance.now();
    const stream = await client.chat.completions.create({ model: 'up-hang-stream', messages: hello, stream: true });
    const { parts, error } = await drain(stream);
    const elapsed = performance.now() - started;
    assert.deepEqual(parts, [FAKE_TEXT_PARTS[0]], 'the role chunk and the first word were relayed before the stall');
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    assert.equal(error.code, 'upstream_timeout');
    assert.match(error.message, /fake-hang-stream/);
    assert.ok(elapsed >= 250 && elapsed < 2_000, `stream failed after ${elapsed.toFixed(0)} ms`);
    assert.equal(await upstream.waitForClientClose(upstream.last('hang-stream'), 1_000), true, 'the stalled upstream request was cancelled');
  });
});

describe('client disconnect', () => {
  test('aborting a stream closes the upstream request within 1 s', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'slow-stream', messages: hello, stream: true }, { signal: controller.signal });
    const record = await upstream.waitForRequest('hang-stream');
    const first = await stream[Symbol.asyncIterator]().next();
    assert.equal(first.done, false, 'the first chunk arrived before the client left');
    controller.abort();
    const abortedAt = performance.now();
    assert.equal(await upstream.waitForClientClose(record, 1_000), true, 'the upstream request was still open 1 s after the client left');
    assert.ok(record.closedAt! - abortedAt < 1_000);
    const line = await gw.accessLog(String(record.headers['x-request-id']));
    assert.equal(line.client_aborted, true);
  });

  test('aborting a non-streaming request closes the upstream request within 1 s', async () => {
    const controller = new AbortController();
    const pending = client.chat.completions.create({ model: 'up-hang', messages: hello }, { signal: controller.signal, timeout: 60_000 });
    const settled = pending.then(() => undefined, (err: unknown) => err);
    const record = await upstream.waitForRequest('hang');
    controller.abort();
    const err = await settled;
    assert.ok(err instanceof OpenAI.APIUserAbortError, String(err));
    assert.equal(await upstream.waitForClientClose(record, 1_000), true, 'the upstream request was still open 1 s after the client left');
  });

  test('the gateway still serves after clients went away', async () => {
    const res = await fetch(`${gw.url}/health/ready`);
    assert.equal(res.status, 200);
    assert.equal(gw.gateway.app.inFlight(), 0);
  });
});
