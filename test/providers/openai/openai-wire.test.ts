import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { openaiAdapter } from '../../../src/providers/openai/openai-adapter.ts';
import { azureAdapter } from '../../../src/providers/azure/azure-adapter.ts';
import { groqAdapter } from '../../../src/providers/groq/groq-adapter.ts';
import { vllmAdapter } from '../../../src/providers/vllm/vllm-adapter.ts';
import { openAIStreamReducer } from '../../../src/providers/shared/openai-compatible.ts';
import { usageFromOpenAI } from '../../../src/providers/shared/usage.ts';
import type { ChatRequest, Deployment, StreamStep, Usage } from '../../../src/providers/types.ts';
import { fixturePath, parseSse, readChunksFixture, readJsonFixture, splitEvery, SPLITS } from '../../helpers/fixtures.ts';

function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return { id: 'dep-1', alias: 'a', provider: 'openai', model: 'gpt-4o-mini', apiKey: 'sk-secret-upstream', headers: {}, weight: 1, timeoutMs: 1000, streamTimeoutMs: 1000, connectTimeoutMs: 10_000, order: 1, healthCheck: true, dropParams: false, modelInfo: {}, ...overrides };
}

const REQUEST: ChatRequest = { model: 'my-alias', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, some_future_field: { x: 1 } };

function replay(name: string, size: number): { steps: StreamStep<unknown>[]; usage?: Usage } {
  const events = parseSse(splitEvery(readChunksFixture(name), size));
  let state = openAIStreamReducer.init();
  const steps: StreamStep<unknown>[] = [];
  let usage: Usage | undefined;
  for (const event of events) {
    const step = openAIStreamReducer.step(state, event);
    state = step.state;
    steps.push(step);
    if (step.usage) usage = step.usage;
  }
  return { steps, ...(usage ? { usage } : {}) };
}

test('openai: request goes to {api_base}/chat/completions with the pinned model, bearer key and unknown fields kept', () => {
  const req = openaiAdapter.chat.toRequest(structuredClone(REQUEST), deployment());
  assert.equal(req.origin, 'https://api.openai.com');
  assert.equal(req.path, '/v1/chat/completions');
  assert.equal(req.headers.authorization, 'Bearer sk-secret-upstream');
  assert.deepEqual(JSON.parse(req.body!), { ...REQUEST, model: 'gpt-4o-mini' });
});

test('openai: a recorded completion passes through, and usage counts cached tokens', () => {
  const body = readJsonFixture('openai/chat-completion.json');
  const completion = openaiAdapter.chat.fromResponse(body, deployment());
  assert.equal(completion.choices[0]!.message.content, 'Hello! How can I assist you today?');
  assert.deepEqual(usageFromOpenAI(completion.usage), { inputTokens: 1117, outputTokens: 10, cachedInputTokens: 1024, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 1127 });
});

test('openai: a body without choices is an invalid upstream response', () => {
  assert.throws(() => openaiAdapter.chat.fromResponse({ object: 'error' }, deployment()), { code: 'upstream_invalid_response' });
});

for (const size of SPLITS) {
  test(`openai stream reducer: usage-only final chunk and [DONE] found at ${size}-byte splits`, () => {
    const { steps, usage } = replay('openai/chat-stream-usage.chunks.txt', size);
    assert.equal(steps.length, 8);
    assert.deepEqual(usage, { inputTokens: 19, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 24 });
    assert.equal(steps.filter((s) => s.usageOnly).length, 1);
    assert.equal(steps.at(-1)!.done, true);
    assert.ok(steps.every((s) => s.out.length === 0 && !s.error));
  });
}

test('openai stream reducer: tool-call stream reports usage with cached tokens', () => {
  const { usage, steps } = replay('openai/chat-stream-tools.chunks.txt', 5);
  assert.equal(usage?.cachedInputTokens, 64);
  assert.equal(usage?.totalTokens, 98);
  assert.equal(steps.at(-1)!.done, true);
});

test('openai stream reducer: an error payload mid-stream is reported', () => {
  const step = openAIStreamReducer.step(openAIStreamReducer.init(), { data: '{"error":{"message":"boom","type":"server_error"}}' });
  assert.deepEqual(step.error, { code: 'upstream_error', message: 'boom', class: 'server_error' });
});

