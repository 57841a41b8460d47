// The Grafana dashboard in dashboards/ queries only metrics the gateway exports: every metric
// name in its PromQL is read off a running gateway's /metrics after a few calls.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startTestGateway } from '../helpers/test-gateway.ts';

const MASTER = 'sk-master-dashboard-test';
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../dashboards/tollgate-overview.json', import.meta.url), 'utf8')) as { panels: Panel[] };

/** The tollgate_* metric names a PromQL expression reads (histogram series map to their family). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\btollgate_[a-z0-9_]+/g)].map(([name]) => name.replace(HISTOGRAM_SERIES, ''));
}

test('the dashboard has the seven core panels', () => {
  const titles = dashboard.panels.map((panel) => panel.title);
  for (const wanted of [/spend by tenant/i, /p95 latency/i, /429 rate/i, /cache hit rate/i, /fallback rate/i, /error rate by provider/i, /budget burn-down/i]) {
    assert.ok(titles.some((title) => wanted.test(title)), `a panel matching ${wanted}: ${titles.join(', ')}`);
  }
});

test('every metric the dashboard queries is one the gateway exports', async () => {
  const gw = await startTestGateway(`
general_settings: { master_key: ${MASTER} }
metrics: { tenant_labels: { enabled: true, max: 10 } }
models:
  chat:
    deployments:
      - { id: sim, provider: simulator, model: sim-1, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }
`);
  try {
    const admin = (path: string, body: unknown) => fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await admin('/admin/teams', { team_id: 'dash', max_budget: 100, budget_duration: '1mo' })).status, 201);
    const created = await (await admin('/admin/keys', { team_id: 'dash' })).json() as { key: string };
    for (const stream of [false, true]) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json', 'x-tenant-id': 'acme' },
        body: JSON.stringify({ model: 'chat', stream, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200);
      await res.text();
    }
    const exposition = await (await fetch(`${gw.url}/metrics`)).text();
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name));
    const queried = new Set(dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((target) => metricNames(target.expr))));
    assert.ok(queried.size >= 10, `the dashboard queries ${[...queried].join(', ')}`);
    const missing = [...queried].filter((name) => !families.has(name));
    assert.deepEqual(missing, [], `queried by the dashboard but not exported: ${missing.join(', ')}`);
    // The histograms the latency panel reads are histograms, with buckets.
    assert.match(exposition, /^# TYPE tollgate_request_duration_seconds histogram$/m);
    assert.match(exposition, /^tollgate_request_duration_seconds_bucket\{/m);
    assert.match(exposition, /^tollgate_tenant_cost_usd_total\{tenant="acme"\} /m);
  } finally {
    await gw.shutdown();
  }
});
