// End to end across the two wire formats:
//  - the Anthropic SDK calling /v1/messages on aliases served by OpenAI-wire providers (a fake
//    OpenAI upstream over HTTP, and the built-in simulator): requests are translated to chat
//    completions and the answers back to Anthropic messages and events;
//  - the OpenAI SDK calling /v1/chat/completions on an `anthropic` deployment (a fake Anthropic
//    upstream over HTTP): chat requests are translated to Messages requests and back.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import {
  FAKE_AN_TEXT, FAKE_AN_TEXT_PARTS, FAKE_AN_THINKING, FAKE_AN_THINKING_ANSWER, FAKE_AN_TOOL_TEXT, FAKE_AN_TOOL_USES,
  startFakeAnthropicUpstream, type FakeAnthropicUpstream,
} from '../helpers/fake-anthropic-upstream.ts';
import {
  FAKE_TEXT, FAKE_TEXT_PARTS, FAKE_TOOL_CALLS, FAKE_USAGE, startFakeOpenAIUpstream, type FakeOpenAIUpstream,
} from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-tollgate-master-e2e-an02';
const ANTHROPIC_KEY = 'tgw-anthropic-deploykey-Tr8Lm20qX5';
const OPENAI_KEY = 'sk-upstream-openai-key-an02-Hq7';

let anthropicUp: FakeAnthropicUpstream;
let openaiUp: FakeOpenAIUpstream;
let gw: TestGateway;
let anthropic: Anthropic;
let openai: OpenAI;

before(async () => {
  anthropicUp = await startFakeAnthropicUpstream({ apiKey: ANTHROPIC_KEY });
  openaiUp = await startFakeOpenAIUpstream();
  const an = (alias: string, model: string, extra: string[] = []) => [
    `  ${alias}:`,
    '    deployments:',
    `      - id: dep-${alias}`,
    '        provider: anthropic',
    `        model: ${model}`,
    `        api_base: ${anthropicUp.url}`,
    `        api_key: ${ANTHROPIC_KEY}`,
    ...extra.map((line) => `        ${line}`),
  ].join('\n');
  gw = await startTestGateway(`
server:
  port: 0
general_settings:
  master_key: ${MASTER_KEY}
models:
  oa-chat:
    deployments:
      - id: dep-oa-chat
        provider: openai_compatible
        model: ok
        api_base: ${openaiUp.baseURL}
        api_key: ${OPENAI_KEY}
  oa-tools:
    deployments:
      - id: dep-oa-tools
        provider: openai_compatible
        model: tools
        api_base: ${openaiUp.baseURL}
        api_key: ${OPENAI_KEY}
  sim:
    deployments:
      - id: dep-sim
        provider: simulator
        model: sim-model-1
        simulator: { output_tokens: 12 }
${an('claude-chat', 'text', ['model_info:', '  max_output_tokens: 2048'])}
${an('claude-tools', 'tools')}
${an('claude-thinking', 'thinking', ['model_info:', '  max_output_tokens: 8192'])}
${an('claude-lenient', 'text', ['drop_params: true'])}
`);
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000 });
  openai = new OpenAI({ baseURL: gw.baseURL, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await gw?.shutdown();
  await anthropicUp?.close();
  await openaiUp?.close();
});

const hello: Anthropic.MessageParam[] = [{ role: 'user', content: 'Say hello.' }];

/** FAKE_USAGE (OpenAI) as Anthropic reports usage: input excludes the cached tokens. */
const FAKE_USAGE_AS_ANTHROPIC = {
  input_tokens: FAKE_USAGE.prompt_tokens - FAKE_USAGE.prompt_tokens_details.cached_tokens,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: FAKE_USAGE.prompt_tokens_details.cached_tokens,
  output_tokens: FAKE_USAGE.completion_tokens,
};

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] },
};