test('openai errors: each status class maps to its code, with retry-after for 429', () => {
  const text = (name: string) => readFileSync(fixturePath(name), 'utf8');
  const cases: Array<[number, string, string]> = [
    [400, text('openai/error-context-length.json'), 'context_length_exceeded'],
    [400, text('openai/error-content-filter-azure.json'), 'content_policy_violation'],
    [400, '{"error":{"message":"Invalid value for temperature","code":null}}', 'upstream_bad_request'],
    [401, text('openai/error-invalid-key.json'), 'upstream_auth_failed'],
    [403, '{}', 'upstream_auth_failed'],
    [404, '{"error":{"message":"The model `x` does not exist"}}', 'upstream_not_found'],
    [408, '', 'upstream_timeout'],
    [409, '', 'upstream_error'],
    [422, '{}', 'upstream_bad_request'],
    [429, text('openai/error-rate-limit.json'), 'upstream_rate_limited'],
    [500, '{"error":{"message":"The server had an error"}}', 'upstream_error'],
    [502, '<html>bad gateway</html>', 'upstream_error'],
    [503, '{}', 'upstream_overloaded'],
    [504, '', 'upstream_error'],
    [529, '', 'upstream_overloaded'],
  ];
  for (const [status, body, code] of cases) {
    assert.equal(openaiAdapter.mapError(status, body, {}).code, code, `status ${status}`);
  }
  const limited = openaiAdapter.mapError(429, text('openai/error-rate-limit.json'), { 'retry-after': '7' });
  assert.equal(limited.retryAfterSeconds, 7);
  assert.match(limited.message, /Rate limit reached/);
  assert.equal(openaiAdapter.mapError(429, '{}', { 'retry-after-ms': '1500' }).retryAfterSeconds, 1.5);
});

test('azure: deployment in the path, api-version in the query, key in api-key, no model in the body', () => {
  const dep = deployment({ provider: 'azure', model: 'gpt4o-prod', apiBase: 'https://acme.openai.azure.com', apiVersion: '2024-10-21' });
  const req = azureAdapter.chat.toRequest(structuredClone(REQUEST), dep);
  assert.equal(req.origin, 'https://acme.openai.azure.com');
  assert.equal(req.path, '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21');
  assert.equal(req.headers['api-key'], 'sk-secret-upstream');
  assert.equal(req.headers.authorization, undefined);
  assert.equal(JSON.parse(req.body!).model, undefined);
  assert.deepEqual(azureAdapter.validate({ ...dep, apiVersion: undefined } as Deployment), ['provider azure needs api_version (for example 2024-10-21)']);
});

test('groq: known-unsupported params are flagged, others forwarded', () => {
  assert.equal(groqAdapter.chat.supportsParam('logit_bias', { 50256: -100 }), false);
  assert.equal(groqAdapter.chat.supportsParam('temperature', 0.5), true);
  assert.equal(groqAdapter.chat.supportsParam('brand_new_param', true), true);
});

test('vllm: needs an api_base but no key', () => {
  assert.deepEqual(vllmAdapter.validate(deployment({ provider: 'vllm', apiKey: undefined } as Partial<Deployment>)), ['provider vllm needs api_base (the server\'s OpenAI-compatible URL, e.g. http://127.0.0.1:8000/v1)']);
  assert.deepEqual(vllmAdapter.validate(deployment({ provider: 'vllm', apiBase: 'http://10.0.0.5:8000/v1' })), []);
  assert.deepEqual(vllmAdapter.validate(deployment({ provider: 'vllm', apiBase: 'not a url' })), ['api_base "not a url" is not a URL; write it like https://api.example.com/v1']);
});

test('groq: n is accepted at 1 only', () => {
  assert.equal(groqAdapter.chat.supportsParam('n', 1), true);
  assert.equal(groqAdapter.chat.supportsParam('n', 2), false);
});

test('openai stream reducer: usage is found however the provider spaces its JSON', () => {
  const step = openAIStreamReducer.step(openAIStreamReducer.init(), { data: '{"id": "x", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}' });
  assert.equal(step.usageOnly, true);
  assert.equal(step.usage?.totalTokens, 5);
});

test('openai stream reducer: a mid-stream error object keeps its meaning (context length, content policy, rate limit)', () => {
  const step = (error: Record<string, unknown>) => openAIStreamReducer.step(openAIStreamReducer.init(), { data: JSON.stringify({ error: { message: 'x', ...error } }) }).error;
  assert.deepEqual(step({ code: 'context_length_exceeded', type: 'invalid_request_error' }), { code: 'context_length_exceeded', message: 'x', class: 'context_window' });
  assert.deepEqual(step({ code: 'content_filter' }), { code: 'content_policy_violation', message: 'x', class: 'content_policy' });
  assert.deepEqual(step({ type: 'rate_limit_exceeded' }), { code: 'upstream_rate_limited', message: 'x', class: 'rate_limit' });
  assert.deepEqual(step({ type: 'server_error', code: null }), { code: 'upstream_error', message: 'x', class: 'server_error' });
});
