// The admin API's input schemas (zod, strict: an unknown field is an error). The service
// validates with them, and the OpenAPI document is generated from them, so the two never drift.
// Field names follow LiteLLM's /team/new and /key/generate.

import { z } from 'zod';
import { ALIAS_NAME, ALIAS_NAME_RULE, LABEL, LABEL_RULE, LIMIT_SCOPE, LIMIT_SCOPE_RULE, MODEL_PATTERN, MODEL_PATTERN_RULE, OBJECT_ID, OBJECT_ID_RULE } from '../identity/ids.ts';
import { OBJECT_KINDS, type LIMIT_FIELDS, type RATE_LIMIT_FIELDS } from '../identity/records.ts';
import { DURATION, DURATION_RULE, durationSeconds } from './duration.ts';

export const MAX_METADATA_BYTES = 16 * 1024;
export const MAX_TAGS = 32;
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

type Shape = Record<string, z.ZodType>;

/** A strict object: an unknown field is an error (with a "did you mean"). */
function strict<S extends Shape>(shape: S) {
  return z.strictObject(shape, { error: 'must be a JSON object' });
}

function patterned(pattern: RegExp, rule: string) {
  const error = `must be ${rule}`;
  return z.string({ error }).regex(pattern, { error });
}

function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return Infinity;
  }
}

function duration(allowZero: boolean) {
  const error = `must be ${allowZero ? '' : 'a positive duration, '}${DURATION_RULE}`;
  return z.string({ error })
    .regex(DURATION, { error, abort: true })
    .refine((text) => (durationSeconds(text) ?? -1) > (allowZero ? -1 : 0), { error: `${error}, at most 100 years` });
}

const POSITIVE_INT = z.int({ error: 'must be a positive integer' }).min(1, { error: 'must be a positive integer' });
const TEXT = z.string({ error: 'must be a string' }).max(256, { error: 'must be at most 256 characters' });
const BOOLEAN = z.boolean({ error: 'must be true or false' });
export const ID = patterned(OBJECT_ID, OBJECT_ID_RULE);
const LABEL_TEXT = patterned(LABEL, LABEL_RULE);
export const DATE_TIME = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time such as 2030-01-31T00:00:00Z' });
const MODELS = z.array(patterned(MODEL_PATTERN, MODEL_PATTERN_RULE), { error: 'must be an array of alias patterns' })
  .max(1000, { error: 'must list at most 1000 alias patterns' })
  .meta({ description: 'Alias patterns this object may call ("*", "prefix*" wildcards); empty = no restriction here.' });
const METADATA = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' })
  .refine((value) => jsonBytes(value) <= MAX_METADATA_BYTES, { error: `must be at most ${MAX_METADATA_BYTES} bytes as JSON` })
  .meta({ description: 'Free-form JSON object, at most 16 KiB.' });

const DOLLARS = z.number({ error: 'must be a number of US dollars, 0 or more' }).min(0, { error: 'must be a number of US dollars, 0 or more' });
const RATE_LIMITS = {
  rpm_limit: POSITIVE_INT.meta({ description: 'Requests per minute (sliding window).' }),
  tpm_limit: POSITIVE_INT.meta({ description: 'Tokens per minute, input plus output (sliding window).' }),
  max_parallel_requests: POSITIVE_INT.meta({ description: 'Requests in flight at once.' }),
} satisfies Record<(typeof RATE_LIMIT_FIELDS)[number], z.ZodType>;
const LIMITS = {
  ...RATE_LIMITS,
  max_budget: DOLLARS.meta({ description: 'US dollars per budget_duration; without a duration, a lifetime budget.' }),
  budget_duration: duration(false).meta({ description: 'Budget period: 1d, 24h, 7d, 30d, 1mo (calendar month, UTC).' }),
  token_budget: POSITIVE_INT.meta({ description: 'Tokens (input plus output) per budget_duration.' }),
  daily_token_cap: POSITIVE_INT.meta({ description: 'Tokens (input plus output) per UTC day.' }),
  max_cost_per_request: DOLLARS.meta({ description: 'Largest worst-case cost of one request, in US dollars.' }),
} satisfies Record<(typeof LIMIT_FIELDS)[number], z.ZodType>;
const MODEL_LIMITS = z.record(patterned(ALIAS_NAME, ALIAS_NAME_RULE), strict(RATE_LIMITS), { error: 'must map alias names to {rpm_limit, tpm_limit, max_parallel_requests}' })
  .refine((value) => Object.keys(value).length <= 1000, { error: 'must name at most 1000 aliases' })
  .meta({ description: 'Rate limits for this tenant on one alias (tenant × alias scope), by alias name.' });

