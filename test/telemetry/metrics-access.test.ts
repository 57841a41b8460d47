// GET /metrics access: the bearer token (route) and the separate listener (admin-port mode).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { metricsTokenCheck } from '../../src/http/routes/metrics.ts';
import { startMetricsListener, type MetricsListener } from '../../src/telemetry/metrics-listener.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { parseExposition, sampleValue } from './exposition.ts';

const TOKEN = 'scrape-token-0123456789abcdef';
const listeners: MetricsListener[] = [];
after(async () => {
  await Promise.all(listeners.map((l) => l.close()));
});

async function listen(token?: string): Promise<{ metrics: Metrics; url: string }> {
  const metrics = new Metrics();
  metrics.counter('tollgate_requests_total', 'Requests.', ['alias']).inc({ alias: 'a' }, 3);
  const listener = await startMetricsListener({ metrics, port: 0, ...(token ? { token } : {}) });
  listeners.push(listener);
  return { metrics, url: listener.url };
}

test('the token check: missing, malformed and wrong tokens are refused with a Bearer challenge', () => {
  const check = metricsTokenCheck(TOKEN);
  assert.doesNotThrow(() => check(`Bearer ${TOKEN}`));
  assert.doesNotThrow(() => check(`bearer ${TOKEN}`), 'the scheme is case-insensitive');
  const refused = (header: string | undefined, code: string) => {
    try {
      check(header);
    } catch (error) {
      assert.ok(error instanceof GatewayError);
      assert.equal(error.code, code, String(header));
      assert.equal(error.status, 401);
      assert.match(error.headers?.['www-authenticate'] ?? '', /^Bearer /);
      return;
    }
    assert.fail(`accepted ${header}`);
  };
  refused(undefined, 'missing_api_key');
  refused('', 'missing_api_key');
  refused(`Basic ${TOKEN}`, 'missing_api_key');
  refused(`Bearer ${TOKEN} extra`, 'missing_api_key');
  refused('Bearer wrong', 'invalid_api_key');
  refused(`Bearer ${TOKEN}x`, 'invalid_api_key');
  refused(`Bearer ${TOKEN.slice(0, -1)}`, 'invalid_api_key');
  assert.throws(() => metricsTokenCheck(''), RangeError);
});

test('the listener serves GET /metrics in the Prometheus text format', async () => {
  const { url } = await listen();
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.ok(res.headers.get('x-request-id'));
  assert.equal(sampleValue(parseExposition(await res.text()), 'tollgate_requests_total', { alias: 'a' }), 3);
  const query = await fetch(`${url}/metrics?name[]=x`);
  assert.equal(query.status, 200, 'a query string is ignored');
  await query.text();
});

test('the listener serves nothing else', async () => {
  const { url } = await listen();
  const other = await fetch(`${url}/v1/models`);
  assert.equal(other.status, 404);
  assert.equal((await other.json() as { error: { code: string } }).error.code, 'route_not_found');
  const post = await fetch(`${url}/metrics`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET');
  await post.text();
});

test('with a token, scrapes must send it', async () => {
  const { url } = await listen(TOKEN);
  const none = await fetch(`${url}/metrics`);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
  assert.equal((await none.json() as { error: { code: string } }).error.code, 'missing_api_key');
  const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const body = await wrong.text();
  assert.equal(JSON.parse(body).error.code, 'invalid_api_key');
  assert.ok(!body.includes(TOKEN));
  const ok = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /^tollgate_requests_total\{alias="a"\} 3$/m);
});

test('a render that fails is a 500 with the error envelope', async () => {
  const metrics = new Metrics();
  const listener = await startMetricsListener({ metrics, port: 0 });
  listeners.push(listener);
  // Whatever breaks rendering (state gauges contain their own failures), the scrape gets an answer.
  (metrics as unknown as { render(): Promise<string> }).render = async () => {
    throw new Error('render broke');
  };
  const res = await fetch(`${listener.url}/metrics`);
  assert.equal(res.status, 500);
  assert.equal((await res.json() as { error: { code: string } }).error.code, 'internal_error');
});
