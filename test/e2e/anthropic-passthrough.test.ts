// End to end with the official Anthropic SDK against an `anthropic` deployment: POST /v1/messages
// is native passthrough. The upstream gets the client's body with only `model` pinned, the
// deployment's own key and the client's anthropic-version / anthropic-beta; the client gets
// the upstream's bytes back untouched, streamed or not. The upstream is a real HTTP server
// speaking Anthropic's wire format, which writes its streams in odd-sized pieces.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  FAKE_AN_SIGNATURE, FAKE_AN_TEXT, FAKE_AN_TEXT_PARTS, FAKE_AN_THINKING, FAKE_AN_THINKING_ANSWER, FAKE_AN_THINKING_USAGE, FAKE_AN_TOOL_TEXT,
  FAKE_AN_TOOL_USAGE, FAKE_AN_TOOL_USES, FAKE_AN_TOTAL_TOKENS, FAKE_AN_USAGE, fakeAnthropicAliasesYaml, startFakeAnthropicUpstream,
  type FakeAnthropicUpstream, type RecordedAnthropicRequest,
} from '../helpers/fake-anthropic-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-tollgate-master-e2e-an01';
/** Not `sk-` shaped, so only the gateway's literal scrubbing could hide it. */
const DEPLOY_KEY = 'tgw-anthropic-deploykey-Zr4Qx81pW3';
const NUMERIC_MS = /^\d+\.\d{3}$/;
const DEFAULT_VERSION = '2023-06-01';

let upstream: FakeAnthropicUpstream;
let gw: TestGateway;
/** The SDK as configured by most users: apiKey, which this SDK sends as `Authorization: Bearer`. */
let client: Anthropic;
/** The SDK sending the key as `x-api-key`, as Anthropic clients (Claude Code, older SDKs) do. */
let keyClient: Anthropic;
/** Headers of every request the SDK clients sent. */
const sdkSent: Headers[] = [];

const recordingFetch = (url: string | URL | Request, init?: RequestInit) => {
  sdkSent.push(new Headers(init?.headers));
  return fetch(url, init);
};

