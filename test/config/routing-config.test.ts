// The `router:` section and each alias's `routing:` block, through parseConfig: defaults,
// per-alias overrides, fallback chains and their checks, timeouts, and deployment fields.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewayConfig } from '../../src/config/gateway-config.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { configProblems } from '../helpers/config-problems.ts';

const DEPLOYMENT = '[{ provider: simulator, model: sim-1 }]';

/** A config with the given router section and aliases (name → YAML of its routing block, or '' for none). */
function yaml(router: string, aliases: Record<string, string>): string {
  const models = Object.entries(aliases).map(([name, routing]) =>
    `  ${name}:\n${routing ? `    routing: ${routing}\n` : ''}    deployments: ${DEPLOYMENT}`).join('\n');
  return `${router ? `router: ${router}\n` : ''}models:\n${models}\n`;
}

function load(router: string, aliases: Record<string, string>): GatewayConfig {
  return parseConfig(yaml(router, aliases), 'routing.yaml', { env: {} });
}

function routing(config: GatewayConfig, alias: string) {
  return config.aliases.get(alias)!.routing;
}

function fallbackAliases(config: GatewayConfig, alias: string): string[] {
  return routing(config, alias).fallbacks.map((t) => t.alias);
}

test('defaults: router section and alias routing', () => {
  const config = load('', { chat: '' });
  assert.deepEqual(config.router, {
    backoff: { initialMs: 100, maxMs: 5_000 },
    allowedFails: 3,
    allowedFailsWindowMs: 60_000,
    cooldownMs: 30_000,
    cooldowns: true,
    maxTimeoutMs: 600_000,
    latencyBuffer: 0.1,
    healthChecks: { enabled: false, intervalMs: 60_000, timeoutMs: 10_000 },
  });
  assert.deepEqual(routing(config, 'chat'), {
    strategy: 'simple-shuffle',
    retries: { rate_limit: 2, timeout: 2, server_error: 2, connect_error: 2 },
    fallbacks: [],
    contextWindowFallbacks: [],
    contentPolicyFallbacks: [],
    timeoutMs: 600_000,
  });
  assert.deepEqual(config.warnings, []);
  assert.ok(Object.isFrozen(config.router) && Object.isFrozen(routing(config, 'chat')) && Object.isFrozen(routing(config, 'chat').retries));
});

test('router settings land on config.router', () => {
  const config = load(`{ allowed_fails: 0, allowed_fails_window_ms: 5000, cooldown_ms: 1500, latency_buffer: 0.5, backoff: { initial_ms: 50, max_ms: 50 },
    health_checks: { enabled: true, interval_ms: 30000, timeout_ms: 2000 } }`, { chat: '' });
  assert.deepEqual(config.router, {
    backoff: { initialMs: 50, maxMs: 50 },
    allowedFails: 0,
    allowedFailsWindowMs: 5_000,
    cooldownMs: 1_500,
    cooldowns: true,
    maxTimeoutMs: 600_000,
    latencyBuffer: 0.5,
    healthChecks: { enabled: true, intervalMs: 30_000, timeoutMs: 2_000 },
  });
});

test('disable_cooldowns turns the circuit breaker off', () => {
  assert.equal(load('{ disable_cooldowns: true }', { chat: '' }).router.cooldowns, false);
});

test('per-alias strategy and num_retries override the router\'s', () => {
  const config = load('{ routing_strategy: least-busy, num_retries: 4 }', { a: '{ strategy: cost-based, num_retries: 1 }', b: '' });
  assert.equal(routing(config, 'a').strategy, 'cost-based');
  assert.deepEqual(routing(config, 'a').retries, { rate_limit: 1, timeout: 1, server_error: 1, connect_error: 1 });
  assert.equal(routing(config, 'b').strategy, 'least-busy');
  assert.deepEqual(routing(config, 'b').retries, { rate_limit: 4, timeout: 4, server_error: 4, connect_error: 4 });
});

test('the alias\'s own settings beat the router\'s; within each, retry_policy per class beats num_retries', () => {
  const config = load('{ num_retries: 2, retry_policy: { rate_limit: 5, timeout: 0 } }', {
    own: '{ num_retries: 1, retry_policy: { rate_limit: 7, server_error: 3 } }',
    inherit: '',
  });
  assert.deepEqual(routing(config, 'own').retries, { rate_limit: 7, timeout: 1, server_error: 3, connect_error: 1 });
  assert.deepEqual(routing(config, 'inherit').retries, { rate_limit: 5, timeout: 0, server_error: 2, connect_error: 2 });
});

