// The cooldown that keeps rules from flapping, per rule and subject, with an injected clock:
// one alert per episode, a resolved message once the condition has been clear for the
// cooldown, event alerts at most once per cooldown, and one sender across replicas.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineHarness, T0 } from './alert-fixtures.ts';

const MIN = 60_000;

test('a windowed alert is sent once while its condition holds or flickers; resolved after a calm cooldown; then it may fire again', () => {
  const h = engineHarness({ window_ms: 60_000, cooldown_ms: 15 * MIN });
  h.observe(20, { status: 'rate_limited' });
  for (let i = 0; i < 6; i++) {
    h.engine.evaluate();
    h.clock.now += 10_000;
  }
  assert.deepEqual(h.alerts.map((a) => a.state), ['firing'], 'one alert while it holds');

  // Clear (the window emptied) for 10 minutes, then it holds again: same episode, no new alert.
  h.clock.now += 10 * MIN;
  h.engine.evaluate();
  h.observe(20, { status: 'rate_limited' });
  h.engine.evaluate();
  assert.equal(h.alerts.length, 1, 'a flicker within the cooldown sends nothing');
  assert.equal(h.engine.stats().open, 1);

  // Clear again: resolved only once it has been clear for the whole cooldown.
  h.clock.now += 2 * MIN;
  h.engine.evaluate();
  h.clock.now += 15 * MIN - 1;
  h.engine.evaluate();
  assert.equal(h.alerts.length, 1, 'clear for a minute less than the cooldown: still open');
  h.clock.now += 1;
  h.engine.evaluate();
  assert.deepEqual(h.alerts.map((a) => a.state), ['firing', 'resolved']);
  const resolved = h.alerts[1];
  assert.equal(resolved.rule, 'rate_limited_rate');
  assert.equal(resolved.subject, 'gateway');
  assert.equal(resolved.message, 'Resolved: 429 rate has been back within its threshold for 15m.');
  assert.equal(h.engine.stats().open, 0);

  // A new episode.
  h.observe(20, { status: 'rate_limited' });
  h.engine.evaluate();
  assert.deepEqual(h.alerts.map((a) => a.state), ['firing', 'resolved', 'firing']);
  assert.equal(h.engine.stats().fired, 2);
  assert.equal(h.engine.stats().resolved, 1);
});

test('send_resolved: false ends episodes quietly', () => {
  const h = engineHarness({ window_ms: 60_000, cooldown_ms: MIN, send_resolved: false });
  h.observe(20, { status: 'rate_limited' });
  h.engine.evaluate();
  h.clock.now += 5 * MIN;
  h.engine.evaluate();
  h.clock.now += MIN;
  h.engine.evaluate();
  assert.deepEqual(h.alerts.map((a) => a.state), ['firing']);
  assert.equal(h.engine.stats().open, 0);
});

test('episodes are per subject: one provider\'s alert does not hold back another\'s', () => {
  const h = engineHarness({ rules: { provider_error_rate: { min_requests: 10 } } });
  h.observe(10, { provider: 'openai', status: 'upstream_error', errorCode: 'upstream_timeout', httpStatus: 504 });
  h.engine.evaluate();
  h.observe(10, { provider: 'anthropic', status: 'upstream_error', errorCode: 'upstream_error', httpStatus: 502 });
  h.engine.evaluate();
  assert.deepEqual(h.alerts.map((a) => a.subject), ['provider:openai', 'provider:anthropic']);
});

test('event alerts: a deployment flapping in and out of cooldown alerts once per cooldown, per deployment', () => {
  const h = engineHarness({ cooldown_ms: 15 * MIN });
  const cool = (deployment: string) => h.engine.deploymentCooling({ deployment, until: h.clock.now + 30_000, reason: 'upstream_timeout', local: true });
  cool('gpt-4o#0');
  h.clock.now += MIN;
  cool('gpt-4o#0');
  cool('gpt-4o#1');
  h.clock.now += 14 * MIN - 1;
  cool('gpt-4o#0');
  assert.deepEqual(h.alerts.map((a) => a.subject), ['deployment:gpt-4o#0', 'deployment:gpt-4o#1']);
  assert.equal(h.engine.stats().suppressed, 2);
  h.clock.now += 1;
  cool('gpt-4o#0');
  assert.deepEqual(h.alerts.map((a) => a.subject), ['deployment:gpt-4o#0', 'deployment:gpt-4o#1', 'deployment:gpt-4o#0']);
  assert.equal(h.alerts[0].message, 'Deployment gpt-4o#0 entered cooldown for 30s (until 2026-06-10T12:00:30.000Z) after upstream_timeout.');
  assert.equal(h.alerts[0].value, 30_000);
  assert.equal(h.alerts[0].threshold, null);

  h.engine.deploymentCooling({ deployment: 'other', until: h.clock.now + 30_000, reason: 'upstream_timeout', local: false });
  assert.equal(h.alerts.length, 3, 'a cooldown another replica started is announced by that replica');
});

test('budget events: each threshold of each budget and period is its own subject', () => {
  const h = engineHarness();
  const crossing = { budgetId: 'usd:team:payments:2026-06', scope: 'team', scopeId: 'payments', unit: 'usd', spent: 85, limit: 100, threshold: 0.8, periodId: '2026-06', periodEndsAt: Date.UTC(2026, 6, 1) } as const;
  h.engine.budgetCrossed(crossing);
  h.engine.budgetCrossed(crossing);
  h.engine.budgetCrossed({ ...crossing, spent: 100, threshold: 1 });
  assert.deepEqual(h.alerts.map((a) => [a.subject, a.threshold, a.severity]), [['team:payments', 0.8, 'warning'], ['team:payments', 1, 'critical']]);
  assert.equal(h.alerts[0].message, 'The budget of team payments has used $85.00 of $100.00 (85%, alert at 80%) in period 2026-06, which ends 2026-07-01T00:00:00.000Z.');
  assert.equal(h.alerts[0].window, '2026-06');
  assert.equal(h.alerts[0].value, 0.85);
  const off = engineHarness({ rules: { budget: { enabled: false } } });
  off.engine.budgetCrossed(crossing);
  assert.equal(off.alerts.length, 0);
});

test('with a shared claim, replicas send a windowed alert once; a failing claim sends from here', async () => {
  const claimed = new Set<string>();
  const claim = async (id: string) => {
    if (claimed.has(id)) return false;
    claimed.add(id);
    return true;
  };
  const a = engineHarness({}, { claim });
  const b = engineHarness({}, { claim });
  for (const replica of [a, b]) {
    replica.observe(20, { status: 'rate_limited' });
    replica.engine.evaluate();
  }
  await Promise.all([a.engine.idle(), b.engine.idle()]);
  assert.equal(a.alerts.length + b.alerts.length, 1);
  assert.equal(b.engine.stats().suppressed, 1);
  assert.deepEqual([...claimed], [`alerts:rate_limited_rate:gateway:${Math.floor(T0 / (15 * MIN))}`]);

  const broken = engineHarness({}, { claim: async () => { throw new Error('redis down'); } });
  broken.observe(20, { status: 'rate_limited' });
  broken.engine.evaluate();
  await broken.engine.idle();
  assert.equal(broken.alerts.length, 1);
  assert.ok(broken.logs().some((l) => l.level === 'debug' && /claim failed/.test(l.msg)));
});