before(async () => {
  upstream = await startFakeAnthropicUpstream({ apiKey: DEPLOY_KEY });
  gw = await startTestGateway(`
server:
  port: 0
general_settings:
  master_key: ${MASTER_KEY}
models:
  claude:
    deployments:
      - id: an-main
        provider: anthropic
        model: text
        api_base: ${upstream.url}
        api_key: os.environ/ANTHROPIC_DEPLOY_KEY
        headers:
          anthropic-beta: deploy-flag-2025-01-01,prompt-caching-2024-07-31
  claude-v1-base:
    deployments:
      - id: an-v1-base
        provider: anthropic
        model: text
        api_base: ${upstream.url}/v1
        api_key: ${DEPLOY_KEY}
${fakeAnthropicAliasesYaml(upstream.url, DEPLOY_KEY, ['tools', 'thinking'])}`, { ANTHROPIC_DEPLOY_KEY: DEPLOY_KEY });
  client = new Anthropic({ baseURL: gw.url, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000, fetch: recordingFetch });
  keyClient = new Anthropic({ baseURL: gw.url, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': MASTER_KEY }, maxRetries: 0, timeout: 10_000, fetch: recordingFetch });
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

const hello: Anthropic.MessageParam[] = [{ role: 'user', content: 'Say hello.' }];

async function bytesOf(response: Response): Promise<Buffer> {
  return Buffer.from(await response.arrayBuffer());
}

/** Upstream headers the gateway must never send: the client's own credentials and SDK telemetry. */
function assertNoClientCredentials(seen: RecordedAnthropicRequest): void {
  assert.equal(seen.headers.authorization, undefined, 'the client Authorization header must not go upstream');
  for (const [name, value] of Object.entries(seen.headers)) {
    assert.ok(!String(value).includes(MASTER_KEY), `the gateway master key leaked upstream in header ${name}`);
    assert.ok(!name.startsWith('x-stainless'), `client SDK header ${name} was forwarded upstream`);
  }
  assert.ok(!seen.rawBody.includes(MASTER_KEY), 'the master key leaked upstream in the body');
}

describe('native passthrough, non-streaming', () => {
  test('the response body is byte-identical to the upstream body; gateway headers and usage total are set', async () => {
    const response = await client.messages
      .create({ model: 'claude', max_tokens: 256, messages: hello }, { headers: { 'X-Request-Id': 'an-pt-bytes' } })
      .asResponse();
    assert.equal(response.status, 200);
    const received = await bytesOf(response);
    const seen = upstream.byRequestId('an-pt-bytes');
    assert.equal(seen.response.status, 200);
    assert.ok(seen.response.chunks.length >= 2, 'the fake wrote the body in more than one piece');
    assert.ok(received.equals(seen.response.body()), `body differs:\n${received.toString()}\n---\n${seen.response.body().toString()}`);

    assert.equal(response.headers.get('x-request-id'), 'an-pt-bytes');
    assert.equal(response.headers.get('x-gateway-provider'), 'anthropic');
    assert.equal(response.headers.get('x-gateway-model-resolved'), 'text');
    assert.equal(response.headers.get('x-gateway-deployment'), 'an-main');
    assert.equal(response.headers.get('x-usage-total-tokens'), String(FAKE_AN_TOTAL_TOKENS));
    assert.equal(response.headers.get('x-usage-total-tokens'), '1071');
    assert.match(response.headers.get('x-gateway-upstream-ms') ?? '', NUMERIC_MS);
    assert.match(response.headers.get('x-gateway-overhead-ms') ?? '', NUMERIC_MS);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(response.headers.get('content-length'), String(received.length));
    assert.equal(response.headers.get('request-id'), null, 'upstream response headers are not relayed');
  });

  test('the SDK parses the passthrough message: text, stop_reason, the upstream model and usage with cache tokens', async () => {
    const { data, response } = await client.messages
      .create({ model: 'claude', max_tokens: 256, messages: hello }, { headers: { 'X-Request-Id': 'an-pt-parse' } })
      .withResponse();
    assert.equal(response.status, 200);
    assert.match(data.id, /^msg_01[A-Za-z0-9]{24}$/);
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.equal(data.model, 'text', 'passthrough returns the upstream model untouched');
    assert.deepEqual(data.content, [{ type: 'text', text: FAKE_AN_TEXT }]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.stop_sequence, null);
    assert.deepEqual(data.usage, FAKE_AN_USAGE);
    assert.deepEqual(JSON.parse(upstream.byRequestId('an-pt-parse').response.body().toString()), data);
  });

  test('tool_use and thinking blocks come back exactly as the upstream sent them', async () => {
    const tools = await client.messages.create({ model: 'an-tools', max_tokens: 512, messages: [{ role: 'user', content: 'Weather in SF, and the time?' }] });
    assert.deepEqual(tools.content, [{ type: 'text', text: FAKE_AN_TOOL_TEXT }, ...FAKE_AN_TOOL_USES]);
    assert.equal(tools.stop_reason, 'tool_use');
    assert.deepEqual(tools.usage, FAKE_AN_TOOL_USAGE);

    const thinking = await client.messages.create({
      model: 'an-thinking', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: '27 × 453?' }],
    });
    assert.deepEqual(thinking.content, [
      { type: 'thinking', thinking: FAKE_AN_THINKING, signature: FAKE_AN_SIGNATURE },
      { type: 'text', text: FAKE_AN_THINKING_ANSWER },
    ]);
    assert.deepEqual(thinking.usage, FAKE_AN_THINKING_USAGE);
    assert.deepEqual(upstream.last('thinking').body.thinking, { type: 'enabled', budget_tokens: 1024 });
  });

  test('the upstream gets the client body unchanged except model, advanced fields intact', async () => {
    const params = {
      model: 'claude',
      max_tokens: 1024,
      system: [
        { type: 'text' as const, text: 'You are a coding agent.', cache_control: { type: 'ephemeral' as const, ttl: '1h' as const } },
        { type: 'text' as const, text: 'Work in /repo.' },
      ],
      messages: [
        { role: 'user' as const, content: [{ type: 'text' as const, text: 'Read README.md', cache_control: { type: 'ephemeral' as const } }] },
        {
          role: 'assistant' as const,
          content: [
            { type: 'thinking' as const, thinking: 'Read the file.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxDDRkP' },
            { type: 'tool_use' as const, id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV', name: 'Read', input: { file_path: '/repo/README.md' } },
          ],
        },
        {
          role: 'user' as const,
          content: [{ type: 'tool_result' as const, tool_use_id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV', content: [{ type: 'text' as const, text: '# Tollgate ☀️' }], is_error: false }],
        },
      ],
      tools: [{
        name: 'Read',
        description: 'Reads a file.',
        input_schema: { type: 'object' as const, properties: { file_path: { type: 'string' } }, required: ['file_path'] },
        cache_control: { type: 'ephemeral' as const },
      }],
      tool_choice: { type: 'auto' as const, disable_parallel_tool_use: true },
      thinking: { type: 'enabled' as const, budget_tokens: 512 },
      metadata: { user_id: 'user_7f3a9c' },
      stop_sequences: ['</done>'],
      top_k: 40,
      service_tier: 'standard_only' as const,
      // A field this SDK version does not know; the gateway must not drop it either.
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
    };
    const { response } = await client.messages
      .create(params as Anthropic.MessageCreateParamsNonStreaming, {
        headers: { 'X-Request-Id': 'an-pt-body', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'interleaved-thinking-2025-05-14,context-management-2025-06-27' },
      })
      .withResponse();
    assert.equal(response.status, 200);
    const seen = upstream.byRequestId('an-pt-body');
    assert.equal(seen.method, 'POST');
    assert.equal(seen.path, '/v1/messages');
    assert.deepEqual(seen.body, { ...params, model: 'text' });
    assert.deepEqual(Object.keys(seen.body), Object.keys(params), 'field order is kept too');
    assert.equal(seen.rawBody, JSON.stringify({ ...params, model: 'text' }));

    assert.equal(seen.headers['x-api-key'], DEPLOY_KEY, 'the deployment key, not the client key');
    assert.equal(seen.headers['anthropic-version'], '2023-06-01');
    assert.equal(seen.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14,context-management-2025-06-27,deploy-flag-2025-01-01,prompt-caching-2024-07-31',
      'client betas first, then the deployment betas, without duplicates');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers['x-request-id'], 'an-pt-body');
    assert.match(String(seen.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assertNoClientCredentials(seen);
  });

  test('a recorded agent request (images, thinking, tool history, cache_control) arrives intact', async () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/anthropic/messages-request-agent.json', import.meta.url), 'utf8'));
    const body = { ...fixture, model: 'claude', stream: false };
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-request-id': 'an-pt-agent' },
      body: JSON.stringify(body, null, 2),
    });
    assert.equal(res.status, 200);
    const received = await bytesOf(res);
    const seen = upstream.byRequestId('an-pt-agent');
    assert.deepEqual(seen.body, { ...body, model: 'text' });
    assert.ok(received.equals(seen.response.body()));
    assert.equal(seen.headers['anthropic-beta'], 'deploy-flag-2025-01-01,prompt-caching-2024-07-31', 'only the deployment betas when the client sent none');
    assertNoClientCredentials(seen);
  });

  test('anthropic-version: the SDK\'s own value is forwarded; without one the gateway sends 2023-06-01', async () => {
    const before = sdkSent.length;
    await keyClient.messages.create({ model: 'an-tools', max_tokens: 64, messages: hello }, { headers: { 'X-Request-Id': 'an-pt-version-sdk' } });
    const sdkVersion = sdkSent[before]!.get('anthropic-version');
    assert.ok(sdkVersion, 'the SDK sends an anthropic-version');
    assert.equal(sdkSent[before]!.get('x-api-key'), MASTER_KEY);
    const seen = upstream.byRequestId('an-pt-version-sdk');
    assert.equal(seen.headers['anthropic-version'], sdkVersion);
    assert.equal(seen.headers['x-api-key'], DEPLOY_KEY);
    assert.equal(seen.headers['anthropic-beta'], undefined, 'no beta header when neither client nor deployment has one');
    assertNoClientCredentials(seen);

    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'x-request-id': 'an-pt-version-none' },
      body: JSON.stringify({ model: 'an-tools', max_tokens: 64, messages: hello }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(upstream.byRequestId('an-pt-version-none').headers['anthropic-version'], DEFAULT_VERSION);
  });

  test('an api_base that already ends in /v1 is not doubled', async () => {
    const data = await client.messages.create({ model: 'claude-v1-base', max_tokens: 64, messages: hello }, { headers: { 'X-Request-Id': 'an-pt-v1base' } });
    assert.deepEqual(data.content, [{ type: 'text', text: FAKE_AN_TEXT }]);
    assert.equal(upstream.byRequestId('an-pt-v1base').path, '/v1/messages');
  });

  test('the access log names the alias, deployment and provider', async () => {
    await client.messages.create({ model: 'claude', max_tokens: 64, messages: hello }, { headers: { 'X-Request-Id': 'an-pt-log' } });
    const line = await gw.accessLog('an-pt-log');
    assert.equal(line.status, 200);
    assert.equal(line.path, '/v1/messages');
    assert.equal(line.model, 'claude');
    assert.equal(line.deployment, 'an-main');
    assert.equal(line.provider, 'anthropic');
  });
});

describe('native passthrough, streaming', () => {
  test('the raw SSE bytes the client receives equal the bytes the upstream sent', async () => {
    const response = await client.messages
      .create({ model: 'claude', max_tokens: 256, messages: hello, stream: true }, { headers: { 'X-Request-Id': 'an-pt-sse-bytes' } })
      .asResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-request-id'), 'an-pt-sse-bytes');
    assert.equal(response.headers.get('x-gateway-provider'), 'anthropic');
    assert.equal(response.headers.get('x-gateway-model-resolved'), 'text');
    assert.equal(response.headers.get('x-gateway-deployment'), 'an-main');
    const received = await bytesOf(response);
    const seen = upstream.byRequestId('an-pt-sse-bytes');
    assert.ok(seen.response.chunks.length > 20, `the fake wrote the stream in ${seen.response.chunks.length} pieces`);
    assert.ok(received.equals(seen.response.body()), `stream differs:\n${received.toString()}\n---\n${seen.response.body().toString()}`);
    assert.equal(seen.body.stream, true);
    assert.equal(seen.headers.accept, 'text/event-stream');
    const text = received.toString('utf8');
    assert.ok(text.startsWith('event: message_start\ndata: {"type":"message_start"'));
    assert.ok(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
    assert.equal(text.split('event: ping\n').length - 1, 1);
  });

  test('messages.stream().finalMessage() assembles the text, deltas and usage', async () => {
    const stream = client.messages.stream({ model: 'claude', max_tokens: 256, messages: hello }, { headers: { 'X-Request-Id': 'an-pt-sse-text' } });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const message = await stream.finalMessage();
    assert.deepEqual(deltas, [...FAKE_AN_TEXT_PARTS]);
    assert.equal(message.model, 'text');
    assert.deepEqual(message.content, [{ type: 'text', text: FAKE_AN_TEXT }]);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.usage.input_tokens, FAKE_AN_USAGE.input_tokens);
    assert.equal(message.usage.cache_creation_input_tokens, FAKE_AN_USAGE.cache_creation_input_tokens);
    assert.equal(message.usage.cache_read_input_tokens, FAKE_AN_USAGE.cache_read_input_tokens);
    assert.equal(message.usage.output_tokens, FAKE_AN_USAGE.output_tokens);
    const line = await gw.accessLog('an-pt-sse-text');
    assert.equal(line.status, 200);
    assert.equal(line.client_aborted, undefined);
  });

  test('tool_use input is assembled from input_json_delta pieces split across writes', async () => {
    const stream = keyClient.messages.stream({
      model: 'an-tools',
      max_tokens: 512,
      tools: [
        { name: 'get_weather', description: 'Weather for a place', input_schema: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string' } }, required: ['location'] } },
        { name: 'get_time', input_schema: { type: 'object', properties: {} } },
      ],
      messages: [{ role: 'user', content: 'Weather in SF, and the time?' }],
    }, { headers: { 'X-Request-Id': 'an-pt-sse-tools' } });
    const inputs: unknown[] = [];
    stream.on('contentBlock', (block) => {
      if (block.type === 'tool_use') inputs.push(block.input);
    });
    const message = await stream.finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.content.length, 3);
    assert.deepEqual(message.content[0], { type: 'text', text: FAKE_AN_TOOL_TEXT });
    assert.deepEqual(message.content.slice(1), FAKE_AN_TOOL_USES);
    assert.deepEqual(inputs, [FAKE_AN_TOOL_USES[0]!.input, {}]);
    assert.equal(message.usage.output_tokens, FAKE_AN_TOOL_USAGE.output_tokens);
    const seen = upstream.byRequestId('an-pt-sse-tools');
    assert.equal(seen.body.tools.length, 2);
    assert.equal(seen.headers['x-api-key'], DEPLOY_KEY);
  });

  test('thinking and its signature are assembled from thinking_delta and signature_delta', async () => {
    const stream = client.messages.stream({
      model: 'an-thinking', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: '27 × 453?' }],
    }, { headers: { 'X-Request-Id': 'an-pt-sse-thinking' } });
    const thinkingDeltas: string[] = [];
    const signatures: string[] = [];
    stream.on('thinking', (delta) => thinkingDeltas.push(delta));
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_delta' && event.delta.type === 'signature_delta') signatures.push(event.delta.signature);
    });
    const message = await stream.finalMessage();
    assert.deepEqual(message.content, [
      { type: 'thinking', thinking: FAKE_AN_THINKING, signature: FAKE_AN_SIGNATURE },
      { type: 'text', text: FAKE_AN_THINKING_ANSWER },
    ]);
    assert.equal(thinkingDeltas.join(''), FAKE_AN_THINKING);
    assert.deepEqual(signatures, [FAKE_AN_SIGNATURE]);
    assert.equal(message.usage.output_tokens, FAKE_AN_THINKING_USAGE.output_tokens);
    const received = upstream.byRequestId('an-pt-sse-thinking');
    assert.deepEqual(received.body.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.equal(received.body.stream, true);
  });
});
