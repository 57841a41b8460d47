// The `alerts:` section: its defaults, the errors it refuses with, and the settings made from it
// (per-rule webhooks, the older limits.alerts folded into the budget rule).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertSettings, parseAlertSettings } from '../../src/alerts/alert-settings.ts';
import { openAlertEngine } from '../../src/alerts/open-alert-engine.ts';
import { alertsSchema } from '../../src/config/alerts-schema.ts';
import { createLogger } from '../../src/logging/logger.ts';

test('defaults match the issue: 80% and 100% budgets, 10% fallbacks, 5% 429s, 1% errors, p95 5 s, 120% spend', () => {
  const s = parseAlertSettings(undefined);
  assert.equal(s.enabled, true);
  assert.equal(s.evaluateIntervalMs, 10_000);
  assert.equal(s.windowMs, 300_000);
  assert.equal(s.cooldownMs, 900_000);
  assert.equal(s.sendResolved, true);
  assert.equal(s.baselineRefreshMs, 600_000);
  assert.deepEqual(s.rules.budget, { enabled: true, webhooks: [], thresholds: [0.8, 1] });
  assert.deepEqual(s.rules.deployment_cooldown, { enabled: true, webhooks: [] });
  assert.deepEqual(s.rules.fallback_rate, { enabled: true, webhooks: [], threshold: 0.1, minRequests: 20 });
  assert.deepEqual(s.rules.rate_limited_rate, { enabled: true, webhooks: [], threshold: 0.05, minRequests: 20 });
  assert.deepEqual(s.rules.provider_error_rate, { enabled: true, webhooks: [], threshold: 0.01, minRequests: 100 });
  assert.deepEqual(s.rules.latency_p95, { enabled: true, webhooks: [], thresholdMs: 5_000, minRequests: 20 });
  assert.deepEqual(s.rules.tenant_spend_spike, { enabled: true, webhooks: [], ratio: 1.2, minSpendUsd: 1, minActiveDays: 3 });
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.rules) && Object.isFrozen(s.rules.budget));
});

test('webhooks: the section\'s list, a rule\'s own list instead, forced formats; numbers may come from the environment as text', () => {
  const s = parseAlertSettings({
    webhooks: ['https://hooks.slack.com/services/T/B/x', { url: 'https://chat.example/hooks/1', format: 'slack' }],
    window_ms: '600000',
    rules: { tenant_spend_spike: { webhooks: ['https://finance.example/hook'], ratio: '1.5' }, fallback_rate: { enabled: 'false' } },
  });
  assert.equal(s.windowMs, 600_000);
  assert.deepEqual(s.rules.latency_p95.webhooks, [{ url: 'https://hooks.slack.com/services/T/B/x' }, { url: 'https://chat.example/hooks/1', format: 'slack' }]);
  assert.deepEqual(s.rules.tenant_spend_spike.webhooks, [{ url: 'https://finance.example/hook' }]);
  assert.equal(s.rules.tenant_spend_spike.ratio, 1.5);
  assert.equal(s.rules.fallback_rate.enabled, false);
});

test('the older limits.alerts settings fold into the budget rule', () => {
  const input = alertsSchema.parse({ webhooks: ['https://ops.example/a'] });
  const s = alertSettings(input, { thresholds: [0.5, 0.8], webhookUrl: 'https://old.example/budget' });
  assert.deepEqual(s.rules.budget.thresholds, [0.5, 0.8, 1]);
  assert.deepEqual(s.rules.budget.webhooks, [{ url: 'https://ops.example/a' }, { url: 'https://old.example/budget' }]);
  assert.deepEqual(s.rules.fallback_rate.webhooks, [{ url: 'https://ops.example/a' }], 'only the budget rule gets the old URL');
  assert.deepEqual(alertSettings(input, { thresholds: [0.8], webhookUrl: 'https://ops.example/a' }).rules.budget.webhooks, [{ url: 'https://ops.example/a' }]);
});

test('refused: unknown keys, non-http URLs, out-of-range thresholds and windows', () => {
  const problems = (raw: unknown) => {
    const parsed = alertsSchema.safeParse(raw);
    assert.equal(parsed.success, false, JSON.stringify(raw));
    return parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.match(problems({ webhook: ['https://x'] })[0], /webhook/);
  assert.match(problems({ rules: { latency: {} } })[0], /^rules/);
  assert.match(problems({ rules: { fallback_rate: { treshold: 0.2 } } })[0], /^rules\.fallback_rate/);
  assert.deepEqual(problems({ webhooks: ['ftp://x/y'] }), ['webhooks.0: must be an http:// or https:// URL']);
  assert.match(problems({ webhooks: [{ url: 'file:///etc/passwd' }] }).join(), /http:\/\/ or https:\/\/ URL/);
  assert.match(problems({ rules: { rate_limited_rate: { threshold: 5 } } })[0], /below 1/);
  assert.match(problems({ rules: { budget: { thresholds: [1.2] } } })[0], /at most 1/);
  assert.match(problems({ window_ms: 1_000 })[0], /^window_ms: must be 10000 ms/);
  assert.match(problems({ rules: { tenant_spend_spike: { min_active_days: 8 } } })[0], /1 to 7 days/);
});

test('openAlertEngine: undefined when disabled; started and closable otherwise', async () => {
  const logger = createLogger({ level: 'error', write: () => {} });
  assert.equal(openAlertEngine(alertsSchema.parse({ enabled: false }), { logger }), undefined);
  const engine = openAlertEngine(alertsSchema.parse({}), { logger, legacyBudgetAlerts: { thresholds: [0.9] } });
  assert.ok(engine);
  assert.deepEqual(engine.budgetRoute().thresholds, [0.8, 0.9, 1]);
  await engine.close();
});
