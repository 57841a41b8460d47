import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  anthropicUsageFromOpenAI, chatCompletionToAnthropicMessage, stopReasonFromFinish, toolInput,
} from '../../../src/providers/anthropic/messages-ingress.ts';
import { anthropicToChatCompletion } from '../../../src/providers/anthropic/anthropic-to-chat.ts';
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
