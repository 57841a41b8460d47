import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load-config.ts';
import { configProblems } from '../helpers/config-problems.ts';
import { fixturePath } from '../helpers/fixtures.ts';

const problems = configProblems;

const SIM = `
models:
  chat:
    deployments:
      - provider: simulator
        model: sim-1
`;

test('the example config loads with no environment: simulator aliases on, real-provider aliases off', () => {
  const config = parseConfig(readFileSync(new URL('../../config/tollgate.example.yaml', import.meta.url), 'utf8'), 'example', { env: {} });
  assert.deepEqual([...config.aliases.keys()], ['sim-fast', 'sim-quality', 'sim-flaky', 'sim-embed']);
  assert.deepEqual(config.disabledAliases.get('claude-sonnet'), ['ANTHROPIC_API_KEY']);
  assert.equal(config.masterKey, undefined);
  assert.equal(config.server.port, 4000);
  assert.equal(config.server.maxBodyBytes, 32_000_000);
});

test('the example config enables real providers when their keys are set', () => {
  const config = parseConfig(readFileSync(new URL('../../config/tollgate.example.yaml', import.meta.url), 'utf8'), 'example', { env: { OPENAI_API_KEY: 'sk-test-openai', TOLLGATE_MASTER_KEY: 'sk-master-123' } });
  assert.equal(config.aliases.get('gpt-4o-mini')!.deployments[0]!.apiKey, 'sk-test-openai');
  assert.equal(config.masterKey, 'sk-master-123');
  assert.ok(!config.aliases.has('claude-sonnet'));
});

test('defaults: ids, weights, timeouts, drop_params inherited from general_settings', () => {
  const config = parseConfig(`general_settings: { drop_params: true }\n${SIM}`, 't', { env: {} });
  const dep = config.aliases.get('chat')!.deployments[0]!;
  assert.equal(dep.id, 'chat#0');
  assert.equal(dep.weight, 1);
  assert.equal(dep.timeoutMs, 600_000);
  assert.equal(dep.streamTimeoutMs, 600_000);
  assert.equal(dep.dropParams, true);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(dep));
});

test('unknown keys are errors with a did-you-mean and the allowed keys', () => {
  const found = problems(`server:\n  prot: 4000\n${SIM.replace('model: sim-1', 'model: sim-1\n        wieght: 2')}`);
  assert.equal(found.length, 2);
  assert.match(found[0]!, /^server\.prot: unknown key "prot"\. Did you mean "port"\?/);
  assert.match(found[1]!, /^models\.chat\.deployments\[0\]\.wieght: unknown key "wieght"\. Did you mean "weight"\?/);
});

test('a misspelt provider names the allowed ones and suggests the closest', () => {
  const [problem] = problems(SIM.replace('provider: simulator', 'provider: anthropc'));
  assert.match(problem!, /^models\.chat\.deployments\[0\]\.provider: invalid value "anthropc"\. Did you mean "anthropic"\? Use one of: openai, azure/);
});

test('wrong types and missing fields name the path', () => {
  const found = problems(`server:\n  port: "eighty"\nmodels:\n  chat:\n    deployments:\n      - provider: openai\n`);
  assert.ok(found.some((p) => p.startsWith('server.port: ')), found.join('\n'));
  assert.ok(found.some((p) => p === 'models.chat.deployments[0].model: is required (expected string).'), found.join('\n'));
});

test('a missing environment variable is a problem naming it; its value never appears', () => {
  const found = problems(SIM.replace('model: sim-1', 'model: sim-1\n        api_key: os.environ/SIM_KEY\n        api_base: https://${SIM_HOST}/v1'));
  assert.deepEqual(found, [
    'models.chat.deployments[0].api_key: environment variable SIM_KEY is not set. Export it before starting Tollgate, or remove the reference.',
    'models.chat.deployments[0].api_base: environment variable SIM_HOST is not set. Export it before starting Tollgate, or remove the reference.',
  ]);
  const config = parseConfig(SIM.replace('model: sim-1', 'model: sim-1\n        api_key: os.environ/SIM_KEY\n        api_base: https://${SIM_HOST}/v1'), 't', { env: { SIM_KEY: 'k-123', SIM_HOST: 'sim.local' } });
  const dep = config.aliases.get('chat')!.deployments[0]!;
  assert.equal(dep.apiKey, 'k-123');
  assert.equal(dep.apiBase, 'https://sim.local/v1');
});

