import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  anthropicUsageFromOpenAI, chatCompletionToAnthropicMessage, stopReasonFromFinish, toolInput,
} from '../../../src/providers/anthropic/messages-ingress.ts';
import { anthropicToChatCompletion } from '../../../src/providers/anthropic/anthropic-to-chat.ts';
import { GatewayError } from '../../../src/errors/gateway-error.ts';
import type { ChatCompletion } from '../../../src/providers/types.ts';
import { readJsonFixture } from '../../helpers/fixtures.ts';
import { deployment, thrown } from './helpers.ts';

function completion(message: ChatCompletion['choices'][number]['message'], finish: ChatCompletion['choices'][number]['finish_reason'] = 'stop'): ChatCompletion {
  return { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4.1', choices: [{ index: 0, message, finish_reason: finish }] };
}

test('an OpenAI tool-call completion becomes an Anthropic message', () => {
  const c = readJsonFixture<ChatCompletion>('anthropic/openai-completion-tool-calls.json');
  assert.deepEqual(chatCompletionToAnthropicMessage(c, 'claude-sonnet-4-5'), {
    id: 'msg_chatcmpl-C8qZ9aBcD4eF5gH6iJ7kL8mN',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [
      { type: 'text', text: 'Let me look that up.' },
      { type: 'tool_use', id: 'call_Qm3vX8pL2kR9tN4w', name: 'get_weather', input: { location: 'Paris' } },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 86, cache_creation_input_tokens: 0, cache_read_input_tokens: 1920, output_tokens: 23 },
  });
});

test('each finish_reason maps to a stop_reason', () => {
  assert.equal(stopReasonFromFinish('stop'), 'end_turn');
  assert.equal(stopReasonFromFinish('length'), 'max_tokens');
  assert.equal(stopReasonFromFinish('tool_calls'), 'tool_use');
  assert.equal(stopReasonFromFinish('function_call'), 'tool_use');
  assert.equal(stopReasonFromFinish('content_filter'), 'refusal');
  assert.equal(stopReasonFromFinish(null), 'end_turn');
  assert.equal(chatCompletionToAnthropicMessage(completion({ role: 'assistant', content: 'cut' }, 'length'), 'm').stop_reason, 'max_tokens');
});

test('tool calls reported with finish_reason stop still end with tool_use', () => {
  const m = chatCompletionToAnthropicMessage(completion({
    role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }],
  }), 'm');
  assert.equal(m.stop_reason, 'tool_use');
  assert.deepEqual(m.content, [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }]);
});

test('a refusal becomes text with stop_reason refusal', () => {
  const m = chatCompletionToAnthropicMessage(completion({ role: 'assistant', content: null, refusal: "I can't help with that." }), 'm');
  assert.deepEqual(m.content, [{ type: 'text', text: "I can't help with that." }]);
  assert.equal(m.stop_reason, 'refusal');
});

test('usage: input_tokens excludes cache reads and writes; missing usage is zeros', () => {
  assert.deepEqual(anthropicUsageFromOpenAI({ prompt_tokens: 193247, completion_tokens: 393, total_tokens: 193640, prompt_tokens_details: { cached_tokens: 5140 }, cache_creation_input_tokens: 188086 }), {
    input_tokens: 21, cache_creation_input_tokens: 188086, cache_read_input_tokens: 5140, output_tokens: 393,
  });
  assert.deepEqual(anthropicUsageFromOpenAI(undefined), { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 });
});

test('toolInput parses objects and falls back to {}', () => {
  assert.deepEqual(toolInput('{"a":1}'), { a: 1 });
  assert.deepEqual(toolInput(''), {});
  assert.deepEqual(toolInput('{"a":'), {});
  assert.deepEqual(toolInput('[1,2]'), {});
});

test('a completion without choices is an invalid upstream response', () => {
  const err = thrown(() => chatCompletionToAnthropicMessage({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [] }, 'm'));
  assert.equal(err.code, 'upstream_invalid_response');
});

test('round trip: Anthropic message → chat completion → Anthropic message keeps content, stop and usage', () => {
  for (const name of ['message-tool-use.json', 'message-cache-usage.json', 'message-text.json']) {
    const original = readJsonFixture(`anthropic/${name}`);
    const back = chatCompletionToAnthropicMessage(anthropicToChatCompletion(original, deployment(), 0), original.model);
    assert.equal(back.id, original.id);
    assert.deepEqual(back.content, original.content);
    assert.equal(back.stop_reason, original.stop_reason);
    assert.deepEqual(back.usage, {
      input_tokens: original.usage.input_tokens,
      cache_creation_input_tokens: original.usage.cache_creation_input_tokens,
      cache_read_input_tokens: original.usage.cache_read_input_tokens,
      output_tokens: original.usage.output_tokens,
    });
  }
});

/** The GatewayError a malformed completion raises (a TypeError here would be an HTTP 500). */
function invalidResponse(body: unknown): GatewayError {
  const err = thrown(() => chatCompletionToAnthropicMessage(body as ChatCompletion, 'm'));
  assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
  assert.equal(err.code, 'upstream_invalid_response');
  assert.equal(err.status, 502);
  return err;
}

function withMessage(message: unknown): unknown {
  return { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'llama', choices: [{ index: 0, message, finish_reason: 'tool_calls' }] };
}

const call = (fn: unknown, extra: Record<string, unknown> = {}) => ({ id: 'call_1', type: 'function', function: fn, ...extra });

