import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createAnthropicStreamReducer, anthropicStreamReducer } from '../../../src/providers/anthropic/anthropic-stream-to-chat.ts';
import type { ChatChunk, SseEvent, UpstreamFailure, Usage } from '../../../src/providers/types.ts';
import { formatSseEvent } from '../../../src/providers/shared/sse-parser.ts';
import { parseSse, readChunksFixture, splitEvery, SPLITS } from '../../helpers/fixtures.ts';

const CREATED = 1_756_512_000;
const reducer = createAnthropicStreamReducer(() => CREATED * 1000);

interface Replay {
  chunks: ChatChunk[];
  usage: Usage | undefined;
  errors: UpstreamFailure[];
  done: boolean;
}

function run(events: SseEvent[]): Replay {
  let state = reducer.init();
  const result: Replay = { chunks: [], usage: undefined, errors: [], done: false };
  for (const event of events) {
    const step = reducer.step(state, event);
    state = step.state;
    result.chunks.push(...step.out);
    if (step.usage) result.usage = step.usage;
    if (step.error) result.errors.push(step.error);
    if (step.done) result.done = true;
  }
  return result;
}

function replay(name: string, size: number): Replay {
  return run(parseSse(splitEvery(readChunksFixture(name), size)));
}

function chunk(id: string, model: string, delta: ChatChunk['choices'][number]['delta'], finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk {
  return { id, object: 'chat.completion.chunk', created: CREATED, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
}

const S45 = 'claude-sonnet-4-5-20250929';

test('text stream: role chunk, content deltas, finish chunk, usage chunk — at every split size', () => {
  const id = 'msg_01HCDu5LRGeP2o7s2xGmxyx8';
  const expected: ChatChunk[] = [
    chunk(id, S45, { role: 'assistant', content: '' }),
    chunk(id, S45, { content: 'Hello' }),
    chunk(id, S45, { content: '! How can I help you today? ☀️' }),
    chunk(id, S45, { content: ' Café, naïve — all fine.' }),
    chunk(id, S45, {}, 'stop'),
    {
      id, object: 'chat.completion.chunk', created: CREATED, model: S45, choices: [],
      usage: { prompt_tokens: 21, completion_tokens: 19, total_tokens: 40, prompt_tokens_details: { cached_tokens: 0 }, cache_creation_input_tokens: 0 },
    },
  ];
  for (const size of SPLITS) {
    const r = replay('anthropic/stream-text.chunks.txt', size);
    assert.deepEqual(r.chunks, expected, `split ${size}`);
    assert.deepEqual(r.usage, { inputTokens: 21, outputTokens: 19, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 40 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.done, true);
  }
});

test('tool_use stream: tool_calls deltas indexed among tool calls, empty input becomes {}', () => {
  const id = 'msg_014p7gG3wDgGV9EUtLvnow3U';
  const expected: ChatChunk[] = [
    chunk(id, S45, { role: 'assistant', content: '' }),
    chunk(id, S45, { content: "I'll check the weather" }),
    chunk(id, S45, { content: ' in both cities.' }),
    chunk(id, S45, { tool_calls: [{ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
    chunk(id, S45, { tool_calls: [{ index: 0, function: { arguments: '{"location": "San Fra' } }] }),
    chunk(id, S45, { tool_calls: [{ index: 0, function: { arguments: 'ncisco, CA", "unit": "fah' } }] }),
    chunk(id, S45, { tool_calls: [{ index: 0, function: { arguments: 'renheit"}' } }] }),
    chunk(id, S45, { tool_calls: [{ index: 1, id: 'toolu_01CaXqGSvGdvBxJ4d8H9bZcE', type: 'function', function: { name: 'get_time', arguments: '' } }] }),
    chunk(id, S45, { tool_calls: [{ index: 1, function: { arguments: '{}' } }] }),
    chunk(id, S45, {}, 'tool_calls'),
    {
      id, object: 'chat.completion.chunk', created: CREATED, model: S45, choices: [],
      usage: { prompt_tokens: 472, completion_tokens: 89, total_tokens: 561, prompt_tokens_details: { cached_tokens: 0 }, cache_creation_input_tokens: 0 },
    },
  ];
  for (const size of SPLITS) {
    const r = replay('anthropic/stream-tool-use.chunks.txt', size);
    assert.deepEqual(r.chunks, expected, `split ${size}`);
    assert.equal(r.usage?.outputTokens, 89);
    assert.equal(r.done, true);
  }
  // The arguments reassemble into the JSON Anthropic streamed.
  const args = expected.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).filter((t) => t.index === 0).map((t) => t.function?.arguments).join('');
  assert.deepEqual(JSON.parse(args), { location: 'San Francisco, CA', unit: 'fahrenheit' });
});

test('an in-stream overloaded error is reported as upstream_overloaded and ends the stream', () => {
  const id = 'msg_01LaNz2r7vQcN8xWZ1gJpB4e';
  for (const size of SPLITS) {
    const r = replay('anthropic/stream-error-overloaded.chunks.txt', size);
    assert.deepEqual(r.chunks, [chunk(id, S45, { role: 'assistant', content: '' }), chunk(id, S45, { content: 'Once upon' })], `split ${size}`);
    assert.deepEqual(r.errors, [{ code: 'upstream_overloaded', message: 'Overloaded', class: 'server_error' }]);
    assert.equal(r.usage, undefined);
    assert.equal(r.done, false);
  }
});

test('thinking stream: thinking deltas as reasoning_content, ping and signature ignored', () => {
  const id = 'msg_01Q7vbmxHbF3r5dJfGu3ZyAW';
  const model = 'claude-opus-4-1-20250805';
  const expected: ChatChunk[] = [
    chunk(id, model, { role: 'assistant', content: '' }),
    chunk(id, model, { reasoning_content: 'The user asks for 27 × 453.' }),
    chunk(id, model, { reasoning_content: '\n27 × 453 = 27 × 400 + 27 × 53 = 10800 + 1431 = 12231.' }),
    chunk(id, model, { content: '27 × 453 = **12,231**' }),
    chunk(id, model, {}, 'stop'),
    {
      id, object: 'chat.completion.chunk', created: CREATED, model, choices: [],
      usage: { prompt_tokens: 46, completion_tokens: 127, total_tokens: 173, prompt_tokens_details: { cached_tokens: 0 }, cache_creation_input_tokens: 0 },
    },
  ];
  for (const size of SPLITS) assert.deepEqual(replay('anthropic/stream-thinking.chunks.txt', size).chunks, expected, `split ${size}`);
});

test('old-style message_delta usage (output only) keeps message_start input and cache counts', () => {
  const events: SseEvent[] = [
    { event: 'message_start', data: JSON.stringify({ type: 'message_start', message: { id: 'msg_a', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, cache_read_input_tokens: 2000, cache_creation_input_tokens: 50, output_tokens: 1 } } }) },
    { event: 'message_delta', data: JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 300 } }) },
    { event: 'message_stop', data: '{"type":"message_stop"}' },
  ];
  const r = run(events);
  assert.equal(r.chunks[1].choices[0].finish_reason, 'length');
  assert.deepEqual(r.chunks[2].usage, { prompt_tokens: 2060, completion_tokens: 300, total_tokens: 2360, prompt_tokens_details: { cached_tokens: 2000 }, cache_creation_input_tokens: 50 });
  assert.deepEqual(r.usage, { inputTokens: 2060, outputTokens: 300, cachedInputTokens: 2000, cacheWriteTokens: 50, reasoningTokens: 0, totalTokens: 2360 });
});

test('refusal maps to content_filter; events after message_stop are ignored', () => {
  const r = run([
    { event: 'message_start', data: '{"type":"message_start","message":{"id":"msg_r","model":"m","usage":{"input_tokens":1,"output_tokens":1}}}' },
    { event: 'message_delta', data: '{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"output_tokens":2}}' },
    { event: 'message_stop', data: '{"type":"message_stop"}' },
    { event: 'content_block_start', data: '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"late"}}' },
  ]);
  assert.equal(r.chunks[1].choices[0].finish_reason, 'content_filter');
  assert.equal(r.chunks.length, 3);
});

test('non-JSON data is an invalid response; unknown event types are ignored', () => {
  const state = reducer.init();
  assert.deepEqual(reducer.step(state, { event: 'message_start', data: '{oops' }).error?.code, 'upstream_invalid_response');
  assert.deepEqual(reducer.step(state, { event: 'future_event', data: '{"type":"future_event"}' }).out, []);
});

test('the reducer does not mutate the state it is given', () => {
  const s0 = reducer.init();
  const frozen = structuredClone(s0);
  const s1 = reducer.step(s0, { event: 'message_start', data: '{"type":"message_start","message":{"id":"msg_p","model":"m","usage":{"input_tokens":1}}}' }).state;
  reducer.step(s1, { event: 'content_block_start', data: '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}' });
  assert.deepEqual(s0, frozen);
  assert.deepEqual(s1.blocks, {});
  assert.equal(s1.toolCount, 0);
});

test('the default reducer stamps created from the clock', () => {
  const now = Math.floor(Date.now() / 1000);
  const created = anthropicStreamReducer.init().created;
  assert.ok(created >= now && created <= now + 1);
});

test('the chunks are what the OpenAI SDK accumulates into the right completion', async () => {
  const { chunks } = replay('anthropic/stream-tool-use.chunks.txt', 7);
  const wire = chunks.map((c) => formatSseEvent(JSON.stringify(c))).join('') + formatSseEvent('[DONE]');
  const client = new OpenAI({
    apiKey: 'test',
    maxRetries: 0,
    fetch: async () => new Response(wire, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
  });
  const completion = await client.chat.completions
    .stream({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } })
    .finalChatCompletion();
  const choice = completion.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, "I'll check the weather in both cities.");
  assert.deepEqual(choice.message.tool_calls?.map((t) => (t.type === 'function' ? [t.id, t.function.name, JSON.parse(t.function.arguments)] : t.type)), [
    ['toolu_01T1x1fJ34qAmk2tNTrN7Up6', 'get_weather', { location: 'San Francisco, CA', unit: 'fahrenheit' }],
    ['toolu_01CaXqGSvGdvBxJ4d8H9bZcE', 'get_time', {}],
  ]);
  assert.equal(completion.usage?.prompt_tokens, 472);
  assert.equal(completion.usage?.completion_tokens, 89);
});
