import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import { PRICE_MISSING_METRIC } from '../../src/ledger/pricing/price-table.ts';
import { CallMetrics, LATENCY_BUCKETS, OVERHEAD_BUCKETS, statusClass } from '../../src/telemetry/call-metrics.ts';
import { newTimeline, type FinishedCall } from '../../src/telemetry/finished-call.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { ledgerEvent, type LedgerEventOverrides } from '../helpers/ledger-events.ts';
import { parseExposition, sampleValue, type Family } from './exposition.ts';

function call(overrides: LedgerEventOverrides = {}): FinishedCall {
  return { event: ledgerEvent(overrides), timeline: newTimeline(), receivedAt: 0, endedAt: 1, receivedAtEpochMs: 0, spanId: '00f067aa0ba902b7' };
}

async function scrape(metrics: Metrics): Promise<Map<string, Family>> {
  return parseExposition(await metrics.render());
}

const ROUTE = { alias: 'support-quality', provider: 'openai' };

/** A refused call: no provider, no tokens, no cost. */
const refused = (status: LedgerEvent['outcome']['status'], code: string, http: number, tier: string | null = null): LedgerEventOverrides => ({
  provider: null, deployment_id: null, model_resolved: null, region: null,
  usage: { input: 0, output: 0, cached_input: 0, total: 0 },
  cost_usd: { input: 0, output: 0, total: 0 },
  latency_ms: { gateway: 0.2, provider: null, ttft: null, total: 0.2 },
  outcome: { status, error_code: code, http_status: http, attempts: 0, fallback_chain: [], rate_limit_tier: tier },
});

test('a served call: requests, latency histograms, tokens and cost', async () => {
  const metrics = new Metrics();
  const observer = new CallMetrics(metrics);
  assert.equal(observer.name, 'metrics');
  observer.observe(call());
  observer.observe(call({ usage: { input: 100, output: 10, cached_input: 0, cache_write: 20, reasoning: 5 }, cost_usd: { total: 0.001 }, latency_ms: { gateway: 0.3, provider: 45, total: 45.3 } }));
  const f = await scrape(metrics);
  assert.equal(sampleValue(f, 'tollgate_requests_total', { ...ROUTE, deployment: 'openai-eu', status_class: '2xx', code: '' }), 2);
  assert.equal(sampleValue(f, 'tollgate_request_duration_seconds_count', ROUTE), 2);
  assert.ok(Math.abs(sampleValue(f, 'tollgate_request_duration_seconds_sum', ROUTE)! - (0.81261 + 0.0453)) < 1e-9);
  assert.equal(sampleValue(f, 'tollgate_request_duration_seconds_bucket', { ...ROUTE, le: '0.05' }), 1);
  assert.equal(sampleValue(f, 'tollgate_request_duration_seconds_bucket', { ...ROUTE, le: '1' }), 2);
  assert.equal(sampleValue(f, 'tollgate_upstream_duration_seconds_bucket', { ...ROUTE, le: '0.5' }), 1, '45 ms in, 812 ms not');
  assert.equal(sampleValue(f, 'tollgate_upstream_duration_seconds_count', ROUTE), 2);
  assert.equal(sampleValue(f, 'tollgate_gateway_overhead_seconds_bucket', { ...ROUTE, le: '0.00025' }), 0);
  assert.equal(sampleValue(f, 'tollgate_gateway_overhead_seconds_bucket', { ...ROUTE, le: '0.0005' }), 2, '0.41 ms and 0.3 ms');
  assert.equal(sampleValue(f, 'tollgate_time_to_first_token_seconds_count', ROUTE), undefined, 'not a stream');
  const tokens = (kind: string) => sampleValue(f, 'tollgate_tokens_total', { ...ROUTE, kind });
  assert.equal(tokens('input'), 1300);
  assert.equal(tokens('output'), 320);
  assert.equal(tokens('cached_input'), 1024);
  assert.equal(tokens('cache_write'), 20);
  assert.equal(tokens('reasoning'), 5);
  assert.ok(Math.abs(sampleValue(f, 'tollgate_cost_usd_total', ROUTE)! - 0.00586) < 1e-12);
  // Histograms carry alias and provider only.
  for (const name of ['tollgate_request_duration_seconds', 'tollgate_upstream_duration_seconds', 'tollgate_gateway_overhead_seconds']) {
    for (const s of f.get(name)!.samples) assert.deepEqual(Object.keys(s.labels).filter((k) => k !== 'le').sort(), ['alias', 'provider'], name);
  }
});

