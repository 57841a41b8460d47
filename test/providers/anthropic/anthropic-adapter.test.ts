import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anthropicAdapter } from '../../../src/providers/anthropic/anthropic-adapter.ts';
import { anthropicMessagesPassthrough, anthropicStreamUsage, mergeBetas } from '../../../src/providers/anthropic/anthropic-passthrough.ts';
import type { SseEvent, Usage } from '../../../src/providers/types.ts';
import { failureClass } from '../../../src/providers/shared/upstream-errors.ts';
import type { ErrorCode } from '../../../src/errors/codes.ts';
import { parseSse, readChunksFixture, readJsonFixture, splitEvery, SPLITS } from '../../helpers/fixtures.ts';
import { deployment, thrown } from './helpers.ts';

const dep = deployment();

test('identity and defaults', () => {
  assert.equal(anthropicAdapter.name, 'anthropic');
  assert.equal(anthropicAdapter.defaultApiBase, 'https://api.anthropic.com');
  assert.equal(anthropicAdapter.chat.wire, 'translated');
  assert.equal(anthropicAdapter.embeddings, undefined);
  assert.ok(anthropicAdapter.messages);
});

test('validate requires api_key and a valid api_base', () => {
  assert.deepEqual(anthropicAdapter.validate(dep), []);
  assert.deepEqual(anthropicAdapter.validate(deployment({ apiKey: undefined })), ['provider anthropic needs api_key (write it as os.environ/ANTHROPIC_API_KEY)']);
  assert.equal(anthropicAdapter.validate(deployment({ apiBase: 'not a url' })).length, 1);
});

test('supportsParam: translated params yes, the rest no', () => {
  for (const name of ['model', 'messages', 'stream', 'stream_options', 'tools', 'tool_choice', 'parallel_tool_calls', 'stop', 'max_tokens',
    'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'user', 'metadata', 'reasoning_effort', 'thinking']) {
    assert.equal(anthropicAdapter.chat.supportsParam(name, 1), true, name);
  }
  assert.equal(anthropicAdapter.chat.supportsParam('n', 1), true, 'n = 1 is the default and harmless');
  assert.equal(anthropicAdapter.chat.supportsParam('n', 2), false, 'n > 1 cannot be honoured');
  for (const name of ['response_format', 'logprobs', 'top_logprobs', 'frequency_penalty', 'presence_penalty', 'seed', 'logit_bias', 'service_tier', 'audio']) {
    assert.equal(anthropicAdapter.chat.supportsParam(name, 1), false, name);
  }
});

test('chat.toRequest posts to /v1/messages with Anthropic headers', () => {
  const r = anthropicAdapter.chat.toRequest({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }], stream: true }, deployment({ headers: { 'X-Team': 'core', 'anthropic-beta': 'context-1m-2025-08-07' } }));
  assert.equal(r.origin, 'https://api.anthropic.com');
  assert.equal(r.path, '/v1/messages');
  assert.equal(r.method, 'POST');
  assert.deepEqual(r.headers, {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'x-api-key': 'sk-ant-test',
    'anthropic-version': '2023-06-01',
    'x-team': 'core',
    'anthropic-beta': 'context-1m-2025-08-07',
  });
  assert.deepEqual(JSON.parse(r.body!), { model: 'claude-sonnet-4-5-20250929', max_tokens: 4096, messages: [{ role: 'user', content: 'Hi' }], stream: true });
});

test('api_base paths: a trailing /v1 is not doubled, other prefixes are kept', () => {
  const path = (apiBase: string) => anthropicAdapter.chat.toRequest({ model: 'c', messages: [] }, deployment({ apiBase })).path;
  assert.equal(path('https://api.anthropic.com/v1'), '/v1/messages');
  assert.equal(path('https://api.anthropic.com/v1/'), '/v1/messages');
  assert.equal(path('https://proxy.internal/anthropic'), '/anthropic/v1/messages');
  assert.equal(path('https://proxy.internal/anthropic/v1?region=eu'), '/anthropic/v1/messages?region=eu');
  assert.equal(anthropicAdapter.chat.toRequest({ model: 'c', messages: [] }, deployment({ apiBase: 'http://127.0.0.1:8787' })).origin, 'http://127.0.0.1:8787');
});