test('provider-specific checks run at load: openai without a key, azure without api_version', () => {
  const found = problems(`models:\n  a:\n    deployments:\n      - { provider: openai, model: gpt-4o }\n      - { provider: azure, model: d, api_key: k, api_base: "https://x.openai.azure.com" }\n`);
  assert.deepEqual(found, [
    'models.a.deployments[0]: provider openai needs api_key (write it as os.environ/NAME).',
    'models.a.deployments[1]: provider azure needs api_version (for example 2024-10-21).',
  ]);
});

test('duplicate deployment ids, bad sizes and YAML syntax errors are reported', () => {
  assert.match(problems(`models:\n  a:\n    deployments:\n      - { id: x, provider: simulator, model: m }\n  b:\n    deployments:\n      - { id: x, provider: simulator, model: m }\n`)[0]!, /models\.b\.deployments\[0\]\.id: "x" is used by another deployment/);
  assert.match(problems(`server: { max_body_size: lots }\n`)[0]!, /^server\.max_body_size: must be a size like 32mb/);
  assert.match(problems(`models: [\n`)[0]!, /^YAML syntax/);
  assert.match(problems(`- a\n- b\n`)[0]!, /YAML mapping/);
});

test('byte sizes accept units', () => {
  assert.equal(parseConfig('server: { max_body_size: 512kb }', 't', { env: {} }).server.maxBodyBytes, 512_000);
  assert.equal(parseConfig('server: { max_body_size: 1MiB }', 't', { env: {} }).server.maxBodyBytes, 1_048_576);
  assert.equal(parseConfig('server: { max_body_size: 2048 }', 't', { env: {} }).server.maxBodyBytes, 2048);
});

test('TOLLGATE_MASTER_KEY overrides general_settings.master_key, which may be an env ref', () => {
  const yaml = 'general_settings: { master_key: os.environ/MY_KEY }';
  assert.equal(parseConfig(yaml, 't', { env: { MY_KEY: 'sk-from-config' } }).masterKey, 'sk-from-config');
  assert.equal(parseConfig(yaml, 't', { env: { MY_KEY: 'sk-from-config', TOLLGATE_MASTER_KEY: 'sk-from-env-var' } }).masterKey, 'sk-from-env-var');
  assert.match(problems('general_settings: { master_key: short }')[0]!, /master_key must be at least 8 characters/);
});

test('LiteLLM config.yaml: model_list becomes routing groups; unsupported keys warn one by one', () => {
  const env = { AZURE_API_KEY: 'az-key', OPENAI_API_KEY: 'sk-oa', ANTHROPIC_API_KEY: 'sk-ant', LITELLM_MASTER_KEY: 'sk-litellm-master' };
  const config = parseConfig(readFileSync(fixturePath('config/litellm.yaml'), 'utf8'), 'litellm.yaml', { env });
  assert.equal(config.source.format, 'litellm');
  assert.equal(config.masterKey, 'sk-litellm-master');
  assert.equal(config.dropParams, true);
  const [azure, openai] = config.aliases.get('gpt-4o')!.deployments;
  assert.deepEqual({ id: azure!.id, provider: azure!.provider, model: azure!.model, apiVersion: azure!.apiVersion, rpm: azure!.rpm, timeoutMs: azure!.timeoutMs, streamTimeoutMs: azure!.streamTimeoutMs, dropParams: azure!.dropParams, modelInfo: azure!.modelInfo },
    { id: 'azure-eu', provider: 'azure', model: 'gpt-4o-eu', apiVersion: '2024-10-21', rpm: 600, timeoutMs: 30_000, streamTimeoutMs: 10_000, dropParams: true, modelInfo: { base_model: 'azure/gpt-4o' } });
  assert.deepEqual({ provider: openai!.provider, weight: openai!.weight, in: openai!.inputCostPerToken, out: openai!.outputCostPerToken }, { provider: 'openai', weight: 2, in: 0.0000025, out: 0.00001 });
  assert.equal(config.aliases.get('claude')!.deployments[0]!.provider, 'anthropic');
  assert.ok(!config.aliases.has('titan'));
  assert.deepEqual(config.database, { url: 'postgres://x', schema: 'tollgate', poolSize: 10, migrateOnStart: true });
  assert.deepEqual([...config.warnings], [
    'model_list[2].litellm_params.temperature: not supported yet; ignored.',
    'model_list[3].litellm_params.model: provider "bedrock" is not supported yet; this deployment is skipped.',
    'litellm_settings.success_callback: not supported yet; ignored.',
  ]);
});

