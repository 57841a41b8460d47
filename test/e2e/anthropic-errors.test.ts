// End to end with the official Anthropic SDK: every failure on /v1/messages arrives in
// Anthropic's error envelope with the registry's status, so the SDK raises the right class;
// in-stream failures of a passthrough stream reach the SDK as stream errors; and the
// deployment's api_key never shows up in an error message or a log line.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import {
  FAKE_AN_INVALID_MESSAGE, FAKE_AN_OVERLOADED_MESSAGE, FAKE_AN_PROMPT_TOO_LONG_MESSAGE, FAKE_AN_RATE_LIMIT_MESSAGE, FAKE_AN_RETRY_AFTER,
  FAKE_AN_STREAM_ERROR_TEXT, FAKE_AN_TEXT_PARTS, fakeAnthropicAliasesYaml, startFakeAnthropicUpstream, type FakeAnthropicUpstream,
} from '../helpers/fake-anthropic-upstream.ts';
import { FAKE_RATE_LIMIT_MESSAGE, FAKE_TEXT_PARTS, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-tollgate-master-e2e-an03';
/** Not `sk-` shaped, so only the gateway's literal scrubbing of the deployment key can hide it. */
const DEPLOY_KEY = 'tgw-anthropic-deploykey-Kp9Vw27sB4';
const WRONG_DEPLOY_KEY = 'tgw-anthropic-revoked-key-Mn3Qa58zL1';
const OPENAI_KEY = 'sk-upstream-openai-key-an03-Jx2';

let upstream: FakeAnthropicUpstream;
let openaiUp: FakeOpenAIUpstream;
let gw: TestGateway;
let client: Anthropic;

before(async () => {
  upstream = await startFakeAnthropicUpstream({ apiKey: DEPLOY_KEY });
  openaiUp = await startFakeOpenAIUpstream();
  gw = await startTestGateway(`
server:
  port: 0
# These tests are about how one failure is reported: no retries, no cooldowns (test/e2e/reliability-*.test.ts cover those).
router: { num_retries: 0, disable_cooldowns: true }
general_settings:
  master_key: ${MASTER_KEY}
models:
${fakeAnthropicAliasesYaml(upstream.url, DEPLOY_KEY, [
    'text', 'rate-limited', 'overloaded', 'server-error', 'invalid', 'prompt-too-long', 'stream-error', 'broken-stream', 'broken-stream-clean', 'key-echo', 'hang',
  ], { hang: 'timeout_ms: 300\nstream_timeout_ms: 300' })}
  an-wrong-key:
    deployments:
      - id: fake-an-wrong-key
        provider: anthropic
        model: text
        api_base: ${upstream.url}
        api_key: ${WRONG_DEPLOY_KEY}
${['rate-limited', 'stream-error', 'broken-stream'].map((b) => `  oa-${b}:
    deployments:
      - id: fake-oa-${b}
        provider: openai_compatible
        model: ${b}
        api_base: ${openaiUp.baseURL}
        api_key: ${OPENAI_KEY}`).join('\n')}
`);
  // logLevel off: the SDK would print the malformed frames it cannot parse; the assertions report them.
  client = new Anthropic({ baseURL: gw.url, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000, logLevel: 'off' });
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
  await openaiUp?.close();
});

const hello: Anthropic.MessageParam[] = [{ role: 'user', content: 'Say hello.' }];

/** instanceof without narrowing `any`, so the parsed error body stays loosely typed. */
function isInstance(value: unknown, cls: abstract new (...args: any[]) => unknown): boolean {
  return value instanceof cls;
}

/** Runs `call`, which must fail, and returns the error. */
async function failure(call: () => Promise<unknown>): Promise<any> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  assert.fail('the call was expected to fail');
}

