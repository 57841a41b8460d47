// Background health checks against the real fake upstreams, through the real HTTP transport:
// what a probe sends, how its answer is recorded (ok, error text without credentials,
// timeouts, refused connections), its effect on routing availability, that probes of one
// deployment never overlap, that stop() ends them, and the GET /health/providers report.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { GatewayConfig } from '../../src/config/gateway-config.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { toGatewayError } from '../../src/errors/to-response.ts';
import { sendError } from '../../src/http/respond.ts';
import { providerHealthRoute } from '../../src/http/routes/provider-health.ts';
import { createLogger, type Logger } from '../../src/logging/logger.ts';
import { ClientWatchSlot, createRequestContext } from '../../src/pipeline/request-context.ts';
import { createHttpTransport } from '../../src/providers/shared/http-transport.ts';
import type { Transport } from '../../src/providers/types.ts';
import { breakerSettings, DeploymentHealth } from '../../src/routing/deployment-health.ts';
import { startHealthChecks, type HealthChecker } from '../../src/routing/health-checker.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { fakeAnthropicAliasesYaml, startFakeAnthropicUpstream, type FakeAnthropicUpstream } from '../helpers/fake-anthropic-upstream.ts';
import { closedPort, fakeAliasesYaml, maskKey, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';

/** Key-shaped, so it would also be caught by the generic key pattern. */
const OPENAI_KEY = 'sk-upstream-health-key-Hc7Qw93';
/** Not key-shaped: only the literal scrubbing of the deployment's own key hides it. */
const ANTHROPIC_KEY = 'tgw-anthropic-health-key-Vb82Lm4x';
const WRONG_ANTHROPIC_KEY = 'tgw-anthropic-revoked-Zq51Np7w';
const TIMEOUT_MS = 300;

let openai: FakeOpenAIUpstream;
let anthropic: FakeAnthropicUpstream;
let transport: Transport;
let logText = '';
let logger: Logger;
const checkers: HealthChecker[] = [];

before(async () => {
  openai = await startFakeOpenAIUpstream();
  anthropic = await startFakeAnthropicUpstream({ apiKey: ANTHROPIC_KEY });
  transport = createHttpTransport({ connectionsPerOrigin: 16, keepAliveTimeoutMs: 4_000 });
  logger = createLogger({ level: 'debug', write: (batch) => { logText += batch; }, flushMs: 5 });
});

after(async () => {
  for (const checker of checkers) checker.stop();
  await transport?.close();
  await openai?.close();
  await anthropic?.close();
});

function configOf(models: string, checks: { enabled?: boolean; timeoutMs?: number } = {}): GatewayConfig {
  return parseConfig(`
router:
  health_checks:
    enabled: ${checks.enabled ?? true}
    interval_ms: 60000
    timeout_ms: ${checks.timeoutMs ?? TIMEOUT_MS}
models:
${models}`, 'health-checker-test.yaml', { env: {} });
}

/** The same config, with an interval below the config file's minimum (1 s), for overlap tests. */
function withInterval(config: GatewayConfig, intervalMs: number): GatewayConfig {
  return { ...config, router: { ...config.router, healthChecks: { ...config.router.healthChecks, intervalMs } } };
}

function newHealth(config: GatewayConfig): DeploymentHealth {
  return new DeploymentHealth({ metrics: new Metrics(), logger, breaker: breakerSettings(config) });
}

function start(config: GatewayConfig, health: DeploymentHealth): HealthChecker {
  const checker = startHealthChecks({ config, health, transportFor: () => transport, logger });
  checkers.push(checker);
  return checker;
}

function deployment(config: GatewayConfig, id: string) {
  for (const alias of config.aliases.values()) {
    const found = alias.deployments.find((d) => d.id === id);
    if (found) return found;
  }
  throw new Error(`no deployment ${id}`);
}

function requestsFor(model: string): number {
  return openai.requests.filter((r) => r.body?.model === model).length;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('health checks: healthy deployments', () => {
  test('an OpenAI-compatible chat deployment passes with its latency, probed with a one-token chat', async () => {
    const config = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['ok']));
    const health = newHealth(config);
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    const report = health.report(deployment(config, 'fake-ok'));
    assert.equal(report.state, 'healthy');
    assert.ok(report.last_check, 'a check is recorded');
    assert.equal(report.last_check.ok, true);
    assert.equal(report.last_check.error, undefined);
    assert.ok(report.last_check.latency_ms >= 0);
    assert.ok(Math.abs(Date.parse(report.last_check.at) - Date.now()) < 5_000);
    assert.equal(report.latency_ewma_ms, undefined, 'a check is not a real call: it does not feed the latency average');
    const sent = openai.last('ok');
    assert.equal(sent.path, '/v1/chat/completions');
    assert.deepEqual(sent.body.messages, [{ role: 'user', content: 'ping' }]);
    assert.equal(sent.body.max_tokens, 1);
    assert.equal(sent.headers.authorization, `Bearer ${OPENAI_KEY}`);
    assert.equal(health.availability('fake-ok'), 'available');
  });

  test('an Anthropic deployment is probed through its own adapter (translated to /v1/messages)', async () => {
    const config = configOf(fakeAnthropicAliasesYaml(anthropic.url, ANTHROPIC_KEY, ['text']));
    const health = newHealth(config);
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    const report = health.report(deployment(config, 'fake-an-text'));
    assert.equal(report.last_check?.ok, true);
    const sent = anthropic.last('text');
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.body.max_tokens, 1);
    assert.equal(sent.headers['x-api-key'], ANTHROPIC_KEY);
  });

  test('an embedding deployment (model_info.mode: embedding) is probed with a one-word embedding', async () => {
    const config = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['ok'], { ok: 'model_info:\n  mode: embedding' }));
    const health = newHealth(config);
    const before = openai.requests.length;
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    assert.equal(health.report(deployment(config, 'fake-ok')).last_check?.ok, true);
    const sent = openai.requests.slice(before);
    assert.equal(sent.length, 1, 'the startup round and checkNow share one probe');
    assert.equal(sent[0]!.path, '/v1/embeddings');
    assert.equal(sent[0]!.body.input, 'ping');
  });
});

