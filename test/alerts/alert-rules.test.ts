// Each rule, through the engine with an injected clock: it fires above its threshold, and not
// at or under it, nor under its minimum number of calls.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineHarness, finishedCall, T0 } from './alert-fixtures.ts';
import { isProviderFault, latencySample, providerCalls } from '../../src/alerts/call-stats.ts';
import { FakeLedgerReader, ledgerEvent } from '../helpers/fake-ledger-reader.ts';

test('fallback rate: above 10% of calls that reached a deployment fires; 10% exactly, or under 20 calls, does not', () => {
  const at = engineHarness();
  at.observe(18);
  at.observe(2, { fallbackUsed: true });
  at.observe(50, { status: 'rate_limited' }); // never reached a deployment: not in the fallback rate's calls
  at.engine.evaluate();
  assert.deepEqual(at.alerts.filter((a) => a.rule === 'fallback_rate'), [], '2 of 20 is 10%, not above');

  const few = engineHarness();
  few.observe(10);
  few.observe(9, { fallbackUsed: true });
  few.engine.evaluate();
  assert.equal(few.alerts.length, 0, '19 calls are under min_requests 20');

  const over = engineHarness();
  over.observe(17);
  over.observe(3, { fallbackUsed: true });
  over.engine.evaluate();
  assert.equal(over.alerts.length, 1);
  const alert = over.alerts[0];
  assert.equal(alert.rule, 'fallback_rate');
  assert.equal(alert.subject, 'gateway');
  assert.equal(alert.value, 0.15);
  assert.equal(alert.threshold, 0.1);
  assert.equal(alert.window, '5m');
  assert.equal(alert.message, '15% of calls were served by a fallback model (3 of 20 in the last 5m), above 10%.');
});

test('429 rate: gateway refusals and 429 answers both count, over every call', () => {
  const under = engineHarness();
  under.observe(19, { status: 'success' });
  under.observe(1, { status: 'rate_limited' });
  under.engine.evaluate();
  assert.equal(under.alerts.length, 0, '1 of 20 is 5%, not above');

  const over = engineHarness();
  over.observe(18, { status: 'auth_failed', attempts: 0 });
  over.observe(1, { status: 'rate_limited' });
  over.observe(1, { status: 'upstream_error', httpStatus: 429, errorCode: 'upstream_rate_limited' });
  over.engine.evaluate();
  assert.deepEqual(over.alerts.map((a) => [a.rule, a.value]), [['rate_limited_rate', 0.1]]);

  const tiny = engineHarness();
  tiny.observe(5, { status: 'rate_limited' });
  tiny.engine.evaluate();
  assert.equal(tiny.alerts.length, 0, 'all 5 throttled, but 5 calls are under min_requests');
});

test('provider error rate: per provider, over upstream attempts; a request fault or a 429 is not the provider\'s', () => {
  const h = engineHarness({ rules: { rate_limited_rate: { enabled: false } } });
  h.observe(98, { provider: 'openai' });
  // openai failed, then anthropic served (a fallback): openai's failure still counts against openai.
  h.observe(2, { provider: 'anthropic', tried: [{ provider: 'openai', outcome: 'failed', code: 'upstream_timeout' }, { provider: 'anthropic', outcome: 'ok' }] });
  h.observe(200, { provider: 'anthropic', status: 'upstream_error', httpStatus: 400, errorCode: 'upstream_bad_request' });
  h.observe(50, { provider: 'anthropic', status: 'upstream_error', httpStatus: 429, errorCode: 'upstream_rate_limited' });
  h.engine.evaluate();
  assert.deepEqual(h.alerts.map((a) => [a.rule, a.subject, a.value]), [['provider_error_rate', 'provider:openai', 0.02]]);
  assert.match(h.alerts[0].message, /^Provider openai: 2% of upstream calls failed \(2 of 100 in the last 5m\), above 1%\.$/);

  const few = engineHarness();
  few.observe(90, { provider: 'openai' });
  few.observe(9, { provider: 'openai', status: 'upstream_error', errorCode: 'upstream_error', httpStatus: 502 });
  few.engine.evaluate();
  assert.equal(few.alerts.length, 0, '99 calls are under min_requests 100');

  const one = engineHarness();
  one.observe(99, { provider: 'openai' });
  one.observe(1, { provider: 'openai', status: 'upstream_error', errorCode: 'upstream_error', httpStatus: 502 });
  one.engine.evaluate();
  assert.equal(one.alerts.length, 0, '1 of 100 is 1%, not above');
});

