// Converts a LiteLLM proxy config.yaml (model_list, router_settings, litellm_settings,
// general_settings) into Tollgate's native config. Keys Tollgate does not support yet are
// reported as one warning each: none is dropped silently.

import { formatPath } from './config-error.ts';
import { fromEnvString } from './identity-schema.ts';
import { GENERAL_SETTINGS_KEYS, importRouting, leftoverRef, LITELLM_SETTINGS_KEYS, ROUTER_SETTINGS_KEYS } from './litellm-router-import.ts';

export interface ImportResult {
  config: Record<string, unknown>;
  warnings: string[];
  problems: string[];
}

// LiteLLM's `provider/` prefixes → Tollgate providers.
const PREFIXES: Record<string, string> = {
  openai: 'openai',
  text_completion_openai: 'openai',
  azure: 'azure',
  anthropic: 'anthropic',
  openrouter: 'openrouter',
  groq: 'groq',
  mistral: 'mistral',
  together_ai: 'together',
  hosted_vllm: 'vllm',
  vllm: 'vllm',
  ollama: 'ollama',
  ollama_chat: 'ollama',
  openai_compatible: 'openai_compatible',
  custom_openai: 'openai_compatible',
  simulator: 'simulator',
};

// litellm_params key → native deployment key (seconds become milliseconds where noted).
const PARAM_KEYS: Record<string, string> = {
  api_base: 'api_base',
  base_url: 'api_base',
  api_key: 'api_key',
  api_version: 'api_version',
  rpm: 'rpm',
  tpm: 'tpm',
  max_parallel_requests: 'max_parallel_requests',
  weight: 'weight',
  region_name: 'region',
  input_cost_per_token: 'input_cost_per_token',
  output_cost_per_token: 'output_cost_per_token',
  cache_read_input_token_cost: 'cache_read_input_token_cost',
  cache_creation_input_token_cost: 'cache_creation_input_token_cost',
  input_cost_per_request: 'input_cost_per_request',
  drop_params: 'drop_params',
};
const SECONDS_KEYS: Record<string, string> = { timeout: 'timeout_ms', stream_timeout: 'stream_timeout_ms' };

const ROUTER_SUPPORTED = new Set(['redis_host', 'redis_port', 'redis_password', 'redis_url', ...ROUTER_SETTINGS_KEYS]);
const LITELLM_SETTINGS_SUPPORTED = new Set(['drop_params', ...LITELLM_SETTINGS_KEYS]);
const GENERAL_SUPPORTED = new Set(['master_key', 'database_url', ...GENERAL_SETTINGS_KEYS]);

export function isLiteLLMConfig(raw: Record<string, unknown>): boolean {
  return 'model_list' in raw || 'litellm_settings' in raw || 'router_settings' in raw;
}

function splitModel(model: string): { provider: string | undefined; model: string } {
  const slash = model.indexOf('/');
  if (slash > 0 && PREFIXES[model.slice(0, slash)]) return { provider: PREFIXES[model.slice(0, slash)], model: model.slice(slash + 1) };
  if (slash > 0) return { provider: undefined, model };
  // LiteLLM infers the provider for bare model names; these two families are unambiguous.
  return { provider: model.startsWith('claude') ? 'anthropic' : 'openai', model };
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function importDeployment(entry: Record<string, unknown>, path: PropertyKey[], out: ImportResult): Record<string, unknown> | undefined {
  const params = record(entry.litellm_params);
  const where = formatPath(path);
  if (typeof params.model !== 'string' || params.model === '') {
    out.problems.push(`${where}.litellm_params.model: is required, written as provider/model (e.g. openai/gpt-4o).`);
    return undefined;
  }
  const { provider, model } = splitModel(params.model);
  if (!provider) {
    out.warnings.push(`${where}.litellm_params.model: provider "${params.model.split('/')[0]}" is not supported yet; this deployment is skipped.`);
    return undefined;
  }
  const deployment: Record<string, unknown> = { provider, model };
  for (const [key, value] of Object.entries(params)) {
    if (key === 'model') continue;
    if (key === 'headers' || key === 'extra_headers') deployment.headers = { ...record(deployment.headers), ...record(value) };
    else if (PARAM_KEYS[key]) deployment[PARAM_KEYS[key]] = value;
    else if (SECONDS_KEYS[key]) {
      const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0) deployment[SECONDS_KEYS[key]] = Math.round(seconds * 1000);
      else if (!(typeof value === 'string' && value.startsWith('os.environ/'))) out.problems.push(`${where}.litellm_params.${key}: must be a positive number of seconds.`);
    }
    else if (key === 'order') {
      const order = fromEnvString(value);
      if (typeof order === 'number' && Number.isInteger(order) && order >= 1) deployment.order = order;
      else if (!leftoverRef(value)) out.problems.push(`${where}.litellm_params.order: must be a whole number, 1 or more (order 1 is used first).`);
    }
    else out.warnings.push(`${where}.litellm_params.${key}: not supported yet; ignored.`);
  }
  const info = record(entry.model_info);
  if (Object.keys(info).length > 0) {
    const { id, ...rest } = info;
    if (typeof id === 'string' || typeof id === 'number') deployment.id = String(id);
    deployment.model_info = rest;
  }
  for (const key of Object.keys(entry)) {
    if (key !== 'model_name' && key !== 'litellm_params' && key !== 'model_info') out.warnings.push(`${where}.${key}: not supported yet; ignored.`);
  }
  return deployment;
}