/** The SSE event names of a raw Anthropic stream, in order. */
function eventNames(text: string): string[] {
  return text.split('\n\n').filter(Boolean).map((frame) => /^event: (\w+)\n/.exec(frame)?.[1] ?? `<no event line: ${frame}>`);
}

describe('/v1/messages translated to an OpenAI-wire upstream', () => {
  test('non-streaming: the chat completion comes back as an Anthropic message', async () => {
    const { data, response } = await anthropic.messages.create({
      model: 'oa-chat',
      max_tokens: 100,
      system: 'You are terse.',
      messages: hello,
      temperature: 0.3,
      stop_sequences: ['END'],
      metadata: { user_id: 'user-42' },
    } as Anthropic.MessageCreateParamsNonStreaming, { headers: { 'X-Request-Id': 'an-tr-oa-plain' } }).withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-gateway-provider'), 'openai_compatible');
    assert.equal(response.headers.get('x-gateway-model-resolved'), 'ok');
    assert.equal(response.headers.get('x-usage-total-tokens'), String(FAKE_USAGE.total_tokens));
    assert.match(data.id, /^msg_chatcmpl-[0-9a-f]{24}$/);
    assert.deepEqual({ ...data, id: 'ID' }, {
      id: 'ID',
      type: 'message',
      role: 'assistant',
      model: 'oa-chat',
      content: [{ type: 'text', text: FAKE_TEXT }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: FAKE_USAGE_AS_ANTHROPIC,
    });
    const seen = openaiUp.byRequestId('an-tr-oa-plain');
    assert.equal(seen.path, '/v1/chat/completions');
    assert.equal(seen.headers.authorization, `Bearer ${OPENAI_KEY}`);
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.deepEqual(seen.body, {
      model: 'ok',
      messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say hello.' }],
      max_tokens: 100,
      stop: ['END'],
      temperature: 0.3,
      user: 'user-42',
    });
  });

  test('streaming: finalMessage() has the text, stop_reason and usage; events come in Anthropic order', async () => {
    const stream = anthropic.messages.stream({ model: 'oa-chat', max_tokens: 100, messages: hello }, { headers: { 'X-Request-Id': 'an-tr-oa-stream' } });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const message = await stream.finalMessage();
    assert.deepEqual(deltas, [...FAKE_TEXT_PARTS]);
    assert.deepEqual(message.content, [{ type: 'text', text: FAKE_TEXT }]);
    assert.equal(message.model, 'oa-chat');
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.usage.input_tokens, FAKE_USAGE_AS_ANTHROPIC.input_tokens);
    assert.equal(message.usage.cache_read_input_tokens, FAKE_USAGE_AS_ANTHROPIC.cache_read_input_tokens);
    assert.equal(message.usage.cache_creation_input_tokens, 0);
    assert.equal(message.usage.output_tokens, FAKE_USAGE_AS_ANTHROPIC.output_tokens);
    const seen = openaiUp.byRequestId('an-tr-oa-stream');
    assert.equal(seen.body.stream, true);
    assert.deepEqual(seen.body.stream_options, { include_usage: true });

    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'oa-chat', max_tokens: 100, messages: hello, stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await res.text();
    assert.deepEqual(eventNames(text), [
      'message_start', 'content_block_start', 'ping', ...FAKE_TEXT_PARTS.map(() => 'content_block_delta'), 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    const frames = text.split('\n\n').filter(Boolean).map((frame) => JSON.parse(frame.split('\ndata: ')[1]!));
    assert.deepEqual(frames.at(-2), { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: FAKE_USAGE_AS_ANTHROPIC });
  });

  test('tools: Anthropic tools become OpenAI tools upstream and tool_calls come back as tool_use blocks', async () => {
    const data = await anthropic.messages.create({
      model: 'oa-tools',
      max_tokens: 200,
      tools: [weatherTool],
      tool_choice: { type: 'any', disable_parallel_tool_use: false },
      messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
    }, { headers: { 'X-Request-Id': 'an-tr-oa-tools' } });
    assert.equal(data.stop_reason, 'tool_use');
    assert.deepEqual(data.content, FAKE_TOOL_CALLS.map((call) => ({ type: 'tool_use', id: call.id, name: call.function.name, input: JSON.parse(call.function.arguments) })));
    const seen = openaiUp.byRequestId('an-tr-oa-tools');
    assert.deepEqual(seen.body.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherTool.input_schema } }]);
    assert.equal(seen.body.tool_choice, 'required');
    assert.equal(seen.body.parallel_tool_calls, undefined);
  });

  test('tools: the follow-up turn with tool_result blocks reaches the upstream as OpenAI tool messages', async () => {
    const [paris, tokyo] = FAKE_TOOL_CALLS;
    const data = await anthropic.messages.create({
      model: 'oa-chat',
      max_tokens: 200,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: paris!.id, name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } },
            { type: 'tool_use', id: tokyo!.id, name: 'get_weather', input: { city: 'Tokyo', unit: 'celsius' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: paris!.id, content: '18°C, cloudy' },
            { type: 'tool_result', tool_use_id: tokyo!.id, content: [{ type: 'text', text: '24°C' }, { type: 'text', text: 'sunny' }] },
            { type: 'text', text: 'Summarise.' },
          ],
        },
      ],
    }, { headers: { 'X-Request-Id': 'an-tr-oa-followup' } });
    assert.deepEqual(data.content, [{ type: 'text', text: FAKE_TEXT }]);
    assert.deepEqual(openaiUp.byRequestId('an-tr-oa-followup').body.messages, [
      { role: 'user', content: 'Weather in Paris and Tokyo?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: paris!.id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } },
          { id: tokyo!.id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo","unit":"celsius"}' } },
        ],
      },
      { role: 'tool', tool_call_id: paris!.id, content: '18°C, cloudy' },
      { role: 'tool', tool_call_id: tokyo!.id, content: '24°C\nsunny' },
      { role: 'user', content: 'Summarise.' },
    ]);
  });

  test('tools, streamed: tool_use inputs are assembled from the translated input_json_delta events', async () => {
    const message = await anthropic.messages.stream({
      model: 'oa-tools', max_tokens: 200, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
    }).finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual(message.content, FAKE_TOOL_CALLS.map((call) => ({ type: 'tool_use', id: call.id, name: call.function.name, input: JSON.parse(call.function.arguments) })));
    assert.equal(message.usage.output_tokens, FAKE_USAGE.completion_tokens);
  });
});

