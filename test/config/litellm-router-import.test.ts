import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load-config.ts';
import { configProblems } from '../helpers/config-problems.ts';

const ENV = { OPENAI_API_KEY: 'sk-oa', ANTHROPIC_API_KEY: 'sk-ant', AZURE_API_KEY: 'az-key' };

const MODELS = `model_list:
  - model_name: gpt-4o
    litellm_params: { model: azure/gpt-4o-eu, api_base: "https://acme.openai.azure.com/", api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21", order: 1 }
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, order: 2 }
  - model_name: gpt-4o-mini
    litellm_params: { model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY }
  - model_name: claude-sonnet
    litellm_params: { model: anthropic/claude-sonnet-4-5, api_key: os.environ/ANTHROPIC_API_KEY }
  - model_name: claude-long
    litellm_params: { model: anthropic/claude-sonnet-4-5-1m, api_key: os.environ/ANTHROPIC_API_KEY }
  - model_name: titan
    litellm_params: { model: bedrock/amazon.titan-text-express-v1 }
`;

const load = (yaml: string, env: NodeJS.ProcessEnv = ENV) => parseConfig(yaml, 'litellm.yaml', { env });
const problems = (yaml: string, env: NodeJS.ProcessEnv = ENV) => configProblems(yaml, env);
const BEDROCK = 'model_list[5].litellm_params.model: provider "bedrock" is not supported yet; this deployment is skipped.';

test('LiteLLM reliability settings become the router section and each alias routing block', () => {
  const config = load(`${MODELS}
router_settings:
  routing_strategy: latency-based-routing
  routing_strategy_args: { lowest_latency_buffer: 0.5 }
  num_retries: 3
  retry_policy: { RateLimitErrorRetries: 4, TimeoutErrorRetries: 1, InternalServerErrorRetries: 2, BadRequestErrorRetries: 0, AuthenticationErrorRetries: 0 }
  model_group_retry_policy:
    claude-sonnet: { RateLimitErrorRetries: 6 }
  allowed_fails: 5
  cooldown_time: 45
  retry_after: 0.25
  timeout: 120
  fallbacks: [{ "gpt-4o": ["claude-sonnet", "gpt-4o-mini"] }]
  context_window_fallbacks: [{ "gpt-4o": ["claude-long"] }, { "claude-sonnet": ["claude-long"] }]
litellm_settings:
  content_policy_fallbacks: [{ "gpt-4o": ["claude-sonnet"] }]
  default_fallbacks: ["gpt-4o-mini"]
general_settings:
  background_health_checks: true
  health_check_interval: 120
`);
  assert.deepEqual([...config.warnings], [BEDROCK]);
  const gpt4o = config.aliases.get('gpt-4o')!;
  assert.deepEqual(gpt4o.deployments.map((d) => d.order), [1, 2]);
  assert.equal(gpt4o.routing.strategy, 'latency-based');
  assert.deepEqual(gpt4o.routing.retries, { rate_limit: 4, timeout: 1, server_error: 2, connect_error: 2 });
  assert.deepEqual(gpt4o.routing.fallbacks, [{ alias: 'claude-sonnet', openToAll: false }, { alias: 'gpt-4o-mini', openToAll: false }]);
  assert.deepEqual(gpt4o.routing.contextWindowFallbacks, [{ alias: 'claude-long', openToAll: false }]);
  assert.deepEqual(gpt4o.routing.contentPolicyFallbacks, [{ alias: 'claude-sonnet', openToAll: false }]);
  assert.equal(gpt4o.routing.timeoutMs, 120_000);

  const claude = config.aliases.get('claude-sonnet')!;
  assert.deepEqual(claude.routing.retries, { rate_limit: 6, timeout: 1, server_error: 2, connect_error: 2 });
  assert.deepEqual(claude.routing.fallbacks, [{ alias: 'gpt-4o-mini', openToAll: false }], 'default_fallbacks apply to aliases without their own');
  assert.deepEqual(claude.routing.contextWindowFallbacks, [{ alias: 'claude-long', openToAll: false }]);
  assert.deepEqual(config.aliases.get('gpt-4o-mini')!.routing.fallbacks, [], 'an alias is never its own default fallback');

  assert.deepEqual(config.router, {
    backoff: { initialMs: 250, maxMs: 5_000 },
    allowedFails: 5,
    allowedFailsWindowMs: 60_000,
    cooldownMs: 45_000,
    cooldowns: true,
    maxTimeoutMs: 600_000,
    latencyBuffer: 0.5,
    healthChecks: { enabled: true, intervalMs: 120_000, timeoutMs: 10_000 },
  });
});

