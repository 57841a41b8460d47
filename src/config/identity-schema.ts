// Config sections for identity and state: where data lives (database, redis), how auth caches
// behave (auth), and teams, tenants and keys declared as code.

import { z } from 'zod';
import { DURATION, DURATION_RULE } from '../admin/duration.ts';
import { ALIAS_NAME, ALIAS_NAME_RULE, LABEL, LABEL_RULE, MODEL_PATTERN, MODEL_PATTERN_RULE, OBJECT_ID, OBJECT_ID_RULE } from '../identity/ids.ts';

/** Numbers and booleans may arrive as strings from os.environ/NAME references. */
export function fromEnvString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return value;
}
export const fromEnv = <T extends z.ZodType>(schema: T) => z.preprocess(fromEnvString, schema);
export const positiveInt = fromEnv(z.number().int().positive());

const duration = z.string().regex(DURATION, { error: `must be ${DURATION_RULE}` });
const models = z.array(z.string().regex(MODEL_PATTERN, { error: `each entry must be ${MODEL_PATTERN_RULE}` })).default([]);
const label = z.string().regex(LABEL, { error: `must be ${LABEL_RULE}` });
const objectId = z.string().regex(OBJECT_ID, { error: `must be ${OBJECT_ID_RULE}` });
const metadata = z.record(z.string(), z.unknown()).default({});

const dollars = fromEnv(z.number().min(0));
export const rateLimits = {
  rpm_limit: positiveInt.optional(),
  tpm_limit: positiveInt.optional(),
  max_parallel_requests: positiveInt.optional(),
};
export const limits = {
  ...rateLimits,
  max_budget: dollars.optional(),
  budget_duration: duration.optional(),
  token_budget: positiveInt.optional(),
  daily_token_cap: positiveInt.optional(),
  max_cost_per_request: dollars.optional(),
};
const aliasName = z.string().regex(ALIAS_NAME, { error: `must be ${ALIAS_NAME_RULE}` });

export const declaredTeamSchema = z.strictObject({
  team_alias: z.string().min(1).max(128).optional(),
  models,
  require_tenant: fromEnv(z.boolean()).default(false),
  metadata,
  ...limits,
});

export const declaredTenantSchema = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  plan: label.optional(),
  models,
  model_limits: z.record(aliasName, z.strictObject(rateLimits)).optional(),
  metadata,
  ...limits,
});

export const declaredKeySchema = z.strictObject({
  key: z.string().regex(/^[\x21-\x7e]{32,256}$/, {
    error: 'key must be 32-256 printable characters without spaces (reference it as os.environ/NAME; generate one with `tollgate keys secret`)',
  }),
  team_id: objectId,
  key_alias: z.string().min(1).max(128).optional(),
  project: label.optional(),
  environment: label.optional(),
  models,
  tenant_id: objectId.optional(),
  allowed_tenants: z.array(objectId).optional(),
  require_tenant: fromEnv(z.boolean()).optional(),
  role: z.enum(['user', 'admin']).default('user'),
  expires_at: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time such as 2027-01-31T00:00:00Z' }).optional(),
  tags: z.array(label).max(32).default([]),
  metadata,
  ...limits,
}).refine((k) => !(k.tenant_id && k.allowed_tenants), { error: 'set tenant_id (one tenant) or allowed_tenants (a set), not both' });

/** The embedded default: a SQLite file under the working directory, created on first start. */
export const DEFAULT_DATABASE_URL = 'sqlite:.tollgate/tollgate.db';

export const databaseSchema = z.strictObject({
  /** sqlite:PATH (relative to the working directory), sqlite::memory:, or postgresql://… */
  url: z.string().min(1).default(DEFAULT_DATABASE_URL),
  /** PostgreSQL schema holding Tollgate's tables. */
  schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'must be a lower-case SQL identifier' }).optional(),
  pool_size: positiveInt.default(10),
  migrate_on_start: fromEnv(z.boolean()).default(true),
}).prefault({});

export const redisSchema = z.strictObject({
  url: z.string().regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }),
  key_prefix: z.string().max(64).default('tollgate:'),
});

export const authSchema = z.strictObject({
  key_cache_size: positiveInt.default(100_000),
  key_refresh_ms: positiveInt.default(300_000),
  unknown_key_ttl_ms: positiveInt.default(30_000),
  change_poll_ms: fromEnv(z.number().int().min(50).max(60_000)).default(500),
  unknown_tenants: z.enum(['allow', 'reject']).default('allow'),
  rotation_grace: duration.default('24h'),
  /** Salt for hashing end-user ids; set it (os.environ/…) so hashes are not guessable from a list of ids. */
  user_id_salt: z.string().min(1).optional(),
}).prefault({});

export const identitySections = {
  database: databaseSchema,
  redis: redisSchema.optional(),
  auth: authSchema,
  teams: z.record(objectId, declaredTeamSchema).default({}),
  tenants: z.record(objectId, declaredTenantSchema).default({}),
  keys: z.record(objectId, declaredKeySchema).default({}),
};
