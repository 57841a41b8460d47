// Each upstream attempt has its own span (gateway.provider), and the traceparent it sends names
// that span as the parent: unit-level against dispatch (src/pipeline/dispatch.ts) with a fake
// transport, and end to end through a gateway whose first attempt fails and is retried.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { callUpstream } from '../../src/pipeline/dispatch.ts';
import { ClientWatchSlot, createRequestContext } from '../../src/pipeline/request-context.ts';
import { startAttempt } from '../../src/pipeline/timeline-marks.ts';
import { providerFor } from '../../src/providers/registry.ts';
import type { SendOptions, Transport, UpstreamRequest, UpstreamResponse } from '../../src/providers/types.ts';
import { deployment } from '../helpers/deployments.ts';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { chat, faultDeployment, fastRouterYaml } from '../helpers/reliability.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A transport that keeps the requests it is given and answers `status` with an empty JSON body. */
function recordingTransport(status: number): Transport & { readonly sent: UpstreamRequest[] } {
  const sent: UpstreamRequest[] = [];
  return {
    sent,
    async send(req: UpstreamRequest, _options: SendOptions): Promise<UpstreamResponse> {
      sent.push({ ...req, headers: { ...req.headers } });
      return { status, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from('{}')]) };
    },
    async close() {},
  };
}

describe('dispatch', () => {
  const dep = deployment('dep-1', { provider: 'openai', model: 'gpt-4o-mini' });
  const adapter = providerFor('openai');
  const time = { deadline: performance.now() + 60_000, strict: false };
  const request = (): UpstreamRequest => ({ origin: 'http://upstream.invalid', path: '/v1/chat/completions', method: 'POST', headers: {}, body: '{}' });

  test('sends traceparent with the attempt\'s span id, in the client\'s trace, with its flags', async () => {
    const ctx = createRequestContext({ traceparent: `00-${TRACE}-${CLIENT_SPAN}-01`, 'x-request-id': 'req-tp-1' }, performance.now(), new ClientWatchSlot());
    const transport = recordingTransport(200);
    const mark = startAttempt(ctx.timeline, 'chat', dep, performance.now());
    const call = await callUpstream({ transportFor: () => transport }, ctx, dep, adapter, request(), false, time, mark);
    call.done();
    assert.equal(transport.sent[0]!.headers.traceparent, `00-${TRACE}-${mark.spanId}-01`);
    assert.match(mark.spanId, /^[0-9a-f]{16}$/);
    assert.notEqual(mark.spanId, ctx.trace.spanId, 'the attempt\'s span, not the request\'s');
    assert.notEqual(mark.spanId, CLIENT_SPAN);
    assert.equal(mark.httpStatus, 200);
    assert.deepEqual(ctx.timeline.attempts, [mark]);
  });

  test('each attempt sends its own span id; an error status is noted on the attempt', async () => {
    const ctx = createRequestContext({}, performance.now(), new ClientWatchSlot());
    const transport = recordingTransport(500);
    const first = startAttempt(ctx.timeline, 'chat', dep, performance.now());
    await assert.rejects(callUpstream({ transportFor: () => transport }, ctx, dep, adapter, request(), false, time, first));
    assert.equal(first.httpStatus, 500);
    const second = startAttempt(ctx.timeline, 'chat', dep, performance.now());
    await assert.rejects(callUpstream({ transportFor: () => transport }, ctx, dep, adapter, request(), false, time, second));
    const [a, b] = transport.sent.map((r) => TRACEPARENT.exec(r.headers.traceparent!)!);
    assert.equal(a![1], ctx.trace.traceId);
    assert.equal(b![1], ctx.trace.traceId);
    assert.equal(a![2], first.spanId);
    assert.equal(b![2], second.spanId);
    assert.notEqual(first.spanId, second.spanId);
  });
});

describe('end to end: a retried request', () => {
  const MASTER_KEY = 'sk-master-attempt-traceparent-01';
  let up: FaultUpstream;
  let gw: TestGateway;

  before(async () => {
    up = await startFaultUpstream();
    const yaml = `${fastRouterYaml(MASTER_KEY, 'backoff: { initial_ms: 1, max_ms: 2 }\ndisable_cooldowns: true')}models:
  flaky:
    deployments:
${faultDeployment(up.baseURL, 'dep-flaky', 'flaky-model')}
`;
    gw = await startTestGateway(yaml);
  });

  after(async () => {
    await gw?.shutdown();
    await up?.close();
  });

  test('each upstream attempt carries the client\'s trace id and a span id of its own', async () => {
    up.script('flaky-model', { kind: 'status', status: 500 });
    const answer = await chat(gw, MASTER_KEY, 'flaky', { traceparent: `00-${TRACE}-${CLIENT_SPAN}-01` });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
    const sent = up.requests.filter((r) => r.model === 'flaky-model').map((r) => TRACEPARENT.exec(String(r.headers.traceparent)));
    assert.equal(sent.length, 2);
    for (const match of sent) {
      assert.ok(match, 'a W3C traceparent');
      assert.equal(match[1], TRACE);
      assert.equal(match[3], '01');
      assert.notEqual(match[2], CLIENT_SPAN);
    }
    assert.notEqual(sent[0]![2], sent[1]![2], 'the retry is a span of its own');
  });
});