test('a LiteLLM file without reliability settings keeps the native defaults', () => {
  const config = load(MODELS);
  const routing = config.aliases.get('gpt-4o')!.routing;
  assert.equal(routing.strategy, 'simple-shuffle');
  assert.deepEqual(routing.retries, { rate_limit: 2, timeout: 2, server_error: 2, connect_error: 2 });
  assert.deepEqual(routing.fallbacks, []);
  assert.deepEqual(config.aliases.get('gpt-4o')!.deployments.map((d) => d.order), [1, 2]);
  assert.equal(config.aliases.get('gpt-4o-mini')!.deployments[0]!.order, 1);
  assert.equal(config.router.healthChecks.enabled, false);
  assert.equal(config.router.cooldownMs, 30_000);
});

test('litellm_settings may carry num_retries, timeout and fallbacks; router_settings wins where both set one', () => {
  const config = load(`${MODELS}
router_settings:
  num_retries: 1
  fallbacks: [{ "gpt-4o": ["claude-sonnet"] }]
litellm_settings:
  num_retries: 4
  request_timeout: 30
  fallbacks: [{ "gpt-4o": ["gpt-4o-mini"] }, { "claude-sonnet": ["claude-long"] }]
`);
  assert.deepEqual(config.aliases.get('gpt-4o')!.routing.retries, { rate_limit: 1, timeout: 1, server_error: 1, connect_error: 1 });
  // router_settings' entry for gpt-4o wins; a fallback's own fallbacks are not followed.
  assert.deepEqual(config.aliases.get('gpt-4o')!.routing.fallbacks.map((f) => f.alias), ['claude-sonnet']);
  assert.deepEqual(config.aliases.get('claude-sonnet')!.routing.fallbacks.map((f) => f.alias), ['claude-long']);
  assert.equal(config.aliases.get('gpt-4o')!.routing.timeoutMs, 30_000);
  assert.deepEqual([...config.warnings], [
    BEDROCK,
    'litellm_settings.num_retries: router_settings.num_retries is also set and wins; this value is ignored.',
    'litellm_settings.fallbacks[0]: "gpt-4o" already has fallbacks at router_settings.fallbacks[0], which wins; this entry is ignored.',
  ]);
});

test('"*" fallbacks: default_fallbacks for fallbacks, copied to every other alias for context-window and content-policy lists', () => {
  const config = load(`${MODELS}
router_settings:
  fallbacks: [{ "gpt-4o": ["claude-sonnet"] }, { "*": ["gpt-4o-mini"] }]
  context_window_fallbacks: [{ "*": ["claude-long"] }]
`);
  assert.deepEqual(config.aliases.get('claude-sonnet')!.routing.fallbacks.map((f) => f.alias), ['gpt-4o-mini']);
  assert.deepEqual(config.aliases.get('gpt-4o')!.routing.fallbacks.map((f) => f.alias), ['claude-sonnet']);
  assert.deepEqual(config.aliases.get('gpt-4o')!.routing.contextWindowFallbacks.map((f) => f.alias), ['claude-long']);
  assert.deepEqual(config.aliases.get('claude-long')!.routing.contextWindowFallbacks, []);
  assert.deepEqual([...config.warnings], [BEDROCK]);

  const both = load(`${MODELS}
router_settings:
  fallbacks: [{ "*": ["claude-sonnet"] }]
  default_fallbacks: ["gpt-4o-mini"]
`);
  assert.deepEqual(both.aliases.get('gpt-4o')!.routing.fallbacks.map((f) => f.alias), ['gpt-4o-mini']);
  assert.match(both.warnings.join('\n'), /router_settings\.fallbacks\[0\]: router_settings\.default_fallbacks is also set and wins/);
});

test('long timeouts and retry_after stretch the caps they would otherwise exceed', () => {
  const config = load(`${MODELS}
router_settings: { timeout: 900, retry_after: 8 }
general_settings: { background_health_checks: true }
`);
  assert.equal(config.aliases.get('gpt-4o')!.routing.timeoutMs, 900_000);
  assert.equal(config.router.maxTimeoutMs, 900_000);
  assert.deepEqual(config.router.backoff, { initialMs: 8_000, maxMs: 8_000 });
  assert.deepEqual(config.router.healthChecks, { enabled: true, intervalMs: 300_000, timeoutMs: 10_000 }, "LiteLLM's default interval is 300 s");
  assert.deepEqual([...config.warnings], [BEDROCK]);
});

