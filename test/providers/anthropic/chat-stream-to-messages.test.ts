import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { chatChunksToMessagesEvents, type AnthropicSseEvent } from '../../../src/providers/anthropic/messages-ingress.ts';
import { formatSseEvent } from '../../../src/providers/shared/sse-parser.ts';
import { GatewayError } from '../../../src/errors/gateway-error.ts';
import type { ChatChunk } from '../../../src/providers/types.ts';
import { parseSse, readChunksFixture, splitEvery, SPLITS } from '../../helpers/fixtures.ts';

const MODEL = 'claude-sonnet-4-5';

function translate(chunks: ChatChunk[], messageId?: string): AnthropicSseEvent[] {
  let state = chatChunksToMessagesEvents.init(MODEL, messageId);
  const events: AnthropicSseEvent[] = [];
  for (const c of chunks) {
    const step = chatChunksToMessagesEvents.step(state, c);
    state = step.state;
    events.push(...step.events);
  }
  const end = chatChunksToMessagesEvents.finish(state);
  events.push(...end.events);
  assert.deepEqual(chatChunksToMessagesEvents.finish(end.state).events, [], 'finish twice sends nothing more');
  return events;
}

function fixtureChunks(size: number): ChatChunk[] {
  return parseSse(splitEvery(readChunksFixture('anthropic/openai-stream-tool-calls.chunks.txt'), size))
    .filter((e) => e.data !== '[DONE]')
    .map((e) => JSON.parse(e.data) as ChatChunk);
}

const e = (data: Record<string, unknown> & { type: AnthropicSseEvent['event'] }): AnthropicSseEvent => ({ event: data.type, data: JSON.stringify(data) });

