import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { parseExposition, sampleValue } from './exposition.ts';

const DROPPED_HELP = 'Series not recorded because their metric already had the maximum number of series.';

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
  assert.throws(() => requests.inc(undefined, Infinity), RangeError);
});

test('the same name returns the same metric; a different help or kind is refused', () => {
  const metrics = new Metrics();
  const a = metrics.counter('x_total', 'X.');
  assert.equal(metrics.counter('x_total', 'X.'), a);
  assert.throws(() => metrics.counter('x_total', 'Something else.'), /different help/);
  assert.throws(() => metrics.gauge('x_total', 'X.'), /already registered as a counter/);
  assert.throws(() => metrics.histogram('x_total', 'X.', [1]), /already registered as a counter/);
  metrics.stateGauge('state_now', 'State.', [], () => {});
  assert.throws(() => metrics.gauge('state_now', 'State.'), /already registered as a state gauge/);
  assert.throws(() => metrics.stateGauge('state_now', 'State.', [], () => {}), /already registered/);
  const h = metrics.histogram('h_seconds', 'H.', [0.1, 1], ['a']);
  assert.equal(metrics.histogram('h_seconds', 'H.', [0.1, 1], ['a']), h);
  assert.throws(() => metrics.histogram('h_seconds', 'H.', [0.1, 2], ['a']), /other buckets/);
  assert.throws(() => metrics.histogram('h_seconds', 'H.', [0.1, 1], ['b']), /declare its label names/);
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

test('render writes the text exposition format (prom-client), escaping label values and help', async () => {
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
  const text = await metrics.render();
  assert.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  // Lines as prom-client writes them: labels in name order, values as JavaScript prints them.
  for (const line of [
    '# HELP tollgate_requests_total Requests handled.\\nBy model.',
    '# TYPE tollgate_requests_total counter',
    'tollgate_requests_total{model="gpt-4o",status="200"} 3',
    'tollgate_requests_total{model="a\\"b\\\\c\\nd",status="500"} 1',
    '# HELP tollgate_budget_spent_usd Spend in a period, back\\\\slash.',
    'tollgate_budget_spent_usd 1e+21',
    'tollgate_budget_spent_usd{team="payments"} 0.25',
    'tollgate_budget_spent_usd{team="inf"} -Inf',
    '# TYPE tollgate_unused gauge',
  ]) assert.ok(text.split('\n').includes(line), `missing line: ${line}\n${text}`);
  const families = parseExposition(text);
  assert.equal(families.get('tollgate_requests_total')?.help, 'Requests handled.\nBy model.');
  assert.equal(sampleValue(families, 'tollgate_requests_total', { model: 'a"b\\c\nd', status: '500' }), 1, 'escaped values read back as sent');
  assert.ok(Number.isNaN(sampleValue(families, 'tollgate_budget_spent_usd', { team: 'nan' })));
  assert.equal(sampleValue(families, 'tollgate_budget_spent_usd'), 1e21);
  assert.deepEqual(families.get('tollgate_unused')?.samples, [], 'a gauge never set has no series');
});

test('an empty registry renders only its own bookkeeping metrics, with no series', async () => {
  const families = parseExposition(await new Metrics().render());
  assert.deepEqual([...families.keys()].sort(), ['tollgate_metrics_collect_failures_total', 'tollgate_metrics_series_dropped_total']);
  for (const family of families.values()) assert.deepEqual(family.samples, []);
});

test('label names are learnt from updates; a declared label-less metric reads 0 from the start', async () => {
  const metrics = new Metrics();
  const learnt = metrics.counter('learnt_total', 'Learnt.');
  const declared = metrics.counter('declared_total', 'Declared, no labels.', []);
  const byModel = metrics.counter('by_model_total', 'Declared with labels.', ['model']);
  let families = parseExposition(await metrics.render());
  assert.deepEqual(families.get('learnt_total')?.samples, [], 'no unlabelled 0 series for a metric whose labels are not known yet');
  assert.equal(sampleValue(families, 'declared_total'), 0);
  assert.deepEqual(families.get('by_model_total')?.samples, []);
  learnt.inc({ a: 'x' });
  learnt.inc({ a: 'x', b: 'y' }, 2); // a new label name widens the metric
  learnt.inc(undefined, 4);
  byModel.inc({ model: 'm', region: 'eu' });
  declared.inc();
  families = parseExposition(await metrics.render());
  assert.equal(sampleValue(families, 'learnt_total', { a: 'x' }), 1);
  assert.equal(sampleValue(families, 'learnt_total', { a: 'x', b: 'y' }), 2);
  assert.equal(sampleValue(families, 'learnt_total'), 4);
  assert.equal(sampleValue(families, 'by_model_total', { model: 'm', region: 'eu' }), 1);
  assert.equal(sampleValue(families, 'declared_total'), 1);
  assert.equal(learnt.get({ b: 'y', a: 'x' }), 2);
  // Asking again with more names declares them (no series is lost).
  metrics.counter('learnt_total', 'Learnt.', ['c']).inc({ c: 'z' });
  families = parseExposition(await metrics.render());
  assert.equal(sampleValue(families, 'learnt_total', { a: 'x', b: 'y' }), 2);
  assert.equal(sampleValue(families, 'learnt_total', { c: 'z' }), 1);
});

test('series beyond the cap are dropped and counted, existing ones keep counting', async () => {
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
  const hist = metrics.histogram('by_route_seconds', 'Per route.', [1], ['route']);
  hist.observe({ route: 'a' }, 0.5);
  hist.observe({ route: 'b' }, 0.5);
  hist.bind({ route: 'c' }).observe(0.5);
  const bound = byUser.bind({ user: 'e' });
  bound.inc();
  bound.inc();
  const dropped = metrics.counter('tollgate_metrics_series_dropped_total', DROPPED_HELP);
  assert.equal(dropped.get({ metric: 'by_user_total' }), 4);
  assert.equal(dropped.get({ metric: 'by_pool' }), 1);
  assert.equal(dropped.get({ metric: 'by_route_seconds' }), 1);
  const text = await metrics.render();
  assert.match(text, /^tollgate_metrics_series_dropped_total\{metric="by_user_total"\} 4$/m);
  assert.doesNotMatch(text, /user="[cde]"/);
  assert.doesNotMatch(text, /route="c"/);
});

test('bad metric and label names are refused', async () => {
  const metrics = new Metrics();
  for (const name of ['', '1abc', 'a-b', 'a b', 'é']) {
    assert.throws(() => metrics.counter(name, 'Bad.'), /invalid metric name/, name);
    assert.throws(() => metrics.histogram(name, 'Bad.', [1]), /invalid metric name/, name);
  }
  assert.ok(metrics.gauge('ns:sub_name', 'Colons are allowed in metric names.'));
  const counter = metrics.counter('ok_total', 'Ok.');
  for (const label of ['a-b', '1x', 'a:b', '']) {
    assert.throws(() => counter.inc({ [label]: 'v' }), /invalid metric label name/, label);
  }
  assert.throws(() => metrics.counter('declared_bad_total', 'Bad.', ['a-b']), /invalid metric label name/);
  assert.equal((await metrics.render()).includes('ok_total{'), false, 'nothing recorded for a bad label');
  assert.throws(() => new Metrics({ maxSeriesPerMetric: 0 }), RangeError);
});

test('histograms count observations in cumulative buckets, with _sum and _count', async () => {
  const metrics = new Metrics();
  const latency = metrics.histogram('latency_seconds', 'Latency.', [0.01, 0.1, 1], ['alias']);
  for (const v of [0.005, 0.01, 0.05, 0.5, 2]) latency.observe({ alias: 'a' }, v);
  latency.bind({ alias: 'b' }).observe(0.2);
  const families = parseExposition(await metrics.render());
  assert.equal(families.get('latency_seconds')?.type, 'histogram');
  const bucket = (alias: string, le: string) => sampleValue(families, 'latency_seconds_bucket', { alias, le });
  assert.equal(bucket('a', '0.01'), 2, 'upper bounds are inclusive');
  assert.equal(bucket('a', '0.1'), 3);
  assert.equal(bucket('a', '1'), 4);
  assert.equal(bucket('a', '+Inf'), 5);
  assert.equal(sampleValue(families, 'latency_seconds_count', { alias: 'a' }), 5);
  assert.ok(Math.abs(sampleValue(families, 'latency_seconds_sum', { alias: 'a' })! - 2.565) < 1e-9);
  assert.equal(bucket('b', '0.1'), 0);
  assert.equal(bucket('b', '1'), 1);
  assert.throws(() => latency.observe({ alias: 'a', other: 'x' }, 1), /declare its label names/);
  assert.throws(() => latency.observe({ alias: 'a' }, Number.NaN), RangeError);
  assert.throws(() => metrics.histogram('unsorted_seconds', 'U.', [1, 0.5]), /strictly increasing/);
  assert.throws(() => metrics.histogram('empty_seconds', 'E.', []), /strictly increasing/);
  assert.throws(() => metrics.histogram('le_seconds', 'L.', [1], ['le']), /reserved/);
});

test('a bound counter is the same series as inc() with its labels, and reads 0 before its first event', async () => {
  const metrics = new Metrics();
  const counter = metrics.counter('bound_total', 'Bound.', ['k']);
  const bound = counter.bind({ k: 'v' });
  assert.equal(sampleValue(parseExposition(await metrics.render()), 'bound_total', { k: 'v' }), 0);
  bound.inc();
  bound.inc(2);
  counter.inc({ k: 'v' });
  assert.equal(counter.get({ k: 'v' }), 4);
  assert.equal(sampleValue(parseExposition(await metrics.render()), 'bound_total', { k: 'v' }), 4);
  assert.throws(() => bound.inc(-1), RangeError);
});

test('state gauges are read at scrape time; series not set again disappear', async () => {
  const metrics = new Metrics();
  let states: Record<string, number> = { a: 1, b: 0 };
  let reads = 0;
  metrics.stateGauge('dep_state', 'State.', ['deployment'], (set) => {
    reads++;
    for (const [deployment, value] of Object.entries(states)) set({ deployment }, value);
  });
  assert.equal(reads, 0, 'nothing is read before a scrape');
  let families = parseExposition(await metrics.render());
  assert.equal(sampleValue(families, 'dep_state', { deployment: 'a' }), 1);
  assert.equal(sampleValue(families, 'dep_state', { deployment: 'b' }), 0);
  states = { b: 1 };
  families = parseExposition(await metrics.render());
  assert.equal(sampleValue(families, 'dep_state', { deployment: 'a' }), undefined);
  assert.equal(sampleValue(families, 'dep_state', { deployment: 'b' }), 1);
  assert.equal(reads, 2);
});

test('an async state gauge that fails or is too slow is left out of the scrape and counted; the scrape still answers', async () => {
  const errors: string[] = [];
  const metrics = new Metrics({ collectTimeoutMs: 30, onCollectError: (metric, error) => errors.push(`${metric}: ${(error as Error).message}`) });
  let mode: 'ok' | 'fail' | 'hang' | 'throw' = 'ok';
  metrics.stateGauge('budget_ratio', 'Ratio.', ['id'], async (set) => {
    if (mode === 'throw') throw new Error('store down');
    if (mode === 'hang') {
      set({ id: 'early' }, 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      set({ id: 'late' }, 1);
      return;
    }
    await Promise.resolve();
    if (mode === 'fail') throw new Error('read failed');
    set({ id: 'team-a' }, 0.5);
  });
  metrics.stateGauge('sync_fail', 'Sync.', [], () => {
    throw new Error('sync boom');
  });
  const failures = metrics.counter('tollgate_metrics_collect_failures_total', 'Scrapes in which a state gauge could not be read (error or timeout); its series were left out.');
  let families = parseExposition(await metrics.render());
  assert.equal(sampleValue(families, 'budget_ratio', { id: 'team-a' }), 0.5);
  assert.equal(failures.get({ metric: 'sync_fail' }), 1);
  for (const m of ['fail', 'throw', 'hang'] as const) {
    mode = m;
    families = parseExposition(await metrics.render());
    assert.deepEqual(families.get('budget_ratio')?.samples, [], `${m}: no stale or partial series`);
  }
  assert.equal(failures.get({ metric: 'budget_ratio' }), 3);
  assert.deepEqual(errors.filter((e) => e.startsWith('budget_ratio')).map((e) => e.replace(/within \d+ ms/, 'within N ms')), [
    'budget_ratio: read failed',
    'budget_ratio: store down',
    'budget_ratio: state gauge budget_ratio was not read within N ms',
  ]);
  await new Promise((resolve) => setTimeout(resolve, 250));
  mode = 'ok';
  families = parseExposition(await metrics.render());
  assert.deepEqual(families.get('budget_ratio')?.samples.map((s) => s.labels.id), ['team-a'], 'the late read of a timed-out scrape set nothing');
});

test('state gauges refuse labels they did not declare (counted as a failed read)', async () => {
  const metrics = new Metrics();
  metrics.stateGauge('strict_state', 'Strict.', ['a'], (set) => set({ b: 'x' }, 1));
  assert.deepEqual(parseExposition(await metrics.render()).get('strict_state')?.samples, []);
  // The failure counter is rendered before the gauge is read: a failure shows from the next scrape on.
  assert.equal(sampleValue(parseExposition(await metrics.render()), 'tollgate_metrics_collect_failures_total', { metric: 'strict_state' }), 1);
  assert.equal(metrics.counter('tollgate_metrics_collect_failures_total', 'Scrapes in which a state gauge could not be read (error or timeout); its series were left out.').get({ metric: 'strict_state' }), 2);
});

test('default metrics add the standard process and Node.js metrics', async () => {
  const metrics = new Metrics({ defaultMetrics: true });
  const families = parseExposition(await metrics.render());
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
    assert.ok(families.has(name), name);
  }
  assert.ok(!parseExposition(await new Metrics().render()).has('process_cpu_user_seconds_total'), 'off by default');
});