test('values may come from the environment', () => {
  const config = load(`${MODELS}
router_settings: { num_retries: os.environ/RETRIES, cooldown_time: os.environ/COOLDOWN, routing_strategy: os.environ/STRATEGY }
general_settings: { background_health_checks: os.environ/HEALTH }
`, { ...ENV, RETRIES: '0', COOLDOWN: '2.5', STRATEGY: 'usage-based-routing-v2', HEALTH: 'true' });
  assert.deepEqual(config.aliases.get('gpt-4o')!.routing.retries, { rate_limit: 0, timeout: 0, server_error: 0, connect_error: 0 });
  assert.equal(config.aliases.get('gpt-4o')!.routing.strategy, 'usage-based');
  assert.equal(config.router.cooldownMs, 2_500);
  assert.equal(config.router.healthChecks.enabled, true);
});

test('keys Tollgate cannot honour are warned about one by one, never dropped silently', () => {
  const config = load(`${MODELS}
router_settings:
  routing_strategy: least-busy
  routing_strategy_args: { lowest_latency_buffer: 0.2, ttl: 60 }
  retry_policy: { BadRequestErrorRetries: 2, ContentPolicyViolationErrorRetries: 1, NotFoundErrorRetries: 1 }
  model_group_retry_policy: { gpt-4o: { BadRequestErrorRetries: 3 } }
  stream_timeout: 30
  enable_pre_call_checks: true
  allowed_fails_policy: { RateLimitErrorAllowedFails: 100 }
  model_group_alias: { gpt-4: gpt-4o }
  fallbacks: [{ "gpt-4o": ["titan", "claude-sonnet"], "claude-sonnet": ["gpt-4o"] }, { "titan": ["gpt-4o"] }, { "gpt-4o": ["gpt-4o-mini"] }]
litellm_settings:
  stream_timeout: 10
  success_callback: ["langfuse"]
general_settings:
  health_check_details: false
`);
  assert.equal(config.aliases.get('gpt-4o')!.routing.strategy, 'least-busy');
  assert.equal(config.router.latencyBuffer, 0.2);
  assert.deepEqual(config.aliases.get('gpt-4o')!.routing.fallbacks.map((f) => f.alias), ['claude-sonnet']);
  assert.deepEqual(config.aliases.get('claude-sonnet')!.routing.fallbacks, []);
  assert.deepEqual([...config.warnings], [
    BEDROCK,
    'router_settings.enable_pre_call_checks: not supported yet; ignored.',
    'router_settings.allowed_fails_policy: not supported yet; ignored.',
    'router_settings.model_group_alias: not supported yet; ignored.',
    'litellm_settings.success_callback: not supported yet; ignored.',
    'general_settings.health_check_details: not supported yet; ignored.',
    'router_settings.routing_strategy_args.ttl: not supported yet; ignored.',
    'router_settings.retry_policy.BadRequestErrorRetries: Tollgate never retries bad-request (400) errors, since they fail the same way again; ignored.',
    'router_settings.retry_policy.ContentPolicyViolationErrorRetries: Tollgate never retries content-policy errors, since they fail the same way again; ignored.',
    'router_settings.retry_policy.NotFoundErrorRetries: not supported yet; ignored. Tollgate reads RateLimitErrorRetries, TimeoutErrorRetries, InternalServerErrorRetries.',
    'router_settings.stream_timeout: not supported here; set stream_timeout in each model_list entry\'s litellm_params instead. Ignored.',
    'litellm_settings.stream_timeout: not supported here; set stream_timeout in each model_list entry\'s litellm_params instead. Ignored.',
    'router_settings.fallbacks[0].claude-sonnet: LiteLLM reads only the first key of each map; write one map per model_name. Ignored.',
    'router_settings.fallbacks[0].gpt-4o: "titan" has no supported deployment; left out of the chain.',
    'router_settings.fallbacks[1]: "titan" has no supported deployment; its fallbacks are ignored.',
    'router_settings.fallbacks[2]: "gpt-4o" already has fallbacks at router_settings.fallbacks[0], which wins; this entry is ignored.',
  ]);
});

