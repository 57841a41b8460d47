// End to end with the official OpenAI SDK, as a user would call the gateway: chat (plain and
// streamed), tools, parameter forwarding, embeddings, the models list, drop_params and the
// simulator. The upstream is a real HTTP server speaking OpenAI's wire format.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import {
  FAKE_TEXT, FAKE_TEXT_PARTS, FAKE_TOOL_CALLS, FAKE_USAGE, fakeEmbedding, startFakeOpenAIUpstream, type FakeOpenAIUpstream,
} from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-tollgate-master-e2e-0001';
const UPSTREAM_KEY = 'sk-upstream-deployment-key-Zq81';
const NUMERIC_MS = /^\d+\.\d{3}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let upstream: FakeOpenAIUpstream;
let gw: TestGateway;
let client: OpenAI;

function yaml(base: string): string {
  return `
server:
  port: 0
general_settings:
  master_key: ${MASTER_KEY}
models:
  chat:
    description: Chat through the fake OpenAI upstream
    deployments:
      - id: fake-chat
        provider: openai_compatible
        model: ok
        api_base: ${base}
        api_key: os.environ/UPSTREAM_KEY
  tooler:
    deployments:
      - id: fake-tools
        provider: openai_compatible
        model: tools
        api_base: ${base}
        api_key: os.environ/UPSTREAM_KEY
  embed:
    deployments:
      - id: fake-embed
        provider: openai_compatible
        model: ok
        api_base: ${base}
        api_key: os.environ/UPSTREAM_KEY
  groq-strict:
    deployments:
      - id: groq-strict
        provider: groq
        model: ok
        api_base: ${base}
        api_key: os.environ/UPSTREAM_KEY
  groq-lenient:
    deployments:
      - id: groq-lenient
        provider: groq
        model: ok
        api_base: ${base}
        api_key: os.environ/UPSTREAM_KEY
        drop_params: true
  sim:
    deployments:
      - id: sim-1
        provider: simulator
        model: sim-model-1
        simulator: { output_tokens: 12 }
`;
}