/** Checks the Anthropic envelope `{"type":"error","error":{"type","message"}}` the SDK parsed. */
function assertEnvelope(err: any, type: string, code: string): void {
  assert.ok(isInstance(err, Anthropic.APIError), `not an APIError: ${err}`);
  assert.deepEqual(Object.keys(err.error), ['type', 'error']);
  assert.equal(err.error.type, 'error');
  assert.deepEqual(Object.keys(err.error.error), ['type', 'message']);
  assert.equal(err.error.error.type, type);
  assert.ok(err.error.error.message.endsWith(`[${code}]`), `message should end with [${code}]: ${err.error.error.message}`);
  assert.equal(err.headers.get('x-gateway-error-code'), code);
  assert.match(err.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(!err.message.includes(DEPLOY_KEY), 'the deployment key leaked into the error');
}

/** Reads a raw response that must be an Anthropic error envelope. */
async function rawEnvelope(res: Response): Promise<{ type: string; error: { type: string; message: string } }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = await res.json() as { type: string; error: { type: string; message: string } };
  assert.deepEqual(Object.keys(body), ['type', 'error']);
  assert.equal(body.type, 'error');
  assert.deepEqual(Object.keys(body.error), ['type', 'message']);
  return body;
}

describe('gateway errors on /v1/messages', () => {
  test('no key → AuthenticationError 401 (SDK without credentials, and raw fetch)', async () => {
    const anonymous = new Anthropic({ baseURL: gw.url, apiKey: null, authToken: null, defaultHeaders: { Authorization: null }, maxRetries: 0 });
    const err = await failure(() => anonymous.messages.create({ model: 'an-text', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.AuthenticationError), String(err));
    assert.equal(err.status, 401);
    assertEnvelope(err, 'authentication_error', 'missing_api_key');

    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'an-text', max_tokens: 64, messages: hello }),
    });
    assert.equal(res.status, 401);
    const body = await rawEnvelope(res);
    assert.equal(body.error.type, 'authentication_error');
    assert.match(body.error.message, /x-api-key.*\[missing_api_key\]$/);
  });

  test('a wrong key in x-api-key or in Authorization → AuthenticationError 401 invalid_api_key', async () => {
    const viaHeader = new Anthropic({ baseURL: gw.url, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': 'sk-not-the-master-key' }, maxRetries: 0 });
    const err = await failure(() => viaHeader.messages.create({ model: 'an-text', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.AuthenticationError), String(err));
    assertEnvelope(err, 'authentication_error', 'invalid_api_key');

    const viaBearer = new Anthropic({ baseURL: gw.url, apiKey: 'sk-not-the-master-key', maxRetries: 0 });
    const err2 = await failure(() => viaBearer.messages.create({ model: 'an-text', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err2, Anthropic.AuthenticationError), String(err2));
    assertEnvelope(err2, 'authentication_error', 'invalid_api_key');
    assert.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  });

  test('unknown model → NotFoundError 404 model_not_found, with a did-you-mean', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-txet', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.NotFoundError), String(err));
    assert.equal(err.status, 404);
    assertEnvelope(err, 'not_found_error', 'model_not_found');
    assert.match(err.error.error.message, /"an-txet" does not exist/);
    assert.match(err.error.error.message, /an-text/);
  });

  test('malformed JSON → 400 invalid_json in the Anthropic envelope', async () => {
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: '{"model": "an-text", "max_tokens": 64, "messages": [',
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-gateway-error-code'), 'invalid_json');
    const body = await rawEnvelope(res);
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /^The request body is not valid JSON: .*\[invalid_json\]$/);
  });

  test('GET /v1/messages → 405 in the Anthropic envelope with Allow: POST', async () => {
    const res = await fetch(`${gw.url}/v1/messages`, { headers: { 'x-api-key': MASTER_KEY } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    const body = await rawEnvelope(res);
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /\[method_not_allowed\]$/);
  });

  test('a native request without max_tokens → BadRequestError 400 invalid_request, nothing sent upstream', async () => {
    const before = upstream.requests.length;
    const err = await failure(() => client.messages.create({ model: 'an-text', messages: hello } as unknown as Anthropic.MessageCreateParamsNonStreaming));
    assert.ok(isInstance(err, Anthropic.BadRequestError), String(err));
    assertEnvelope(err, 'invalid_request_error', 'invalid_request');
    assert.match(err.error.error.message, /max_tokens/);
    assert.equal(upstream.requests.length, before);
  });
});

describe('upstream errors through native passthrough', () => {
  test('429 → RateLimitError with the upstream Retry-After', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-rate-limited', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.RateLimitError), String(err));
    assert.equal(err.status, 429);
    assertEnvelope(err, 'rate_limit_error', 'upstream_rate_limited');
    assert.equal(err.headers.get('retry-after'), FAKE_AN_RETRY_AFTER);
    assert.equal(err.headers.get('x-gateway-deployment'), 'fake-an-rate-limited');
    assert.ok(err.error.error.message.includes(FAKE_AN_RATE_LIMIT_MESSAGE), err.error.error.message);
    assert.ok(err.error.error.message.startsWith('Deployment fake-an-rate-limited (anthropic) returned 429: '));
  });

  test('429 on a streaming request → the stream helper rejects with RateLimitError', async () => {
    const err = await failure(() => client.messages.stream({ model: 'an-rate-limited', max_tokens: 64, messages: hello }).finalMessage());
    assert.ok(isInstance(err, Anthropic.RateLimitError), String(err));
    assert.equal(err.headers.get('retry-after'), FAKE_AN_RETRY_AFTER);
    assertEnvelope(err, 'rate_limit_error', 'upstream_rate_limited');
  });

  test('529 overloaded → 503, an InternalServerError with overloaded_error and upstream_overloaded', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-overloaded', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.InternalServerError), String(err));
    assert.equal(err.status, 503);
    assertEnvelope(err, 'overloaded_error', 'upstream_overloaded');
    assert.match(err.message, /upstream_overloaded/);
    assert.match(err.error.error.message, /returned 529: Overloaded \[upstream_overloaded\]$/);
  });

  test('500 api_error → 502 InternalServerError upstream_error', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-server-error', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.InternalServerError), String(err));
    assert.equal(err.status, 502);
    assertEnvelope(err, 'api_error', 'upstream_error');
  });

  test('400 invalid_request_error → BadRequestError 400 upstream_bad_request with the provider reason', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-invalid', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.BadRequestError), String(err));
    assert.equal(err.status, 400);
    assertEnvelope(err, 'invalid_request_error', 'upstream_bad_request');
    assert.ok(err.error.error.message.includes(FAKE_AN_INVALID_MESSAGE));
  });

  test('prompt too long → BadRequestError 400 context_length_exceeded', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-prompt-too-long', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.BadRequestError), String(err));
    assert.equal(err.status, 400);
    assertEnvelope(err, 'invalid_request_error', 'context_length_exceeded');
    assert.ok(err.error.error.message.includes(FAKE_AN_PROMPT_TOO_LONG_MESSAGE));
  });

  test('the provider rejecting the deployment key → 502 upstream_auth_failed, neither key nor provider text quoted', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-wrong-key', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.InternalServerError), String(err));
    assert.equal(err.status, 502);
    assertEnvelope(err, 'api_error', 'upstream_auth_failed');
    assert.ok(!err.message.includes(WRONG_DEPLOY_KEY));
    assert.ok(!err.message.includes('invalid x-api-key'));
    assert.equal(upstream.last().headers['x-api-key'], WRONG_DEPLOY_KEY, 'the fake did see (and refuse) the wrong key');
  });

  test('a provider error quoting the deployment key is scrubbed', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-key-echo', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.BadRequestError), String(err));
    assertEnvelope(err, 'invalid_request_error', 'upstream_bad_request');
    assert.ok(!err.message.includes(DEPLOY_KEY), err.message);
    assert.match(err.error.error.message, /for key \[redacted\] \(key \[redacted\] is restricted\)/);
  });

  test('an upstream that does not answer within timeout_ms → 504 upstream_timeout', async () => {
    const started = performance.now();
    const err = await failure(() => client.messages.create({ model: 'an-hang', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.InternalServerError), String(err));
    assert.equal(err.status, 504);
    assertEnvelope(err, 'api_error', 'upstream_timeout');
    assert.ok(performance.now() - started < 3_000);
  });

  test('a non-streaming body cut off mid-way → 502 upstream_stream_interrupted', async () => {
    const err = await failure(() => client.messages.create({ model: 'an-broken-stream', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.InternalServerError), String(err));
    assert.equal(err.status, 502);
    assertEnvelope(err, 'api_error', 'upstream_stream_interrupted');
  });

  test('translated route: an OpenAI-wire 429 arrives as an Anthropic RateLimitError', async () => {
    const err = await failure(() => client.messages.create({ model: 'oa-rate-limited', max_tokens: 64, messages: hello }));
    assert.ok(isInstance(err, Anthropic.RateLimitError), String(err));
    assertEnvelope(err, 'rate_limit_error', 'upstream_rate_limited');
    assert.equal(err.headers.get('retry-after'), '7');
    assert.ok(err.error.error.message.includes(FAKE_RATE_LIMIT_MESSAGE));
  });
});

