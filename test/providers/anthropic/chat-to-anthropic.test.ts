import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatRequestToAnthropic, maxTokensFor } from '../../../src/providers/anthropic/chat-to-anthropic.ts';
import { parseDataUrl } from '../../../src/providers/anthropic/chat-content-to-anthropic.ts';
import { GatewayError } from '../../../src/errors/gateway-error.ts';
import type { ChatRequest } from '../../../src/providers/types.ts';
import { deployment, thrown } from './helpers.ts';

const dep = deployment();

function req(extra: Partial<ChatRequest>): ChatRequest {
  return { model: 'claude', messages: [{ role: 'user', content: 'Hi' }], ...extra };
}

test('a minimal request: model replaced, default max_tokens, string content kept', () => {
  assert.deepEqual(chatRequestToAnthropic(req({}), dep), {
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 4096,
    messages: [{ role: 'user', content: 'Hi' }],
  });
});

test('max_tokens: max_completion_tokens wins, then max_tokens, then model info', () => {
  assert.equal(maxTokensFor(req({ max_tokens: 100, max_completion_tokens: 200 }), dep), 200);
  assert.equal(maxTokensFor(req({ max_tokens: 100 }), dep), 100);
  assert.equal(maxTokensFor(req({}), deployment({ modelInfo: { max_output_tokens: 64000, max_tokens: 8192 } })), 64000);
  assert.equal(maxTokensFor(req({}), deployment({ modelInfo: { max_tokens: 8192 } })), 8192);
  assert.equal(maxTokensFor(req({ max_tokens: null }), dep), 4096);
});

test('system and developer messages become system; one plain prompt stays a string', () => {
  const one = chatRequestToAnthropic(req({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] }), dep);
  assert.equal(one.system, 'Be brief.');
  assert.deepEqual(one.messages, [{ role: 'user', content: 'Hi' }]);

  const many = chatRequestToAnthropic(req({
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'Long rules…', cache_control: { type: 'ephemeral' } }] },
      { role: 'developer', content: 'Answer in French.' },
      { role: 'user', content: 'Hi' },
    ],
  }), dep);
  assert.deepEqual(many.system, [
    { type: 'text', text: 'Long rules…', cache_control: { type: 'ephemeral' } },
    { type: 'text', text: 'Answer in French.' },
  ]);
});

test('message-level cache_control marks the last block of that message', () => {
  const out = chatRequestToAnthropic(req({
    messages: [{ role: 'system', content: 'Rules', cache_control: { type: 'ephemeral', ttl: '1h' } }, { role: 'user', content: 'Hi', cache_control: { type: 'ephemeral' } }],
  }), dep);
  assert.deepEqual(out.system, [{ type: 'text', text: 'Rules', cache_control: { type: 'ephemeral', ttl: '1h' } }]);
  assert.deepEqual(out.messages, [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }]);
});

test('images: data URLs become base64 sources, http(s) URLs become url sources; detail is dropped', () => {
  const out = chatRequestToAnthropic(req({
    messages: [{
      role: 'user',
      content: [
        { type: 'text', text: 'Compare these.' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
      ],
    }],
  }), dep);
  assert.deepEqual(out.messages[0].content, [
    { type: 'text', text: 'Compare these.' },
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
    { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
  ]);
});

test('unsupported images fail naming the part', () => {
  const bmp = thrown(() => chatRequestToAnthropic(req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }] }), dep));
  assert.equal(bmp.code, 'invalid_request');
  assert.equal(bmp.param, 'messages[0].content[0].image_url.url');
  const ftp = thrown(() => chatRequestToAnthropic(req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }), dep));
  assert.equal(ftp.param, 'messages[0].content[0].image_url.url');
  const audio = thrown(() => chatRequestToAnthropic(req({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'input_audio', input_audio: {} }] }] }), dep));
  assert.equal(audio.param, 'messages[0].content[1]');
});

test('PDF file parts become document blocks', () => {
  const out = chatRequestToAnthropic(req({
    messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }] }],
  }), dep);
  assert.deepEqual(out.messages[0].content, [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'a.pdf' }]);
});