test('the histograms use the documented buckets', async () => {
  const metrics = new Metrics();
  new CallMetrics(metrics).observe(call({ stream: true, latency_ms: { ttft: 120 } }));
  const f = await scrape(metrics);
  const bounds = (name: string) => f.get(name)!.samples.filter((s) => s.name === `${name}_bucket`).map((s) => s.labels.le);
  const expected = (buckets: readonly number[]) => [...buckets.map(String), '+Inf'];
  assert.deepEqual(bounds('tollgate_request_duration_seconds'), expected(LATENCY_BUCKETS));
  assert.deepEqual(bounds('tollgate_upstream_duration_seconds'), expected(LATENCY_BUCKETS));
  assert.deepEqual(bounds('tollgate_time_to_first_token_seconds'), expected(LATENCY_BUCKETS));
  assert.deepEqual(bounds('tollgate_gateway_overhead_seconds'), expected(OVERHEAD_BUCKETS));
  assert.equal(LATENCY_BUCKETS[0], 0.001);
  assert.ok(LATENCY_BUCKETS.includes(60));
});

test('streams record time to first token', async () => {
  const metrics = new Metrics();
  const observer = new CallMetrics(metrics);
  observer.observe(call({ stream: true, latency_ms: { ttft: 120 } }));
  observer.observe(call({ stream: true, latency_ms: { ttft: null } }));
  const f = await scrape(metrics);
  assert.equal(sampleValue(f, 'tollgate_time_to_first_token_seconds_count', ROUTE), 1);
  assert.equal(sampleValue(f, 'tollgate_time_to_first_token_seconds_bucket', { ...ROUTE, le: '0.1' }), 0);
  assert.equal(sampleValue(f, 'tollgate_time_to_first_token_seconds_bucket', { ...ROUTE, le: '0.25' }), 1);
});

test('refused and failed calls: status class, error code, limit type and scope; no provider time, tokens or cost', async () => {
  const metrics = new Metrics();
  const observer = new CallMetrics(metrics);
  observer.observe(call(refused('rate_limited', 'rate_limited', 429, 'requests_per_minute:key')));
  observer.observe(call(refused('rate_limited', 'rate_limited', 429, 'requests_per_minute:key')));
  observer.observe(call(refused('budget_blocked', 'budget_exceeded', 429, 'budget_usd:team')));
  observer.observe(call(refused('invalid_request', 'invalid_request', 400)));
  observer.observe(call({ outcome: { status: 'upstream_error', error_code: 'upstream_server_error', http_status: 502 }, usage: { input: 0, output: 0, cached_input: 0 }, cost_usd: { total: 0 } }));
  const f = await scrape(metrics);
  const noRoute = { alias: 'support-quality', provider: '', deployment: '' };
  assert.equal(sampleValue(f, 'tollgate_requests_total', { ...noRoute, status_class: '4xx', code: 'rate_limited' }), 2);
  assert.equal(sampleValue(f, 'tollgate_requests_total', { ...noRoute, status_class: '4xx', code: 'budget_exceeded' }), 1);
  assert.equal(sampleValue(f, 'tollgate_requests_total', { ...noRoute, status_class: '4xx', code: 'invalid_request' }), 1);
  assert.equal(sampleValue(f, 'tollgate_requests_total', { ...ROUTE, deployment: 'openai-eu', status_class: '5xx', code: 'upstream_server_error' }), 1);
  assert.equal(sampleValue(f, 'tollgate_rate_limited_total', { type: 'requests_per_minute', scope: 'key' }), 2);
  assert.equal(sampleValue(f, 'tollgate_rate_limited_total', { type: 'budget_usd', scope: 'team' }), 1);
  assert.equal(sampleValue(f, 'tollgate_upstream_duration_seconds_count', { alias: 'support-quality', provider: '' }), undefined);
  assert.equal(sampleValue(f, 'tollgate_request_duration_seconds_count', { alias: 'support-quality', provider: '' }), 4);
  assert.deepEqual(f.get('tollgate_tokens_total')!.samples, [], 'no zero token series');
  assert.deepEqual(f.get('tollgate_cost_usd_total')!.samples, []);
});