before(async () => {
  upstream = await startFakeOpenAIUpstream();
  gw = await startTestGateway(yaml(upstream.baseURL), { UPSTREAM_KEY });
  client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

const hello = [{ role: 'user' as const, content: 'Say hello.' }];

describe('chat completions (non-streaming)', () => {
  test('returns the upstream completion, usage and the gateway headers', async () => {
    const { data, response, request_id } = await client.chat.completions
      .create({ model: 'chat', messages: hello }, { headers: { 'X-Request-Id': 'e2e-req-0001' } })
      .withResponse();

    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0]!.message.role, 'assistant');
    assert.equal(data.choices[0]!.message.content, FAKE_TEXT);
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(data.usage, FAKE_USAGE);
    assert.equal(data.usage!.prompt_tokens_details!.cached_tokens, 8);

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-request-id'), 'e2e-req-0001');
    assert.equal(request_id, 'e2e-req-0001');
    assert.equal(response.headers.get('x-gateway-model-resolved'), 'ok');
    assert.equal(response.headers.get('x-gateway-provider'), 'openai_compatible');
    assert.equal(response.headers.get('x-gateway-deployment'), 'fake-chat');
    assert.equal(response.headers.get('x-usage-total-tokens'), '27');
    assert.match(response.headers.get('x-gateway-overhead-ms') ?? '', NUMERIC_MS);
    assert.match(response.headers.get('x-gateway-upstream-ms') ?? '', NUMERIC_MS);
    assert.ok(Number(response.headers.get('x-gateway-upstream-ms')) >= 0);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);

    const seen = upstream.byRequestId('e2e-req-0001');
    assert.equal(seen.method, 'POST');
    assert.equal(seen.path, '/v1/chat/completions');
    assert.equal(seen.body.model, 'ok', 'the upstream gets the pinned model, not the alias');
    assert.equal(seen.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    for (const [name, value] of Object.entries(seen.headers)) {
      assert.ok(!String(value).includes(MASTER_KEY), `the client's key leaked upstream in header ${name}`);
    }
  });

  test('generates an x-request-id when the client sends none', async () => {
    const { response, request_id } = await client.chat.completions.create({ model: 'chat', messages: hello }).withResponse();
    const id = response.headers.get('x-request-id');
    assert.match(id ?? '', UUID);
    assert.equal(request_id, id);
    assert.equal(upstream.last('ok').headers['x-request-id'], id, 'the same id is sent upstream');
  });

  test('replaces an X-Request-Id that is not a safe id', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'chat', messages: hello }, { headers: { 'X-Request-Id': 'bad id\twith "quotes"' } })
      .withResponse();
    assert.match(response.headers.get('x-request-id') ?? '', UUID);
  });

  test('works with a baseURL without /v1 too', async () => {
    const bare = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.url, maxRetries: 0 });
    const data = await bare.chat.completions.create({ model: 'chat', messages: hello });
    assert.equal(data.choices[0]!.message.content, FAKE_TEXT);
  });

  test('forwards the body unchanged apart from model, unknown fields included', async () => {
    const extra = { seed: 7, user: 'user-42', top_k: 40, custom_vendor_field: { nested: [1, 'two', null], flag: true } };
    const params = { model: 'chat', messages: hello, temperature: 0.25, ...extra };
    const { response } = await client.chat.completions.create(params, { headers: { 'X-Request-Id': 'e2e-req-fwd' } }).withResponse();
    assert.equal(response.status, 200);
    assert.deepEqual(upstream.byRequestId('e2e-req-fwd').body, { ...params, model: 'ok' });
  });

  test('propagates the W3C trace upstream: same trace id, the gateway its own span', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    await client.chat.completions.create({ model: 'chat', messages: hello }, {
      headers: { traceparent: `00-${traceId}-${clientSpan}-01`, 'X-Request-Id': 'e2e-req-trace' },
    });
    const traceparent = String(upstream.byRequestId('e2e-req-trace').headers.traceparent);
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(traceparent);
    assert.ok(match, `upstream traceparent ${traceparent} is not W3C`);
    assert.equal(match[1], traceId);
    assert.notEqual(match[2], clientSpan);
    assert.notEqual(match[2], '0000000000000000');
  });

  test('accepts X-Tenant-Id and X-Feature-Id and records them in the access log', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: hello }, {
      headers: { 'X-Tenant-Id': 'tenant-acme', 'X-Feature-Id': 'feature/search', 'X-Request-Id': 'e2e-req-tenant' },
    }).withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.choices[0]!.message.content, FAKE_TEXT);
    const line = await gw.accessLog('e2e-req-tenant');
    assert.equal(line.tenant_id, 'tenant-acme');
    assert.equal(line.feature_id, 'feature/search');
    assert.equal(line.status, 200);
    assert.equal(line.model, 'chat');
    assert.equal(line.deployment, 'fake-chat');
    assert.equal(line.provider, 'openai_compatible');
  });

  test('forwards n, stop, response_format and max_completion_tokens', async () => {
    const params = {
      model: 'chat',
      messages: hello,
      n: 2,
      stop: ['\n\n', 'END'],
      response_format: { type: 'json_schema' as const, json_schema: { name: 'greeting', strict: true, schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false } } },
      max_completion_tokens: 64,
    };
    const data = await client.chat.completions.create(params, { headers: { 'X-Request-Id': 'e2e-req-params' } });
    assert.equal(data.choices.length, 2);
    assert.deepEqual(data.choices.map((c) => c.index), [0, 1]);
    const body = upstream.byRequestId('e2e-req-params').body;
    assert.equal(body.n, 2);
    assert.deepEqual(body.stop, ['\n\n', 'END']);
    assert.deepEqual(body.response_format, params.response_format);
    assert.equal(body.max_completion_tokens, 64);
  });

  test('tools: the definitions reach the upstream and tool calls come back whole', async () => {
    const tools = [{
      type: 'function' as const,
      function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] } },
    }];
    const data = await client.chat.completions.create(
      { model: 'tooler', messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }], tools, tool_choice: 'auto', parallel_tool_calls: true },
      { headers: { 'X-Request-Id': 'e2e-req-tools' } },
    );
    assert.equal(data.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(data.choices[0]!.message.content, null);
    assert.deepEqual(data.choices[0]!.message.tool_calls, FAKE_TOOL_CALLS);
    const body = upstream.byRequestId('e2e-req-tools').body;
    assert.deepEqual(body.tools, tools);
    assert.equal(body.tool_choice, 'auto');
    assert.equal(body.parallel_tool_calls, true);
    assert.equal(body.model, 'tools');
  });
});

