// The engine wired to the existing hooks: BudgetAlerts routes its claimed alerts to it (one
// webhook path), and DeploymentHealth tells it when a deployment enters cooldown.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BudgetAlerts, type BudgetObservation } from '../../src/limits/budget-alerts.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { DeploymentHealth } from '../../src/routing/deployment-health.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { engineHarness, T0, webhookReceiver } from './alert-fixtures.ts';

function observation(spent: number): BudgetObservation {
  return { budgetId: 'usd:tenant:acme:2026-06', scope: 'tenant', scopeId: 'acme', unit: 'usd', spent, limit: 50_000_000, periodId: '2026-06', periodEndsAt: Date.UTC(2026, 6, 1) };
}

test('budget alerts routed to the engine: its thresholds (80% and 100%), its webhooks, one claim per threshold', async (t) => {
  const hook = await webhookReceiver();
  t.after(() => hook.close());
  const h = engineHarness({ webhooks: [hook.url] });
  let budgetLogs = '';
  const metrics = new Metrics();
  const claims: string[] = [];
  const budgets = new BudgetAlerts({
    thresholds: [0.5], // replaced by the engine's
    webhookUrl: 'http://127.0.0.1:9/never-used',
    logger: createLogger({ level: 'debug', write: (text) => { budgetLogs += text; }, flushMs: 60_000 }),
    metrics,
    claim: async (id) => { claims.push(id); return true; },
    now: () => T0,
  });
  budgets.route(h.engine.budgetRoute());

  budgets.observe(observation(30_000_000)); // 60%: under the engine's 80%
  budgets.observe(observation(41_000_000)); // 82%
  await budgets.idle();
  budgets.observe(observation(42_000_000));
  budgets.observe(observation(50_000_000)); // 100%
  await budgets.idle();
  await h.engine.idle();

  assert.deepEqual(claims, ['alert:usd:tenant:acme:2026-06:0.8', 'alert:usd:tenant:acme:2026-06:1']);
  assert.deepEqual(hook.requests.map((r) => [r.body.alert, r.body.subject, r.body.threshold, r.body.value, r.body.severity]), [
    ['budget', 'tenant:acme', 0.8, 0.82, 'warning'],
    ['budget', 'tenant:acme', 1, 1, 'critical'],
  ]);
  assert.equal(hook.requests[0].body.message, 'The budget of tenant acme has used $41.00 of $50.00 (82%, alert at 80%) in period 2026-06, which ends 2026-07-01T00:00:00.000Z.');
  assert.equal(metrics.counter('tollgate_budget_alerts_total', 'Budget alerts fired, by scope, unit and threshold crossed.').get({ scope: 'tenant', unit: 'usd', threshold: '1' }), 1);
  assert.ok(!budgetLogs.includes('"budget alert"'), 'the engine logs routed alerts, not BudgetAlerts');
  assert.equal(h.logs().filter((l) => l.msg === 'alert' && l.rule === 'budget').length, 2);
});

test('DeploymentHealth.onCooldown feeds the engine: local cooldowns alert, a listener that throws does not break the breaker', async () => {
  const clock = { now: T0 };
  const health = new DeploymentHealth({ metrics: new Metrics(), breaker: { enabled: true, allowedFails: 0, windowMs: 1_000, cooldownMs: 30_000 }, now: () => clock.now });
  const h = engineHarness();
  health.onCooldown(() => { throw new Error('listener bug'); });
  const off = health.onCooldown((event) => h.engine.deploymentCooling(event));
  health.recordFailure('gpt-4o#0', { class: 'timeout', code: 'upstream_timeout', message: 'timed out' });
  assert.equal(health.breakerState('gpt-4o#0'), 'cooling');
  assert.deepEqual(h.alerts.map((a) => [a.rule, a.subject, a.value]), [['deployment_cooldown', 'deployment:gpt-4o#0', 30_000]]);
  assert.match(h.alerts[0].message, /after upstream_timeout\.$/);

  // Another replica's cooldown, applied here: that replica announces it.
  health.apply({ deployment: 'claude#0', state: 'open', until: T0 + 60_000, reason: 'upstream_overloaded' });
  assert.equal(h.alerts.length, 1);

  off();
  clock.now += 60_000;
  health.recordFailure('gpt-4o#1', { class: 'server_error', code: 'upstream_error', message: 'boom' });
  assert.equal(h.alerts.length, 1, 'unsubscribed');
});
