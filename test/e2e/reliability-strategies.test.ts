// Routing strategies end to end over real HTTP, each alias backed by deployments of the fault
// upstream that answer with its model name: where the traffic goes is read from the gateway's
// x-gateway-deployment header and checked against the upstream's own request counts.
//
//   latency-based  converges on the deployment with the lower moving average (whole calls by
//                  latency, streams by time to first token)
//   cost-based     sends everything to the cheapest priced deployment
//   least-busy     sends new requests to the deployment with fewer calls in flight
//   order tiers    order 1 serves everything while healthy; order 2 takes over while it cools
//   ordered        the first deployment in config order
//   usage-based    provisioned capacity (rpm) first while it has headroom this minute, then
//                  pay-as-you-go
//   simple-shuffle by weight (3:1 → about 75/25)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { chatWire, eventually, providerRows, type WireAnswer } from '../helpers/sse-wire.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-reliability-strategies-0001';
const UPSTREAM_KEY = 'sk-upstream-reliability-strategies-0001';

let upstream: FaultUpstream;
let gw: TestGateway;

function dep(id: string, extra = ''): string {
  return `      - { id: ${id}, provider: openai_compatible, model: ${id}, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY}${extra ? `, ${extra}` : ''} }`;
}

before(async () => {
  upstream = await startFaultUpstream();
  gw = await startTestGateway(`
general_settings:
  master_key: ${MASTER_KEY}
# One retry, no backoff wait; a deployment cools down after its second failure in a minute.
router: { num_retries: 1, allowed_fails: 1, cooldown_ms: 60000, backoff: { initial_ms: 0, max_ms: 0 } }
models:
  latency:
    routing: { strategy: latency-based }
    deployments:
${dep('lat-slow')}
${dep('lat-fast')}
  latency-stream:
    routing: { strategy: latency-based }
    deployments:
${dep('ttft-slow')}
${dep('ttft-fast')}
  cost:
    routing: { strategy: cost-based }
    deployments:
${dep('cost-unpriced')}
${dep('cost-high', 'input_cost_per_token: 0.00001, output_cost_per_token: 0.00003')}
${dep('cost-low', 'input_cost_per_token: 0.000001, output_cost_per_token: 0.000002')}
${dep('cost-mid', 'input_cost_per_token: 0.000002, output_cost_per_token: 0.000002')}
  busy:
    routing: { strategy: least-busy }
    deployments:
${dep('busy-a')}
${dep('busy-b')}
  busy-pair:
    routing: { strategy: least-busy }
    deployments:
${dep('pair-a')}
${dep('pair-b')}
  tiers:
    # Enough retries to try both order-1 deployments and then order 2.
    routing: { num_retries: 2 }
    deployments:
${dep('tier-2', 'order: 2')}
${dep('tier-1a', 'order: 1')}
${dep('tier-1b', 'order: 1')}
  ordered:
    routing: { strategy: ordered }
    deployments:
${dep('ord-first')}
${dep('ord-second')}
  usage:
    routing: { strategy: usage-based }
    deployments:
${dep('usage-payg')}
${dep('usage-prov', 'rpm: 5')}
  shuffle:
    deployments:
${dep('shuf-heavy', 'weight: 3')}
${dep('shuf-light', 'weight: 1')}
`);
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

async function call(model: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<WireAnswer> {
  const answer = await chatWire(gw.baseURL, MASTER_KEY, { model, ...body }, headers);
  assert.equal(answer.status, 200, answer.text);
  return answer;
}

/** Where `n` sequential calls to `model` went: deployment id → count. */
async function spread(model: string, n: number, body: Record<string, unknown> = {}): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const served = (await call(model, body)).headers.get('x-gateway-deployment')!;
    counts.set(served, (counts.get(served) ?? 0) + 1);
  }
  return counts;
}

describe('latency-based', () => {
  test('whole calls: after a warm-up, at least 80% of 40 requests go to the deployment answering in 5 ms rather than 60 ms', async () => {
    upstream.standing('lat-fast', { kind: 'ok', latencyMs: 5 });
    upstream.standing('lat-slow', { kind: 'ok', latencyMs: 60 });
    const warmup = await spread('latency', 6);
    assert.ok(upstream.count('lat-slow') >= 1 && upstream.count('lat-fast') >= 1, `an unmeasured deployment is tried: ${JSON.stringify([...warmup])}`);
    const counts = await spread('latency', 40);
    assert.ok((counts.get('lat-fast') ?? 0) >= 32, `fast got ${counts.get('lat-fast') ?? 0} of 40`);
    const rows = await providerRows(gw.url, MASTER_KEY);
    assert.ok(rows.get('lat-fast').latency_ewma_ms < rows.get('lat-slow').latency_ewma_ms, JSON.stringify([rows.get('lat-fast'), rows.get('lat-slow')]));
    assert.ok(rows.get('lat-slow').latency_ewma_ms >= 55);
  });

  test('streams: judged by time to first token (5 ms vs 60 ms), at least 80% of 40 go to the fast one', async () => {
    upstream.standing('ttft-fast', { kind: 'ok', ttftMs: 5 });
    upstream.standing('ttft-slow', { kind: 'ok', ttftMs: 60 });
    await spread('latency-stream', 6, { stream: true });
    assert.ok(upstream.count('ttft-slow') >= 1 && upstream.count('ttft-fast') >= 1);
    const counts = await spread('latency-stream', 40, { stream: true });
    assert.ok((counts.get('ttft-fast') ?? 0) >= 32, `fast got ${counts.get('ttft-fast') ?? 0} of 40`);
    const rows = await providerRows(gw.url, MASTER_KEY);
    assert.ok(rows.get('ttft-fast').ttft_ewma_ms < rows.get('ttft-slow').ttft_ewma_ms, JSON.stringify([rows.get('ttft-fast'), rows.get('ttft-slow')]));
  });
});

describe('cost-based', () => {
  test('every request goes to the cheapest priced deployment (unpriced ones come last)', async () => {
    const counts = await spread('cost', 20);
    assert.deepEqual([...counts], [['cost-low', 20]]);
    for (const id of ['cost-unpriced', 'cost-high', 'cost-mid']) assert.equal(upstream.count(id), 0, id);
  });
});

describe('least-busy', () => {
  test('with one deployment holding 3 hung calls, new requests all go to the idle one', async () => {
    upstream.standing('busy-a', { kind: 'hang' });
    const controller = new AbortController();
    // A fallback drill (admins only) pins the three hung calls to busy-a.
    const hung = Array.from({ length: 3 }, () => fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json', 'x-gateway-drill-block': 'busy-b' },
      body: JSON.stringify({ model: 'busy', messages: [{ role: 'user', content: 'hi' }] }),
    }).then((res) => res.text(), () => 'aborted'));
    try {
      await eventually('three calls in flight on busy-a', async () => upstream.count('busy-a'), (n) => n === 3);
      const rows = await providerRows(gw.url, MASTER_KEY);
      assert.equal(rows.get('busy-a').in_flight, 3);
      assert.equal(rows.get('busy-b').in_flight, 0);
      const counts = await spread('busy', 10);
      assert.deepEqual([...counts], [['busy-b', 10]]);
      assert.equal(upstream.count('busy-a'), 3);
    } finally {
      controller.abort();
      await Promise.all(hung);
    }
    await eventually('the hung calls are no longer in flight', () => providerRows(gw.url, MASTER_KEY), (rows) => rows.get('busy-a').in_flight === 0);
  });

  test('calls that stay in flight alternate: each new one goes to the deployment with fewer', async () => {
    upstream.standing('pair-a', { kind: 'hang' });
    upstream.standing('pair-b', { kind: 'hang' });
    const controller = new AbortController();
    const hung: Array<Promise<unknown>> = [];
    try {
      for (let i = 1; i <= 6; i++) {
        hung.push(fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          signal: controller.signal,
          headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'busy-pair', messages: [{ role: 'user', content: 'hi' }] }),
        }).then((res) => res.text(), () => 'aborted'));
        await eventually(`call ${i} reached the upstream`, async () => upstream.count('pair-a') + upstream.count('pair-b'), (n) => n === i);
        if (i % 2 === 0) assert.deepEqual([upstream.count('pair-a'), upstream.count('pair-b')], [i / 2, i / 2], `after ${i} calls in flight`);
      }
    } finally {
      controller.abort();
      await Promise.all(hung);
    }
  });
});

