import { z } from 'zod';
import { ALIAS_NAME, ALIAS_NAME_RULE } from '../identity/ids.ts';
import { PROVIDER_NAMES } from '../providers/registry.ts';
import { fromEnv, identitySections, positiveInt } from './identity-schema.ts';
import { alertsSchema } from './alerts-schema.ts';
import { langfuseSchema } from './langfuse-schema.ts';
import { ledgerSchema } from './ledger-schema.ts';
import { metricsSchema } from './metrics-schema.ts';
import { tracingSchema } from './tracing-schema.ts';
import { limitsSchema } from './limits-schema.ts';
import { aliasRoutingSchema, routerSchema } from './routing-schema.ts';
import { byteSize } from './byte-size.ts';
import { aliasCacheSchema, cacheSchema } from './cache-schema.ts';
import { guardrailsSchema } from './guardrails-schema.ts';

export { byteSize };

const bool = () => fromEnv(z.boolean());
const rate = fromEnv(z.number().min(0).max(1));

/** Credentials go into HTTP headers: printable ASCII, no spaces. */
const credential = (what: string) => z.string().regex(/^[\x21-\x7e]+$/, {
  error: `${what} must be printable characters without spaces or line breaks (check the variable for a stray newline or quote)`,
});

export const simulatorSchema = z.strictObject({
  latency_ms: fromEnv(z.number().min(0)).default(0),
  ttft_ms: fromEnv(z.number().min(0)).default(0),
  tokens_per_second: fromEnv(z.number().min(0)).default(0),
  output_tokens: positiveInt.default(32),
  failures: z.strictObject({
    rate_429: rate.default(0),
    rate_500: rate.default(0),
    rate_503: rate.default(0),
    rate_timeout: rate.default(0),
    rate_broken_stream: rate.default(0),
  }).prefault({}),
});

const deploymentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/, {
  error: 'must be 1-128 characters of letters, digits and . _ : / @ -',
});

export const deploymentSchema = z.strictObject({
  id: deploymentId.optional(),
  provider: z.enum(PROVIDER_NAMES),
  model: z.string().min(1, { error: 'must name the provider model (e.g. gpt-4o-mini)' }),
  api_base: z.string().optional(),
  api_key: credential('api_key').optional(),
  api_version: z.string().optional(),
  headers: z.record(z.string(), z.string()).default({}),
  weight: fromEnv(z.number().positive()).default(1),
  timeout_ms: positiveInt.default(600_000),
  stream_timeout_ms: positiveInt.optional(),
  connect_timeout_ms: positiveInt.default(10_000),
  ttft_timeout_ms: positiveInt.optional(),
  /** Priority tier (LiteLLM's order): 1 is used first, higher orders only when lower ones are unavailable. */
  order: fromEnv(z.number().int().min(1)).default(1),
  health_check: bool().default(true),
  drop_params: bool().optional(),
  region: z.string().optional(),
  /** This deployment's share of the vendor key's quota (deployment scope). */
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  max_parallel_requests: positiveInt.optional(),
  input_cost_per_token: fromEnv(z.number().min(0)).optional(),
  output_cost_per_token: fromEnv(z.number().min(0)).optional(),
  /** Price overrides (LiteLLM's names): cached input read, cache write (USD per token), and USD per request. */
  cache_read_input_token_cost: fromEnv(z.number().min(0)).optional(),
  cache_creation_input_token_cost: fromEnv(z.number().min(0)).optional(),
  input_cost_per_request: fromEnv(z.number().min(0)).optional(),
  model_info: z.record(z.string(), z.unknown()).default({}),
  simulator: simulatorSchema.optional(),
});

const aliasName = z.string().regex(ALIAS_NAME, { error: `alias names are ${ALIAS_NAME_RULE}` });

export const aliasSchema = z.strictObject({
  description: z.string().optional(),
  requires_env: z.union([z.string(), z.array(z.string())]).optional(),
  deployments: z.array(deploymentSchema).min(1, { error: 'an alias needs at least one deployment' }),
  routing: aliasRoutingSchema,
  cache: aliasCacheSchema.optional(),
});

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: fromEnv(z.number().int().min(0).max(65535)).default(4000),
    max_body_size: byteSize.default(32_000_000),
    access_log: bool().default(true),
    log_level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    shutdown_grace_ms: fromEnv(z.number().int().min(0)).default(10_000),
    keep_alive_timeout_ms: positiveInt.default(65_000),
  }).prefault({}),
  general_settings: z.strictObject({
    master_key: credential('master_key').min(8, { error: 'master_key must be at least 8 characters' }).optional(),
    drop_params: bool().default(false),
  }).prefault({}),
  upstream: z.strictObject({
    connections_per_origin: positiveInt.default(256),
    keep_alive_timeout_ms: positiveInt.default(30_000),
  }).prefault({}),
  router: routerSchema,
  models: z.record(aliasName, aliasSchema).default({}),
  ...identitySections,
  limits: limitsSchema,
  ledger: ledgerSchema,
  metrics: metricsSchema,
  tracing: tracingSchema,
  langfuse: langfuseSchema,
  alerts: alertsSchema,
  cache: cacheSchema,
  guardrails: guardrailsSchema,
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type DeploymentConfig = z.output<typeof deploymentSchema>;

/** Fields whose values are secrets: never echoed in problems or logs. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(['api_key', 'master_key', 'headers', 'key', 'url', 'user_id_salt', 'webhook_url', 'token', 'secret_key', 'public_key']);