describe('health checks: failing deployments', () => {
  test('a 500 fails the check with a short error naming the status', async () => {
    const config = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['server-error', 'overloaded']));
    const health = newHealth(config);
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    const report = health.report(deployment(config, 'fake-server-error'));
    assert.equal(report.state, 'unhealthy');
    assert.equal(report.last_check?.ok, false);
    assert.match(report.last_check?.error ?? '', /^500 upstream_error: /);
    assert.ok((report.last_check?.error ?? '').length <= 301);
    assert.equal(report.last_error?.code, 'health_check_failed');
    assert.match(health.report(deployment(config, 'fake-overloaded')).last_check?.error ?? '', /^503 /);
  });

  test('a 401 fails the check without quoting the key (not even masked)', async () => {
    const config = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['bad-auth']));
    const health = newHealth(config);
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    const report = health.report(deployment(config, 'fake-bad-auth'));
    assert.equal(report.last_check?.ok, false);
    const error = report.last_check?.error ?? '';
    assert.match(error, /^401 upstream_auth_failed: /);
    for (const secret of [OPENAI_KEY, maskKey(OPENAI_KEY), OPENAI_KEY.slice(-4)]) {
      assert.ok(!error.includes(secret), `error must not contain ${secret}: ${error}`);
      assert.ok(!JSON.stringify(report).includes(secret));
    }
  });

  test('Anthropic errors: a wrong key (401) and an error echoing the key (400) never show it', async () => {
    const config = configOf(`${fakeAnthropicAliasesYaml(anthropic.url, ANTHROPIC_KEY, ['server-error', 'key-echo'])}  an-wrong:
    deployments:
      - id: fake-an-wrong
        provider: anthropic
        model: text
        api_base: ${anthropic.url}
        api_key: ${WRONG_ANTHROPIC_KEY}
`);
    const health = newHealth(config);
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    const wrong = health.report(deployment(config, 'fake-an-wrong'));
    assert.equal(wrong.last_check?.ok, false);
    assert.match(wrong.last_check?.error ?? '', /^401 upstream_auth_failed/);
    const echo = health.report(deployment(config, 'fake-an-key-echo'));
    assert.equal(echo.last_check?.ok, false);
    assert.match(echo.last_check?.error ?? '', /^400 .*\[redacted\]/);
    assert.match(health.report(deployment(config, 'fake-an-server-error')).last_check?.error ?? '', /^500 /);
    for (const report of [wrong, echo]) {
      const text = JSON.stringify(report);
      assert.ok(!text.includes(ANTHROPIC_KEY) && !text.includes(WRONG_ANTHROPIC_KEY), text);
    }
    logger.flush();
    assert.ok(!logText.includes(ANTHROPIC_KEY) && !logText.includes(WRONG_ANTHROPIC_KEY), 'no key in the logs');
  });

  test('a hanging deployment fails after timeout_ms, and the probe is aborted', async () => {
    const config = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['hang']));
    const health = newHealth(config);
    const started = performance.now();
    const checker = start(config, health);
    const record = await openai.waitForRequest('hang');
    await checker.checkNow();
    const elapsed = performance.now() - started;
    checker.stop();
    const report = health.report(deployment(config, 'fake-hang'));
    assert.equal(report.last_check?.ok, false);
    assert.match(report.last_check?.error ?? '', /^timeout/);
    assert.ok(elapsed >= TIMEOUT_MS - 20 && elapsed < TIMEOUT_MS + 2_000, `took ${elapsed} ms`);
    assert.ok((report.last_check?.latency_ms ?? 0) >= TIMEOUT_MS - 20);
    assert.equal(await openai.waitForClientClose(record, 1_000), true, 'the hung request is closed');
  });

  test('a refused connection fails with its code', async () => {
    const port = await closedPort();
    const config = configOf(fakeAliasesYaml(`http://127.0.0.1:${port}/v1`, OPENAI_KEY, ['ok']));
    const health = newHealth(config);
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    const report = health.report(deployment(config, 'fake-ok'));
    assert.equal(report.last_check?.ok, false);
    assert.equal(report.last_check?.error, 'ECONNREFUSED');
  });
});