describe('chat completions (streaming)', () => {
  test('content arrives in chunks; usage is forced upstream but hidden from a client that did not ask', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'chat', messages: hello, stream: true }, { headers: { 'X-Request-Id': 'e2e-req-stream' } })
      .withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-request-id'), 'e2e-req-stream');
    assert.equal(response.headers.get('x-gateway-provider'), 'openai_compatible');
    assert.equal(response.headers.get('x-gateway-model-resolved'), 'ok');
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, FAKE_TEXT);
    assert.deepEqual(chunks.map((c) => c.choices[0]?.delta.content).filter((c) => c), [...FAKE_TEXT_PARTS]);
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.ok(chunks.every((c) => c.choices.length > 0), 'no usage-only chunk for a client that did not ask for usage');
    assert.ok(chunks.every((c) => !c.usage), 'no usage numbers for a client that did not ask');

    const body = upstream.byRequestId('e2e-req-stream').body;
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  test('include_usage: false is still forced to true upstream and the client sees no usage chunk', async () => {
    const stream = await client.chat.completions.create(
      { model: 'chat', messages: hello, stream: true, stream_options: { include_usage: false } },
      { headers: { 'X-Request-Id': 'e2e-req-stream-nousage' } },
    );
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), FAKE_TEXT);
    assert.ok(chunks.every((c) => c.choices.length > 0 && !c.usage));
    assert.deepEqual(upstream.byRequestId('e2e-req-stream-nousage').body.stream_options, { include_usage: true });
  });

  test('the raw wire: OpenAI framing, one [DONE] at the end', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: hello, stream: true, stream_options: { include_usage: true } }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.endsWith('\n\ndata: [DONE]\n\n'), text.slice(-80));
    const events = text.split('\n\n').filter(Boolean);
    assert.ok(events.every((e) => e.startsWith('data: ') && !e.includes('\n')), 'every event is a single data: line');
    assert.equal(events.filter((e) => e === 'data: [DONE]').length, 1);
    const payloads = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    assert.equal(payloads.length, 1 + FAKE_TEXT_PARTS.length + 1 + 1, 'role, content parts, finish, usage');
  });

  test('a client that asks for usage gets the final usage-only chunk', async () => {
    const stream = await client.chat.completions.create({ model: 'chat', messages: hello, stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, FAKE_USAGE);
    assert.equal(chunks.filter((c) => c.choices.length === 0).length, 1);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), FAKE_TEXT);
  });

  test('tool calls streamed as deltas assemble into the full calls', async () => {
    const runner = client.chat.completions.stream({
      model: 'tooler',
      messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } } } } }],
    });
    const argumentDeltas: string[] = [];
    runner.on('tool_calls.function.arguments.delta', (event) => argumentDeltas.push(event.arguments_delta));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    const calls = final.choices[0]!.message.tool_calls!.map((c) => ({ id: c.id, type: c.type, function: { name: (c as any).function.name, arguments: (c as any).function.arguments } }));
    assert.deepEqual(calls, FAKE_TOOL_CALLS);
    assert.ok(argumentDeltas.length > 4, 'the arguments arrived in several deltas');
    assert.equal(argumentDeltas.join(''), FAKE_TOOL_CALLS.map((c) => c.function.arguments).join(''));
  });
});

