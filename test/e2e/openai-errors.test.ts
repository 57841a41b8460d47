// End to end with the official OpenAI SDK: every failure the gateway reports arrives as the
// right SDK error class, with the registry's status and code, and none of them is a 500.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import {
  FAKE_CONTEXT_MESSAGE, closedPort, fakeAliasesYaml, maskKey, startFakeOpenAIUpstream, type FakeOpenAIUpstream,
} from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-tollgate-master-e2e-0002';
const UPSTREAM_KEY = 'sk-upstream-secret-deploykey-k3y9';
/** A key that does not look like an `sk-` key (vLLM, TGI, in-house servers). */
const PLAIN_UPSTREAM_KEY = 'tgw-upstream-plainkey-0123456789-wxyz';

let upstream: FakeOpenAIUpstream;
let gw: TestGateway;
let small: TestGateway;
let client: OpenAI;

before(async () => {
  upstream = await startFakeOpenAIUpstream();
  const refused = await closedPort();
  gw = await startTestGateway(`
server:
  port: 0
# These tests are about how one failure is reported: no retries, no cooldowns (test/e2e/reliability-*.test.ts cover those).
router: { num_retries: 0, disable_cooldowns: true }
general_settings:
  master_key: ${MASTER_KEY}
models:
  chat:
    deployments:
      - id: fake-chat
        provider: openai_compatible
        model: ok
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
${fakeAliasesYaml(upstream.baseURL, UPSTREAM_KEY, ['rate-limited', 'server-error', 'overloaded', 'bad-auth', 'context-too-long', 'hang', 'not-json'], { hang: 'timeout_ms: 300' })}
  up-bad-auth-plain:
    deployments:
      - id: fake-bad-auth-plain
        provider: openai_compatible
        model: bad-auth
        api_base: ${upstream.baseURL}
        api_key: ${PLAIN_UPSTREAM_KEY}
  up-refused:
    deployments:
      - id: fake-refused
        provider: openai_compatible
        model: ok
        api_base: http://127.0.0.1:${refused}/v1
        api_key: ${UPSTREAM_KEY}
`);
  small = await startTestGateway(`
server:
  port: 0
  max_body_size: 1kb
general_settings:
  master_key: ${MASTER_KEY}
models:
  chat:
    deployments:
      - id: fake-chat
        provider: openai_compatible
        model: ok
        api_base: ${upstream.baseURL}
`);
  client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await gw?.shutdown();
  await small?.shutdown();
  await upstream?.close();
});

const hello = [{ role: 'user' as const, content: 'Say hello.' }];

/** Runs `call`, which must fail, and returns the error. */
async function failure(call: () => Promise<unknown>): Promise<any> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

/** Raw HTTP, for bodies the SDK would never send. */
async function raw(path: string, init: { method?: string; body?: string; headers?: Record<string, string>; base?: string } = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(`${init.base ?? gw.url}${path}`, {
    method: init.method ?? 'POST',
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json', ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

function assertEnvelope(body: any, code: string, type: string): void {
  assert.equal(typeof body?.error?.message, 'string', `not an OpenAI error envelope: ${JSON.stringify(body)}`);
  assert.equal(body.error.code, code);
  assert.equal(body.error.type, type);
  assert.ok('param' in body.error);
}

describe('client errors', () => {
  test('wrong key → AuthenticationError 401 invalid_api_key', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-not-the-master-key', baseURL: gw.baseURL, maxRetries: 0 });
    const err = await failure(() => wrong.chat.completions.create({ model: 'chat', messages: hello }));
    assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    assert.equal(err.type, 'authentication_error');
    assert.equal(err.message.includes('sk-not-the-master-key'), false);
  });

  test('missing key → AuthenticationError 401 missing_api_key', async () => {
    const keyless = new OpenAI({ apiKey: 'unused', baseURL: gw.baseURL, maxRetries: 0, defaultHeaders: { authorization: null } });
    const err = await failure(() => keyless.chat.completions.create({ model: 'chat', messages: hello }));
    assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.code, 'missing_api_key');

    const plain = await raw('/v1/chat/completions', { headers: { authorization: '' }, body: '{}' });
    assert.equal(plain.status, 401);
    assertEnvelope(plain.body, 'missing_api_key', 'authentication_error');
  });

  test('unknown model → NotFoundError model_not_found, with a did-you-mean for a near miss', async () => {
    const far = await failure(() => client.chat.completions.create({ model: 'gpt-5-ultra-nonexistent', messages: hello }));
    assert.ok(far instanceof OpenAI.NotFoundError, String(far));
    assert.equal(far.status, 404);
    assert.equal(far.code, 'model_not_found');
    assert.equal(far.param, 'model');
    assert.equal(/Did you mean/.test(far.message), false);

    const near = await failure(() => client.chat.completions.create({ model: 'caht', messages: hello }));
    assert.ok(near instanceof OpenAI.NotFoundError, String(near));
    assert.equal(near.code, 'model_not_found');
    assert.match(near.message, /Did you mean "chat"\?/);
  });

  test('malformed JSON → 400 invalid_json', async () => {
    const res = await raw('/v1/chat/completions', { body: '{"model": "chat", "messages": [' });
    assert.equal(res.status, 400);
    assertEnvelope(res.body, 'invalid_json', 'invalid_request_error');
    assert.equal(res.headers.get('x-gateway-error-code'), 'invalid_json');
  });

  test('wrong type → BadRequestError invalid_request naming the param', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'chat', messages: 'hi' as any }));
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'invalid_request');
    assert.equal(err.param, 'messages');
    assert.match(err.message, /messages/);

    const nested = await failure(() => client.chat.completions.create({ model: 'chat', messages: [{ role: 'robot', content: 'hi' }] as any }));
    assert.ok(nested instanceof OpenAI.BadRequestError, String(nested));
    assert.equal(nested.param, 'messages[0].role');
  });

  test('body over server.max_body_size → 413 body_too_large', async () => {
    const sdk = new OpenAI({ apiKey: MASTER_KEY, baseURL: small.baseURL, maxRetries: 0 });
    const err = await failure(() => sdk.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(2_000) }] }));
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 413);
    assert.equal(err.code, 'body_too_large');

    // The limit leaves normal requests alone.
    const ok = await sdk.chat.completions.create({ model: 'chat', messages: hello });
    assert.equal(ok.object, 'chat.completion');
  });

  test('body over server.max_body_size sent chunked (no content-length) → 413 body_too_large', async () => {
    const { port } = new URL(small.url);
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1', port: Number(port), method: 'POST', path: '/v1/chat/completions',
        headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.write(`{"model":"chat","messages":[{"role":"user","content":"${'x'.repeat(600)}`);
      setTimeout(() => req.end(`${'y'.repeat(600)}"}]}`), 30);
    });
    assert.equal(result.status, 413);
    assertEnvelope(JSON.parse(result.body), 'body_too_large', 'invalid_request_error');
  });
});