describe('health checks: routing and lifecycle', () => {
  test('a failed check makes the deployment cooling; a passing one makes it available again', async () => {
    // The same deployment id, first pinned to a failing model, then to a healthy one.
    const failing = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['server-error']).replace('id: fake-server-error', 'id: flaky'));
    const passing = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['ok']).replace('id: fake-ok', 'id: flaky'));
    const health = newHealth(failing);
    assert.equal(health.availability('flaky'), 'available');
    const first = start(failing, health);
    await first.checkNow();
    first.stop();
    assert.equal(health.availability('flaky'), 'cooling');
    assert.equal(health.report(deployment(failing, 'flaky')).state, 'unhealthy');
    const second = start(passing, health);
    await second.checkNow();
    second.stop();
    assert.equal(health.availability('flaky'), 'available');
    assert.equal(health.report(deployment(passing, 'flaky')).state, 'healthy');
    assert.equal(health.report(deployment(passing, 'flaky')).last_check?.ok, true);
  });

  test('the first round runs at start, and a deployment with health_check: false is never probed', async () => {
    const config = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['ok', 'tools'], { tools: 'health_check: false' }).replace('id: fake-ok', 'id: startup-ok'));
    const health = newHealth(config);
    const tools = requestsFor('tools');
    const checker = start(config, health);
    for (let i = 0; i < 200 && !health.report(deployment(config, 'startup-ok')).last_check; i++) await sleep(5);
    checker.stop();
    assert.equal(health.report(deployment(config, 'startup-ok')).last_check?.ok, true, 'probed without checkNow');
    assert.equal(requestsFor('tools'), tools);
    assert.equal(health.report(deployment(config, 'fake-tools')).last_check, undefined);
  });

  test('when health checks are disabled nothing is probed, even on checkNow', async () => {
    const config = configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['overloaded']), { enabled: false });
    const health = newHealth(config);
    const before = requestsFor('overloaded');
    const checker = start(config, health);
    await checker.checkNow();
    await sleep(30);
    checker.stop();
    assert.equal(requestsFor('overloaded'), before);
    assert.equal(health.availability('fake-overloaded'), 'available');
  });

  test('probes of one deployment never overlap: rounds are skipped while one is running', async () => {
    const config = withInterval(configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['hang', 'ok']).replace('id: fake-ok', 'id: overlap-ok'), { timeoutMs: 400 }), 20);
    const health = newHealth(config);
    const hangs = requestsFor('hang');
    const oks = requestsFor('ok');
    const checker = start(config, health);
    await sleep(250);
    assert.equal(requestsFor('hang') - hangs, 1, 'one probe of the hanging deployment at a time');
    assert.ok(requestsFor('ok') - oks >= 3, 'the healthy one keeps being probed meanwhile');
    await sleep(400);
    checker.stop();
    assert.equal(health.report(deployment(config, 'fake-hang')).last_check?.ok, false);
    assert.ok(requestsFor('hang') - hangs >= 2, 'a new probe starts once the previous one timed out');
  });

  test('stop() clears the timer and aborts the probes in flight, recording nothing for them', async () => {
    const config = withInterval(configOf(fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['hang']).replace('id: fake-hang', 'id: stop-hang'), { timeoutMs: 10_000 }), 50);
    const health = newHealth(config);
    const checker = start(config, health);
    const record = await openai.waitForRequest('hang');
    const round = checker.checkNow();
    const stoppedAt = performance.now();
    checker.stop();
    await round;
    assert.ok(performance.now() - stoppedAt < 1_000, 'the round ends promptly once stopped');
    assert.equal(await openai.waitForClientClose(record, 1_000), true, 'the probe in flight is aborted');
    assert.equal(health.report(deployment(config, 'stop-hang')).last_check, undefined, 'an aborted probe says nothing about the deployment');
    const count = requestsFor('hang');
    await sleep(200);
    await checker.checkNow();
    assert.equal(requestsFor('hang'), count, 'no probe after stop()');
  });
});

