// Delivery against an in-process webhook receiver: the generic and Slack bodies, per-rule
// webhooks, retries, and receivers that fail, refuse or hang, which must never make observe()
// or evaluate() throw or wait.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slackBody } from '../../src/alerts/alert-payloads.ts';
import type { AlertRule } from '../../src/alerts/alert.ts';
import type { DeliveryOutcome } from '../../src/alerts/webhook-sender.ts';
import { WebhookSender } from '../../src/alerts/webhook-sender.ts';
import { WebhookTarget } from '../../src/alerts/webhook-target.ts';
import { closedPort } from '../helpers/fake-openai-upstream.ts';
import { engineHarness, T0, webhookReceiver } from './alert-fixtures.ts';

test('a generic webhook gets the documented JSON body', async (t) => {
  const hook = await webhookReceiver();
  t.after(() => hook.close());
  const outcomes: Array<[AlertRule, DeliveryOutcome]> = [];
  const h = engineHarness({ webhooks: [`${hook.url}/alerts?token=QUERY-SECRET`] }, { onDelivery: (rule, outcome) => outcomes.push([rule, outcome]) });
  h.observe(17);
  h.observe(3, { fallbackUsed: true });
  h.engine.evaluate();
  await h.engine.idle();
  assert.equal(hook.requests.length, 1);
  const { path, headers, body } = hook.requests[0];
  assert.equal(path, '/alerts?token=QUERY-SECRET');
  assert.equal(headers['content-type'], 'application/json');
  assert.deepEqual(body, {
    alert: 'fallback_rate', state: 'firing', severity: 'warning', subject: 'gateway', value: 0.15, threshold: 0.1, window: '5m',
    message: '15% of calls were served by a fallback model (3 of 20 in the last 5m), above 10%.', at: new Date(T0).toISOString(),
  });
  assert.deepEqual(outcomes, [['fallback_rate', { outcome: 'sent', webhook: hook.url, attempts: 1 }]]);
  assert.equal(h.engine.stats().sent, 1);
  const line = h.logs().find((l) => l.msg === 'alert');
  assert.equal(line?.level, 'warn');
  assert.deepEqual(line?.webhooks, [hook.url], 'only the origin is logged');
  assert.ok(!h.text().includes('QUERY-SECRET'));
});