test('which calls count for which rule', () => {
  assert.equal(isProviderFault('upstream_timeout'), true);
  assert.equal(isProviderFault('upstream_auth_failed'), true);
  assert.equal(isProviderFault(undefined), true);
  assert.equal(isProviderFault('upstream_bad_request'), false);
  assert.equal(isProviderFault('context_length_exceeded'), false);
  assert.equal(isProviderFault('shutting_down'), false);
  assert.deepEqual(providerCalls(finishedCall({ provider: null, status: 'invalid_request' })), []);
  assert.deepEqual(providerCalls(finishedCall({ status: 'upstream_error', errorCode: 'upstream_overloaded', httpStatus: 503 })), [{ provider: 'openai', fault: true }]);
  assert.deepEqual(providerCalls(finishedCall({ tried: [{ provider: 'a', outcome: 'failed', code: 'upstream_error', httpStatus: 429 }] })), [{ provider: 'a', fault: false }]);
  assert.equal(latencySample(finishedCall({ latencyMs: 9_000 }).event), 9_000);
  assert.equal(latencySample(finishedCall({ stream: true, latencyMs: 60_000, ttftMs: 800 }).event), 800, 'a stream: time to first token');
  assert.equal(latencySample(finishedCall({ status: 'upstream_error', latencyMs: 9_000 }).event), undefined);
});

test('p95 latency: per provider, above threshold_ms with at least min_requests calls', () => {
  const h = engineHarness();
  h.observe(18, { provider: 'openai', latencyMs: 800 });
  h.observe(2, { provider: 'openai', latencyMs: 7_000 }); // 2 of 20 slow: the p95 (rank 19) is slow
  h.observe(19, { provider: 'anthropic', latencyMs: 1_000 });
  h.observe(1, { provider: 'anthropic', latencyMs: 60_000 }); // 1 of 20 slow: the p95 is not
  h.observe(10, { provider: 'mistral', latencyMs: 30_000 }); // slow, but only 10 calls
  h.observe(20, { provider: 'groq', stream: true, latencyMs: 40_000, ttftMs: 300 }); // long streams, quick first tokens
  h.engine.evaluate();
  assert.equal(h.alerts.length, 1);
  const [alert] = h.alerts;
  assert.equal(alert.rule, 'latency_p95');
  assert.equal(alert.subject, 'provider:openai');
  assert.equal(alert.threshold, 5_000);
  assert.ok(alert.value > 6_000 && alert.value <= 8_000, `${alert.value}`);
  assert.match(alert.message, /^Provider openai: p95 latency is [\d,]+ ms over 20 calls in the last 5m, above 5,000 ms\.$/);

  const custom = engineHarness({ rules: { latency_p95: { threshold_ms: 750, min_requests: 5 } } });
  custom.observe(5, { latencyMs: 760 });
  custom.engine.evaluate();
  assert.equal(custom.alerts[0]?.rule, 'latency_p95');
});

test('calls leave the window: a rule stops holding once its window has passed', () => {
  const h = engineHarness({ cooldown_ms: 0, send_resolved: false });
  h.observe(20, { status: 'rate_limited' });
  h.engine.evaluate();
  assert.equal(h.alerts.length, 1);
  assert.equal(h.engine.stats().open, 1);
  h.clock.now += 300_000;
  h.engine.evaluate();
  assert.equal(h.engine.stats().open, 0, 'the window is empty: the episode ended');
});

test('disabled rules and a disabled section send nothing', () => {
  const h = engineHarness({ rules: { rate_limited_rate: { enabled: false } } });
  h.observe(20, { status: 'rate_limited' });
  h.engine.evaluate();
  assert.equal(h.alerts.length, 0);
  const off = engineHarness({ enabled: false });
  off.observe(20, { status: 'rate_limited' });
  off.engine.evaluate();
  off.engine.deploymentCooling({ deployment: 'd', until: T0 + 30_000, reason: 'upstream_timeout' });
  assert.equal(off.alerts.length, 0);
});

/** Spend rows: `perDay` dollars on each of the 7 days before T0's day, `today` dollars today. */
function spendHistory(tenant: string, perDay: number, today: number, days = 7) {
  const events = [];
  for (let d = 1; d <= days; d++) events.push(ledgerEvent({ at: new Date(T0 - d * 86_400_000).toISOString(), tenant, cost: perDay }));
  if (today > 0) events.push(ledgerEvent({ at: new Date(T0 - 3_600_000).toISOString(), tenant, cost: today }));
  return events;
}