describe('passthrough streams that fail after they started', () => {
  test('an in-stream `event: error` is forwarded raw and the SDK stream raises the overloaded error', async () => {
    const { data: stream, response } = await client.messages
      .create({ model: 'an-stream-error', max_tokens: 64, messages: hello, stream: true }, { headers: { 'X-Request-Id': 'an-err-stream-error' } })
      .withResponse();
    assert.equal(response.status, 200);
    const texts: string[] = [];
    const err = await failure(async () => {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') texts.push(event.delta.text);
      }
    });
    assert.deepEqual(texts, [FAKE_AN_STREAM_ERROR_TEXT]);
    assert.ok(isInstance(err, Anthropic.APIError), String(err));
    assert.equal(err.status, undefined);
    assert.equal(err.type, 'overloaded_error');
    assert.deepEqual(err.error, { type: 'error', error: { details: null, type: 'overloaded_error', message: FAKE_AN_OVERLOADED_MESSAGE } });

    const line = await gw.accessLog('an-err-stream-error');
    assert.equal(line.status, 200);
  });

  test('the in-stream error bytes are the upstream\'s own: nothing is appended by the gateway', async () => {
    const response = await client.messages
      .create({ model: 'an-stream-error', max_tokens: 64, messages: hello, stream: true }, { headers: { 'X-Request-Id': 'an-err-stream-error-raw' } })
      .asResponse();
    const received = Buffer.from(await response.arrayBuffer());
    const sent = upstream.byRequestId('an-err-stream-error-raw').response.body();
    assert.ok(received.equals(sent), `client got:\n${received.toString()}\n---\nupstream sent:\n${sent.toString()}`);
    assert.ok(received.toString().endsWith('event: error\ndata: {"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"}}\n\n'));
  });

  test('finalMessage() rejects with the overloaded error too', async () => {
    const err = await failure(() => client.messages.stream({ model: 'an-stream-error', max_tokens: 64, messages: hello }).finalMessage());
    assert.ok(isInstance(err, Anthropic.APIError), String(err));
    assert.equal(err.error?.error?.type, 'overloaded_error');
  });

  test('upstream connection dies mid-event → the SDK stream throws the gateway\'s upstream_stream_interrupted error', async () => {
    const { data: stream, response } = await client.messages
      .create({ model: 'an-broken-stream', max_tokens: 64, messages: hello, stream: true }, { headers: { 'X-Request-Id': 'an-err-broken' } })
      .withResponse();
    assert.equal(response.status, 200);
    const texts: string[] = [];
    const err = await failure(async () => {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') texts.push(event.delta.text);
      }
    });
    assert.deepEqual(texts, [FAKE_AN_TEXT_PARTS[0]], 'the first delta arrived before the break');
    assert.ok(isInstance(err, Anthropic.APIError), `expected the gateway's error event, got ${err?.name}: ${err?.message}`);
    assert.equal(err.error?.type, 'error');
    assert.equal(err.error?.error?.type, 'api_error');
    assert.match(err.error?.error?.message ?? '', /broke off its response.*\[upstream_stream_interrupted\]$/);
    assert.ok(!String(err.message).includes(DEPLOY_KEY));
  });

  test('upstream connection dies mid-event → every SSE frame the client gets is whole, the last the gateway error event', async () => {
    const response = await client.messages
      .create({ model: 'an-broken-stream', max_tokens: 64, messages: hello, stream: true }, { headers: { 'X-Request-Id': 'an-err-broken-raw' } })
      .asResponse();
    const received = Buffer.from(await response.arrayBuffer()).toString('utf8');
    const sent = upstream.byRequestId('an-err-broken-raw').response.body().toString('utf8');
    const lastWhole = sent.lastIndexOf('\n\n') + 2;
    assert.ok(lastWhole < sent.length, 'the fake broke off inside an event');
    assert.ok(received.startsWith(sent.slice(0, lastWhole)), 'the complete events are relayed byte for byte');
    const frames = received.split('\n\n');
    assert.equal(frames.at(-1), '', 'the stream ends with a blank line');
    for (const frame of frames.slice(0, -1)) {
      const match = /^event: (\w+)\ndata: (.*)$/.exec(frame);
      assert.ok(match, `a malformed SSE frame reached the client: ${JSON.stringify(frame)}`);
      assert.doesNotThrow(() => JSON.parse(match[2]!), `frame data is not JSON: ${match[2]}`);
    }
    const last = /^event: (\w+)\ndata: (.*)$/.exec(frames.at(-2)!)!;
    assert.equal(last[1], 'error');
    assert.equal(JSON.parse(last[2]!).error.type, 'api_error');
    assert.match(JSON.parse(last[2]!).error.message, /\[upstream_stream_interrupted\]$/);
  });

  test('upstream connection dies between events → the gateway error event follows the relayed bytes; finalMessage() rejects with it', async () => {
    const response = await client.messages
      .create({ model: 'an-broken-stream-clean', max_tokens: 64, messages: hello, stream: true }, { headers: { 'X-Request-Id': 'an-err-clean-raw' } })
      .asResponse();
    const received = Buffer.from(await response.arrayBuffer()).toString('utf8');
    const sent = upstream.byRequestId('an-err-clean-raw').response.body().toString('utf8');
    assert.ok(sent.endsWith('\n\n'));
    assert.ok(received.startsWith(sent), 'the upstream bytes are relayed untouched');
    const tail = received.slice(sent.length);
    assert.match(tail, /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"Deployment fake-an-broken-stream-clean \(anthropic\) broke off its response: [^"]*\[upstream_stream_interrupted\]"\}\}\n\n$/);

    const err = await failure(() => client.messages.stream({ model: 'an-broken-stream-clean', max_tokens: 64, messages: hello }).finalMessage());
    assert.ok(isInstance(err, Anthropic.APIError), `${err?.name}: ${err?.message}`);
    assert.equal(err.error?.error?.type, 'api_error');
    assert.match(err.error?.error?.message ?? '', /\[upstream_stream_interrupted\]$/);
  });

  test('a stream whose upstream never answers → 504 before any byte is sent', async () => {
    const err = await failure(() => client.messages.stream({ model: 'an-hang', max_tokens: 64, messages: hello }).finalMessage());
    assert.ok(isInstance(err, Anthropic.InternalServerError), String(err));
    assert.equal(err.status, 504);
    assertEnvelope(err, 'api_error', 'upstream_timeout');
  });
});