test('status classes', () => {
  assert.equal(statusClass(200), '2xx');
  assert.equal(statusClass(299), '2xx');
  assert.equal(statusClass(404), '4xx');
  assert.equal(statusClass(429), '4xx');
  assert.equal(statusClass(499), '4xx');
  assert.equal(statusClass(503), '5xx');
  assert.equal(statusClass(0), 'other');
  assert.equal(statusClass(600), 'other');
});

test('a model name the gateway does not serve is recorded as "unknown"', async () => {
  const metrics = new Metrics();
  new CallMetrics(metrics).observe(call({ model_alias: 'made-up-1', ...refused('invalid_request', 'model_not_found', 404) }));
  const strict = new Metrics();
  const observer = new CallMetrics(strict, { isAlias: (name) => name === 'support-quality' });
  observer.observe(call({ model_alias: 'made-up-2', ...refused('invalid_request', 'invalid_request', 400) }));
  observer.observe(call());
  const unknown = { alias: 'unknown', provider: '', deployment: '' };
  assert.equal(sampleValue(await scrape(metrics), 'tollgate_requests_total', { ...unknown, status_class: '4xx', code: 'model_not_found' }), 1);
  const f = await scrape(strict);
  assert.equal(sampleValue(f, 'tollgate_requests_total', { ...unknown, status_class: '4xx', code: 'invalid_request' }), 1);
  assert.equal(sampleValue(f, 'tollgate_requests_total', { ...ROUTE, deployment: 'openai-eu', status_class: '2xx', code: '' }), 1);
});

test('cache: hits and what they saved; misses only when the cache is on, for calls that got past the limits', async () => {
  const off = new Metrics();
  const on = new Metrics();
  const observers = [new CallMetrics(off), new CallMetrics(on, { cacheEnabled: true })];
  for (const observer of observers) {
    observer.observe(call({ cache_hit: true, outcome: { status: 'cache_hit' }, cost_usd: { total: 0, saved: 0.004 }, latency_ms: { provider: null } }));
    observer.observe(call());
    observer.observe(call(refused('rate_limited', 'rate_limited', 429, 'tokens_per_minute:tenant')));
  }
  let f = await scrape(off);
  assert.equal(sampleValue(f, 'tollgate_cache_requests_total', { result: 'hit' }), 1);
  assert.equal(sampleValue(f, 'tollgate_cache_requests_total', { result: 'miss' }), undefined);
  assert.equal(sampleValue(f, 'tollgate_cache_saved_usd_total'), 0.004);
  f = await scrape(on);
  assert.equal(sampleValue(f, 'tollgate_cache_requests_total', { result: 'hit' }), 1);
  assert.equal(sampleValue(f, 'tollgate_cache_requests_total', { result: 'miss' }), 1, 'the refused call never asked the cache');
});

test('price_missing is counted only when asked (the ledger counts it otherwise)', async () => {
  const metrics = new Metrics();
  new CallMetrics(metrics).observe(call({ cost_usd: { total: 0, price_missing: true } }));
  assert.equal((await scrape(metrics)).has(PRICE_MISSING_METRIC), false);
  const counting = new Metrics();
  new CallMetrics(counting, { countPriceMissing: true }).observe(call({ cost_usd: { total: 0, price_missing: true } }));
  assert.equal(sampleValue(await scrape(counting), PRICE_MISSING_METRIC, { deployment: 'openai-eu' }), 1);
});