describe('GET /health/providers', () => {
  let server: Server;
  let url: string;
  let config: GatewayConfig;

  before(async () => {
    config = configOf(`${fakeAliasesYaml(openai.baseURL, OPENAI_KEY, ['ok', 'server-error'])}  multi:
    deployments:
      - id: multi-b
        provider: openai_compatible
        model: ok
        api_base: ${openai.baseURL}
        api_key: ${OPENAI_KEY}
      - id: multi-a
        provider: openai_compatible
        model: server-error
        api_base: ${openai.baseURL}
        api_key: ${OPENAI_KEY}
`);
    const health = newHealth(config);
    const checker = start(config, health);
    await checker.checkNow();
    checker.stop();
    const route = providerHealthRoute(config, health);
    server = createServer((req, res) => {
      const ctx = createRequestContext(req.headers, performance.now(), new ClientWatchSlot());
      route(ctx, req, res).catch((err: unknown) => sendError(res, ctx, toGatewayError(err, ctx.requestId), 'openai'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server ? server.close(() => resolve()) : resolve());
  });

  test('reports every deployment of every alias, in config order, with the checks settings', async () => {
    const res = await fetch(`${url}/health/providers`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = await res.json() as any;
    assert.deepEqual(body.checks, { enabled: true, interval_ms: 60_000 });
    assert.deepEqual(body.deployments.map((d: any) => [d.alias, d.deployment]), [
      ['up-ok', 'fake-ok'], ['up-server-error', 'fake-server-error'], ['multi', 'multi-b'], ['multi', 'multi-a'],
    ]);
    const byId = Object.fromEntries(body.deployments.map((d: any) => [d.deployment, d]));
    assert.equal(byId['fake-ok'].state, 'healthy');
    assert.equal(byId['fake-ok'].last_check.ok, true);
    assert.equal(byId['multi-a'].state, 'unhealthy');
    assert.equal(byId['multi-a'].last_check.ok, false);
    assert.equal(byId['multi-a'].provider, 'openai_compatible');
    assert.equal(byId['multi-a'].model, 'server-error');
    assert.ok(!JSON.stringify(body).includes(OPENAI_KEY));
  });

  test('?alias= keeps one alias', async () => {
    const res = await fetch(`${url}/health/providers?alias=multi`);
    assert.equal(res.status, 200);
    const body = await res.json() as any;
    assert.deepEqual(body.deployments.map((d: any) => d.deployment), ['multi-b', 'multi-a']);
  });

  test('an unknown alias is model_not_found (404) with a did-you-mean', async () => {
    const res = await fetch(`${url}/health/providers?alias=mult`);
    assert.equal(res.status, 404);
    const body = await res.json() as any;
    assert.equal(body.error.code, 'model_not_found');
    assert.equal(body.error.param, 'alias');
    assert.match(body.error.message, /Did you mean "multi"\?/);
  });
});