describe('translated streams that fail after they started', () => {
  /** Iterates an SDK stream until it throws: the text deltas received, and the error. */
  async function drainText(stream: AsyncIterable<Anthropic.MessageStreamEvent>): Promise<{ texts: string[]; err: any }> {
    const texts: string[] = [];
    const err = await failure(async () => {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') texts.push(event.delta.text);
      }
    });
    return { texts, err };
  }

  test('an OpenAI-wire stream error becomes an Anthropic `event: error` the SDK raises', async () => {
    const stream = await client.messages.create({ model: 'oa-stream-error', max_tokens: 64, messages: hello, stream: true });
    const { texts, err } = await drainText(stream);
    assert.deepEqual(texts, FAKE_TEXT_PARTS.slice(0, 2));
    assert.ok(isInstance(err, Anthropic.APIError), `${err?.name}: ${err?.message}`);
    assert.deepEqual(Object.keys(err.error), ['type', 'error']);
    assert.equal(err.error.error.type, 'api_error');
    assert.match(err.error.error.message, /^Deployment fake-oa-stream-error \(openai_compatible\) reported an error mid-stream: The server had an error while processing your request\. \[upstream_error\]$/);
  });

  test('an OpenAI-wire stream that breaks off becomes an upstream_stream_interrupted event', async () => {
    const stream = await client.messages.create({ model: 'oa-broken-stream', max_tokens: 64, messages: hello, stream: true });
    const { texts, err } = await drainText(stream);
    assert.deepEqual(texts, FAKE_TEXT_PARTS.slice(0, 2));
    assert.ok(isInstance(err, Anthropic.APIError), `${err?.name}: ${err?.message}`);
    assert.equal(err.error.error.type, 'api_error');
    assert.match(err.error.error.message, /\[upstream_stream_interrupted\]$/);
  });
});