test('chat.fromResponse translates and rejects error bodies', () => {
  assert.equal(anthropicAdapter.chat.fromResponse(readJsonFixture('anthropic/message-text.json'), dep).choices[0].message.content, "Hello! It's nice to meet you. How can I help you today?");
  // An error body with a success status is the error it names (overloaded: retried by the router).
  const overloaded = thrown(() => anthropicAdapter.chat.fromResponse(readJsonFixture('anthropic/error-overloaded.json'), dep));
  assert.equal(overloaded.code, 'upstream_overloaded');
  assert.equal((overloaded as { failureClass?: string }).failureClass, 'server_error');
});

test('messages passthrough: only model is replaced; client version and betas are forwarded', () => {
  const body = { model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'x' }], system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral' } }], stream: true };
  const r = anthropicAdapter.messages!.toRequest(body, deployment({ headers: { 'anthropic-beta': 'token-efficient-tools-2025-02-19' } }), {
    'anthropic-version': '2023-06-01',
    'anthropic-beta': ['prompt-caching-2024-07-31,interleaved-thinking-2025-05-14', 'token-efficient-tools-2025-02-19'],
    authorization: 'Bearer client-virtual-key',
  });
  assert.equal(r.path, '/v1/messages');
  assert.deepEqual(JSON.parse(r.body!), { ...body, model: 'claude-sonnet-4-5-20250929' });
  assert.equal(body.model, 'claude', 'the client body is not mutated');
  assert.deepEqual(r.headers, {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'x-api-key': 'sk-ant-test',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14,token-efficient-tools-2025-02-19',
  });
  const plain = anthropicAdapter.messages!.toRequest({ model: 'claude', max_tokens: 1, messages: [] }, dep, {});
  assert.equal(plain.headers['anthropic-version'], '2023-06-01');
  assert.equal(plain.headers['anthropic-beta'], undefined);
  assert.equal(plain.headers.accept, 'application/json');
});

test('mergeBetas dedupes comma lists', () => {
  assert.equal(mergeBetas('a, b', undefined, 'b,c'), 'a,b,c');
  assert.equal(mergeBetas(undefined, ''), undefined);
});

test('usageFromResponse reads Anthropic usage with cache tokens', () => {
  assert.deepEqual(anthropicAdapter.messages!.usageFromResponse(readJsonFixture('anthropic/message-cache-usage.json')), {
    inputTokens: 193247, outputTokens: 393, cachedInputTokens: 5140, cacheWriteTokens: 188086, reasoningTokens: 0, totalTokens: 193640,
  });
  assert.equal(anthropicAdapter.messages!.usageFromResponse('nope'), undefined);
});

function usageReplay(events: SseEvent[]): { usages: Usage[]; errors: string[]; done: boolean; out: number } {
  const reducer = anthropicAdapter.messages!.streamUsage;
  let state = reducer.init();
  const r = { usages: [] as Usage[], errors: [] as string[], done: false, out: 0 };
  for (const event of events) {
    const step = reducer.step(state, event);
    state = step.state;
    r.out += step.out.length;
    if (step.usage) r.usages.push(step.usage);
    if (step.error) r.errors.push(step.error.code);
    if (step.done) r.done = true;
  }
  return r;
}

test('streamUsage: usage once message_delta arrives, done on message_stop, never any chunks', () => {
  for (const size of SPLITS) {
    const r = usageReplay(parseSse(splitEvery(readChunksFixture('anthropic/stream-tool-use.chunks.txt'), size)));
    assert.deepEqual(r, {
      usages: [{ inputTokens: 472, outputTokens: 89, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 561 }],
      errors: [],
      done: true,
      out: 0,
    }, `split ${size}`);
  }
  const err = usageReplay(parseSse([readChunksFixture('anthropic/stream-error-overloaded.chunks.txt')]));
  assert.deepEqual(err, { usages: [], errors: ['upstream_overloaded'], done: false, out: 0 });
});

