import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulateChat, toChunks, toCompletion } from '../../../src/providers/simulator/simulator-chat.ts';
import { createSimulatorTransport, DEFAULT_SIMULATOR } from '../../../src/providers/simulator/simulator-transport.ts';
import { lexicalEmbedding } from '../../../src/providers/simulator/simulator-text.ts';
import { SseParser } from '../../../src/providers/shared/sse-parser.ts';
import type { ChatRequest, Deployment, SimulatorSettings, UpstreamResponse } from '../../../src/providers/types.ts';

const REQ: ChatRequest = { model: 'sim-1', messages: [{ role: 'user', content: 'How do budgets work?' }] };

function dep(settings: Partial<SimulatorSettings> = {}): Deployment {
  return { id: 'sim', alias: 'sim', provider: 'simulator', model: 'sim-1', headers: {}, weight: 1, timeoutMs: 1000, streamTimeoutMs: 1000, connectTimeoutMs: 10_000, order: 1, healthCheck: true, dropParams: false, modelInfo: {}, simulator: { ...DEFAULT_SIMULATOR, ...settings, failures: { ...DEFAULT_SIMULATOR.failures, ...settings.failures } } };
}

async function text(res: UpstreamResponse): Promise<string> {
  let out = '';
  for await (const chunk of res.body) out += Buffer.from(chunk).toString('utf8');
  return out;
}

function send(body: ChatRequest | Record<string, unknown>, d: Deployment, random?: () => number, signal = new AbortController().signal) {
  const transport = createSimulatorTransport(random);
  const path = 'model' in body && 'input' in body ? '/v1/embeddings' : '/v1/chat/completions';
  return transport.send({ origin: 'http://simulator.invalid', path, method: 'POST', headers: {}, body: JSON.stringify(body) }, { signal, deployment: d, headersTimeoutMs: 1000, bodyTimeoutMs: 1000 });
}

test('the same request gives the same answer; a different one a different answer', () => {
  const a = toCompletion(simulateChat(REQ, 20, 0));
  const b = toCompletion(simulateChat(structuredClone(REQ), 20, 0));
  const c = toCompletion(simulateChat({ ...REQ, messages: [{ role: 'user', content: 'Something else' }] }, 20, 0));
  assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
  assert.notEqual(a.choices[0]!.message.content, c.choices[0]!.message.content);
  assert.equal(a.usage!.completion_tokens, 20);
  assert.equal(a.usage!.total_tokens, a.usage!.prompt_tokens + 20);
});

test('max_tokens below the output length truncates with finish_reason length', () => {
  const c = toCompletion(simulateChat({ ...REQ, max_tokens: 5 }, 20, 0));
  assert.equal(c.choices[0]!.finish_reason, 'length');
  assert.equal(c.usage!.completion_tokens, 5);
});

test('n gives n choices; stop cuts the text at the stop sequence', () => {
  const full = toCompletion(simulateChat(REQ, 30, 0)).choices[0]!.message.content!;
  const word = full.split(' ')[3]!;
  const cut = toCompletion(simulateChat({ ...REQ, stop: [word] }, 30, 0));
  assert.equal(cut.choices[0]!.message.content, full.slice(0, full.indexOf(word)));
  assert.equal(cut.choices[0]!.finish_reason, 'stop');
  assert.equal(toCompletion(simulateChat({ ...REQ, n: 3 }, 5, 0)).choices.length, 3);
});

test('tool_choice required calls the tool with arguments that fit its schema', () => {
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] } } }];
  const c = toCompletion(simulateChat({ ...REQ, tools, tool_choice: 'required' }, 10, 0));
  const call = c.choices[0]!.message.tool_calls![0]!;
  assert.equal(c.choices[0]!.finish_reason, 'tool_calls');
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.equal(typeof args.days, 'number');
  assert.equal(toCompletion(simulateChat({ ...REQ, tools }, 10, 0)).choices[0]!.message.tool_calls, undefined, 'auto without naming the tool answers in text');
});

