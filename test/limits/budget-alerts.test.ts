import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { BudgetAlerts, type BudgetAlertOptions, type BudgetObservation } from '../../src/limits/budget-alerts.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { closedPort } from '../helpers/fake-openai-upstream.ts';

const NOW = Date.UTC(2026, 11, 15, 12);
const PERIOD_ENDS = Date.UTC(2027, 0, 1);

function observation(spent: number, over: Partial<BudgetObservation> = {}): BudgetObservation {
  return {
    budgetId: 'usd:team:payments:2026-12', scope: 'team', scopeId: 'payments', unit: 'usd',
    spent, limit: 100_000_000, periodId: '2026-12', periodEndsAt: PERIOD_ENDS, ...over,
  };
}

/** Our claim interface over a Map: true once per id, as the shared store answers it. */
function mapClaim() {
  const claimed = new Map<string, number>();
  const calls: string[] = [];
  const claim = async (id: string, expiresAt: number) => {
    calls.push(id);
    if (claimed.has(id)) return false;
    claimed.set(id, expiresAt);
    return true;
  };
  return { claim, calls, claimed };
}

interface Hook {
  readonly url: string;
  readonly requests: Array<{ path: string; headers: Record<string, unknown>; body: any }>;
  close(): Promise<void>;
}