describe('upstream errors', () => {
  test('upstream 429 → RateLimitError 429 with retry-after 7', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-rate-limited', messages: hello }));
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.status, 429);
    assert.equal(err.code, 'upstream_rate_limited');
    assert.equal(err.headers.get('retry-after'), '7');
    assert.match(err.message, /fake-rate-limited/);
  });

  test('upstream 429 on a stream request → RateLimitError before any chunk', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-rate-limited', messages: hello, stream: true }));
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.headers.get('retry-after'), '7');
  });

  test('upstream 500 → InternalServerError 502 upstream_error naming the deployment', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-server-error', messages: hello }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_error');
    assert.equal(err.type, 'upstream_error');
    assert.match(err.message, /fake-server-error/);
    assert.equal(err.headers.get('x-gateway-deployment'), 'fake-server-error');
  });

  test('upstream 503 → 503 upstream_overloaded', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-overloaded', messages: hello }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 503);
    assert.equal(err.code, 'upstream_overloaded');
    assert.equal(err.type, 'overloaded_error');
  });

  test('upstream 401 → 502 upstream_auth_failed, without the deployment key or its masked echo', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-bad-auth', messages: hello }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_auth_failed');
    assert.match(err.message, /fake-bad-auth/);
    assert.equal(upstream.last('bad-auth').headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const message: string = err.message;
    assert.equal(message.includes(UPSTREAM_KEY), false);
    assert.equal(message.includes(maskKey(UPSTREAM_KEY)), false);
    assert.equal(message.includes('sk-up'), false);
    assert.equal(message.includes('k3y9'), false);
  });

  test('upstream 401 echoing a masked key that is not sk- shaped → the fragment is not shown either', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-bad-auth-plain', messages: hello }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.code, 'upstream_auth_failed');
    const message: string = err.message;
    assert.equal(message.includes(PLAIN_UPSTREAM_KEY), false);
    assert.equal(message.includes(maskKey(PLAIN_UPSTREAM_KEY)), false, `the key's masked echo reached the client: ${message}`);
    assert.equal(message.includes('wxyz'), false, `the key's last four characters reached the client: ${message}`);
  });

  test('upstream context length error → BadRequestError 400 context_length_exceeded', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-context-too-long', messages: hello }));
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'context_length_exceeded');
    assert.ok(err.message.includes(FAKE_CONTEXT_MESSAGE), err.message);
  });

  test('upstream hangs past timeout_ms → 504 upstream_timeout, quickly', async () => {
    const started = performance.now();
    const err = await failure(() => client.chat.completions.create({ model: 'up-hang', messages: hello }));
    const elapsed = performance.now() - started;
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 504);
    assert.equal(err.code, 'upstream_timeout');
    assert.equal(err.type, 'timeout_error');
    assert.match(err.message, /fake-hang/);
    assert.ok(elapsed >= 250 && elapsed < 2_000, `answered after ${elapsed.toFixed(0)} ms`);
    assert.equal(await upstream.waitForClientClose(upstream.last('hang'), 1_000), true, 'the timed-out upstream request was cancelled');
  });

  test('connection refused → 502 upstream_unreachable', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-refused', messages: hello }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_unreachable');
    assert.match(err.message, /fake-refused/);
  });

  test('a 200 that is not JSON → 502 upstream_invalid_response', async () => {
    const err = await failure(() => client.chat.completions.create({ model: 'up-not-json', messages: hello }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_invalid_response');
    assert.match(err.message, /fake-not-json/);
  });
});

