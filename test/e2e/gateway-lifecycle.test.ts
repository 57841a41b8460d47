// Models lookup, health endpoints, routing weights and graceful shutdown, end to end.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

const MASTER = 'sk-lifecycle-master-key';
let upstream: FakeOpenAIUpstream;

before(async () => {
  upstream = await startFakeOpenAIUpstream();
});
after(async () => {
  await upstream.close();
});

function yaml(extra = ''): string {
  return `
general_settings: { master_key: ${MASTER} }
models:
  chat:
    description: the chat alias
    deployments:
      - { id: heavy, provider: openai_compatible, model: ok, api_base: ${upstream.baseURL}, weight: 3 }
      - { id: light, provider: simulator, model: sim-light, weight: 1 }
  slow:
    deployments:
      - id: slow-sim
        provider: simulator
        model: sim-slow
        simulator: { ttft_ms: 50, tokens_per_second: 200, output_tokens: 12 }
${extra}`;
}

test('models.retrieve returns one alias; an unknown one is NotFoundError model_not_found', async () => {
  const gw = await startTestGateway(yaml());
  try {
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: MASTER, maxRetries: 0 });
    const model = await client.models.retrieve('chat');
    assert.deepEqual({ id: model.id, object: model.object, owned_by: model.owned_by }, { id: 'chat', object: 'model', owned_by: 'tollgate' });
    await assert.rejects(client.models.retrieve('chta'), (err: any) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found' && /Did you mean "chat"/.test(err.message));
  } finally {
    await gw.shutdown();
  }
});

test('health: live and ready need no key; ready turns 503 while draining', async () => {
  const gw = await startTestGateway(yaml());
  try {
    assert.equal((await fetch(`${gw.url}/health/live`)).status, 200);
    const ready = await fetch(`${gw.url}/health/ready`);
    const report = await ready.json() as { status: string; checks: Record<string, { status: string }> };
    assert.equal(ready.status, 200);
    assert.equal(report.status, 'ready');
    assert.deepEqual(Object.fromEntries(Object.entries(report.checks).map(([name, check]) => [name, check.status])), { database: 'ok', limits: 'ok', ledger: 'ok', deployments: 'ok' });
    gw.gateway.app.drain();
    const draining = await fetch(`${gw.url}/health/ready`);
    assert.deepEqual([draining.status, await draining.json(), draining.headers.get('connection')], [503, { status: 'draining' }, 'close']);
  } finally {
    await gw.shutdown();
  }
});

test('unknown paths are 404 route_not_found and wrong methods 405 with Allow', async () => {
  const gw = await startTestGateway(yaml());
  try {
    const missing = await fetch(`${gw.url}/v2/chat`, { headers: { authorization: `Bearer ${MASTER}` } });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, 'route_not_found');
    const wrong = await fetch(`${gw.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${MASTER}` } });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    assert.equal(((await wrong.json()) as any).error.code, 'method_not_allowed');
  } finally {
    await gw.shutdown();
  }
});

test('weighted routing sends about 3/4 of traffic to the weight-3 deployment', async () => {
  const gw = await startTestGateway(yaml());
  try {
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: MASTER, maxRetries: 0 });
    const counts: Record<string, number> = { heavy: 0, light: 0 };
    for (let i = 0; i < 200; i++) {
      const { response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `q${i}` }] }).withResponse();
      counts[response.headers.get('x-gateway-deployment')!]!++;
    }
    assert.ok(counts.heavy! > 120 && counts.heavy! < 180, JSON.stringify(counts));
    assert.equal(counts.heavy! + counts.light!, 200);
  } finally {
    await gw.shutdown();
  }
});

test('graceful shutdown lets an in-flight stream finish, then refuses new connections', async () => {
  const gw = await startTestGateway(yaml());
  const client = new OpenAI({ baseURL: gw.baseURL, apiKey: MASTER, maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'long answer please' }] });
  const collected = (async () => {
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  })();
  await new Promise((r) => setTimeout(r, 20));
  const shutdown = gw.shutdown();
  const text = await collected;
  await shutdown;
  assert.equal(text.split(' ').length, 12, 'the whole answer arrived');
  await assert.rejects(fetch(`${gw.url}/health/live`));
});

test('a response in flight when draining starts says Connection: close, streamed or not', async () => {
  const gw = await startTestGateway(yaml(`  slow-plain:
    deployments:
      - { id: slow-plain, provider: simulator, model: sim-slow-plain, simulator: { latency_ms: 150, output_tokens: 5 } }
`));
  try {
    const send = (model: string, stream: boolean) => fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'x' }] }),
    });
    const plain = send('slow-plain', false);
    await new Promise((r) => setTimeout(r, 50));
    gw.gateway.app.drain();
    const res = await plain;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('connection'), 'close');
    await res.text();
    const streamed = await send('slow', true);
    assert.equal(streamed.headers.get('connection'), 'close');
    await streamed.text();
  } finally {
    await gw.shutdown();
  }
});