test('a Slack-format webhook gets { text, blocks }; hooks.slack.com is Slack by default', async (t) => {
  const hook = await webhookReceiver();
  t.after(() => hook.close());
  const posted: Array<{ url: string; body: any }> = [];
  const slackUrl = 'https://hooks.slack.com/services/T000/B000/slacksecrettoken';
  const h = engineHarness({
    rules: { deployment_cooldown: { webhooks: [{ url: `${hook.url}/mattermost`, format: 'slack' }, slackUrl] } },
  }, {
    // hooks.slack.com is not reachable from tests: its POST is captured, the local one really sent.
    post: async (url, body) => {
      if (url.startsWith('https://hooks.slack.com/')) posted.push({ url, body: JSON.parse(body) });
      else {
        const res = await fetchLocal(url, body);
        if (res !== 200) throw new Error(`HTTP ${res}`);
      }
    },
  });
  h.engine.deploymentCooling({ deployment: 'gpt-4o#0', until: T0 + 30_000, reason: 'upstream_timeout' });
  await h.engine.idle();
  assert.equal(hook.requests.length, 1);
  assert.equal(posted.length, 1);
  assert.equal(posted[0].url, slackUrl);
  for (const body of [hook.requests[0].body, posted[0].body]) {
    assert.deepEqual(Object.keys(body), ['text', 'blocks']);
    assert.equal(body.text, ':warning: Tollgate: Deployment gpt-4o#0 entered cooldown for 30s (until 2026-06-10T12:00:30.000Z) after upstream_timeout.');
    assert.equal(body.blocks[0].type, 'section');
    assert.match(body.blocks[0].text.text, /^:warning: \*Deployment entered cooldown\*\nDeployment gpt-4o#0 entered cooldown/);
    assert.equal(body.blocks[1].elements[0].text, '`deployment_cooldown` · deployment:gpt-4o#0 · warning · 2026-06-10T12:00:00.000Z');
  }
  assert.ok(!h.text().includes('slacksecrettoken'));
  assert.ok(h.text().includes('"https://hooks.slack.com"'));
});

test('Slack bodies escape markup; a resolved or critical alert says so', () => {
  const body = slackBody({
    rule: 'budget', state: 'firing', severity: 'critical', subject: 'team:<a&b>', value: 1, threshold: 1, window: '2026-06', message: 'x <!channel> & y', at: T0,
  });
  assert.equal(body.text, ':rotating_light: Tollgate: x &lt;!channel&gt; &amp; y');
  const resolved = slackBody({ rule: 'latency_p95', state: 'resolved', severity: 'warning', subject: 'provider:openai', value: 6000, threshold: 5000, window: '5m', message: 'ok', at: T0 });
  assert.match((resolved.blocks[0] as any).text.text, /^:white_check_mark: \*Resolved: p95 latency high\*/);
});

test('a rule\'s own webhooks replace the section\'s list', async (t) => {
  const all = await webhookReceiver();
  const budget = await webhookReceiver();
  t.after(() => Promise.all([all.close(), budget.close()]));
  const h = engineHarness({ webhooks: [all.url], rules: { budget: { webhooks: [budget.url] } } });
  h.engine.budgetCrossed({ budgetId: 'usd:global:2026-06', scope: 'global', scopeId: 'global', unit: 'usd', spent: 80, limit: 100, threshold: 0.8, periodId: '2026-06', periodEndsAt: Date.UTC(2026, 6, 1) });
  h.engine.deploymentCooling({ deployment: 'd', until: T0 + 1_000, reason: 'upstream_error' });
  await h.engine.idle();
  assert.deepEqual(all.requests.map((r) => r.body.alert), ['deployment_cooldown']);
  assert.deepEqual(budget.requests.map((r) => [r.body.alert, r.body.subject]), [['budget', 'global']]);
});

test('5xx is retried with backoff, then counted as failed; a 4xx is not retried', async (t) => {
  const hook = await webhookReceiver(500);
  t.after(() => hook.close());
  const h = engineHarness({ webhooks: [`${hook.url}/h/PATH-SECRET`] });
  h.engine.deploymentCooling({ deployment: 'd', until: T0 + 1_000, reason: 'upstream_error' });
  await h.engine.idle();
  assert.equal(hook.requests.length, 3, 'the first attempt and 2 retries');
  assert.equal(h.engine.stats().failed, 1);
  const failed = h.logs().find((l) => l.msg === 'alert webhook failed');
  assert.equal(failed?.reason, 'http_status');
  assert.equal(failed?.attempts, 3);
  assert.equal(failed?.webhook, hook.url);
  assert.ok(!h.text().includes('PATH-SECRET'));

  hook.script.push(503);
  hook.script.push(200);
  h.engine.deploymentCooling({ deployment: 'e', until: T0 + 1_000, reason: 'upstream_error' });
  await h.engine.idle();
  assert.equal(h.engine.stats().sent, 1, 'a retry that passes is a delivery');

  const before = hook.requests.length;
  hook.script.push(404);
  h.engine.deploymentCooling({ deployment: 'f', until: T0 + 1_000, reason: 'upstream_error' });
  await h.engine.idle();
  assert.equal(hook.requests.length, before + 1);
});

test('a hanging webhook neither blocks nor throws: observe() and evaluate() return at once, the delivery times out', async (t) => {
  const hook = await webhookReceiver('hang');
  t.after(() => hook.close());
  const h = engineHarness({ webhooks: [hook.url], webhook_timeout_ms: 100 });
  h.observe(20, { status: 'rate_limited' });
  assert.equal(h.engine.evaluate(), undefined);
  assert.equal(hook.requests.length, 0, 'evaluate() returned before the POST even started');
  assert.equal(h.engine.stats().inFlight + h.engine.stats().queued, 1);
  // While the webhook hangs, calls keep being observed.
  assert.doesNotThrow(() => h.observe(1_000, { status: 'rate_limited' }));
  await h.engine.idle();
  assert.equal(hook.requests.length, 1, 'a timeout is not retried: the receiver may have it');
  assert.equal(h.engine.stats().failed, 1);
  assert.equal(h.logs().find((l) => l.msg === 'alert webhook failed')?.reason, 'timeout');
});

test('a refusing webhook is a counted failure, never an exception', async () => {
  const port = await closedPort();
  const h = engineHarness({ webhooks: [`http://user:PASSWORD@127.0.0.1:${port}/x`] });
  h.observe(20, { status: 'rate_limited' });
  assert.doesNotThrow(() => h.engine.evaluate());
  await h.engine.idle();
  assert.equal(h.engine.stats().failed, 1);
  const failed = h.logs().find((l) => l.msg === 'alert webhook failed');
  assert.equal(failed?.reason, 'network');
  assert.match(failed?.error, /ECONNREFUSED/);
  assert.ok(!h.text().includes('PASSWORD'));
});

test('the queue is bounded: beyond it bodies are dropped and counted', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const sender = new WebhookSender({ concurrency: 1, maxQueued: 2, post: () => gate });
  const target = new WebhookTarget('http://127.0.0.1:9/hook');
  const outcomes = [1, 2, 3, 4].map(() => sender.send(target, '{}'));
  assert.deepEqual(await outcomes[3], { outcome: 'dropped', webhook: 'http://127.0.0.1:9', attempts: 0, reason: 'queue_full' });
  assert.deepEqual(sender.stats(), { sent: 0, failed: 0, dropped: 1, queued: 2, inFlight: 1 });
  release();
  await sender.idle();
  assert.deepEqual(sender.stats(), { sent: 3, failed: 0, dropped: 1, queued: 0, inFlight: 0 });
  await sender.close();
  assert.equal((await sender.send(target, '{}')).reason, 'closed');
});