test('parseDataUrl reads media type, base64 flag and data', () => {
  assert.deepEqual(parseDataUrl('data:image/jpeg;base64,/9j/4AAQ'), { mediaType: 'image/jpeg', base64: true, data: '/9j/4AAQ' });
  assert.deepEqual(parseDataUrl('data:text/plain;charset=utf-8,hi'), { mediaType: 'text/plain', base64: false, data: 'hi' });
  assert.equal(parseDataUrl('https://x/y.png'), undefined);
});

test('tool round: tool_calls → tool_use, consecutive tool messages → one user turn of tool_results', () => {
  const out = chatRequestToAnthropic(req({
    messages: [
      { role: 'user', content: 'Weather in Paris and the time?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18°C, cloudy' },
      { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '14:02' }] },
      { role: 'user', content: 'Thanks. Summarise.' },
    ],
  }), dep);
  assert.deepEqual(out.messages, [
    { role: 'user', content: 'Weather in Paris and the time?' },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } },
        { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: '18°C, cloudy' },
        { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '14:02' }] },
        { type: 'text', text: 'Thanks. Summarise.' },
      ],
    },
  ]);
});

test('an empty tool result carries no content', () => {
  const out = chatRequestToAnthropic(req({
    messages: [
      { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't', content: '' },
    ],
  }), dep);
  assert.deepEqual(out.messages[1], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't' }] });
});

test('invalid tool call arguments fail with param messages[i].tool_calls', () => {
  const err = thrown(() => chatRequestToAnthropic(req({
    messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }],
  }), dep));
  assert.ok(err instanceof GatewayError);
  assert.equal(err.code, 'invalid_request');
  assert.equal(err.param, 'messages[1].tool_calls');
  const arr = thrown(() => chatRequestToAnthropic(req({
    messages: [{ role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '[1]' } }] }],
  }), dep));
  assert.equal(arr.param, 'messages[0].tool_calls');
});

test('tool messages need tool_call_id; function and unknown roles are rejected', () => {
  assert.equal(thrown(() => chatRequestToAnthropic(req({ messages: [{ role: 'tool', content: 'x' }] }), dep)).param, 'messages[0].tool_call_id');
  assert.equal(thrown(() => chatRequestToAnthropic(req({ messages: [{ role: 'function', name: 'f', content: 'x' }] }), dep)).param, 'messages[0].role');
  assert.equal(thrown(() => chatRequestToAnthropic(req({ messages: [{ role: 'robot' as 'user', content: 'x' }] }), dep)).param, 'messages[0].role');
});

test('consecutive same-role messages merge so turns alternate', () => {
  const out = chatRequestToAnthropic(req({
    messages: [
      { role: 'user', content: 'one' },
      { role: 'user', content: 'two' },
      { role: 'assistant', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'three' },
    ],
  }), dep);
  assert.deepEqual(out.messages, [
    { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
    { role: 'user', content: 'three' },
  ]);
});

test('a final assistant prefill loses trailing whitespace; empty text is dropped', () => {
  const out = chatRequestToAnthropic(req({
    messages: [{ role: 'user', content: '' }, { role: 'user', content: 'Go' }, { role: 'assistant', content: 'The answer is ' }],
  }), dep);
  assert.deepEqual(out.messages, [{ role: 'user', content: 'Go' }, { role: 'assistant', content: 'The answer is' }]);
});

test('thinking_blocks on assistant messages are passed back before the text', () => {
  const out = chatRequestToAnthropic(req({
    messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a', thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 'sig' }, { type: 'redacted_thinking', data: 'xyz' }] },
      { role: 'user', content: 'q2' },
    ],
  }), dep);
  assert.deepEqual(out.messages[1].content, [
    { type: 'thinking', thinking: 't', signature: 'sig' },
    { type: 'redacted_thinking', data: 'xyz' },
    { type: 'text', text: 'a' },
  ]);
});