test('streamUsage keeps message_start cache counts when message_delta only reports output', () => {
  const r = usageReplay([
    { event: 'message_start', data: '{"type":"message_start","message":{"usage":{"input_tokens":4,"cache_read_input_tokens":1000,"cache_creation_input_tokens":0,"output_tokens":1}}}' },
    { event: 'ping', data: '{"type":"ping"}' },
    { event: 'message_delta', data: '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}' },
    { event: 'message_stop', data: '{"type":"message_stop"}' },
  ]);
  assert.deepEqual(r.usages, [{ inputTokens: 1004, outputTokens: 12, cachedInputTokens: 1000, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 1016 }]);
  assert.equal(anthropicStreamUsage.step(anthropicStreamUsage.init(), { data: 'garbage' }).error?.code, 'upstream_invalid_response');
});

test('failureInBody: an Anthropic error body sent with HTTP 200 maps like a status error, with the provider message', () => {
  assert.equal(anthropicAdapter.messages, anthropicMessagesPassthrough);
  const { failureInBody } = anthropicMessagesPassthrough;
  const cases: Array<[string, string, string]> = [
    ['error-overloaded.json', 'upstream_overloaded', 'Overloaded'],
    ['error-api.json', 'upstream_error', 'Internal server error'],
    ['error-rate-limit.json', 'upstream_rate_limited', readJsonFixture('anthropic/error-rate-limit.json').error.message],
    ['error-authentication.json', 'upstream_auth_failed', 'invalid x-api-key'],
    ['error-prompt-too-long.json', 'context_length_exceeded', 'prompt is too long: 208310 tokens > 200000 maximum'],
    ['error-invalid-request.json', 'upstream_bad_request', readJsonFixture('anthropic/error-invalid-request.json').error.message],
  ];
  for (const [file, code, message] of cases) assert.deepEqual(failureInBody(readJsonFixture(`anthropic/${file}`)), { code, message, class: failureClass(code as ErrorCode) }, file);
  assert.deepEqual(failureInBody({ type: 'error', error: { type: 'timeout_error', message: '  Request timed out  ' } }), { code: 'upstream_timeout', message: 'Request timed out', class: 'timeout' });
  // Unknown or missing error types, and missing messages, still fail (the 200 status says nothing).
  assert.deepEqual(failureInBody({ type: 'error', error: { type: 'brand_new_error', message: 'x' } }), { code: 'upstream_error', message: 'x', class: 'server_error' });
  assert.deepEqual(failureInBody({ type: 'error', error: {} }), { code: 'upstream_error', message: 'provider error', class: 'server_error' });
  assert.deepEqual(failureInBody({ type: 'error', error: { type: 'overloaded_error' } }), { code: 'upstream_overloaded', message: 'provider error (overloaded_error)', class: 'server_error' });
  // Anthropic-compatible servers that leave out the top-level type.
  assert.deepEqual(failureInBody({ error: { type: 'overloaded_error', message: 'busy' } }), { code: 'upstream_overloaded', message: 'busy', class: 'server_error' });
  const long = failureInBody({ type: 'error', error: { type: 'api_error', message: 'e'.repeat(5000) } });
  assert.equal(long?.message.length, 601);
});

test('failureInBody: a normal message, or anything that is not an error body, is undefined', () => {
  const { failureInBody } = anthropicMessagesPassthrough;
  for (const file of ['message-text.json', 'message-tool-use.json', 'message-cache-usage.json']) assert.equal(failureInBody(readJsonFixture(`anthropic/${file}`)), undefined, file);
  for (const body of [undefined, null, 'nope', 42, [], [{ type: 'error' }], {}, { type: 'error' }, { type: 'error', error: 'overloaded' }, { type: 'error', error: null }, { type: 'message', error: { type: 'api_error', message: 'x' } }]) {
    assert.equal(failureInBody(body), undefined, JSON.stringify(body));
  }
});

test('supportsParam: OpenAI defaults that change nothing are accepted, other values are not', () => {
  const yes: Array<[string, unknown]> = [['logprobs', false], ['presence_penalty', 0], ['frequency_penalty', 0], ['response_format', { type: 'text' }], ['n', 1]];
  const no: Array<[string, unknown]> = [['logprobs', true], ['presence_penalty', 0.5], ['frequency_penalty', -1], ['response_format', { type: 'json_object' }], ['n', 3]];
  for (const [name, value] of yes) assert.equal(anthropicAdapter.chat.supportsParam(name, value), true, `${name}=${JSON.stringify(value)}`);
  for (const [name, value] of no) assert.equal(anthropicAdapter.chat.supportsParam(name, value), false, `${name}=${JSON.stringify(value)}`);
});