test('LiteLLM router_settings redis_host/port/password (or redis_url) become redis.url, which limits then use', () => {
  const base = 'model_list: [{ model_name: m, litellm_params: { model: simulator/x } }]\n';
  const config = parseConfig(`${base}router_settings: { redis_host: os.environ/RH, redis_port: 6380, redis_password: os.environ/RP }\n`, 'l.yaml', { env: { RH: 'cache.internal', RP: 'p@ss:w/rd' } });
  assert.deepEqual(config.redis, { url: 'redis://:p%40ss%3Aw%2Frd@cache.internal:6380', keyPrefix: 'tollgate:' });
  assert.equal(config.limits.backend, 'redis');
  assert.deepEqual(config.warnings, []);
  assert.equal(parseConfig(`${base}router_settings: { redis_url: "redis://r:6379" }\n`, 'l.yaml', { env: {} }).redis?.url, 'redis://r:6379');
  assert.equal(parseConfig(`${base}router_settings: { redis_host: r }\n`, 'l.yaml', { env: {} }).redis?.url, 'redis://r:6379');
  assert.throws(() => parseConfig(`${base}router_settings: { redis_port: 6379 }\n`, 'l.yaml', { env: {} }), /router_settings.redis_host: is required/);
  assert.throws(() => parseConfig(`${base}router_settings: { redis_host: r, redis_port: 99999 }\n`, 'l.yaml', { env: {} }), /redis_port: must be a port number/);
});