const EXPECTED: AnthropicSseEvent[] = [
  e({
    type: 'message_start',
    message: {
      id: 'msg_chatcmpl-C8qZ3xKpT2vL9mN4bR7sW1yQ', type: 'message', role: 'assistant', model: MODEL, content: [],
      stop_reason: null, stop_sequence: null,
      usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
    },
  }),
  e({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  e({ type: 'ping' }),
  e({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me' } }),
  e({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' check both.' } }),
  e({ type: 'content_block_stop', index: 0 }),
  e({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_Qm3vX8pL2kR9tN4w', name: 'get_weather', input: {} } }),
  e({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"loc' } }),
  e({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'ation":"Paris"}' } }),
  e({ type: 'content_block_stop', index: 1 }),
  e({ type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'call_Zt7bK1nY6hJ3sD5e', name: 'get_time', input: {} } }),
  e({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"tz":"Europe/Paris"}' } }),
  e({ type: 'content_block_stop', index: 2 }),
  e({
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { input_tokens: 86, cache_creation_input_tokens: 0, cache_read_input_tokens: 1920, output_tokens: 41 },
  }),
  e({ type: 'message_stop' }),
];

test('an OpenAI tool-call stream becomes Anthropic events in Anthropic order, at every split size', () => {
  for (const size of SPLITS) assert.deepEqual(translate(fixtureChunks(size)), EXPECTED, `split ${size}`);
});

test('the events are what the Anthropic SDK accumulates into the right message', async () => {
  const wire = EXPECTED.map((ev) => formatSseEvent(ev.data, ev.event)).join('');
  const client = new Anthropic({
    apiKey: 'test',
    maxRetries: 0,
    fetch: async () => new Response(wire, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
  });
  const message = await client.messages.stream({ model: 'tollgate-alias', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
  assert.equal(message.id, 'msg_chatcmpl-C8qZ3xKpT2vL9mN4bR7sW1yQ');
  assert.equal(message.stop_reason, 'tool_use');
  assert.deepEqual(message.content.map((b) => (b.type === 'text' ? b.text : b.type === 'tool_use' ? [b.name, b.input] : b.type)), [
    'Let me check both.',
    ['get_weather', { location: 'Paris' }],
    ['get_time', { tz: 'Europe/Paris' }],
  ]);
  assert.equal(message.usage.input_tokens, 86);
  assert.equal(message.usage.cache_read_input_tokens, 1920);
  assert.equal(message.usage.output_tokens, 41);
});

function c(delta: ChatChunk['choices'][number]['delta'], finish: ChatChunk['choices'][number]['finish_reason'] = null, usage?: ChatChunk['usage']): ChatChunk {
  const out: ChatChunk = { id: 'gen-1', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [{ index: 0, delta, finish_reason: finish }] };
  if (usage !== undefined) out.usage = usage;
  return out;
}

test('a text stream without usage: end_turn and zero output tokens; messageId overrides the chunk id', () => {
  const events = translate([c({ role: 'assistant' }), c({ content: 'Hi' }), c({}, 'stop')], 'msg_fixed');
  assert.deepEqual(events.map((ev) => ev.event), [
    'message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
  ]);
  assert.equal(JSON.parse(events[0].data).message.id, 'msg_fixed');
  assert.deepEqual(JSON.parse(events[5].data), { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 0 } });
});

test('length → max_tokens; usage on the finish chunk itself is used', () => {
  const events = translate([c({ content: 'abc' }), c({}, 'length', { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 })]);
  assert.deepEqual(JSON.parse(events.at(-2)!.data), {
    type: 'message_delta',
    delta: { stop_reason: 'max_tokens', stop_sequence: null },
    usage: { input_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 3 },
  });
});

test('an empty stream still produces a complete message', () => {
  assert.deepEqual(translate([]).map((ev) => ev.event), ['message_start', 'message_delta', 'message_stop']);
});

test('tool calls sent whole in one chunk, and "stop" after tools, give tool_use', () => {
  const events = translate([
    c({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }] }),
    c({}, 'stop'),
  ]);
  assert.deepEqual(events.slice(1, 5).map((ev) => JSON.parse(ev.data)), [
    { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'call_a', name: 'f', input: {} } },
    { type: 'ping' },
    { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"x":1}' } },
    { type: 'content_block_stop', index: 0 },
  ]);
  assert.equal(JSON.parse(events.at(-2)!.data).delta.stop_reason, 'tool_use');
});

test('content_filter → refusal; refusal deltas are text', () => {
  const events = translate([c({ refusal: 'No.' }), c({}, 'content_filter')]);
  assert.equal(JSON.parse(events[3].data).delta.text, 'No.');
  assert.equal(JSON.parse(events.at(-2)!.data).delta.stop_reason, 'refusal');
});

test('step does not mutate the state it is given', () => {
  const s0 = chatChunksToMessagesEvents.init(MODEL);
  const copy = structuredClone(s0);
  chatChunksToMessagesEvents.step(s0, c({ tool_calls: [{ index: 0, id: 'x', function: { name: 'f', arguments: '' } }] }));
  assert.deepEqual(s0, copy);
});

/** A chunk with any (possibly malformed) fields, as JSON.parse of a provider's data line gives. */
const raw = (fields: Record<string, unknown>): ChatChunk => ({ id: 'gen-1', object: 'chat.completion.chunk', created: 1, model: 'llama', ...fields }) as unknown as ChatChunk;
const rawDelta = (delta: unknown, extra: Record<string, unknown> = {}): ChatChunk => raw({ choices: [{ index: 0, delta, finish_reason: null, ...extra }] });

test('malformed chunks are ignored where they can be: no TypeError, the rest of the stream still arrives', () => {
  const events = translate([
    raw({ choices: [null] }),
    raw({ choices: ['zz', 7] }),
    raw({ choices: 'zz' }),
    raw({ choices: [{ index: 0, finish_reason: null }] }),
    rawDelta(null),
    rawDelta('zz'),
    rawDelta({ content: 5, refusal: {} }),
    rawDelta({ tool_calls: 'zz' }),
    rawDelta({ tool_calls: { index: 0 } }),
    rawDelta({ tool_calls: [null, 'zz', 3] }),
    raw({ id: 42, usage: 'n/a', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }),
    rawDelta({ tool_calls: [null, { index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"x"' } }] }),
    rawDelta({ tool_calls: [{ index: 0, function: null }, { index: 0, function: { name: 9, arguments: ':1}' } }] }),
    rawDelta({ tool_calls: [{ index: 0, function: { arguments: 12 } }] }),
    rawDelta({}, { finish_reason: 7 }),
    rawDelta({}, { finish_reason: 'tool_calls' }),
  ]);
  assert.deepEqual(events.map((ev) => JSON.parse(ev.data)), [
    {
      type: 'message_start',
      message: {
        id: 'msg_gen-1', type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_a', name: 'f', input: {} } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"x"' } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: ':1}' } },
    { type: 'content_block_stop', index: 1 },
    { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 0 } },
    { type: 'message_stop' },
  ]);
});

test('tool-call arguments streamed as an object are forwarded as their JSON text', () => {
  const events = translate([
    rawDelta({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: { location: 'Paris' } } }] }),
    rawDelta({}, { finish_reason: 'tool_calls' }),
  ]);
  assert.deepEqual(JSON.parse(events[3].data), { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"location":"Paris"}' } });
});

test('a tool call that starts without a function name is upstream_invalid_response, not a TypeError', () => {
  for (const call of [{ index: 0, id: 'call_a', function: null }, { index: 0, id: 'call_a' }, { index: 1, function: { name: 5, arguments: '{}' } }, { index: 0, function: { name: '' } }]) {
    const state = chatChunksToMessagesEvents.step(chatChunksToMessagesEvents.init(MODEL), c({ content: 'x' })).state;
    const copy = structuredClone(state);
    let err: unknown;
    try {
      chatChunksToMessagesEvents.step(state, rawDelta({ tool_calls: [call] }));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof GatewayError, `${JSON.stringify(call)}: ${String(err)}`);
    assert.equal(err.code, 'upstream_invalid_response');
    assert.match(err.message, new RegExp(`tool call ${call.index} starts without function\\.name`));
    assert.deepEqual(state, copy, 'the state given is untouched');
  }
});
