import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { providerFor } from '../providers/registry.ts';
import type { Deployment } from '../providers/types.ts';
import { durationSeconds } from '../admin/duration.ts';
import { ConfigError, formatPath } from './config-error.ts';
import { buildDeclaredIdentity, declaredLimitPolicies } from './declared-identity.ts';
import { buildLimits } from './limits-config.ts';
import { buildRouting, PENDING_ROUTING } from './routing-config.ts';
import { formatIssues } from './format-issues.ts';
import type { AliasConfig, GatewayConfig } from './gateway-config.ts';
import { importLiteLLMConfig, isLiteLLMConfig } from './litellm-import.ts';
import { metricsSettings } from './metrics-schema.ts';
import { cacheProblems, cacheSettings } from './cache-schema.ts';
import { guardrailsSettings } from './guardrails-schema.ts';
import { configSchema, type DeploymentConfig, type ParsedConfig } from './schema.ts';
import { isSecretRef, resolveSecretRefs } from './secret-refs.ts';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  overrides?: { port?: number; host?: string };
}

export async function loadConfigFile(file: string, options: LoadOptions = {}): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)}). Check the path passed to --config.`]);
  }
  return parseConfig(text, file, options);
}

/** YAML text → frozen GatewayConfig, or a ConfigError listing every problem found. */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): GatewayConfig {
  const env = options.env ?? process.env;
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`));
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(file, ['the file must contain a YAML mapping (key: value pairs) at the top level.']);

  const problems: string[] = [];
  const warnings: string[] = [];
  const unresolved = new Set<string>();
  let native: Record<string, unknown> = raw;
  let format: 'native' | 'litellm' = 'native';
  if (isLiteLLMConfig(raw)) {
    if ('models' in raw) throw new ConfigError(file, ['models and model_list are both present: use the native `models` map or a LiteLLM `model_list`, not both.']);
    // LiteLLM files have no requires_env, so references resolve first, against LiteLLM's own paths.
    const imported = importLiteLLMConfig(resolveSecretRefs(raw, env, problems, unresolved) as Record<string, unknown>);
    native = imported.config;
    format = 'litellm';
    problems.push(...imported.problems);
    warnings.push(...imported.warnings);
  }

  const disabledAliases = new Map<string, string[]>();
  problems.push(...literalKeySecrets(native.keys));
  const resolved = format === 'litellm'
    ? native // resolved before the import
    : resolveSecretRefs({ ...native, models: enabledModels(native.models, env, disabledAliases) }, env, problems, unresolved);
  const parsed = configSchema.safeParse(resolved);
  // A field whose variable is missing was already reported; its leftover text is no second problem.
  if (!parsed.success) problems.push(...formatIssues(configSchema, parsed.error.issues.filter((i) => !unresolved.has(formatPath(i.path))), resolved));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);

  const config = build(parsed.data, { file, format }, env, options, disabledAliases, warnings, problems);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return config;
}

/** Declared key secrets must come from the environment, never sit in the (reviewed, committed) file. */
function literalKeySecrets(keys: unknown): string[] {
  if (!keys || typeof keys !== 'object' || Array.isArray(keys)) return [];
  return Object.entries(keys).flatMap(([id, spec]) => {
    const key = (spec as { key?: unknown } | null)?.key;
    return typeof key === 'string' && !isSecretRef(key)
      ? [`keys.${id}.key: write the secret as os.environ/NAME (or \${NAME}) so it never sits in the config file.`]
      : [];
  });
}

function enabledModels(models: unknown, env: NodeJS.ProcessEnv, disabled: Map<string, string[]>): unknown {
  if (!models || typeof models !== 'object' || Array.isArray(models)) return models;
  const out: Record<string, unknown> = {};
  for (const [alias, spec] of Object.entries(models)) {
    const requires = (spec as { requires_env?: unknown })?.requires_env;
    const names = typeof requires === 'string' ? [requires] : Array.isArray(requires) ? requires.filter((n) => typeof n === 'string') : [];
    const missing = names.filter((name) => !env[name]);
    if (missing.length > 0) disabled.set(alias, missing);
    else out[alias] = spec;
  }
  return out;
}