test('tools and tool_choice translate; parallel_tool_calls false disables parallel use', () => {
  const tools = [
    { type: 'function' as const, function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } } },
    { type: 'function' as const, function: { name: 'ping' } },
  ];
  const base = chatRequestToAnthropic(req({ tools }), dep);
  assert.deepEqual(base.tools, [
    { name: 'get_weather', description: 'Weather now', input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } },
    { name: 'ping', input_schema: { type: 'object', properties: {} } },
  ]);
  assert.equal(base.tool_choice, undefined);
  assert.deepEqual(chatRequestToAnthropic(req({ tools, tool_choice: 'none' }), dep).tool_choice, { type: 'none' });
  assert.deepEqual(chatRequestToAnthropic(req({ tools, tool_choice: 'auto' }), dep).tool_choice, { type: 'auto' });
  assert.deepEqual(chatRequestToAnthropic(req({ tools, tool_choice: 'required' }), dep).tool_choice, { type: 'any' });
  assert.deepEqual(chatRequestToAnthropic(req({ tools, tool_choice: { type: 'function', function: { name: 'ping' } } }), dep).tool_choice, { type: 'tool', name: 'ping' });
  assert.deepEqual(chatRequestToAnthropic(req({ tools, parallel_tool_calls: false }), dep).tool_choice, { type: 'auto', disable_parallel_tool_use: true });
  assert.deepEqual(chatRequestToAnthropic(req({ tools, tool_choice: 'required', parallel_tool_calls: false }), dep).tool_choice, { type: 'any', disable_parallel_tool_use: true });
  assert.deepEqual(chatRequestToAnthropic(req({ tools, tool_choice: 'none', parallel_tool_calls: false }), dep).tool_choice, { type: 'none' });
  assert.equal(chatRequestToAnthropic(req({ tools: [], tool_choice: 'auto' }), dep).tools, undefined);
  assert.equal(thrown(() => chatRequestToAnthropic(req({ tools, tool_choice: 'sometimes' as 'auto' }), dep)).param, 'tool_choice');
  assert.equal(thrown(() => chatRequestToAnthropic(req({ tools: [{ type: 'web' } as never] }), dep)).param, 'tools[0]');
});

test('sampling, stop, user and stream parameters', () => {
  const out = chatRequestToAnthropic(req({
    temperature: 0.3, top_p: 0.9, top_k: 40, stop: 'END', user: 'u-42', metadata: { user_id: 'ignored', tag: 'x' }, stream: true,
    stream_options: { include_usage: true },
  }), dep);
  assert.deepEqual(out, {
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 4096,
    messages: [{ role: 'user', content: 'Hi' }],
    stop_sequences: ['END'],
    temperature: 0.3,
    top_p: 0.9,
    top_k: 40,
    metadata: { user_id: 'u-42' },
    stream: true,
  });
  assert.deepEqual(chatRequestToAnthropic(req({ stop: ['a', 'b'], metadata: { user_id: 'm-1' } }), dep).stop_sequences, ['a', 'b']);
  assert.deepEqual(chatRequestToAnthropic(req({ metadata: { user_id: 'm-1' } }), dep).metadata, { user_id: 'm-1' });
  assert.equal(chatRequestToAnthropic(req({ stop: null, stream: false }), dep).stream, undefined);
});

test('reasoning_effort becomes a thinking budget below max_tokens; thinking passes through', () => {
  assert.deepEqual(chatRequestToAnthropic(req({ reasoning_effort: 'low' }), dep).thinking, { type: 'enabled', budget_tokens: 1024 });
  assert.deepEqual(chatRequestToAnthropic(req({ reasoning_effort: 'medium', max_tokens: 32000 }), dep).thinking, { type: 'enabled', budget_tokens: 4096 });
  assert.deepEqual(chatRequestToAnthropic(req({ reasoning_effort: 'high' }), dep).thinking, { type: 'enabled', budget_tokens: 4095 });
  assert.equal(chatRequestToAnthropic(req({ reasoning_effort: 'minimal' }), dep).thinking, undefined);
  assert.equal(thrown(() => chatRequestToAnthropic(req({ reasoning_effort: 'low', max_tokens: 1000 }), dep)).param, 'reasoning_effort');
  assert.equal(thrown(() => chatRequestToAnthropic(req({ reasoning_effort: 'extreme' }), dep)).param, 'reasoning_effort');
  assert.deepEqual(chatRequestToAnthropic(req({ thinking: { type: 'enabled', budget_tokens: 2000 } }), dep).thinking, { type: 'enabled', budget_tokens: 2000 });
  assert.equal(thrown(() => chatRequestToAnthropic(req({ thinking: { type: 'on' } }), dep)).param, 'thinking');
});

test('the input request is not mutated', () => {
  const input = req({
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }, { role: 'assistant', content: 'ok ' }],
  });
  const copy = structuredClone(input);
  chatRequestToAnthropic(input, dep);
  assert.deepEqual(input, copy);
});
