import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/telemetry/metrics.ts';

test('counters count per label set, whatever the order the labels are given in', () => {
  const metrics = new Metrics();
  const requests = metrics.counter('tollgate_requests_total', 'Requests.');
  requests.inc();
  requests.inc(undefined, 2);
  requests.inc({}, 1);
  assert.equal(requests.get(), 4, 'no labels and {} are the same series');
  requests.inc({ model: 'gpt-4o', status: '200' });
  requests.inc({ status: '200', model: 'gpt-4o' }, 5);
  assert.equal(requests.get({ model: 'gpt-4o', status: '200' }), 6);
  assert.equal(requests.get({ model: 'gpt-4o', status: '500' }), 0, 'an unseen series reads as 0');
  assert.throws(() => requests.inc(undefined, -1), RangeError, 'counters only go up');
  assert.throws(() => requests.inc(undefined, Number.NaN), RangeError);
});

test('the same name returns the same metric; a different help or kind is refused', () => {
  const metrics = new Metrics();
  const a = metrics.counter('x_total', 'X.');
  assert.equal(metrics.counter('x_total', 'X.'), a);
  assert.throws(() => metrics.counter('x_total', 'Something else.'), /different help/);
  assert.throws(() => metrics.gauge('x_total', 'X.'), /already registered as a counter/);
});

test('gauges hold the last value set', () => {
  const metrics = new Metrics();
  const inFlight = metrics.gauge('tollgate_in_flight', 'Requests in flight.');
  inFlight.set(undefined, 3);
  inFlight.set(undefined, 1);
  inFlight.set({ pool: 'a' }, -2.5);
  assert.equal(inFlight.get(), 1);
  assert.equal(inFlight.get({ pool: 'a' }), -2.5);
});

test('render writes the text exposition format, escaping label values and help', () => {
  const metrics = new Metrics();
  const requests = metrics.counter('tollgate_requests_total', 'Requests handled.\nBy model.');
  requests.inc({ status: '200', model: 'gpt-4o' }, 3);
  requests.inc({ model: 'a"b\\c\nd', status: '500' });
  const spend = metrics.gauge('tollgate_budget_spent_usd', 'Spend in a period, back\\slash.');
  spend.set(undefined, 1e21);
  spend.set({ team: 'payments' }, 0.25);
  spend.set({ team: 'nan' }, Number.NaN);
  spend.set({ team: 'inf' }, -Infinity);
  metrics.gauge('tollgate_unused', 'Never set.');
  assert.equal(
    metrics.render(),
    [
      '# HELP tollgate_requests_total Requests handled.\\nBy model.',
      '# TYPE tollgate_requests_total counter',
      'tollgate_requests_total{model="gpt-4o",status="200"} 3',
      'tollgate_requests_total{model="a\\"b\\\\c\\nd",status="500"} 1',
      '# HELP tollgate_budget_spent_usd Spend in a period, back\\\\slash.',
      '# TYPE tollgate_budget_spent_usd gauge',
      'tollgate_budget_spent_usd 1000000000000000000000',
      'tollgate_budget_spent_usd{team="payments"} 0.25',
      'tollgate_budget_spent_usd{team="nan"} NaN',
      'tollgate_budget_spent_usd{team="inf"} -Inf',
      '# HELP tollgate_unused Never set.',
      '# TYPE tollgate_unused gauge',
      '',
    ].join('\n'),
  );
  assert.equal(new Metrics().render(), '', 'an empty registry renders nothing');
});

test('series beyond the cap are dropped and counted, existing ones keep counting', () => {
  const metrics = new Metrics({ maxSeriesPerMetric: 2 });
  const byUser = metrics.counter('by_user_total', 'Per user.');
  byUser.inc({ user: 'a' });
  byUser.inc({ user: 'b' });
  byUser.inc({ user: 'c' });
  byUser.inc({ user: 'd' });
  byUser.inc({ user: 'a' });
  assert.equal(byUser.get({ user: 'a' }), 2);
  assert.equal(byUser.get({ user: 'c' }), 0);
  const gauge = metrics.gauge('by_pool', 'Per pool.');
  gauge.set({ pool: '1' }, 1);
  gauge.set({ pool: '2' }, 1);
  gauge.set({ pool: '3' }, 1);
  const dropped = metrics.counter('tollgate_metrics_series_dropped_total', 'Series not recorded because their metric already had the maximum number of series.');
  assert.equal(dropped.get({ metric: 'by_user_total' }), 2);
  assert.equal(dropped.get({ metric: 'by_pool' }), 1);
  assert.match(metrics.render(), /^tollgate_metrics_series_dropped_total\{metric="by_user_total"\} 2$/m);
  assert.doesNotMatch(metrics.render(), /user="c"/);
});

test('bad metric and label names are refused', () => {
  const metrics = new Metrics();
  for (const name of ['', '1abc', 'a-b', 'a b', 'é']) {
    assert.throws(() => metrics.counter(name, 'Bad.'), /invalid metric name/, name);
  }
  assert.ok(metrics.gauge('ns:sub_name', 'Colons are allowed in metric names.'));
  const counter = metrics.counter('ok_total', 'Ok.');
  for (const label of ['a-b', '1x', 'a:b', '']) {
    assert.throws(() => counter.inc({ [label]: 'v' }), /invalid metric label name/, label);
  }
  assert.equal(metrics.render().includes('ok_total{'), false, 'nothing recorded for a bad label');
  assert.throws(() => new Metrics({ maxSeriesPerMetric: 0 }), RangeError);
});