function build(
  parsed: ParsedConfig, source: GatewayConfig['source'], env: NodeJS.ProcessEnv, options: LoadOptions,
  disabledAliases: Map<string, string[]>, warnings: string[], problems: string[],
): GatewayConfig {
  const aliases = new Map<string, AliasConfig>();
  const ids = new Set<string>();
  for (const [name, alias] of Object.entries(parsed.models)) {
    const deployments = alias.deployments.map((d, i) => {
      const dep = toDeployment(name, i, d, parsed.general_settings.drop_params);
      const where = `models.${name}.deployments[${i}]`;
      if (ids.has(dep.id)) problems.push(`${where}.id: "${dep.id}" is used by another deployment; ids must be unique.`);
      ids.add(dep.id);
      for (const problem of providerFor(dep.provider).validate(dep)) problems.push(`${where}: ${problem}.`);
      return Object.freeze(dep);
    });
    aliases.set(name, Object.freeze({ name, ...(alias.description ? { description: alias.description } : {}), deployments: Object.freeze(deployments), routing: PENDING_ROUTING }));
  }
  const router = buildRouting(parsed, aliases, disabledAliases, problems, warnings);
  const fromEnv = env.TOLLGATE_MASTER_KEY?.trim();
  const masterKey = fromEnv || parsed.general_settings.master_key;
  if (fromEnv && fromEnv.length < 8) problems.push('TOLLGATE_MASTER_KEY: must be at least 8 characters.');
  if (fromEnv && !/^[\x21-\x7e]+$/.test(fromEnv)) problems.push('TOLLGATE_MASTER_KEY: must be printable characters without spaces or line breaks.');
  const limits = buildLimits(parsed, aliases, problems, warnings);
  const guardrails = guardrailsSettings(parsed.guardrails, new Set(Object.keys(parsed.models)), problems);
  problems.push(...cacheProblems(parsed.cache, parsed.redis !== undefined, new Set(Object.keys(parsed.models))));
  const declared = Object.freeze({
    ...buildDeclaredIdentity(parsed, masterKey, problems, warnings),
    limits: declaredLimitPolicies(limits.global, [...aliases.values()].flatMap((a) => a.deployments)),
  });
  const auth = parsed.auth;
  return Object.freeze({
    source: Object.freeze(source),
    server: Object.freeze({
      host: options.overrides?.host ?? parsed.server.host,
      port: options.overrides?.port ?? parsed.server.port,
      maxBodyBytes: parsed.server.max_body_size,
      accessLog: parsed.server.access_log,
      logLevel: parsed.server.log_level,
      shutdownGraceMs: parsed.server.shutdown_grace_ms,
      keepAliveTimeoutMs: parsed.server.keep_alive_timeout_ms,
    }),
    ...(masterKey ? { masterKey } : {}),
    dropParams: parsed.general_settings.drop_params,
    upstream: Object.freeze({
      connectionsPerOrigin: parsed.upstream.connections_per_origin,
      keepAliveTimeoutMs: parsed.upstream.keep_alive_timeout_ms,
    }),
    aliases,
    disabledAliases,
    database: Object.freeze({
      url: parsed.database.url,
      ...(parsed.database.schema ? { schema: parsed.database.schema } : {}),
      poolSize: parsed.database.pool_size,
      migrateOnStart: parsed.database.migrate_on_start,
    }),
    ...(parsed.redis ? { redis: Object.freeze({ url: parsed.redis.url, keyPrefix: parsed.redis.key_prefix }) } : {}),
    identity: Object.freeze({
      declared,
      keyCacheSize: auth.key_cache_size,
      keyRefreshMs: auth.key_refresh_ms,
      unknownKeyTtlMs: auth.unknown_key_ttl_ms,
      changePollMs: auth.change_poll_ms,
      unknownTenants: auth.unknown_tenants,
      rotationGraceSeconds: durationSeconds(auth.rotation_grace)!,
      userIdSalt: auth.user_id_salt ?? 'tollgate-user-id',
    }),
    limits,
    router,
    ledger: Object.freeze({
      enabled: parsed.ledger.enabled,
      sinks: Object.freeze([...parsed.ledger.sinks]),
      ...(parsed.ledger.schema ? { schema: parsed.ledger.schema } : {}),
      spoolDir: parsed.ledger.spool_dir,
      flushIntervalMs: parsed.ledger.flush_interval_ms,
      batchSize: parsed.ledger.batch_size,
      maxQueued: parsed.ledger.max_queued,
      writeAheadLog: parsed.ledger.write_ahead_log,
      writeAheadIntervalMs: parsed.ledger.write_ahead_interval_ms,
      promptLogging: Object.freeze({
        teams: Object.freeze([...parsed.ledger.prompt_logging.teams]),
        tenants: Object.freeze([...parsed.ledger.prompt_logging.tenants]),
        retentionDays: parsed.ledger.prompt_logging.retention_days,
        maxChars: parsed.ledger.prompt_logging.max_chars,
      }),
    }),
    metrics: metricsSettings(parsed.metrics),
    cache: cacheSettings(parsed.cache, parsed.redis !== undefined, new Map(Object.keys(parsed.models).map((name) => [name, parsed.models[name]!.cache]))),
    guardrails,
    tracing: parsed.tracing,
    langfuse: parsed.langfuse,
    alerts: parsed.alerts,
    warnings: Object.freeze(warnings),
  });
}