test('malformed tool calls are upstream_invalid_response errors that say what is wrong', () => {
  const cases: Array<[unknown, string]> = [
    [[{ function: null }], 'choices[0].message.tool_calls[0].function is missing'],
    [[{ id: 'call_1', type: 'function' }], 'choices[0].message.tool_calls[0].function is missing'],
    ['zz', 'choices[0].message.tool_calls is a string, not an array'],
    [{ 0: call({ name: 'f', arguments: '{}' }) }, 'choices[0].message.tool_calls is an object, not an array'],
    [[call({ arguments: '{"a":1}' })], 'choices[0].message.tool_calls[0].function.name is missing'],
    [[call({ name: '', arguments: '{}' })], 'choices[0].message.tool_calls[0].function.name is missing'],
    [[call({ name: 42, arguments: '{}' })], 'choices[0].message.tool_calls[0].function.name is a number, not a string'],
    [[call('get_weather')], 'choices[0].message.tool_calls[0].function is a string, not an object'],
    [[null], 'choices[0].message.tool_calls[0] is null, not a tool call object'],
    [['call_1'], 'choices[0].message.tool_calls[0] is a string, not a tool call object'],
    [[call({ name: 'f', arguments: '{}' }), call(null)], 'choices[0].message.tool_calls[1].function is missing'],
    [[call({ name: 'f', arguments: [1, 2] })], 'choices[0].message.tool_calls[0].function.arguments is an array, not a JSON string or object'],
    [[call({ name: 'f', arguments: 7 })], 'choices[0].message.tool_calls[0].function.arguments is a number, not a JSON string or object'],
    [[call({ name: 'f', arguments: '{}' }, { id: 12 })], 'choices[0].message.tool_calls[0].id is a number, not a string'],
  ];
  for (const [toolCalls, what] of cases) {
    const err = invalidResponse(withMessage({ role: 'assistant', content: null, tool_calls: toolCalls }));
    assert.equal(err.message, `The provider returned a malformed chat completion: ${what}.`, JSON.stringify(toolCalls));
  }
});

test('malformed choices and messages are upstream_invalid_response errors that say what is wrong', () => {
  const base = { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'llama' };
  const cases: Array<[unknown, string]> = [
    [{ ...base }, 'choices is missing'],
    [{ ...base, choices: null }, 'choices is missing'],
    [{ ...base, choices: [] }, 'choices is empty'],
    [{ ...base, choices: 'zz' }, 'choices is a string, not an array'],
    [{ ...base, choices: { 0: {} } }, 'choices is an object, not an array'],
    [{ ...base, choices: [null] }, 'choices[0] is null, not an object'],
    [{ ...base, choices: [{ index: 0, finish_reason: 'stop' }] }, 'choices[0].message is missing'],
    [{ ...base, choices: [{ index: 0, message: null, finish_reason: 'stop' }] }, 'choices[0].message is missing'],
    [{ ...base, choices: [{ index: 0, message: 'hello', finish_reason: 'stop' }] }, 'choices[0].message is a string, not an object'],
    [{ ...base, choices: [{ index: 0, message: ['hello'], finish_reason: 'stop' }] }, 'choices[0].message is an array, not an object'],
    [null, 'the body is null, not an object'],
    ['<html>', 'the body is a string, not an object'],
  ];
  for (const [body, what] of cases) {
    assert.equal(invalidResponse(body).message, `The provider returned a malformed chat completion: ${what}.`, JSON.stringify(body));
  }
});

test('tool-call arguments sent as an object (local OpenAI-compatible servers) are the input as is', () => {
  const m = chatCompletionToAnthropicMessage(withMessage({
    role: 'assistant', content: null,
    tool_calls: [call({ name: 'get_weather', arguments: { location: 'Paris', units: { temp: 'C' } } })],
  }) as ChatCompletion, 'm');
  assert.deepEqual(m.content, [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { location: 'Paris', units: { temp: 'C' } } }]);
  assert.equal(m.stop_reason, 'tool_use');
});

test('tool-call arguments that are not a JSON object, or missing, become {}; a missing id gets one', () => {
  const m = chatCompletionToAnthropicMessage(withMessage({
    role: 'assistant', content: null,
    tool_calls: [
      call({ name: 'a', arguments: '{"location": "Par' }),
      call({ name: 'b', arguments: '"just a string"' }),
      call({ name: 'c', arguments: null }),
      call({ name: 'd' }),
      { type: 'function', function: { name: 'e', arguments: '{"x":1}' } },
    ],
  }) as ChatCompletion, 'm');
  assert.deepEqual(m.content, [
    { type: 'tool_use', id: 'call_1', name: 'a', input: {} },
    { type: 'tool_use', id: 'call_1', name: 'b', input: {} },
    { type: 'tool_use', id: 'call_1', name: 'c', input: {} },
    { type: 'tool_use', id: 'call_1', name: 'd', input: {} },
    { type: 'tool_use', id: 'toolu_4', name: 'e', input: { x: 1 } },
  ]);
});

test('null tool_calls, a non-string id and junk usage are tolerated', () => {
  const m = chatCompletionToAnthropicMessage({
    id: 12345, object: 'chat.completion', created: 1, model: 'llama', usage: 'n/a',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi', tool_calls: null }, finish_reason: 'stop' }],
  } as unknown as ChatCompletion, 'm');
  assert.equal(m.id, 'msg_unknown');
  assert.deepEqual(m.content, [{ type: 'text', text: 'hi' }]);
  assert.equal(m.stop_reason, 'end_turn');
  assert.deepEqual(m.usage, { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 });
});