function warnSection(section: string, value: unknown, supported: ReadonlySet<string>, out: ImportResult): void {
  for (const key of Object.keys(record(value))) {
    if (!supported.has(key)) out.warnings.push(`${section}.${key}: not supported yet; ignored.`);
  }
}

/**
 * LiteLLM's router_settings name Redis as redis_url, or redis_host/redis_port/redis_password
 * (references are resolved by now): either becomes Tollgate's `redis.url`, which limits,
 * budgets and revocation then share.
 */
function redisFromRouter(router: Record<string, unknown>, out: ImportResult): string | undefined {
  if (typeof router.redis_url === 'string' && router.redis_url !== '') return router.redis_url;
  if (router.redis_host === undefined) {
    if (router.redis_port !== undefined || router.redis_password !== undefined) out.problems.push('router_settings.redis_host: is required when redis_port or redis_password is set.');
    return undefined;
  }
  const host = String(router.redis_host).trim();
  const port = router.redis_port === undefined ? 6379 : Number(router.redis_port);
  if (host === '' || /[\s/@]/.test(host)) {
    out.problems.push('router_settings.redis_host: must be a host name or address.');
    return undefined;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    out.problems.push('router_settings.redis_port: must be a port number from 1 to 65535.');
    return undefined;
  }
  const password = router.redis_password === undefined || router.redis_password === '' ? '' : `:${encodeURIComponent(String(router.redis_password))}@`;
  return `redis://${password}${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function importLiteLLMConfig(raw: Record<string, unknown>): ImportResult {
  const out: ImportResult = { config: {}, warnings: [], problems: [] };
  const models: Record<string, { deployments: Record<string, unknown>[]; routing?: Record<string, unknown> }> = {};
  const listed = new Set<string>();
  const list = raw.model_list ?? [];
  if (!Array.isArray(list)) out.problems.push('model_list: must be a list of {model_name, litellm_params} entries.');
  else {
    list.forEach((item, i) => {
      const entry = record(item);
      if (typeof entry.model_name !== 'string' || entry.model_name === '') {
        out.problems.push(`model_list[${i}].model_name: is required (the alias clients send as "model").`);
        return;
      }
      listed.add(entry.model_name);
      const deployment = importDeployment(entry, ['model_list', i], out);
      if (deployment) (models[entry.model_name] ??= { deployments: [] }).deployments.push(deployment);
    });
  }
  out.config.models = models;

  warnSection('router_settings', raw.router_settings, ROUTER_SUPPORTED, out);
  warnSection('litellm_settings', raw.litellm_settings, LITELLM_SETTINGS_SUPPORTED, out);
  warnSection('general_settings', raw.general_settings, GENERAL_SUPPORTED, out);
  const routing = importRouting(raw, { listed, imported: new Set(Object.keys(models)) }, out);
  for (const [alias, block] of routing.aliases) models[alias]!.routing = block;
  if (Object.keys(routing.router).length > 0) out.config.router = routing.router;
  const general: Record<string, unknown> = {};
  const generalIn = record(raw.general_settings);
  if (generalIn.master_key !== undefined) general.master_key = generalIn.master_key;
  const settings = record(raw.litellm_settings);
  if (settings.drop_params !== undefined) general.drop_params = settings.drop_params;
  out.config.general_settings = general;
  // LiteLLM's database: Tollgate keeps its own tables there, in their own schema.
  if (generalIn.database_url !== undefined) out.config.database = { url: generalIn.database_url, schema: 'tollgate' };

  const redis = redisFromRouter(record(raw.router_settings), out);
  if (redis) out.config.redis = { url: redis };

  for (const key of Object.keys(raw)) {
    if (key === 'server') out.config.server = raw.server;
    else if (!['model_list', 'router_settings', 'litellm_settings', 'general_settings'].includes(key)) {
      out.warnings.push(`${key}: not supported yet; ignored.`);
    }
  }
  return out;
}