function toDeployment(alias: string, index: number, d: DeploymentConfig, dropParams: boolean): Deployment {
  const dep: { -readonly [K in keyof Deployment]: Deployment[K] } = {
    id: d.id ?? `${alias}#${index}`,
    alias,
    provider: d.provider,
    model: d.model,
    headers: Object.freeze({ ...d.headers }),
    weight: d.weight,
    timeoutMs: d.timeout_ms,
    streamTimeoutMs: d.stream_timeout_ms ?? d.timeout_ms,
    connectTimeoutMs: d.connect_timeout_ms,
    order: d.order,
    healthCheck: d.health_check,
    dropParams: d.drop_params ?? dropParams,
    modelInfo: Object.freeze({ ...d.model_info }),
  };
  if (d.api_base !== undefined) dep.apiBase = d.api_base;
  if (d.api_key !== undefined) dep.apiKey = d.api_key;
  if (d.api_version !== undefined) dep.apiVersion = d.api_version;
  if (d.ttft_timeout_ms !== undefined) dep.ttftTimeoutMs = d.ttft_timeout_ms;
  if (d.region !== undefined) dep.region = d.region;
  if (d.rpm !== undefined) dep.rpm = d.rpm;
  if (d.tpm !== undefined) dep.tpm = d.tpm;
  if (d.max_parallel_requests !== undefined) dep.maxParallelRequests = d.max_parallel_requests;
  if (d.input_cost_per_token !== undefined) dep.inputCostPerToken = d.input_cost_per_token;
  if (d.output_cost_per_token !== undefined) dep.outputCostPerToken = d.output_cost_per_token;
  if (d.cache_read_input_token_cost !== undefined) dep.cacheReadInputTokenCost = d.cache_read_input_token_cost;
  if (d.cache_creation_input_token_cost !== undefined) dep.cacheCreationInputTokenCost = d.cache_creation_input_token_cost;
  if (d.input_cost_per_request !== undefined) dep.inputCostPerRequest = d.input_cost_per_request;
  if (d.simulator !== undefined) dep.simulator = d.simulator;
  return dep;
}