describe('embeddings and models', () => {
  test('embeddings (the SDK asks for base64 and decodes it)', async () => {
    const { data, response } = await client.embeddings
      .create({ model: 'embed', input: ['the quick brown fox', 'jumps'] }, { headers: { 'X-Request-Id': 'e2e-req-embed' } })
      .withResponse();
    assert.equal(data.object, 'list');
    assert.equal(data.data.length, 2);
    assert.deepEqual(data.data[0]!.embedding, fakeEmbedding(0, 8));
    assert.deepEqual(data.data[1]!.embedding, fakeEmbedding(1, 8));
    assert.deepEqual(data.usage, { prompt_tokens: 5, total_tokens: 5 });
    assert.equal(response.headers.get('x-usage-total-tokens'), '5');
    assert.equal(response.headers.get('x-gateway-deployment'), 'fake-embed');
    const seen = upstream.byRequestId('e2e-req-embed');
    assert.equal(seen.path, '/v1/embeddings');
    assert.deepEqual(seen.body, { model: 'ok', input: ['the quick brown fox', 'jumps'], encoding_format: 'base64' });
    assert.equal(seen.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  });

  test('embeddings with float encoding and dimensions', async () => {
    const data = await client.embeddings.create({ model: 'embed', input: 'one', encoding_format: 'float', dimensions: 4 });
    assert.deepEqual(data.data[0]!.embedding, fakeEmbedding(0, 4));
    assert.equal(upstream.last('ok').body.dimensions, 4);
  });

  test('GET /v1/models lists the aliases in OpenAI list shape', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    assert.deepEqual(models.map((m) => m.id).sort(), ['chat', 'embed', 'groq-lenient', 'groq-strict', 'sim', 'tooler']);
    for (const model of models) {
      assert.equal(model.object, 'model');
      assert.equal(model.owned_by, 'tollgate');
      assert.ok(Number.isInteger(model.created) && model.created > 1_600_000_000);
    }
    const raw = await fetch(`${gw.baseURL}/models`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    const body = await raw.json() as any;
    assert.equal(body.object, 'list');
    assert.equal(body.data.find((m: any) => m.id === 'chat').description, 'Chat through the fake OpenAI upstream');
  });
});

describe('drop_params', () => {
  test('an unsupported param is rejected with unsupported_param naming it', async () => {
    const before = upstream.requests.length;
    const err = await client.chat.completions.create({ model: 'groq-strict', messages: hello, logit_bias: { '50256': -100 } }).then(
      () => assert.fail('expected an error'), (e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, `got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'unsupported_param');
    assert.equal(err.param, 'logit_bias');
    assert.match(err.message, /logit_bias/);
    assert.match(err.message, /groq-strict/);
    assert.equal(upstream.requests.length, before, 'nothing was sent upstream');
  });

  test('with drop_params: true the param is dropped and the call succeeds', async () => {
    const data = await client.chat.completions.create(
      { model: 'groq-lenient', messages: hello, logit_bias: { '50256': -100 }, temperature: 0.5 },
      { headers: { 'X-Request-Id': 'e2e-req-drop' } },
    );
    assert.equal(data.choices[0]!.message.content, FAKE_TEXT);
    const body = upstream.byRequestId('e2e-req-drop').body;
    assert.equal('logit_bias' in body, false);
    assert.equal(body.temperature, 0.5);
    assert.equal(body.model, 'ok');
  });
});

describe('simulator through the SDK', () => {
  const messages = [{ role: 'user' as const, content: 'Tell me about gateways.' }];

  test('is deterministic, counts usage, and streams the same text', async () => {
    const first = await client.chat.completions.create({ model: 'sim', messages }).withResponse();
    const second = await client.chat.completions.create({ model: 'sim', messages });
    const content = first.data.choices[0]!.message.content!;
    assert.ok(content.length > 0);
    assert.equal(second.choices[0]!.message.content, content);
    assert.equal(second.id, first.data.id);
    assert.equal(first.data.usage!.completion_tokens, 12);
    assert.equal(first.data.usage!.total_tokens, first.data.usage!.prompt_tokens + 12);
    assert.equal(first.response.headers.get('x-usage-total-tokens'), String(first.data.usage!.total_tokens));
    assert.equal(first.response.headers.get('x-gateway-provider'), 'simulator');
    assert.equal(first.response.headers.get('x-gateway-model-resolved'), 'sim-model-1');

    const stream = await client.chat.completions.create({ model: 'sim', messages, stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), content);
    assert.deepEqual(chunks.at(-1)!.usage, first.data.usage);

    const quiet = await client.chat.completions.create({ model: 'sim', messages, stream: true });
    const quietChunks: ChatCompletionChunk[] = [];
    for await (const chunk of quiet) quietChunks.push(chunk);
    assert.equal(quietChunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), content);
    assert.ok(quietChunks.every((c) => c.choices.length > 0 && !c.usage));
  });

  test('simulator embeddings', async () => {
    const data = await client.embeddings.create({ model: 'sim', input: ['alpha beta', 'alpha beta'], encoding_format: 'float', dimensions: 16 });
    assert.equal(data.data.length, 2);
    assert.equal(data.data[0]!.embedding.length, 16);
    assert.deepEqual(data.data[0]!.embedding, data.data[1]!.embedding);
    assert.equal(data.usage.total_tokens, 4);
  });
});

describe('secrets', () => {
  test('neither the master key nor the deployment key ever appears in the logs', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const text = gw.logText();
    assert.ok(text.includes('"msg":"request"'), 'the access log was captured');
    assert.equal(text.includes(MASTER_KEY), false);
    assert.equal(text.includes(UPSTREAM_KEY), false);
  });
});