describe('never a 500 for bad input', () => {
  const chat = '/v1/chat/completions';
  const msg = '[{"role":"user","content":"hi"}]';
  const cases: Array<{ name: string; path?: string; method?: string; body?: string; status: number; code: string }> = [
    { name: 'empty body', body: '', status: 400, code: 'invalid_json' },
    { name: 'truncated JSON', body: '{"model":', status: 400, code: 'invalid_json' },
    { name: 'JSON array', body: '[1,2]', status: 400, code: 'invalid_request' },
    { name: 'JSON string', body: '"hello"', status: 400, code: 'invalid_request' },
    { name: 'JSON null', body: 'null', status: 400, code: 'invalid_request' },
    { name: 'no model', body: `{"messages":${msg}}`, status: 400, code: 'missing_model' },
    { name: 'numeric model', body: `{"model":42,"messages":${msg}}`, status: 400, code: 'invalid_request' },
    { name: 'model __proto__', body: `{"model":"__proto__","messages":${msg}}`, status: 404, code: 'model_not_found' },
    { name: 'messages string', body: '{"model":"chat","messages":"hi"}', status: 400, code: 'invalid_request' },
    { name: 'messages empty', body: '{"model":"chat","messages":[]}', status: 400, code: 'invalid_request' },
    { name: 'message not an object', body: '{"model":"chat","messages":[1]}', status: 400, code: 'invalid_request' },
    { name: 'message null', body: '{"model":"chat","messages":[null]}', status: 400, code: 'invalid_request' },
    { name: 'content number', body: '{"model":"chat","messages":[{"role":"user","content":5}]}', status: 400, code: 'invalid_request' },
    { name: 'stream not boolean', body: `{"model":"chat","messages":${msg},"stream":"yes"}`, status: 400, code: 'invalid_request' },
    { name: 'stream_options array', body: `{"model":"chat","messages":${msg},"stream":true,"stream_options":[]}`, status: 400, code: 'invalid_request' },
    { name: 'n zero', body: `{"model":"chat","messages":${msg},"n":0}`, status: 400, code: 'invalid_request' },
    { name: 'max_tokens negative', body: `{"model":"chat","messages":${msg},"max_tokens":-1}`, status: 400, code: 'invalid_request' },
    { name: 'temperature string', body: `{"model":"chat","messages":${msg},"temperature":"hot"}`, status: 400, code: 'invalid_request' },
    { name: 'stop numbers', body: `{"model":"chat","messages":${msg},"stop":[1]}`, status: 400, code: 'invalid_request' },
    { name: 'tools without function', body: `{"model":"chat","messages":${msg},"tools":[{}]}`, status: 400, code: 'invalid_request' },
    { name: 'tools with a null', body: `{"model":"chat","messages":${msg},"tools":[null]}`, status: 400, code: 'invalid_request' },
    { name: 'response_format string', body: `{"model":"chat","messages":${msg},"response_format":"json"}`, status: 400, code: 'invalid_request' },
    { name: 'embeddings without input', path: '/v1/embeddings', body: '{"model":"chat"}', status: 400, code: 'invalid_request' },
    { name: 'embeddings numeric input', path: '/v1/embeddings', body: '{"model":"chat","input":5}', status: 400, code: 'invalid_request' },
    { name: 'embeddings empty input', path: '/v1/embeddings', body: '{"model":"chat","input":[]}', status: 400, code: 'invalid_request' },
    { name: 'embeddings bad encoding', path: '/v1/embeddings', body: '{"model":"chat","input":"x","encoding_format":"hex"}', status: 400, code: 'invalid_request' },
    { name: 'GET on chat', method: 'GET', status: 405, code: 'method_not_allowed' },
    { name: 'unknown path', path: '/v1/nope', body: '{}', status: 404, code: 'route_not_found' },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.status} ${c.code}`, async () => {
      const res = await raw(c.path ?? chat, { method: c.method ?? 'POST', ...(c.body !== undefined ? { body: c.body } : {}) });
      assert.notEqual(res.status, 500);
      assert.equal(res.status, c.status, JSON.stringify(res.body));
      assert.equal(res.body?.error?.code, c.code, JSON.stringify(res.body));
    });
  }

  test('no bad input above logged an unhandled error', async () => {
    const errors = gw.logs().filter((l) => l.level === 'error');
    assert.deepEqual(errors, []);
    assert.equal(gw.logs().some((l) => l.msg === 'request' && l.status === 500), false);
  });

  test('no upstream key reaches the logs', () => {
    const text = gw.logText();
    assert.equal(text.includes(UPSTREAM_KEY), false);
    assert.equal(text.includes(PLAIN_UPSTREAM_KEY), false);
    assert.equal(text.includes(MASTER_KEY), false);
  });
});