test('fallbacks: strings and {model, open_to_all}, in order', () => {
  const config = load('', { a: '{ fallbacks: [b, { model: c, open_to_all: true }, { model: d }] }', b: '', c: '', d: '' });
  assert.deepEqual(routing(config, 'a').fallbacks, [
    { alias: 'b', openToAll: false },
    { alias: 'c', openToAll: true },
    { alias: 'd', openToAll: false },
  ]);
});

test('context window and content policy fallbacks are their own lists', () => {
  const config = load('', { a: '{ context_window_fallbacks: [long], content_policy_fallbacks: [{ model: safe, open_to_all: true }] }', long: '', safe: '' });
  assert.deepEqual(routing(config, 'a').fallbacks, []);
  assert.deepEqual(routing(config, 'a').contextWindowFallbacks, [{ alias: 'long', openToAll: false }]);
  assert.deepEqual(routing(config, 'a').contentPolicyFallbacks, [{ alias: 'safe', openToAll: true }]);
});

test('default_fallbacks apply to aliases without their own, and never to themselves', () => {
  const config = load('{ default_fallbacks: [backup, { model: last, open_to_all: true }] }', { a: '', own: '{ fallbacks: [a] }', none: '{ fallbacks: [] }', backup: '', last: '' });
  assert.deepEqual(routing(config, 'a').fallbacks, [{ alias: 'backup', openToAll: false }, { alias: 'last', openToAll: true }]);
  assert.deepEqual(fallbackAliases(config, 'own'), ['a']);
  assert.deepEqual(fallbackAliases(config, 'none'), [], 'an explicit empty list opts out');
  assert.deepEqual(fallbackAliases(config, 'backup'), ['last']);
  assert.deepEqual(fallbackAliases(config, 'last'), ['backup']);
});

test('mutual fallbacks a → b, b → a are fine: each chain is exactly its own list', () => {
  const config = load('', { a: '{ fallbacks: [b] }', b: '{ fallbacks: [a, c] }', c: '{ fallbacks: [a] }' });
  assert.deepEqual(fallbackAliases(config, 'a'), ['b'], 'b\'s own fallbacks are not followed');
  assert.deepEqual(fallbackAliases(config, 'b'), ['a', 'c']);
  assert.deepEqual(fallbackAliases(config, 'c'), ['a']);
});

test('an alias falling back to itself is a problem', () => {
  assert.deepEqual(configProblems(yaml('', { a: '{ fallbacks: [b, a] }', b: '' })), ['models.a.routing.fallbacks: "a" falls back to itself; a chain may not loop.']);
  assert.deepEqual(configProblems(yaml('', { a: '{ context_window_fallbacks: [{ model: a }] }' })), ['models.a.routing.context_window_fallbacks: "a" falls back to itself; a chain may not loop.']);
});

test('a fallback listed twice is a problem', () => {
  assert.deepEqual(configProblems(yaml('', { a: '{ content_policy_fallbacks: [b, { model: b, open_to_all: true }] }', b: '' })), ['models.a.routing.content_policy_fallbacks: "b" is listed twice; a chain may not loop.']);
  assert.deepEqual(configProblems(yaml('{ default_fallbacks: [b, b] }', { a: '', b: '' })), ['router.default_fallbacks: "b" is listed twice; a chain may not loop.']);
});

test('a fallback naming an unknown alias is a problem, with a did-you-mean', () => {
  assert.deepEqual(configProblems(yaml('', { 'gpt-4o': '{ fallbacks: [claude-sonet] }', 'claude-sonnet': '' })), ['models.gpt-4o.routing.fallbacks: "claude-sonet" is not a model alias. Did you mean "claude-sonnet"?']);
  assert.deepEqual(configProblems(yaml('{ default_fallbacks: [zzz] }', { a: '' })), ['router.default_fallbacks: "zzz" is not a model alias.']);
});

test('every fallback problem is reported at once', () => {
  const found = configProblems(yaml('{ default_fallbacks: [nope] }', { a: '{ fallbacks: [a, b, b, c] }', b: '' }));
  assert.equal(found.length, 4);
});