test('mistakes are problems naming the LiteLLM key', () => {
  assert.deepEqual(problems(`${MODELS}
router_settings:
  routing_strategy: latency-based
  num_retries: 50
  retry_policy: { RateLimitErrorRetries: -1 }
  cooldown_time: 0
  retry_after: soon
  allowed_fails: 1.5
  timeout: 0
  routing_strategy_args: { lowest_latency_buffer: 20 }
  fallbacks: [{ "gpt4o": ["claude-sonnet"] }, { "gpt-4o": ["claude-sonet"] }, { "claude-sonnet": "gpt-4o" }, "gpt-4o"]
  model_group_retry_policy: { nope: { RateLimitErrorRetries: 1 } }
litellm_settings:
  default_fallbacks: ["missing"]
general_settings:
  background_health_checks: maybe
  health_check_interval: 0.5
`), [
    'router_settings.routing_strategy: invalid value "latency-based". Did you mean "latency-based-routing"? Use one of: simple-shuffle, least-busy, latency-based-routing, cost-based-routing, usage-based-routing, usage-based-routing-v2.',
    'router_settings.routing_strategy_args.lowest_latency_buffer: must be a number from 0 to 10 (0.5 shares traffic among deployments within 50% of the fastest).',
    'router_settings.num_retries: must be a whole number from 0 to 10.',
    'router_settings.retry_policy.RateLimitErrorRetries: must be a whole number from 0 to 10.',
    'router_settings.model_group_retry_policy: "nope" is not a model_name in model_list.',
    'router_settings.allowed_fails: must be a whole number (0 or more).',
    'router_settings.cooldown_time: must be a positive number of seconds.',
    'router_settings.retry_after: must be a number of seconds (0 or more).',
    'router_settings.timeout: must be a positive number of seconds.',
    'router_settings.fallbacks[0]: "gpt4o" is not a model_name in model_list. Did you mean "gpt-4o"?',
    'router_settings.fallbacks[1].gpt-4o: "claude-sonet" is not a model_name in model_list. Did you mean "claude-sonnet"?',
    'router_settings.fallbacks[2].claude-sonnet: must be a list of model_names, e.g. ["claude-sonnet", "gpt-4o-mini"].',
    'router_settings.fallbacks[3]: must be a map from a model_name to its fallbacks, e.g. {"gpt-4o": ["claude-sonnet"]}.',
    'litellm_settings.default_fallbacks: "missing" is not a model_name in model_list.',
    'general_settings.background_health_checks: must be true or false.',
    'general_settings.health_check_interval: must be at least 1 second.',
  ]);
});

test('a self-referencing fallback and bad deployment orders are reported at understandable paths; mutual fallbacks are fine', () => {
  assert.deepEqual(problems(`${MODELS}
router_settings:
  fallbacks: [{ "gpt-4o": ["claude-sonnet"] }, { "claude-sonnet": ["gpt-4o"] }, { "gpt-4o-mini": ["gpt-4o-mini"] }]
`), [
    'models.gpt-4o-mini.routing.fallbacks: "gpt-4o-mini" falls back to itself; a chain may not loop.',
  ]);
  // Chains are not followed transitively, so gpt-4o → claude-sonnet → gpt-4o cannot loop.
  const mutual = load(`${MODELS}
router_settings:
  fallbacks: [{ "gpt-4o": ["claude-sonnet"] }, { "claude-sonnet": ["gpt-4o"] }]
`);
  assert.deepEqual(mutual.aliases.get('gpt-4o')!.routing.fallbacks, [{ alias: 'claude-sonnet', openToAll: false }]);
  assert.deepEqual(mutual.aliases.get('claude-sonnet')!.routing.fallbacks, [{ alias: 'gpt-4o', openToAll: false }]);
  assert.deepEqual(problems(MODELS.replace('order: 2', 'order: 0')), ['model_list[1].litellm_params.order: must be a whole number, 1 or more (order 1 is used first).']);
});

test('a missing variable is reported once, not again as a bad value', () => {
  assert.deepEqual(problems(`${MODELS.replace('order: 2', 'order: os.environ/ORDER')}
router_settings: { num_retries: os.environ/RETRIES, timeout: os.environ/TIMEOUT }
`), [
    'model_list[1].litellm_params.order: environment variable ORDER is not set. Export it before starting Tollgate, or remove the reference.',
    'router_settings.num_retries: environment variable RETRIES is not set. Export it before starting Tollgate, or remove the reference.',
    'router_settings.timeout: environment variable TIMEOUT is not set. Export it before starting Tollgate, or remove the reference.',
  ]);
});