describe('priority tiers (order) and ordered', () => {
  test('order 1 serves everything while healthy, though an order-2 deployment is listed first', async () => {
    const counts = await spread('tiers', 20);
    assert.equal(counts.get('tier-2'), undefined, JSON.stringify([...counts]));
    assert.equal((counts.get('tier-1a') ?? 0) + (counts.get('tier-1b') ?? 0), 20);
    assert.ok((counts.get('tier-1a') ?? 0) > 0 && (counts.get('tier-1b') ?? 0) > 0, `both order-1 deployments share the traffic: ${JSON.stringify([...counts])}`);
  });

  test('when order 1 fails and cools down, order 2 takes over; /health/providers says why', async () => {
    upstream.standing('tier-1a', { kind: 'status', status: 500 });
    upstream.standing('tier-1b', { kind: 'status', status: 500 });
    // Each request tries both order-1 deployments, then order 2 serves it; each order-1
    // deployment cools after its second failure.
    for (let i = 0; i < 2; i++) {
      const answer = await call('tiers');
      assert.equal(answer.headers.get('x-gateway-deployment'), 'tier-2');
      assert.equal(answer.headers.get('x-gateway-attempts'), '3');
      assert.equal(answer.json.choices[0].message.content, 'served by tier-2');
    }
    const rows = await providerRows(gw.url, MASTER_KEY);
    for (const id of ['tier-1a', 'tier-1b']) {
      const row = rows.get(id);
      assert.equal(row.state, 'cooling', JSON.stringify(row));
      assert.ok(Date.parse(row.cooldown_until) > Date.now() + 30_000, `cooling for the configured 60 s: ${row.cooldown_until}`);
      assert.equal(row.last_error.code, 'upstream_error');
      assert.match(row.last_error.message, /returned 500/);
    }
    assert.equal(rows.get('tier-2').state, 'healthy');
    const before = upstream.count('tier-1a') + upstream.count('tier-1b');
    for (let i = 0; i < 10; i++) {
      const answer = await call('tiers');
      assert.equal(answer.headers.get('x-gateway-deployment'), 'tier-2');
      assert.equal(answer.headers.get('x-gateway-attempts'), '1', 'no attempt on a cooling deployment');
    }
    assert.equal(upstream.count('tier-1a') + upstream.count('tier-1b'), before, 'nothing was sent to order 1 while it cooled');
  });

  test('ordered: the first deployment in config order serves everything', async () => {
    assert.deepEqual([...await spread('ordered', 15)], [['ord-first', 15]]);
  });
});