test('per-tenant series are off by default', async () => {
  const metrics = new Metrics();
  new CallMetrics(metrics).observe(call());
  const f = await scrape(metrics);
  assert.equal(f.has('tollgate_tenant_requests_total'), false);
  assert.equal(f.has('tollgate_tenant_cost_usd_total'), false);
});

test('per-tenant series: the first `max` tenants by name, every later one as "other", never more than max + 1', async () => {
  const metrics = new Metrics();
  const observer = new CallMetrics(metrics, { tenantLabels: { enabled: true, max: 2 } });
  for (const tenant of ['acme', 'globex', 'initech', 'umbrella', 'acme', 'hooli']) observer.observe(call({ tenant_id: tenant, cost_usd: { total: 0.5 } }));
  observer.observe(call({ tenant_id: 'globex', ...refused('rate_limited', 'rate_limited', 429, 'requests_per_minute:tenant') }));
  observer.observe(call({ tenant_id: null }));
  const f = await scrape(metrics);
  const requests = (tenant: string, status_class = '2xx') => sampleValue(f, 'tollgate_tenant_requests_total', { tenant, status_class });
  assert.equal(requests('acme'), 2);
  assert.equal(requests('globex'), 1);
  assert.equal(requests('globex', '4xx'), 1);
  assert.equal(requests('other'), 3, 'initech, umbrella, hooli');
  assert.deepEqual([...new Set(f.get('tollgate_tenant_requests_total')!.samples.map((s) => s.labels.tenant))].sort(), ['acme', 'globex', 'other']);
  assert.equal(sampleValue(f, 'tollgate_tenant_cost_usd_total', { tenant: 'acme' }), 1);
  assert.equal(sampleValue(f, 'tollgate_tenant_cost_usd_total', { tenant: 'other' }), 1.5);
  assert.equal(f.get('tollgate_tenant_cost_usd_total')!.samples.length, 3);
  // Many more tenants: still three names.
  for (let i = 0; i < 500; i++) observer.observe(call({ tenant_id: `t-${i}` }));
  const after = await scrape(metrics);
  assert.deepEqual([...new Set(after.get('tollgate_tenant_requests_total')!.samples.map((s) => s.labels.tenant))].sort(), ['acme', 'globex', 'other']);
  assert.equal(sampleValue(after, 'tollgate_tenant_requests_total', { tenant: 'other', status_class: '2xx' }), 503);
});

test('the per-metric series cap holds against many distinct label sets; what is dropped is counted', async () => {
  const metrics = new Metrics({ maxSeriesPerMetric: 5 });
  const observer = new CallMetrics(metrics, { maxCachedLabelSets: 3 });
  for (let i = 0; i < 20; i++) observer.observe(call({ deployment_id: `dep-${i}` }));
  const f = await scrape(metrics);
  assert.equal(f.get('tollgate_requests_total')!.samples.length, 5);
  assert.equal(sampleValue(f, 'tollgate_metrics_series_dropped_total', { metric: 'tollgate_requests_total' }), 15);
  const total = f.get('tollgate_requests_total')!.samples.reduce((sum, s) => sum + s.value, 0);
  assert.equal(total, 5, 'each kept series counted its own call once, cached or not');
});

test('observe() never throws, even for a malformed event', () => {
  const observer = new CallMetrics(new Metrics(), { tenantLabels: { enabled: true, max: 10 } });
  const broken = { ...call(), event: { ...ledgerEvent(), usage: undefined } } as unknown as FinishedCall;
  assert.doesNotThrow(() => observer.observe(broken));
  assert.doesNotThrow(() => observer.observe(call({ usage: { input: Number.NaN, output: -3 }, cost_usd: { total: Number.NaN }, latency_ms: { total: Number.NaN, gateway: -1 } })));
});

test('close() resolves', async () => {
  await new CallMetrics(new Metrics()).close();
});