test('json response_format yields parseable JSON', () => {
  const c = toCompletion(simulateChat({ ...REQ, response_format: { type: 'json_object' } }, 12, 0));
  assert.equal(typeof JSON.parse(c.choices[0]!.message.content!).answer, 'string');
});

test('stream chunks reassemble to the non-stream content; usage chunk only when asked', () => {
  const sim = simulateChat(REQ, 15, 0);
  const chunks = toChunks(sim, true);
  const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  assert.equal(content, toCompletion(sim).choices[0]!.message.content);
  assert.deepEqual(chunks.at(-1)!.choices, []);
  assert.equal(chunks.at(-1)!.usage!.completion_tokens, 15);
  assert.ok(toChunks(sim, false).every((c) => c.choices.length === 1 && c.usage === undefined));
});

test('transport streams OpenAI SSE paced by tokens_per_second after ttft_ms', async () => {
  const started = performance.now();
  const res = await send({ ...REQ, stream: true, stream_options: { include_usage: true } }, dep({ ttft_ms: 40, tokens_per_second: 200, output_tokens: 10 }));
  const parser = new SseParser();
  const arrivals: number[] = [];
  const events = [];
  for await (const chunk of res.body) {
    for (const e of parser.push(chunk)) {
      events.push(e);
      arrivals.push(performance.now() - started);
    }
  }
  assert.equal(res.status, 200);
  assert.equal(events.at(-1)!.data, '[DONE]');
  assert.ok(arrivals[0]! >= 38, `first chunk after ttft (${arrivals[0]})`);
  assert.ok(arrivals.at(-1)! >= 40 + 40, `pace spreads the tokens (${arrivals.at(-1)})`);
});

test('failure injection: 429 with retry-after, 500, 503 in OpenAI error shape', async () => {
  const cases: Array<[Partial<SimulatorSettings['failures']>, number]> = [[{ rate_429: 1 }, 429], [{ rate_500: 1 }, 500], [{ rate_503: 1 }, 503]];
  for (const [failures, status] of cases) {
    const res = await send(REQ, dep({ failures: failures as SimulatorSettings['failures'] }));
    assert.equal(res.status, status);
    assert.equal(typeof JSON.parse(await text(res)).error.message, 'string');
    if (status === 429) assert.equal(res.headers['retry-after'], '1');
  }
});

test('failure injection: a timeout hangs until aborted', async () => {
  const controller = new AbortController();
  const pending = send(REQ, dep({ failures: { rate_timeout: 1 } as SimulatorSettings['failures'] }), Math.random, controller.signal);
  setTimeout(() => controller.abort(new Error('deadline')), 30);
  await assert.rejects(pending, { name: 'AbortError' });
});

test('failure injection: a broken stream throws after some chunks', async () => {
  const res = await send({ ...REQ, stream: true }, dep({ output_tokens: 10, failures: { rate_broken_stream: 1 } as SimulatorSettings['failures'] }));
  let received = 0;
  await assert.rejects(async () => {
    for await (const chunk of res.body) received += chunk.byteLength;
  }, { code: 'ECONNRESET' });
  assert.ok(received > 0);
});

test('embeddings: one normalised vector per input, near-duplicates closer than unrelated text', async () => {
  const res = await send({ model: 'sim-embed', input: ['refund my order please', 'please refund my order', 'quantum chromodynamics lecture'], dimensions: 32 }, dep());
  const body = JSON.parse(await text(res));
  assert.equal(body.data.length, 3);
  assert.equal(body.data[0].embedding.length, 32);
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  const [a, b, c] = body.data.map((d: { embedding: number[] }) => d.embedding);
  assert.ok(Math.abs(dot(a, a) - 1) < 1e-3);
  assert.ok(dot(a, b) > dot(a, c));
  assert.deepEqual(lexicalEmbedding('x y', 8), lexicalEmbedding('x y', 8));
});