describe('usage-based', () => {
  test('a deployment with rpm 5 takes the first 5 requests of the minute, pay-as-you-go takes the rest', async () => {
    // This replica's per-minute counts start again at each minute: keep the 12 calls in one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 57_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 20));
    const served: string[] = [];
    for (let i = 0; i < 12; i++) {
      // A drill that blocks nothing real makes the gateway show the whole route: a deployment
      // refused by its own rpm limit (policy stage) would show up as skipped.
      const answer = await call('usage', {}, { 'x-gateway-drill-block': 'no-such-deployment' });
      served.push(answer.headers.get('x-gateway-deployment')!);
      assert.doesNotMatch(answer.headers.get('x-gateway-route') ?? '', /skipped/, 'the strategy chose; no limit refused');
    }
    assert.deepEqual(served, [...Array(5).fill('usage-prov'), ...Array(7).fill('usage-payg')]);
  });
});

describe('simple-shuffle', () => {
  test('weights 3:1 over 200 requests → roughly 75/25', async () => {
    const counts = new Map<string, number>();
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => call('shuffle')));
      for (const a of answers) {
        const id = a.headers.get('x-gateway-deployment')!;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    const heavy = counts.get('shuf-heavy') ?? 0;
    const light = counts.get('shuf-light') ?? 0;
    assert.equal(heavy + light, 200);
    // Expected 150 ± 6 (one standard deviation): 120..180 is ±5σ.
    assert.ok(heavy >= 120 && heavy <= 180, `heavy ${heavy}, light ${light}`);
  });
});