describe('/v1/messages translated to the simulator', () => {
  const params = { model: 'sim', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Tell me about gateways.' }] };

  test('non-streaming and streaming give the same deterministic message', async () => {
    const { data, response } = await anthropic.messages.create(params).withResponse();
    assert.equal(response.headers.get('x-gateway-provider'), 'simulator');
    assert.equal(response.headers.get('x-gateway-model-resolved'), 'sim-model-1');
    assert.equal(data.type, 'message');
    assert.equal(data.model, 'sim');
    assert.match(data.id, /^msg_chatcmpl-sim[0-9a-z]+$/);
    assert.equal(data.content.length, 1);
    const text = (data.content[0] as Anthropic.TextBlock).text;
    assert.equal(data.content[0]!.type, 'text');
    assert.equal(text.split(' ').length, 12, `12 simulated tokens: ${text}`);
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.usage.output_tokens, 12);
    assert.ok(data.usage.input_tokens > 0);
    assert.equal(data.usage.cache_read_input_tokens, 0);
    assert.equal(response.headers.get('x-usage-total-tokens'), String(data.usage.input_tokens + 12));

    const streamed = await anthropic.messages.stream(params).finalMessage();
    assert.deepEqual(streamed.content, [{ type: 'text', text }]);
    assert.equal(streamed.stop_reason, 'end_turn');
    assert.equal(streamed.usage.input_tokens, data.usage.input_tokens);
    assert.equal(streamed.usage.output_tokens, 12);
  });

  test('a max_tokens below the simulated length stops with max_tokens', async () => {
    const data = await anthropic.messages.create({ ...params, max_tokens: 5 });
    assert.equal(data.stop_reason, 'max_tokens');
    assert.equal(data.usage.output_tokens, 5);
  });

  test('tool_choice {type:"tool"} makes the simulator call the tool with schema-shaped input', async () => {
    const tool: Anthropic.Tool = { name: 'lookup', input_schema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] } };
    const data = await anthropic.messages.create({ ...params, tools: [tool], tool_choice: { type: 'tool', name: 'lookup' } });
    assert.equal(data.stop_reason, 'tool_use');
    assert.equal(data.content.length, 1);
    const block = data.content[0] as Anthropic.ToolUseBlock;
    assert.equal(block.type, 'tool_use');
    assert.equal(block.name, 'lookup');
    assert.match(block.id, /^call_/);
    const input = block.input as { city: unknown; days: unknown };
    assert.deepEqual(Object.keys(input), ['city', 'days']);
    assert.equal(typeof input.city, 'string');
    assert.ok((input.city as string).length > 0);
    assert.ok(Number.isInteger(input.days));

    const streamed = await anthropic.messages.stream({ ...params, tools: [tool], tool_choice: { type: 'tool', name: 'lookup' } }).finalMessage();
    assert.deepEqual(streamed.content, data.content);
    assert.equal(streamed.stop_reason, 'tool_use');
  });
});

