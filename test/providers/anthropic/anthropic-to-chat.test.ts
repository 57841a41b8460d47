import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  anthropicToChatCompletion, finishReasonFromAnthropic, openAIUsageFromAnthropic, usageFromAnthropic,
} from '../../../src/providers/anthropic/anthropic-to-chat.ts';
import { readJsonFixture } from '../../helpers/fixtures.ts';
import { deployment, thrown } from './helpers.ts';

const dep = deployment();
const CREATED = 1_756_512_000;

test('a text response becomes a chat completion', () => {
  const body = readJsonFixture('anthropic/message-text.json');
  assert.deepEqual(anthropicToChatCompletion(body, dep, CREATED), {
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
    object: 'chat.completion',
    created: CREATED,
    model: 'claude-sonnet-4-5-20250929',
    choices: [{
      index: 0,
      message: { role: 'assistant', content: "Hello! It's nice to meet you. How can I help you today?", refusal: null },
      finish_reason: 'stop',
      logprobs: null,
    }],
    usage: {
      prompt_tokens: 10,
      completion_tokens: 18,
      total_tokens: 28,
      prompt_tokens_details: { cached_tokens: 0 },
      cache_creation_input_tokens: 0,
    },
  });
});

test('a tool_use response becomes tool_calls with JSON arguments', () => {
  const out = anthropicToChatCompletion(readJsonFixture('anthropic/message-tool-use.json'), dep, CREATED);
  assert.deepEqual(out.choices[0].message, {
    role: 'assistant',
    content: "I'll check the current weather in San Francisco for you.",
    refusal: null,
    tool_calls: [{
      id: 'toolu_01A09q90qw90lq917835lq9',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' },
    }],
  });
  assert.equal(out.choices[0].finish_reason, 'tool_calls');
});

test('tool_use only: content is null', () => {
  const out = anthropicToChatCompletion({
    id: 'msg_1', type: 'message', role: 'assistant', model: 'm', stop_reason: 'tool_use', stop_sequence: null,
    content: [{ type: 'tool_use', id: 'toolu_9', name: 'now', input: {} }], usage: { input_tokens: 1, output_tokens: 2 },
  }, dep, CREATED);
  assert.equal(out.choices[0].message.content, null);
  assert.equal(out.choices[0].message.tool_calls?.[0].function.arguments, '{}');
});

test('cache tokens: prompt_tokens includes cache reads and writes; cached_tokens are the reads', () => {
  const out = anthropicToChatCompletion(readJsonFixture('anthropic/message-cache-usage.json'), dep, CREATED);
  assert.deepEqual(out.usage, {
    prompt_tokens: 21 + 5140 + 188086,
    completion_tokens: 393,
    total_tokens: 21 + 5140 + 188086 + 393,
    prompt_tokens_details: { cached_tokens: 5140 },
    cache_creation_input_tokens: 188086,
  });
  assert.equal(out.model, 'claude-haiku-4-5-20251001');
});

test('usageFromAnthropic gives the ledger usage with cache reads and writes', () => {
  assert.deepEqual(usageFromAnthropic({ input_tokens: 21, cache_creation_input_tokens: 188086, cache_read_input_tokens: 5140, output_tokens: 393 }), {
    inputTokens: 193247,
    outputTokens: 393,
    cachedInputTokens: 5140,
    cacheWriteTokens: 188086,
    reasoningTokens: 0,
    totalTokens: 193640,
  });
  assert.deepEqual(usageFromAnthropic({ input_tokens: 5, output_tokens: 50, output_tokens_details: { thinking_tokens: 30 } }), {
    inputTokens: 5, outputTokens: 50, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 30, totalTokens: 55,
  });
  assert.equal(usageFromAnthropic(undefined), undefined);
  assert.deepEqual(openAIUsageFromAnthropic({ input_tokens: 3, output_tokens: 4, cache_read_input_tokens: null }), {
    prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, prompt_tokens_details: { cached_tokens: 0 }, cache_creation_input_tokens: 0,
  });
});

test('thinking is kept out of content and exposed as reasoning_content and thinking_blocks', () => {
  const out = anthropicToChatCompletion(readJsonFixture('anthropic/message-thinking.json'), dep, CREATED);
  const message = out.choices[0].message;
  assert.equal(message.content, '1001 factors as 7 × 11 × 13.');
  assert.equal(message.reasoning_content, 'To approach this, I should consider the prime factorization of 1001 = 7 × 11 × 13.');
  const blocks = message.thinking_blocks as Array<{ type: string; signature?: string }>;
  assert.deepEqual(blocks.map((b) => b.type), ['thinking', 'redacted_thinking']);
  assert.match(String(blocks[0].signature), /^EuYBCkQYAiJA/);
});

test('each stop_reason maps to a finish_reason', () => {
  const cases: Array<[string, string | null]> = [
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['pause_turn', 'stop'], ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'],
  ];
  for (const [stop, finish] of cases) {
    assert.equal(finishReasonFromAnthropic(stop), finish, stop);
    const body = { id: 'msg_x', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'x' }], stop_reason: stop, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } };
    assert.equal(anthropicToChatCompletion(body, dep, CREATED).choices[0].finish_reason, finish, stop);
  }
  assert.equal(finishReasonFromAnthropic(null), null);
  assert.equal(anthropicToChatCompletion(readJsonFixture('anthropic/message-stop-sequence.json'), dep, CREATED).choices[0].finish_reason, 'stop');
});

test('multiple text blocks join; server-tool blocks are skipped', () => {
  const out = anthropicToChatCompletion({
    id: 'msg_2', type: 'message', role: 'assistant', model: 'm', stop_reason: 'end_turn', stop_sequence: null,
    content: [
      { type: 'text', text: 'According to the docs, ' },
      { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'x' } },
      { type: 'text', text: 'it works.', citations: [] },
    ],
    usage: { input_tokens: 1, output_tokens: 1 },
  }, dep, CREATED);
  assert.equal(out.choices[0].message.content, 'According to the docs, it works.');
  assert.equal(out.choices[0].message.tool_calls, undefined);
});

test('a body that is not a message fails as upstream_invalid_response', () => {
  const err = thrown(() => anthropicToChatCompletion({ type: 'message' }, dep, CREATED));
  assert.equal(err.code, 'upstream_invalid_response');
  assert.equal(thrown(() => anthropicToChatCompletion(null, dep)).code, 'upstream_invalid_response');
});

test('created defaults to the current time in seconds', () => {
  const before = Math.floor(Date.now() / 1000);
  const out = anthropicToChatCompletion(readJsonFixture('anthropic/message-text.json'), dep);
  assert.ok(out.created >= before && out.created <= before + 1);
});