test('limits: backend defaults to redis when redis is set; a redis backend without redis is refused; alert URLs are never echoed', () => {
  const models = 'models: { m: { deployments: [{ provider: simulator, model: x }] } }\n';
  assert.equal(parseConfig(models, 'n.yaml', { env: {} }).limits.backend, 'memory');
  const limits = parseConfig(`${models}limits: { global: { rpm_limit: 100, max_budget: 5, budget_duration: 1mo }, alerts: { thresholds: [0.9, 0.5, 0.9] } }\n`, 'n.yaml', { env: {} }).limits;
  assert.deepEqual(limits.global, { rpm_limit: 100, max_budget: 5, budget_duration: '1mo' });
  assert.deepEqual(limits.alerts.thresholds, [0.5, 0.9]);
  assert.equal(limits.onStoreFailure, 'open');
  assert.throws(() => parseConfig(`${models}limits: { backend: redis }\n`, 'n.yaml', { env: {} }), /limits.backend: redis needs a `redis:` section/);
  assert.throws(() => parseConfig(`${models}limits: { on_store_failure: maybe }\n`, 'n.yaml', { env: {} }), /on_store_failure/);
  const bad = problemsOf(`${models}limits: { alerts: { webhook_url: "ftp://hooks.example/T0KEN123" } }\n`);
  assert.match(bad, /webhook_url/);
  assert.doesNotMatch(bad, /T0KEN123/);
  const warned = parseConfig(`${models}limits: { global: { max_budget: 10 } }\n`, 'n.yaml', { env: {} }).warnings;
  assert.match(warned.join('\n'), /m#0 has no input_cost_per_token\/output_cost_per_token/);
});

function problemsOf(yaml: string): string {
  try {
    parseConfig(yaml, 'n.yaml', { env: {} });
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

test('a file with both models and model_list is rejected', () => {
  assert.match(problems('models: {}\nmodel_list: []\n')[0]!, /models and model_list are both present/);
});

test('values from the environment: secrets are trimmed, numbers and booleans are converted', () => {
  const yaml = `server: { port: os.environ/PORT, access_log: os.environ/ACCESS_LOG }\n${SIM.replace('model: sim-1', 'model: sim-1\n        api_key: os.environ/SIM_KEY\n        timeout_ms: os.environ/SIM_TIMEOUT')}`;
  const config = parseConfig(yaml, 't', { env: { PORT: '8080', ACCESS_LOG: 'false', SIM_KEY: 'sk-mounted-secret\n', SIM_TIMEOUT: '2500', TOLLGATE_MASTER_KEY: 'sk-master-from-file\n' } });
  assert.equal(config.server.port, 8080);
  assert.equal(config.server.accessLog, false);
  assert.equal(config.aliases.get('chat')!.deployments[0]!.apiKey, 'sk-mounted-secret');
  assert.equal(config.aliases.get('chat')!.deployments[0]!.timeoutMs, 2500);
  assert.equal(config.masterKey, 'sk-master-from-file');
});

test('credentials with spaces or line breaks inside are rejected with a fix-it message', () => {
  const [problem] = problems(SIM.replace('model: sim-1', 'model: sim-1\n        api_key: "sk-two words"'));
  assert.match(problem!, /^models\.chat\.deployments\[0\]\.api_key: api_key must be printable characters without spaces or line breaks/);
  assert.doesNotMatch(problem!, /two words/, 'the secret itself is not echoed');
  assert.match(problems(SIM, { TOLLGATE_MASTER_KEY: 'sk-master key' })[0]!, /^TOLLGATE_MASTER_KEY: must be printable characters/);
});

test('a unit suffix left off gets a did-you-mean (timeout → timeout_ms)', () => {
  assert.match(problems(SIM.replace('model: sim-1', 'model: sim-1\n        timeout: 30'))[0]!, /unknown key "timeout"\. Did you mean "timeout_ms"\?/);
});

test('LiteLLM: headers and extra_headers merge, timeouts may come from the environment, numeric model_info ids', () => {
  const yaml = `model_list:
  - model_name: m
    litellm_params: { model: openai/gpt-4o, api_key: sk-x, headers: { a: "1" }, extra_headers: { b: "2" }, timeout: os.environ/T }
    model_info: { id: 42 }
`;
  const dep = parseConfig(yaml, 't', { env: { T: '12.5' } }).aliases.get('m')!.deployments[0]!;
  assert.deepEqual({ ...dep.headers }, { a: '1', b: '2' });
  assert.equal(dep.timeoutMs, 12_500);
  assert.equal(dep.id, '42');
  assert.match(problems(yaml.replace('timeout: os.environ/T', 'timeout: soon'))[0]!, /model_list\[0\]\.litellm_params\.timeout: must be a positive number of seconds/);
  assert.deepEqual(problems(yaml, {}), ['model_list[0].litellm_params.timeout: environment variable T is not set. Export it before starting Tollgate, or remove the reference.']);
});

test('a missing variable on a numeric field is reported once', () => {
  assert.deepEqual(problems('server: { port: os.environ/NO_SUCH_PORT }'), ['server.port: environment variable NO_SUCH_PORT is not set. Export it before starting Tollgate, or remove the reference.']);
});

test('ledger: write_ahead_interval_ms defaults to 10 ms, takes 0 (every event-loop turn), and refuses what is out of range', () => {
  assert.equal(parseConfig(SIM, 'n.yaml', { env: {} }).ledger.writeAheadIntervalMs, 10);
  assert.equal(parseConfig(`${SIM}ledger: { write_ahead_interval_ms: 0 }\n`, 'n.yaml', { env: {} }).ledger.writeAheadIntervalMs, 0);
  assert.match(problemsOf(`${SIM}ledger: { write_ahead_interval_ms: 5000 }\n`), /ledger\.write_ahead_interval_ms/);
  assert.match(problemsOf(`${SIM}ledger: { write_ahead_interval: 5 }\n`), /write_ahead_interval_ms/);
});