test('closing the engine stops its timers and gives up on a hanging webhook', async (t) => {
  const hook = await webhookReceiver('hang');
  t.after(() => hook.close());
  const h = engineHarness({ webhooks: [hook.url], webhook_timeout_ms: 60_000 }, { closeGraceMs: 50 });
  h.engine.start();
  h.engine.deploymentCooling({ deployment: 'd', until: T0 + 1_000, reason: 'upstream_error' });
  await h.engine.close();
  await h.engine.idle();
  assert.equal(h.engine.stats().inFlight, 0, 'the hanging POST was abandoned');
  h.engine.deploymentCooling({ deployment: 'e', until: T0 + 1_000, reason: 'upstream_error' });
  h.observe(20, { status: 'rate_limited' });
  h.engine.evaluate();
  assert.equal(h.alerts.length, 1, 'nothing after close');
});

test('an invalid webhook URL is refused without echoing it', () => {
  assert.throws(() => new WebhookTarget('ftp://host/SECRET'), (err: Error) => !err.message.includes('SECRET'));
  assert.throws(() => new WebhookTarget('not a url SECRET'), (err: Error) => !err.message.includes('SECRET'));
  assert.equal(new WebhookTarget('https://hooks.slack.com/services/x').format, 'slack');
  assert.equal(new WebhookTarget('https://hooks.slack.com/services/x', 'json').format, 'json');
  assert.equal(new WebhookTarget('https://example.com/hooks.slack.com').format, 'json');
});

/** A plain POST with node:http (the test's own way to reach the receiver). */
async function fetchLocal(url: string, body: string): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}