describe('OpenAI SDK errors from an anthropic deployment', () => {
  let openai: OpenAI;
  before(() => {
    openai = new OpenAI({ baseURL: gw.baseURL, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000 });
  });

  test('529 → 503 with code upstream_overloaded in the OpenAI envelope', async () => {
    const err = await failure(() => openai.chat.completions.create({ model: 'an-overloaded', messages: [{ role: 'user', content: 'Hi' }] }));
    assert.ok(isInstance(err, OpenAI.InternalServerError), String(err));
    assert.equal(err.status, 503);
    assert.equal(err.code, 'upstream_overloaded');
    assert.equal(err.type, 'overloaded_error');
  });

  test('prompt too long → 400 context_length_exceeded', async () => {
    const err = await failure(() => openai.chat.completions.create({ model: 'an-prompt-too-long', messages: [{ role: 'user', content: 'Hi' }] }));
    assert.ok(isInstance(err, OpenAI.BadRequestError), String(err));
    assert.equal(err.code, 'context_length_exceeded');
    assert.ok(err.message.includes(FAKE_AN_PROMPT_TOO_LONG_MESSAGE));
  });

  test('an in-stream overloaded event ends the translated stream with an OpenAI error the SDK throws', async () => {
    const stream = await openai.chat.completions.create({ model: 'an-stream-error', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let content = '';
    const err = await failure(async () => {
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
    });
    assert.equal(content, FAKE_AN_STREAM_ERROR_TEXT);
    assert.ok(isInstance(err, OpenAI.APIError), String(err));
    assert.match(err.message, /reported an error mid-stream: Overloaded/);
    assert.equal(err.error?.code ?? err.code, 'upstream_overloaded');
  });
});

describe('secrets', () => {
  test('neither the deployment key nor the master key appears in any log line', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const text = gw.logText();
    assert.ok(text.length > 0, 'the gateway logged something');
    assert.ok(!text.includes(DEPLOY_KEY), 'the deployment api_key is in the logs');
    assert.ok(!text.includes(WRONG_DEPLOY_KEY), 'the refused deployment api_key is in the logs');
    assert.ok(!text.includes(MASTER_KEY), 'the master key is in the logs');
    assert.ok(gw.logs().some((l) => l.msg === 'request' && l.status === 429), 'error requests are in the access log');
  });
});
