import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulateChat, toChunks, toCompletion } from '../../../src/providers/simulator/simulator-chat.ts';
import type { ChatRequest, FunctionTool } from '../../../src/providers/types.ts';
import { sendJSON } from './sim-helpers.ts';

const WEATHER: FunctionTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'] } } };
const TIME: FunctionTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['UTC', 'CET'] } } } } };
const TOOLS = [WEATHER, TIME];
const ASK: ChatRequest = { model: 'sim-1', messages: [{ role: 'user', content: 'Use get_weather for Paris.' }], tools: TOOLS };

function afterToolResult(role: 'tool' | 'function' = 'tool'): ChatRequest['messages'] {
  return [
    ...ASK.messages,
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":1}' } }] },
    role === 'tool' ? { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 21}' } : { role: 'function', name: 'get_weather', content: '{"temp": 21}' },
  ];
}

function message(req: ChatRequest) {
  return toCompletion(simulateChat(req, 10, 0)).choices[0]!;
}

test('auto: a user turn naming the tool calls it, with schema-shaped arguments', () => {
  const choice = message(ASK);
  assert.equal(choice.finish_reason, 'tool_calls');
  const call = choice.message.tool_calls![0]!;
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.deepEqual(Object.keys(args), ['city', 'days']);
  assert.ok(typeof args.city === 'string' && args.city.length > 0);
  assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7);
  assert.deepEqual(Object.keys(JSON.parse(message({ ...ASK, tool_choice: { type: 'function', function: { name: 'get_time' } } }).message.tool_calls![0]!.function.arguments)), ['zone']);
});

test('auto after a tool result answers in text, so agent loops end', () => {
  for (const tool_choice of [undefined, 'auto' as const]) {
    for (const role of ['tool', 'function'] as const) {
      const choice = message({ ...ASK, tool_choice, messages: afterToolResult(role) });
      assert.equal(choice.finish_reason, 'stop', `${tool_choice} after a ${role} result`);
      assert.equal(choice.message.tool_calls, undefined);
      assert.ok(choice.message.content!.length > 0);
    }
  }
});

test('required or a named function still calls the tool after a tool result', () => {
  assert.equal(message({ ...ASK, tool_choice: 'required', messages: afterToolResult() }).finish_reason, 'tool_calls');
  const named = message({ ...ASK, tool_choice: { type: 'function', function: { name: 'get_time' } }, messages: afterToolResult() });
  assert.equal(named.message.tool_calls![0]!.function.name, 'get_time');
});

test('allowed_tools: auto mode behaves like auto within the allowed set; required mode calls an allowed tool', () => {
  const allowed = (mode: string, names: string[]) => ({ type: 'allowed_tools', allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) } }) as unknown as ChatRequest['tool_choice'];
  assert.equal(message({ ...ASK, tool_choice: allowed('auto', ['get_weather']) }).message.tool_calls![0]!.function.name, 'get_weather');
  assert.equal(message({ ...ASK, tool_choice: allowed('auto', ['get_time']) }).message.tool_calls, undefined, 'the named tool is not allowed');
  assert.equal(message({ ...ASK, tool_choice: allowed('required', ['get_time']) }).message.tool_calls![0]!.function.name, 'get_time');
  assert.equal(message({ ...ASK, tool_choice: allowed('auto', ['get_weather']), messages: afterToolResult() }).finish_reason, 'stop');
  assert.equal(message({ ...ASK, tool_choice: { type: 'allowed_tools' } as unknown as ChatRequest['tool_choice'] }).message.tool_calls![0]!.function.name, 'get_weather');
});

test('a named function that does not exist, or a function choice without a name, answers without crashing', () => {
  const unknown = message({ ...ASK, tool_choice: { type: 'function', function: { name: 'unknown' } } });
  assert.equal(unknown.finish_reason, 'stop');
  assert.ok(unknown.message.content!.length > 0);
  const nameless = message({ ...ASK, tool_choice: { type: 'function' } as unknown as ChatRequest['tool_choice'] });
  assert.equal(nameless.message.tool_calls![0]!.function.name, 'get_weather', 'treated like auto');
});

test('no tool or tool_choice shape throws, directly or through the transport', async () => {
  const choices: unknown[] = [undefined, null, 'none', 'auto', 'required', 'any', 42, [], {}, { type: 'function' }, { type: 'function', function: null }, { type: 'function', function: {} },
    { type: 'function', function: { name: 7 } }, { type: 'allowed_tools' }, { type: 'allowed_tools', allowed_tools: null }, { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [null, {}, { type: 'function' }, 'x'] } },
    { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'get_time' }] }, { type: 'custom', custom: { name: 'x' } }, { type: 'tool', name: 'get_time' }];
  const toolSets: unknown[] = [undefined, null, [], [null], [{}], 'tools', {}, [{ type: 'custom', custom: { name: 'grammar' } }], [{ type: 'function', function: { name: 'f', parameters: 'bad' } }],
    [{ type: 'function', function: { name: 'g', parameters: { type: 'object', properties: null, required: 'x' } } }], [{ type: 'function', function: { name: 'h', parameters: { type: 'array', items: 3 } } }], TOOLS];
  for (const tool_choice of choices) {
    for (const tools of toolSets) {
      const req = { ...ASK, tools, tool_choice } as unknown as ChatRequest;
      const what = `tools ${JSON.stringify(tools)} tool_choice ${JSON.stringify(tool_choice)}`;
      const sim = simulateChat(req, 5, 0);
      toChunks(sim, true);
      const call = toCompletion(sim).choices[0]!.message.tool_calls?.[0];
      if (call) assert.equal(typeof JSON.parse(call.function.arguments), 'object', what);
      const res = await sendJSON('/v1/chat/completions', req);
      assert.equal(res.status, 200, what);
    }
  }
  assert.equal(message({ ...ASK, tools: [{ type: 'function', function: { name: 'f', parameters: 'bad' } }] as unknown as FunctionTool[], tool_choice: 'required' }).message.tool_calls![0]!.function.arguments, '{}');
});
