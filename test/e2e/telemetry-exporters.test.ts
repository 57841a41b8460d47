// End to end, through the config file as an operator writes it: the official OpenAI client calls
// the gateway, and every call reaches the OTLP collector (spans) and Langfuse (a trace and a
// generation), with prompt text only for the team whose prompts are logged. Then the receivers
// hang or refuse: calls are still all served, and the telemetry that could not go is counted.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { refusingCollectorUrl, startFakeCollector, type FakeCollector } from '../helpers/fake-otlp-collector.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { PUBLIC_KEY, SECRET_KEY, startFakeLangfuse, until, type FakeLangfuse } from '../telemetry/langfuse-fake-server.ts';

const MASTER = 'sk-master-telemetry-e2e-0001';

function gatewayYaml(collectorUrl: string, langfuseUrl: string, extra = ''): string {
  return `
general_settings: { master_key: ${MASTER} }
models:
  chat:
    deployments:
      - { id: sim, provider: simulator, model: sim-1, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }
ledger:
  prompt_logging: { teams: [logged] }
tracing: { enabled: true, endpoint: "${collectorUrl}", scheduled_delay_ms: 20 }
langfuse: { enabled: true, host: "${langfuseUrl}", public_key: ${PUBLIC_KEY}, secret_key: ${SECRET_KEY}, flush_interval_ms: 20 }
${extra}`;
}

async function keyFor(gw: TestGateway, team: string): Promise<string> {
  const post = (path: string, body: unknown) => fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await post('/admin/teams', { team_id: team })).status, 201);
  const created = await (await post('/admin/keys', { team_id: team })).json() as { key: string };
  return created.key;
}

function client(gw: TestGateway, key: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0 });
}

async function metricSum(gw: TestGateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('telemetry exporters configured in the config file', () => {
  let collector: FakeCollector;
  let langfuse: FakeLangfuse;
  let gw: TestGateway;

  before(async () => {
    collector = await startFakeCollector();
    langfuse = await startFakeLangfuse();
    gw = await startTestGateway(gatewayYaml(collector.url, langfuse.url));
  });

  after(async () => {
    await gw?.shutdown();
    await collector?.close();
    await langfuse?.close();
  });

  test('each call becomes spans and a Langfuse generation; prompt text only for the team whose prompts are logged', async () => {
    const logged = client(gw, await keyFor(gw, 'logged'));
    const quiet = client(gw, await keyFor(gw, 'quiet'));
    const a = await logged.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'logged prompt, mail me at ann@example.com' }] });
    const b = await quiet.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'quiet prompt' }] });
    assert.ok(a.choices[0]?.message.content && b.choices[0]?.message.content);

    const generations = () => langfuse.envelopes().filter((e) => e.type === 'generation-create');
    await until(() => generations().length >= 2, 'two Langfuse generations');
    assert.deepEqual(langfuse.requests.flatMap((r) => r.problems), [], 'the ingestion bodies have the documented shape');
    const byTeam = new Map(generations().map((g) => [g.body.metadata?.team_id, g.body]));
    const loggedGen = byTeam.get('logged');
    const quietGen = byTeam.get('quiet');
    assert.ok(loggedGen && quietGen, `generations for both teams: ${JSON.stringify([...byTeam.keys()])}`);
    assert.match(JSON.stringify(loggedGen.input), /logged prompt/);
    assert.doesNotMatch(JSON.stringify(loggedGen.input), /ann@example\.com/, 'the prompt is redacted before it leaves');
    assert.equal(quietGen.input, undefined, 'no prompt for a team without prompt logging');
    assert.equal(quietGen.output, undefined);
    assert.ok(Number(quietGen.usageDetails?.input ?? quietGen.usage?.input) > 0, 'usage is sent');

    const spans = await collector.waitForSpans(2);
    const requests = spans.filter((s) => s.name === 'gateway.request');
    await until(() => collector.spans().filter((s) => s.name === 'gateway.request').length >= 2, 'two request spans');
    const all = collector.spans();
    for (const name of ['gateway.request', 'gateway.auth', 'gateway.policy', 'gateway.route', 'gateway.provider']) {
      assert.ok(all.some((s) => s.name === name), `a ${name} span: ${[...new Set(all.map((s) => s.name))].join(', ')}`);
    }
    const quietSpan = all.find((s) => s.name === 'gateway.request' && JSON.stringify(s.attributes).includes('quiet'));
    assert.ok(quietSpan, 'the quiet team\'s request span');
    assert.doesNotMatch(JSON.stringify(quietSpan), /quiet prompt/, 'no prompt text in spans without prompt logging');
    assert.ok(requests.length >= 1);
    assert.equal(await metricSum(gw, 'tollgate_requests_total', { alias: 'chat', status_class: '2xx' }), 2);
    assert.ok(await metricSum(gw, 'tollgate_telemetry_exported_total', { exporter: 'langfuse' }) >= 4);
  });
});

describe('telemetry receivers that hang or refuse', () => {
  let collector: FakeCollector;
  let langfuse: FakeLangfuse;
  let gw: TestGateway;

  before(async () => {
    collector = await startFakeCollector();
    collector.mode({ kind: 'hang' });
    langfuse = await startFakeLangfuse(() => 'hang');
    const refusing = await refusingCollectorUrl();
    gw = await startTestGateway(gatewayYaml(collector.url, langfuse.url, `alerts: { webhooks: ["${refusing}"] }`)
      .replace('scheduled_delay_ms: 20 }', 'scheduled_delay_ms: 20, max_queue_size: 8, max_export_batch_size: 4, export_timeout_ms: 60000 }')
      .replace('flush_interval_ms: 20 }', 'flush_interval_ms: 20, max_queue: 4, timeout_ms: 60000 }'));
  });

  after(async () => {
    await gw?.shutdown();
    await collector?.close();
    await langfuse?.close();
  });

  test('every call is served; spans and Langfuse events beyond the bounded queues are dropped and counted', async () => {
    const openai = client(gw, MASTER);
    const calls = Array.from({ length: 40 }, (_, i) => openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `call ${i}` }] }));
    const answers = await Promise.all(calls);
    assert.equal(answers.length, 40);
    assert.ok(answers.every((answer) => answer.choices[0]?.finish_reason === 'stop'));
    await collector.waitForRequests(1);
    await until(() => langfuse.requests.length >= 1, 'a Langfuse request (that will hang)');
    assert.equal(await metricSum(gw, 'tollgate_requests_total', { alias: 'chat', status_class: '2xx' }), 40);
    assert.ok(await metricSum(gw, 'tollgate_telemetry_dropped_total', { exporter: 'otlp', reason: 'queue_full' }) > 0, 'spans dropped at the full queue are counted');
    assert.ok(await metricSum(gw, 'tollgate_telemetry_dropped_total', { exporter: 'langfuse' }) > 0, 'Langfuse events dropped at the full queue are counted');
    const ready = await fetch(`${gw.url}/health/ready`);
    assert.equal(ready.status, 200);
  });
});
