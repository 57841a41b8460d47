// End to end: a gateway with the trace exporter as an observer, a fake upstream whose first
// answer fails, and a fake OTLP collector. The trace that arrives is the whole request: the
// client's span as parent, the stages the pipeline marked, and one provider span per attempt
// whose id is exactly the parent id that attempt sent upstream.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { startGateway, type RunningGateway } from '../../src/server.ts';
import { OtlpTraceObserver } from '../../src/telemetry/tracing/otlp-trace-observer.ts';
import { startFakeCollector, type FakeCollector } from '../helpers/fake-otlp-collector.ts';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { faultDeployment, fastRouterYaml } from '../helpers/reliability.ts';

const MASTER_KEY = 'sk-master-gateway-traces-0001';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

let up: FaultUpstream;
let collector: FakeCollector;
let observer: OtlpTraceObserver;
let gateway: RunningGateway;

before(async () => {
  up = await startFaultUpstream();
  collector = await startFakeCollector();
  const yaml = `${fastRouterYaml(MASTER_KEY, 'backoff: { initial_ms: 1, max_ms: 2 }\ndisable_cooldowns: true')}ledger:
  enabled: false
models:
  flaky:
    deployments:
${faultDeployment(up.baseURL, 'dep-flaky', 'flaky-model')}
`;
  const parsed = parseConfig(yaml, 'gateway-traces.yaml', { env: {}, overrides: { host: '127.0.0.1', port: 0 } });
  const config = { ...parsed, database: { ...parsed.database, url: 'sqlite::memory:' }, server: { ...parsed.server, shutdownGraceMs: 200 } };
  observer = new OtlpTraceObserver({ endpoint: collector.url, scheduledDelayMs: 10 });
  gateway = await startGateway({ config, logger: createLogger({ level: 'error', write: () => {} }), observers: [observer] });
});

after(async () => {
  await gateway?.shutdown();
  await observer?.close();
  await collector?.close();
  await up?.close();
});

test('a retried request arrives as one trace: request, stages, and a provider span per attempt with the id sent upstream', { timeout: 20_000 }, async () => {
  up.script('flaky-model', { kind: 'status', status: 500 });
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json', traceparent: `00-${TRACE}-${CLIENT_SPAN}-01`, 'x-request-id': 'req-traced-1' },
    body: JSON.stringify({ model: 'flaky', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  await res.text();

  const spans = (await collector.waitForSpans(1)).filter((s) => s.traceId === TRACE);
  const request = spans.find((s) => s.name === 'gateway.request')!;
  assert.ok(request, 'the request span arrived');
  assert.equal(request.parentSpanId, CLIENT_SPAN);
  assert.equal(request.attributes['tollgate.request_id'], 'req-traced-1');
  assert.equal(request.attributes['tollgate.attempts'], 2);
  assert.equal(request.attributes['http.response.status_code'], 200);
  assert.equal(request.attributes['gen_ai.request.model'], 'flaky');
  assert.equal(request.attributes['gen_ai.response.model'], 'flaky-model');

  const names = spans.map((s) => s.name);
  for (const stage of ['gateway.auth', 'gateway.route', 'gateway.policy']) assert.ok(names.includes(stage), `${stage} in ${names.join(', ')}`);
  for (const span of spans) if (span !== request) assert.equal(span.parentSpanId, request.spanId, span.name);

  const providers = spans.filter((s) => s.name === 'gateway.provider');
  assert.equal(providers.length, 2);
  const sentParents = up.requests.filter((r) => r.model === 'flaky-model').map((r) => String(r.headers.traceparent).split('-')[2]);
  assert.deepEqual(providers.map((s) => s.spanId), sentParents, 'each provider span is the parent its attempt sent upstream');
  const [failed, served] = providers;
  assert.equal(failed!.status.code, 2);
  assert.equal(failed!.attributes['http.response.status_code'], 500);
  assert.equal(typeof failed!.attributes['error.type'], 'string');
  assert.equal(served!.status.code ?? 0, 0);
  assert.equal(served!.attributes['http.response.status_code'], 200);
  assert.equal(served!.attributes['gen_ai.request.model'], 'flaky-model');
  // Every stage and attempt lies within the request.
  const start = BigInt(request.startTimeUnixNano);
  const end = BigInt(request.endTimeUnixNano);
  for (const span of spans) {
    assert.ok(BigInt(span.startTimeUnixNano) >= start && BigInt(span.endTimeUnixNano) <= end, `${span.name} within the request`);
  }
  assert.ok(BigInt(failed!.endTimeUnixNano) <= BigInt(served!.startTimeUnixNano), 'the retry starts after the failed attempt ended');
});