describe('OpenAI chat completions translated to an anthropic deployment', () => {
  test('system becomes `system`, max_tokens defaults to model_info.max_output_tokens, usage counts cache tokens', async () => {
    const { data, response } = await openai.chat.completions.create({
      model: 'claude-chat',
      messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say hello.' }],
      temperature: 0.5,
      stop: 'END',
    }, { headers: { 'X-Request-Id': 'an-tr-chat-plain' } }).withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-gateway-provider'), 'anthropic');
    assert.equal(response.headers.get('x-gateway-model-resolved'), 'text');
    assert.equal(response.headers.get('x-usage-total-tokens'), '1071');
    assert.equal(data.object, 'chat.completion');
    assert.match(data.id, /^msg_01/);
    assert.equal(data.choices.length, 1);
    assert.deepEqual(data.choices[0]!.message, { role: 'assistant', content: FAKE_AN_TEXT, refusal: null });
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    assert.equal(data.usage!.prompt_tokens, 21 + 1024 + 7);
    assert.equal(data.usage!.completion_tokens, 19);
    assert.equal(data.usage!.total_tokens, 1071);
    assert.equal(data.usage!.prompt_tokens_details!.cached_tokens, 1024);

    const seen = anthropicUp.byRequestId('an-tr-chat-plain');
    assert.equal(seen.path, '/v1/messages');
    assert.equal(seen.headers['x-api-key'], ANTHROPIC_KEY);
    assert.equal(seen.headers['anthropic-version'], '2023-06-01');
    assert.equal(seen.headers.authorization, undefined);
    assert.deepEqual(seen.body, {
      model: 'text',
      max_tokens: 2048,
      messages: [{ role: 'user', content: 'Say hello.' }],
      system: 'You are terse.',
      stop_sequences: ['END'],
      temperature: 0.5,
    });
  });

  test('an explicit max_tokens wins over model_info; n: 1 is accepted', async () => {
    const data = await openai.chat.completions.create({ model: 'claude-chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 50, n: 1 }, { headers: { 'X-Request-Id': 'an-tr-chat-n1' } });
    assert.equal(data.choices[0]!.message.content, FAKE_AN_TEXT);
    const body = anthropicUp.byRequestId('an-tr-chat-n1').body;
    assert.equal(body.max_tokens, 50);
    assert.equal('n' in body, false);
  });

  test('n: 2 is rejected with 400 unsupported_param before anything is sent upstream', async () => {
    const before = anthropicUp.requests.length;
    const err = await openai.chat.completions.create({ model: 'claude-chat', messages: [{ role: 'user', content: 'Hi' }], n: 2 }).then(
      () => assert.fail('n: 2 must be rejected'), (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'unsupported_param');
    assert.equal(err.param, 'n');
    assert.equal(err.type, 'invalid_request_error');
    assert.match(err.message, /"n" is not supported by anthropic/);
    assert.equal(anthropicUp.requests.length, before);
  });

  test('response_format is rejected with 400 unsupported_param; with drop_params it is dropped and the call succeeds', async () => {
    const params = {
      messages: [{ role: 'user' as const, content: 'Hi' }],
      response_format: { type: 'json_object' as const },
    };
    const err = await openai.chat.completions.create({ model: 'claude-chat', ...params }).then(() => assert.fail('must be rejected'), (e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.code, 'unsupported_param');
    assert.equal(err.param, 'response_format');

    const data = await openai.chat.completions.create({ model: 'claude-lenient', ...params }, { headers: { 'X-Request-Id': 'an-tr-chat-lenient' } });
    assert.equal(data.choices[0]!.message.content, FAKE_AN_TEXT);
    const body = anthropicUp.byRequestId('an-tr-chat-lenient').body;
    assert.equal('response_format' in body, false);
    assert.deepEqual(body, { model: 'text', max_tokens: 4096, messages: [{ role: 'user', content: 'Hi' }] });
  });

  test('tools round trip: OpenAI tools → Anthropic tools, tool_use → tool_calls, tool messages → tool_result', async () => {
    const tools: OpenAI.Chat.Completions.ChatCompletionFunctionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather for a place', parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string' } }, required: ['location'] } } },
      { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
    ];
    const question = { role: 'user' as const, content: 'Weather in SF, and the time?' };
    const first = await openai.chat.completions.create({
      model: 'claude-tools', messages: [question], tools, tool_choice: 'required', parallel_tool_calls: false,
    }, { headers: { 'X-Request-Id': 'an-tr-chat-tools' } });
    const expectedCalls = FAKE_AN_TOOL_USES.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: JSON.stringify(t.input) } }));
    assert.equal(first.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(first.choices[0]!.message.content, FAKE_AN_TOOL_TEXT);
    assert.deepEqual(first.choices[0]!.message.tool_calls, expectedCalls);
    const sent = anthropicUp.byRequestId('an-tr-chat-tools').body;
    assert.deepEqual(sent.tools, [
      { name: 'get_weather', description: 'Weather for a place', input_schema: tools[0]!.function.parameters },
      { name: 'get_time', input_schema: { type: 'object', properties: {} } },
    ]);
    assert.deepEqual(sent.tool_choice, { type: 'any', disable_parallel_tool_use: true });

    const second = await openai.chat.completions.create({
      model: 'claude-chat',
      tools,
      messages: [
        question,
        first.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionAssistantMessageParam,
        { role: 'tool', tool_call_id: FAKE_AN_TOOL_USES[0]!.id, content: '64°F and foggy' },
        { role: 'tool', tool_call_id: FAKE_AN_TOOL_USES[1]!.id, content: '14:05 PDT' },
      ],
    }, { headers: { 'X-Request-Id': 'an-tr-chat-tools-2' } });
    assert.equal(second.choices[0]!.message.content, FAKE_AN_TEXT);
    assert.deepEqual(anthropicUp.byRequestId('an-tr-chat-tools-2').body.messages, [
      { role: 'user', content: 'Weather in SF, and the time?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: FAKE_AN_TOOL_TEXT },
          { type: 'tool_use', id: FAKE_AN_TOOL_USES[0]!.id, name: 'get_weather', input: FAKE_AN_TOOL_USES[0]!.input },
          { type: 'tool_use', id: FAKE_AN_TOOL_USES[1]!.id, name: 'get_time', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: FAKE_AN_TOOL_USES[0]!.id, content: '64°F and foggy' },
          { type: 'tool_result', tool_use_id: FAKE_AN_TOOL_USES[1]!.id, content: '14:05 PDT' },
        ],
      },
    ]);
  });

  test('streaming: content deltas, then the usage chunk (with cached tokens) only when include_usage is set', async () => {
    const stream = await openai.chat.completions.create({
      model: 'claude-chat', messages: [{ role: 'user', content: 'Say hello.' }], stream: true, stream_options: { include_usage: true },
    }, { headers: { 'X-Request-Id': 'an-tr-chat-stream' } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(chunks.map((c) => c.choices[0]?.delta.content).filter((c) => c), [...FAKE_AN_TEXT_PARTS]);
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    assert.equal(finish.length, 1);
    assert.equal(finish[0]!.choices[0]!.finish_reason, 'stop');
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage!.prompt_tokens, 1052);
    assert.equal(last.usage!.completion_tokens, 19);
    assert.equal(last.usage!.total_tokens, 1071);
    assert.equal(last.usage!.prompt_tokens_details!.cached_tokens, 1024);
    assert.equal(chunks.filter((c) => c.usage).length, 1);
    assert.equal(anthropicUp.byRequestId('an-tr-chat-stream').body.stream, true);

    const quiet = await openai.chat.completions.create({ model: 'claude-chat', messages: [{ role: 'user', content: 'Say hello.' }], stream: true });
    const quietChunks: ChatCompletionChunk[] = [];
    for await (const chunk of quiet) quietChunks.push(chunk);
    assert.equal(quietChunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), FAKE_AN_TEXT);
    assert.ok(quietChunks.every((c) => c.choices.length === 1 && !c.usage), 'no usage chunk without include_usage');
  });

  test('streaming tools: tool_call deltas assemble into the tool_use inputs', async () => {
    const stream = await openai.chat.completions.create({
      model: 'claude-tools',
      messages: [{ role: 'user', content: 'Weather in SF, and the time?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }, { type: 'function', function: { name: 'get_time' } }],
      stream: true,
    });
    let content = '';
    const calls: Array<{ id?: string; name?: string; args: string }> = [];
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? '';
      for (const call of choice.delta.tool_calls ?? []) {
        calls[call.index] ??= { args: '' };
        if (call.id) calls[call.index]!.id = call.id;
        if (call.function?.name) calls[call.index]!.name = call.function.name;
        calls[call.index]!.args += call.function?.arguments ?? '';
      }
      finishReason = choice.finish_reason ?? finishReason;
    }
    assert.equal(content, FAKE_AN_TOOL_TEXT);
    assert.equal(finishReason, 'tool_calls');
    assert.deepEqual(calls, [
      { id: FAKE_AN_TOOL_USES[0]!.id, name: 'get_weather', args: '{"location": "San Francisco, CA", "unit": "fahrenheit"}' },
      { id: FAKE_AN_TOOL_USES[1]!.id, name: 'get_time', args: '{}' },
    ]);
    assert.deepEqual(JSON.parse(calls[0]!.args), FAKE_AN_TOOL_USES[0]!.input);
  });

  test('reasoning_effort becomes a thinking budget; thinking comes back as reasoning_content', async () => {
    const data = await openai.chat.completions.create({
      model: 'claude-thinking', messages: [{ role: 'user', content: '27 × 453?' }], reasoning_effort: 'low',
    }, { headers: { 'X-Request-Id': 'an-tr-chat-thinking' } });
    const message = data.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(message.content, FAKE_AN_THINKING_ANSWER);
    assert.equal(message.reasoning_content, FAKE_AN_THINKING);
    const body = anthropicUp.byRequestId('an-tr-chat-thinking').body;
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.equal(body.max_tokens, 8192);
  });
});