/** The editable fields of each kind (ids excluded), as they appear in the record. */
export const TEAM_FIELDS = { team_alias: TEXT, models: MODELS, require_tenant: BOOLEAN, metadata: METADATA, ...LIMITS };
export const TENANT_FIELDS = {
  name: TEXT, plan: LABEL_TEXT.meta({ description: 'A free label such as free, pro, enterprise.' }), models: MODELS, model_limits: MODEL_LIMITS, metadata: METADATA, ...LIMITS,
};
export const KEY_FIELDS = {
  key_alias: TEXT,
  team_id: ID,
  project: LABEL_TEXT,
  environment: LABEL_TEXT,
  models: MODELS,
  tenant_id: ID.meta({ description: 'Binds the key to one tenant. Excludes allowed_tenants.' }),
  allowed_tenants: z.array(ID, { error: 'must be an array of tenant ids' })
    .min(1, { error: 'must name at least one tenant (use null to clear it)' }).max(1000, { error: 'must name at most 1000 tenants' })
    .meta({ description: 'The tenants the key may act for. Excludes tenant_id.' }),
  require_tenant: BOOLEAN,
  role: z.enum(['user', 'admin']),
  expires_at: DATE_TIME.meta({ description: 'When the key stops working. Excludes duration.' }),
  tags: z.array(LABEL_TEXT, { error: 'must be an array of labels' }).max(MAX_TAGS, { error: `must hold at most ${MAX_TAGS} tags` }),
  metadata: METADATA,
  ...LIMITS,
};

/** Fields that always have a value in a record: null in a patch resets them to this default. */
export const TEAM_DEFAULTS = { models: [], require_tenant: false, metadata: {} };
export const TENANT_DEFAULTS = { models: [], metadata: {} };
export const KEY_DEFAULTS = { models: [], role: 'user', tags: [], metadata: {} };

function optional<S extends Shape>(shape: S): { [K in keyof S]: z.ZodOptional<S[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([name, schema]) => [name, schema.optional()])) as never;
}

function patchable<S extends Shape>(shape: S): { [K in keyof S]: z.ZodOptional<z.ZodNullable<S[K]>> } {
  return Object.fromEntries(Object.entries(shape).map(([name, schema]) => [name, schema.nullable().optional()])) as never;
}

/** The record form of `shape`: fields named in `required` always present, the rest optional. */
export function recordShape(shape: Shape, required: readonly string[]): Shape {
  return Object.fromEntries(Object.entries(shape).map(([name, schema]) => [name, required.includes(name) ? schema : schema.optional()]));
}

const KEY_DURATION = duration(false).meta({ description: 'How long the key lives from now (LiteLLM\'s name), e.g. 30d. Excludes expires_at.' });

export const teamCreate = strict({ team_id: ID.optional().meta({ description: 'Default: team_ plus 12 hex characters.' }), ...optional(TEAM_FIELDS) });
export const teamPatch = strict(patchable(TEAM_FIELDS));
export const tenantCreate = strict({ tenant_id: ID, ...optional(TENANT_FIELDS) });
export const tenantPatch = strict(patchable(TENANT_FIELDS));
export const keyGenerate = strict({ ...optional(KEY_FIELDS), team_id: ID, duration: KEY_DURATION.optional() });
export const keyPatch = strict({ ...patchable(KEY_FIELDS), team_id: ID.optional(), duration: KEY_DURATION.optional() });
const LIMIT_SCOPE_TEXT = patterned(LIMIT_SCOPE, LIMIT_SCOPE_RULE)
  .meta({ description: '"global" (every call) or "deployment:<deployment id>" (rate limits only: that deployment\'s share of a vendor quota).' });
/** The fields of a limit policy (global: any limit; a deployment: rpm_limit, tpm_limit, max_parallel_requests). */
export const LIMIT_POLICY_FIELDS = LIMITS;
export const limitCreate = strict({ scope: LIMIT_SCOPE_TEXT, ...optional(LIMITS) });
export const limitPatch = strict(patchable(LIMITS));
export const keyRotate = strict({
  grace_period: duration(true).optional().meta({ description: 'How long the old secret keeps working, e.g. 24h; "0s" ends it at once. Default from config.' }),
});
/** revoke, block and unblock take no fields; a body, when sent, must be an empty object. */
export const noFields = strict({});

const PAGE_LIMIT = z.coerce.number({ error: `must be an integer from 1 to ${MAX_PAGE}` })
  .int({ error: `must be an integer from 1 to ${MAX_PAGE}` })
  .min(1, { error: `must be an integer from 1 to ${MAX_PAGE}` })
  .max(MAX_PAGE, { error: `must be an integer from 1 to ${MAX_PAGE}` })
  .meta({ description: `Page size, 1..${MAX_PAGE} (default ${DEFAULT_PAGE}).` });
const AFTER = z.string({ error: 'must be a string' }).max(256, { error: 'must be at most 256 characters' })
  .meta({ description: 'The `next` value of the previous page.' });

export const listQuery = strict({ limit: PAGE_LIMIT.optional(), after: AFTER.optional() });
export const keyListQuery = strict({
  limit: PAGE_LIMIT.optional(),
  after: AFTER.optional(),
  team_id: ID.optional(),
  status: z.enum(['active', 'blocked', 'revoked']).optional(),
});
export const auditQuery = strict({
  actor: TEXT.optional().meta({ description: 'master, key:<key_id>, cli:<user>, anonymous (open mode).' }),
  action: TEXT.optional().meta({ description: 'e.g. key.rotate, team.create.' }),
  object_type: z.enum(OBJECT_KINDS).optional(),
  object_id: TEXT.optional(),
  since: DATE_TIME.optional().meta({ description: 'Inclusive.' }),
  until: DATE_TIME.optional().meta({ description: 'Exclusive.' }),
  limit: PAGE_LIMIT.optional(),
  before_seq: z.coerce.number({ error: 'must be a positive integer' }).int({ error: 'must be a positive integer' })
    .min(1, { error: 'must be a positive integer' }).optional().meta({ description: 'The `next` value of the previous page.' }),
});