test('a fallback to an alias disabled by requires_env is accepted', () => {
  const config = parseConfig(`models:
  a:
    routing: { fallbacks: [paid] }
    deployments: ${DEPLOYMENT}
  paid:
    requires_env: PAID_KEY
    deployments: ${DEPLOYMENT}
`, 'routing.yaml', { env: {} });
  assert.deepEqual(fallbackAliases(config, 'a'), ['paid']);
  assert.ok(!config.aliases.has('paid'));
});

test('timeout_ms: the alias\'s, else request_timeout_ms, capped by max_timeout_ms', () => {
  const config = load('{ request_timeout_ms: 20000, max_timeout_ms: 60000 }', { short: '{ timeout_ms: 5000 }', long: '{ timeout_ms: 900000 }', plain: '' });
  assert.equal(routing(config, 'short').timeoutMs, 5_000);
  assert.equal(routing(config, 'long').timeoutMs, 60_000);
  assert.equal(routing(config, 'plain').timeoutMs, 20_000);
  assert.equal(config.router.maxTimeoutMs, 60_000);
});

test('request_timeout_ms above max_timeout_ms is capped, with a warning', () => {
  const config = load('{ request_timeout_ms: 90000, max_timeout_ms: 60000 }', { chat: '' });
  assert.equal(routing(config, 'chat').timeoutMs, 60_000);
  assert.equal(config.warnings.length, 1);
  assert.match(config.warnings[0]!, /router\.request_timeout_ms \(90000\) is above router\.max_timeout_ms \(60000\)/);
});

test('backoff max_ms below initial_ms is a problem', () => {
  assert.deepEqual(configProblems(yaml('{ backoff: { initial_ms: 500, max_ms: 100 } }', { chat: '' })), ['router.backoff.max_ms: must be at least backoff.initial_ms.']);
});

test('schema limits: unknown strategy, too many retries', () => {
  const found = configProblems(yaml('{ routing_strategy: fastest }', { chat: '{ num_retries: 11 }' }));
  assert.equal(found.length, 2);
  assert.match(found.join('\n'), /router\.routing_strategy/);
  assert.match(found.join('\n'), /models\.chat\.routing\.num_retries.*at most 10 retries/);
});

test('deployment order, connect_timeout_ms, ttft_timeout_ms and health_check land on the Deployment', () => {
  const config = parseConfig(`models:
  chat:
    deployments:
      - { id: primary, provider: simulator, model: sim-1, order: 1, connect_timeout_ms: 2500, ttft_timeout_ms: 8000, health_check: false }
      - { id: backup, provider: simulator, model: sim-1, order: 3 }
`, 'routing.yaml', { env: {} });
  const [primary, backup] = config.aliases.get('chat')!.deployments;
  assert.equal(primary!.order, 1);
  assert.equal(primary!.connectTimeoutMs, 2_500);
  assert.equal(primary!.ttftTimeoutMs, 8_000);
  assert.equal(primary!.healthCheck, false);
  assert.equal(backup!.order, 3);
  assert.equal(backup!.connectTimeoutMs, 10_000);
  assert.equal(backup!.ttftTimeoutMs, undefined);
  assert.ok(!('ttftTimeoutMs' in backup!));
  assert.equal(backup!.healthCheck, true);
});

test('deployment order must be a whole number from 1', () => {
  const found = configProblems(`models:\n  chat:\n    deployments: [{ provider: simulator, model: sim-1, order: 0 }]\n`);
  assert.equal(found.length, 1);
  assert.match(found[0]!, /^models\.chat\.deployments\[0\]\.order/);
});

// BUG (src/config/routing-config.ts, buildRouting): retries are resolved as
// alias retry_policy ?? router retry_policy ?? alias num_retries ?? router num_retries, so a
// router-wide retry_policy entry beats the alias's own num_retries. In the example of
// docs/routing-and-reliability.md ("num_retries: 1  # per alias") the alias's num_retries
// then changes nothing: server_error and connect_error keep the router's 2.
test('an alias\'s num_retries beats the router\'s retry_policy (the documented example)', () => {
  const config = load('{ num_retries: 2, retry_policy: { rate_limit: 3, timeout: 1, server_error: 2, connect_error: 2 } }', {
    'support-quality': '{ num_retries: 1, retry_policy: { rate_limit: 0 } }',
  });
  assert.deepEqual(routing(config, 'support-quality').retries, { rate_limit: 0, timeout: 1, server_error: 1, connect_error: 1 });
});