/** A webhook receiver on a loopback port: answers `status`, or never answers when `hang`. */
async function webhookServer(answer: { status?: number; hang?: boolean } = {}): Promise<Hook> {
  const requests: Hook['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      if (answer.hang) return;
      res.writeHead(answer.status ?? 200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function setup(over: Partial<BudgetAlertOptions> = {}) {
  let logs = '';
  const logger = createLogger({ level: 'debug', write: (text) => { logs += text; }, flushMs: 60_000 });
  const metrics = new Metrics();
  const claims = mapClaim();
  const alerts = new BudgetAlerts({ thresholds: [0.8], logger, metrics, claim: claims.claim, now: () => NOW, ...over });
  return {
    alerts, metrics, claims,
    logs(): Array<Record<string, any>> {
      logger.flush();
      return logs.trim() ? logs.trim().split('\n').map((l) => JSON.parse(l)) : [];
    },
    text(): string {
      logger.flush();
      return logs;
    },
    fired: (labels = { scope: 'team', unit: 'usd', threshold: '0.8' }) => metrics.counter('tollgate_budget_alerts_total', 'Budget alerts fired, by scope, unit and threshold crossed.').get(labels),
    failed: (reason: string) => metrics.counter('tollgate_budget_alert_failures_total', 'Budget alert webhooks not delivered (timeout, http_status, network) or not started (backlog).').get({ reason }),
  };
}

test('crossing 80% alerts once: a log line, a metric and the webhook; later observations do nothing', async (t) => {
  const hook = await webhookServer();
  t.after(() => hook.close());
  const s = setup({ webhookUrl: `${hook.url}/alerts` });
  s.alerts.observe(observation(79_999_999));
  await s.alerts.idle();
  assert.equal(hook.requests.length, 0, 'below the threshold');
  assert.equal(s.claims.calls.length, 0);

  s.alerts.observe(observation(85_500_000));
  s.alerts.observe(observation(86_000_000));
  await s.alerts.idle();
  for (const spent of [90_000_000, 99_000_000, 150_000_000]) s.alerts.observe(observation(spent));
  await s.alerts.idle();

  assert.deepEqual(s.claims.calls, ['alert:usd:team:payments:2026-12:0.8'], 'one claim, then no I/O');
  assert.equal(hook.requests.length, 1);
  const { body, path, headers } = hook.requests[0];
  assert.equal(path, '/alerts');
  assert.equal(headers['content-type'], 'application/json');
  assert.deepEqual(body, {
    type: 'budget_alert', budget: 'usd:team:payments:2026-12', scope: 'team', scope_id: 'payments', unit: 'usd',
    spent: 85.5, limit: 100, threshold: 0.8, percent: 85.5, period: '2026-12',
    period_ends_at: '2027-01-01T00:00:00.000Z', at: '2026-12-15T12:00:00.000Z',
  });
  const warn = s.logs().filter((l) => l.msg === 'budget alert');
  assert.equal(warn.length, 1);
  assert.equal(warn[0].level, 'warn');
  assert.equal(warn[0].spent, 85.5, 'usd in dollars');
  assert.equal(warn[0].limit, 100);
  assert.equal(warn[0].scope_id, 'payments');
  assert.equal(warn[0].threshold, 0.8);
  assert.equal(s.fired(), 1);
  assert.equal(s.failed('network') + s.failed('http_status') + s.failed('timeout'), 0);
});

test('a new period (a new budget id) alerts again; token budgets report tokens', async () => {
  const s = setup();
  s.alerts.observe(observation(80_000_000));
  s.alerts.observe(observation(80_000_000, { budgetId: 'usd:team:payments:2027-01', periodId: '2027-01', periodEndsAt: Date.UTC(2027, 1, 1) }));
  s.alerts.observe(observation(900, { budgetId: 'tokens:key:key_1:2026-12', scope: 'key', scopeId: 'key_1', unit: 'tokens', limit: 1000 }));
  await s.alerts.idle();
  const warn = s.logs().filter((l) => l.msg === 'budget alert');
  assert.deepEqual(warn.map((l) => l.period), ['2026-12', '2027-01', '2026-12']);
  assert.equal(warn[2].spent, 900);
  assert.equal(warn[2].unit, 'tokens');
  assert.equal(s.fired(), 2);
  assert.equal(s.fired({ scope: 'key', unit: 'tokens', threshold: '0.8' }), 1);
});

test('several thresholds: only the highest newly crossed one alerts', async () => {
  const s = setup({ thresholds: [0.95, 0.5, 0.8] });
  s.alerts.observe(observation(60_000_000));
  await s.alerts.idle();
  s.alerts.observe(observation(96_000_000));
  await s.alerts.idle();
  s.alerts.observe(observation(97_000_000));
  s.alerts.observe(observation(200, { budgetId: 'tokens:global:2026-12', scope: 'global', scopeId: 'global', unit: 'tokens', limit: 200 }));
  await s.alerts.idle();
  assert.deepEqual(s.logs().filter((l) => l.msg === 'budget alert').map((l) => [l.budget, l.threshold]), [
    ['usd:team:payments:2026-12', 0.5],
    ['usd:team:payments:2026-12', 0.95],
    ['tokens:global:2026-12', 0.95],
  ]);
  assert.equal(s.claims.calls.length, 3, '0.8 was marked handled without a claim');
});

test('two replicas sharing one claim alert once in total', async (t) => {
  const hook = await webhookServer();
  t.after(() => hook.close());
  const shared = mapClaim();
  const a = setup({ claim: shared.claim, webhookUrl: hook.url });
  const b = setup({ claim: shared.claim, webhookUrl: hook.url });
  a.alerts.observe(observation(81_000_000));
  b.alerts.observe(observation(81_000_000));
  b.alerts.observe(observation(82_000_000));
  await Promise.all([a.alerts.idle(), b.alerts.idle()]);
  assert.equal(hook.requests.length, 1);
  assert.equal(a.fired() + b.fired(), 1);
  assert.equal(shared.calls.length, 2, 'one claim per replica');
});

test('when the claim store fails, the alert fires from this replica and the failure is logged at debug', async () => {
  const s = setup({ claim: async () => { throw new Error('redis down'); } });
  s.alerts.observe(observation(90_000_000));
  await s.alerts.idle();
  const logs = s.logs();
  assert.ok(logs.some((l) => l.level === 'debug' && /claim failed/.test(l.msg) && l.error === 'redis down'));
  assert.equal(logs.filter((l) => l.msg === 'budget alert').length, 1);
});

test('a Slack incoming webhook gets {"text": one readable line}', async () => {
  const sent: Array<{ url: string; body: any }> = [];
  const url = 'https://hooks.slack.com/services/T000/B000/slacksecrettoken';
  const s = setup({ webhookUrl: url, post: async (u, body) => { sent.push({ url: u, body: JSON.parse(body) }); } });
  s.alerts.observe(observation(85_000_000));
  await s.alerts.idle();
  assert.equal(sent.length, 1);
  assert.equal(sent[0].url, url);
  assert.deepEqual(Object.keys(sent[0].body), ['text']);
  assert.equal(
    sent[0].body.text,
    'Tollgate budget alert: The budget of team payments has used $85.00 of $100.00 (85%, alert at 80%) in period 2026-12, which ends 2027-01-01T00:00:00.000Z.',
  );
  assert.ok(!s.text().includes('slacksecrettoken'));
  assert.ok(s.text().includes('"webhook":"https://hooks.slack.com"'));
});

test('a webhook answering 500 is retried once, then counted as failed; the token never reaches the logs', async (t) => {
  const hook = await webhookServer({ status: 500 });
  t.after(() => hook.close());
  const s = setup({ webhookUrl: `${hook.url}/hooks/SECRET-PATH-TOKEN?token=QUERY-SECRET-42` });
  s.alerts.observe(observation(95_000_000));
  await s.alerts.idle();
  assert.equal(hook.requests.length, 2);
  assert.equal(hook.requests[0].path, '/hooks/SECRET-PATH-TOKEN?token=QUERY-SECRET-42');
  assert.equal(s.failed('http_status'), 1);
  assert.equal(s.fired(), 1, 'the alert itself fired (log and metric)');
  const failed = s.logs().find((l) => l.msg === 'budget alert webhook failed');
  assert.equal(failed?.level, 'warn');
  assert.equal(failed?.webhook, hook.url);
  assert.match(failed?.error, /HTTP 500/);
  assert.ok(!/SECRET-PATH-TOKEN|QUERY-SECRET-42/.test(s.text()), s.text());
});

test('a hanging webhook times out without blocking or throwing from observe()', async (t) => {
  const hook = await webhookServer({ hang: true });
  t.after(() => hook.close());
  const s = setup({ webhookUrl: `http://user:PASSWORD-SECRET@${hook.url.slice('http://'.length)}/h/TOKEN-IN-PATH`, webhookTimeoutMs: 150 });
  assert.equal(s.alerts.observe(observation(100_000_000)), undefined);
  assert.equal(hook.requests.length, 0, 'observe() returned before any delivery started: it never waits on the webhook');
  await s.alerts.idle();
  assert.equal(hook.requests.length, 1, 'a timeout is not retried');
  assert.equal(hook.requests[0].headers.authorization, `Basic ${Buffer.from('user:PASSWORD-SECRET').toString('base64')}`);
  assert.equal(s.failed('timeout'), 1);
  assert.ok(!/PASSWORD-SECRET|TOKEN-IN-PATH/.test(s.text()), s.text());
});

test('an unreachable webhook or a throwing post is a counted failure, never an exception', async () => {
  const port = await closedPort();
  const refused = setup({ webhookUrl: `http://127.0.0.1:${port}/x/SECRET` });
  assert.doesNotThrow(() => refused.alerts.observe(observation(100_000_000)));
  await refused.alerts.idle();
  assert.equal(refused.failed('network'), 1);
  assert.match(refused.logs().find((l) => l.msg === 'budget alert webhook failed')?.error, /ECONNREFUSED/);
  assert.ok(!refused.text().includes('SECRET'));

  const throwing = setup({ webhookUrl: 'http://127.0.0.1:9/x/SECRET', post: async (url) => { throw new Error(`cannot POST ${url}`); } });
  throwing.alerts.observe(observation(100_000_000));
  await throwing.alerts.idle();
  assert.equal(throwing.failed('network'), 1);
  assert.equal(throwing.logs().find((l) => l.msg === 'budget alert webhook failed')?.error, 'Error: cannot POST [webhook]');
  assert.ok(!throwing.text().includes('SECRET'));
});

test('deliveries in flight are capped: beyond the cap an alert is dropped, counted, and tried again later', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const s = setup({ claim: async () => { await gate; return true; } });
  for (let i = 0; i < 101; i++) s.alerts.observe(observation(90_000_000, { budgetId: `usd:key:k${i}:2026-12` }));
  assert.equal(s.failed('backlog'), 1);
  release();
  await s.alerts.idle();
  assert.equal(s.fired(), 100);
  s.alerts.observe(observation(90_000_000, { budgetId: 'usd:key:k100:2026-12' }));
  await s.alerts.idle();
  assert.equal(s.fired(), 101, 'the dropped alert fires on a later observation');
});

test('bad observations are ignored and bad thresholds refused', async () => {
  const s = setup();
  for (const o of [observation(1, { limit: 0 }), observation(Number.NaN), observation(5, { limit: -1 }), observation(80, { limit: Number.NaN })]) {
    assert.doesNotThrow(() => s.alerts.observe(o));
  }
  await s.alerts.idle();
  assert.equal(s.claims.calls.length, 0);
  for (const thresholds of [[0], [1.2], [Number.NaN]]) {
    assert.throws(() => setup({ thresholds }), RangeError);
  }
  assert.throws(() => setup({ webhookUrl: 'not a url/SECRET' }), (err: Error) => !err.message.includes('SECRET'));
});
