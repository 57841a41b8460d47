import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messagesRequestToChat } from '../../../src/providers/anthropic/messages-ingress.ts';
import { chatRequestToAnthropic } from '../../../src/providers/anthropic/chat-to-anthropic.ts';
import { readJsonFixture } from '../../helpers/fixtures.ts';
import { deployment, thrown } from './helpers.ts';

function body(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }], ...extra };
}

test('a minimal request', () => {
  assert.deepEqual(messagesRequestToChat(body()), { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] });
});

test('an agent request: system blocks, image, thinking dropped, tool_use, tool_result, tools, choices', () => {
  assert.deepEqual(messagesRequestToChat(readJsonFixture('anthropic/messages-request-agent.json')), {
    model: 'claude-sonnet-4-5',
    max_tokens: 32000,
    messages: [
      { role: 'system', content: 'You are a coding agent.\n\nWork in /repo.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: "What's in README.md? Also see this screenshot." },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' } },
        ],
      },
      {
        role: 'assistant',
        content: "I'll read it.",
        tool_calls: [{ id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/repo/README.md"}' } }],
      },
      { role: 'tool', tool_call_id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV', content: '# Tollgate\nAn LLM gateway.' },
      { role: 'user', content: 'Summarise it.' },
    ],
    tools: [{
      type: 'function',
      function: { name: 'Read', description: 'Reads a file.', parameters: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } },
    }],
    tool_choice: 'auto',
    parallel_tool_calls: false,
    stop: ['</done>'],
    temperature: 0.2,
    user: 'user_7f3a9c',
    stream: true,
    stream_options: { include_usage: true },
  });
});

test('tool_choice types map to OpenAI choices', () => {
  const tools = [{ name: 'f', input_schema: { type: 'object' } }];
  assert.equal(messagesRequestToChat(body({ tools, tool_choice: { type: 'auto' } })).tool_choice, 'auto');
  assert.equal(messagesRequestToChat(body({ tools, tool_choice: { type: 'any' } })).tool_choice, 'required');
  assert.equal(messagesRequestToChat(body({ tools, tool_choice: { type: 'none' } })).tool_choice, 'none');
  assert.deepEqual(messagesRequestToChat(body({ tools, tool_choice: { type: 'tool', name: 'f' } })).tool_choice, { type: 'function', function: { name: 'f' } });
  assert.equal(messagesRequestToChat(body({ tools })).tool_choice, undefined);
  assert.equal(thrown(() => messagesRequestToChat(body({ tools, tool_choice: { type: 'tool' } }))).param, 'tool_choice.name');
  assert.equal(thrown(() => messagesRequestToChat(body({ tools, tool_choice: { type: 'maybe' } }))).param, 'tool_choice.type');
});

test('tool results: several become several tool messages; images follow in a user message', () => {
  const out = messagesRequestToChat(body({
    messages: [
      { role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'shot', input: {} }, { type: 'tool_use', id: 'b', name: 'ls', input: { dir: '/' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'a', content: [{ type: 'text', text: 'Screenshot:' }, { type: 'image', source: { type: 'url', url: 'https://x/s.png' } }] },
          { type: 'tool_result', tool_use_id: 'b', content: 'bin\netc', is_error: false },
        ],
      },
    ],
  }));
  assert.deepEqual(out.messages, [
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'a', type: 'function', function: { name: 'shot', arguments: '{}' } },
        { id: 'b', type: 'function', function: { name: 'ls', arguments: '{"dir":"/"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'a', content: 'Screenshot:' },
    { role: 'tool', tool_call_id: 'b', content: 'bin\netc' },
    { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/s.png' } }] },
  ]);
});

test('documents: base64 PDF becomes a file part, text documents become text', () => {
  const out = messagesRequestToChat(body({
    messages: [{
      role: 'user',
      content: [
        { type: 'document', title: 'spec.pdf', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain words' } },
      ],
    }],
  }));
  assert.deepEqual(out.messages[0].content, [
    { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'spec.pdf' } },
    { type: 'text', text: 'plain words' },
  ]);
});

test('validation errors name the field', () => {
  const cases: Array<[unknown, string, string]> = [
    [body({ model: undefined }), 'missing_model', 'model'],
    [body({ model: 7 }), 'invalid_request', 'model'],
    [body({ max_tokens: undefined }), 'invalid_request', 'max_tokens'],
    [body({ max_tokens: '100' }), 'invalid_request', 'max_tokens'],
    [body({ max_tokens: 0 }), 'invalid_request', 'max_tokens'],
    [body({ messages: 'hi' }), 'invalid_request', 'messages'],
    [body({ messages: [] }), 'invalid_request', 'messages'],
    [body({ messages: [{ role: 'system', content: 'x' }] }), 'invalid_request', 'messages[0].role'],
    [body({ messages: [{ role: 'user', content: 5 }] }), 'invalid_request', 'messages[0].content'],
    [body({ messages: [{ role: 'user', content: [{ type: 'text' }] }] }), 'invalid_request', 'messages[0].content[0].text'],
    [body({ messages: [{ role: 'user', content: [{ type: 'search_result' }] }] }), 'invalid_request', 'messages[0].content[0]'],
    [body({ messages: [{ role: 'user', content: [{ type: 'tool_result' }] }] }), 'invalid_request', 'messages[0].content[0].tool_use_id'],
    [body({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] }), 'invalid_request', 'messages[0].content[0].source'],
    [body({ system: 42 }), 'invalid_request', 'system'],
    [body({ system: [{ type: 'image' }] }), 'invalid_request', 'system[0]'],
    [body({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }), 'invalid_request', 'tools[0].type'],
    [body({ tools: [{ name: 'f' }] }), 'invalid_request', 'tools[0].input_schema'],
    [body({ stop_sequences: 'END' }), 'invalid_request', 'stop_sequences'],
    [body({ temperature: 'hot' }), 'invalid_request', 'temperature'],
    [body({ metadata: { user_id: 3 } }), 'invalid_request', 'metadata.user_id'],
    [body({ stream: 'yes' }), 'invalid_request', 'stream'],
  ];
  for (const [input, code, param] of cases) {
    const err = thrown(() => messagesRequestToChat(input));
    assert.equal(err.code, code, param);
    assert.equal(err.param, param);
  }
  assert.equal(thrown(() => messagesRequestToChat([1])).code, 'invalid_request');
});

test('top_k is checked but not carried to chat (OpenAI has none); stream false sends no stream fields', () => {
  const out = messagesRequestToChat(body({ top_k: 5, top_p: 0.8, stream: false }));
  assert.equal(out.top_k, undefined);
  assert.throws(() => messagesRequestToChat(body({ top_k: 'five' })), { code: 'invalid_request' });
  assert.equal(out.top_p, 0.8);
  assert.equal(out.stream, undefined);
  assert.equal(out.stream_options, undefined);
});

test('round trip: Anthropic request → chat → Anthropic keeps the conversation', () => {
  const original = {
    model: 'claude-sonnet-4-5',
    max_tokens: 500,
    system: 'Be terse.',
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '-3°C' }, { type: 'text', text: 'And tomorrow?' }] },
    ],
    tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    tool_choice: { type: 'any' },
    stop_sequences: ['##'],
    metadata: { user_id: 'u1' },
  };
  const back = chatRequestToAnthropic(messagesRequestToChat(original), deployment({ model: 'claude-sonnet-4-5' }));
  assert.deepEqual(back, {
    model: 'claude-sonnet-4-5',
    max_tokens: 500,
    system: 'Be terse.',
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '-3°C' }, { type: 'text', text: 'And tomorrow?' }] },
    ],
    tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    tool_choice: { type: 'any' },
    stop_sequences: ['##'],
    metadata: { user_id: 'u1' },
  });
});
