// The `metrics:` config section (src/config/metrics-schema.ts) and the bounded tenant label.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricsSchema, metricsSettings } from '../../src/config/metrics-schema.ts';
import { BoundedLabel } from '../../src/telemetry/bounded-label.ts';

test('defaults: on, open, on the API port, no tenant series, process metrics', () => {
  const parsed = metricsSchema.parse(undefined);
  assert.deepEqual(parsed, { enabled: true, host: '127.0.0.1', tenant_labels: { enabled: false, max: 100 }, default_metrics: true });
  assert.deepEqual(metricsSettings(parsed), { enabled: true, host: '127.0.0.1', tenantLabels: { enabled: false, max: 100 }, defaultMetrics: true });
  assert.ok(Object.isFrozen(metricsSettings(parsed)));
});

test('every field, with values from the environment as strings', () => {
  const parsed = metricsSchema.parse({
    enabled: 'true', token: 'a-very-long-scrape-token-1234', port: '9464', host: '0.0.0.0',
    tenant_labels: { enabled: 'true', max: '250' }, default_metrics: 'false',
  });
  assert.deepEqual(metricsSettings(parsed), {
    enabled: true, token: 'a-very-long-scrape-token-1234', port: 9464, host: '0.0.0.0',
    tenantLabels: { enabled: true, max: 250 }, defaultMetrics: false,
  });
});

test('refused: unknown keys, short or spaced tokens, bad ports and tenant caps', () => {
  const fails = (input: unknown, path: string) => {
    const result = metricsSchema.safeParse(input);
    assert.equal(result.success, false, JSON.stringify(input));
    assert.ok(result.error!.issues.some((i) => i.path.join('.') === path || (i.code === 'unrecognized_keys' && path === '')), `${path}: ${JSON.stringify(result.error!.issues)}`);
  };
  fails({ tokn: 'x' }, '');
  fails({ tenant_labels: { enabled: true, maximum: 5 } }, 'tenant_labels');
  fails({ token: 'short' }, 'token');
  fails({ token: 'has a space in the middle!!' }, 'token');
  fails({ port: 0 }, 'port');
  fails({ port: 70000 }, 'port');
  fails({ tenant_labels: { max: 0 } }, 'tenant_labels.max');
  fails({ tenant_labels: { max: 1.5 } }, 'tenant_labels.max');
  fails({ tenant_labels: { max: 1_000_000 } }, 'tenant_labels.max');
});

test('a bounded label keeps its first `max` values and reports the rest as the overflow value', () => {
  const label = new BoundedLabel(2);
  assert.equal(label.of('a'), 'a');
  assert.equal(label.of('b'), 'b');
  assert.equal(label.of('c'), 'other');
  assert.equal(label.of('a'), 'a', 'an admitted value keeps its own series');
  assert.equal(label.size, 2);
  for (let i = 0; i < 1000; i++) label.of(`t${i}`);
  assert.equal(label.size, 2);
  assert.equal(new BoundedLabel(0, 'overflow').of('x'), 'overflow');
  assert.throws(() => new BoundedLabel(-1), RangeError);
  assert.throws(() => new BoundedLabel(1.5), RangeError);
});