test('tenant spend spike: ledger today + live spend since the load, against 120% of the 7-day average', async () => {
  const reader = new FakeLedgerReader([...spendHistory('acme', 10, 5), ...spendHistory('globex', 10, 11.5), ...spendHistory('newco', 100, 0, 2)]);
  const h = engineHarness({}, { reader });
  h.observe(1, { tenant: 'acme', costUsd: 2 }); // before the load: the ledger's "today" holds it already
  await h.engine.refreshBaselines();
  assert.deepEqual(reader.spendQueries[0], {
    groupBy: ['tenant', 'day'], from: '2026-06-03T00:00:00.000Z', to: '2026-06-11T00:00:00.000Z', filters: {},
  });
  h.observe(1, { tenant: 'newco', costUsd: 500 }); // 2 days of history: under min_active_days 3
  h.engine.evaluate();
  assert.equal(h.alerts.length, 0, 'acme $5 today, globex $11.50: both within $12 (120% of $10)');

  h.observe(1, { tenant: 'acme', costUsd: 7.5 }); // $5 + $7.50 = $12.50
  h.engine.evaluate();
  assert.equal(h.alerts.length, 1);
  const [alert] = h.alerts;
  assert.equal(alert.rule, 'tenant_spend_spike');
  assert.equal(alert.subject, 'tenant:acme');
  assert.equal(alert.value, 12.5);
  assert.equal(alert.threshold, 12);
  assert.equal(alert.window, 'today (UTC)');
  assert.equal(alert.message, 'Tenant acme has spent $12.50 today (UTC), 125% of its 7-day average of $10.00 (alert above 120%).');
});

test('tenant spend spike: min_spend_usd keeps small tenants quiet; no reader, no rule; a failing reader keeps the last averages', async () => {
  const small = new FakeLedgerReader(spendHistory('tiny', 0.1, 0.5));
  const s = engineHarness({}, { reader: small });
  await s.engine.refreshBaselines();
  s.engine.evaluate();
  assert.equal(s.alerts.length, 0, '$0.50 is 5× the average but under min_spend_usd $1');

  const none = engineHarness();
  none.observe(1, { tenant: 'acme', costUsd: 1_000 });
  await none.engine.refreshBaselines();
  none.engine.evaluate();
  assert.equal(none.alerts.length, 0);

  const reader = new FakeLedgerReader(spendHistory('acme', 10, 0));
  const h = engineHarness({}, { reader });
  await h.engine.refreshBaselines();
  reader.failWith = new Error('database is down');
  await h.engine.refreshBaselines();
  assert.ok(h.logs().some((l) => l.level === 'warn' && /could not load tenant spend/.test(l.msg) && l.error === 'database is down'));
  h.observe(1, { tenant: 'acme', costUsd: 13 });
  h.engine.evaluate();
  assert.deepEqual(h.alerts.map((a) => a.subject), ['tenant:acme']);
});

test('tenant spend spike: a new UTC day starts from zero and reloads the averages', async () => {
  const reader = new FakeLedgerReader(spendHistory('acme', 10, 0));
  const h = engineHarness({ cooldown_ms: 0, send_resolved: false }, { reader });
  await h.engine.refreshBaselines();
  h.observe(1, { tenant: 'acme', costUsd: 20 });
  h.engine.evaluate();
  assert.equal(h.alerts.length, 1);
  h.clock.now = Date.UTC(2026, 5, 11, 0, 0, 5);
  h.engine.evaluate(); // starts the reload for the new day
  await h.engine.idle();
  assert.equal(reader.spendQueries.length, 2);
  assert.equal(reader.spendQueries[1].to, '2026-06-12T00:00:00.000Z');
  h.engine.evaluate();
  assert.equal(h.engine.stats().open, 0, 'nothing spent yet today');
});

test('observe() never throws: a malformed call is counted, and logged once at the next evaluation', () => {
  const h = engineHarness();
  assert.doesNotThrow(() => h.engine.observe({} as never));
  assert.doesNotThrow(() => h.engine.observe({ event: { outcome: null } } as never));
  assert.equal(h.engine.stats().observeErrors, 2);
  h.engine.evaluate();
  h.engine.evaluate();
  assert.deepEqual(h.logs().filter((l) => l.level === 'error').map((l) => [l.msg, l.calls]), [['alerts: observe failed for some calls', 2]]);
});
