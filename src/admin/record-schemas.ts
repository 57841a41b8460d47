// The admin API's response shapes as zod schemas, built from the same field schemas as the
// inputs. They exist for the OpenAPI document; responses are the records themselves.

import { z } from 'zod';
import { ERROR_CODES } from '../errors/codes.ts';
import { OBJECT_KINDS } from '../identity/records.ts';
import { DATE_TIME, ID, KEY_DEFAULTS, KEY_FIELDS, LIMIT_POLICY_FIELDS, recordShape, TEAM_DEFAULTS, TEAM_FIELDS, TENANT_DEFAULTS, TENANT_FIELDS } from './admin-schemas.ts';

const STAMPS = {
  source: z.enum(['config', 'api']).meta({ description: 'config = declared in the config file, read-only through the API.' }),
  created_at: DATE_TIME,
  updated_at: DATE_TIME,
};

export const teamRecord = z.object({ team_id: ID, ...recordShape(TEAM_FIELDS, Object.keys(TEAM_DEFAULTS)), ...STAMPS });
export const tenantRecord = z.object({ tenant_id: ID, ...recordShape(TENANT_FIELDS, Object.keys(TENANT_DEFAULTS)), ...STAMPS });
export const keyRecord = z.object({
  key_id: z.string(),
  key_name: z.string().meta({ description: 'Masked preview of the current secret, e.g. sk-tg-…x7Qa.' }),
  ...recordShape(KEY_FIELDS, [...Object.keys(KEY_DEFAULTS), 'team_id']),
  status: z.enum(['active', 'blocked', 'revoked']),
  created_by: z.string(),
  rotated_at: DATE_TIME.optional(),
  rotation_grace_seconds: z.int().optional(),
  ...STAMPS,
});
export const limitRecord = z.object({ scope: z.string(), ...recordShape(LIMIT_POLICY_FIELDS, []), ...STAMPS });
export const keyWithSecret = keyRecord.extend({
  key: z.string().meta({ description: 'The secret, shown exactly once. Send it as Authorization: Bearer <key>.' }),
});

function page<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next: z.string().optional().meta({ description: 'Absent on the last page.' }) });
}

export const teamPage = page(teamRecord);
export const tenantPage = page(tenantRecord);
export const keyPage = page(keyRecord);
export const limitPage = page(limitRecord);

export const auditEntry = z.object({
  seq: z.int(),
  at: DATE_TIME,
  actor: z.string(),
  action: z.string(),
  object_type: z.enum(OBJECT_KINDS),
  object_id: z.string(),
  request_id: z.string().optional(),
  before: z.union([teamRecord, tenantRecord, keyRecord, limitRecord]).nullable().optional(),
  after: z.union([teamRecord, tenantRecord, keyRecord, limitRecord]).nullable().optional(),
});
export const auditPage = page(auditEntry);

export const teamDeleted = z.object({ deleted: z.literal(true), team_id: z.string() });
export const tenantDeleted = z.object({ deleted: z.literal(true), tenant_id: z.string() });
export const keyDeleted = z.object({ deleted: z.literal(true), key_id: z.string() });
export const limitDeleted = z.object({ deleted: z.literal(true), scope: z.string() });

const budgetReport = z.object({
  budget: z.enum(['usd', 'tokens', 'daily_tokens']).meta({ description: 'usd: max_budget per budget_duration; tokens: token_budget per budget_duration; daily_tokens: daily_token_cap.' }),
  unit: z.enum(['usd', 'tokens']),
  period: z.string().meta({ description: 'The period id: "2026-12" for a calendar month, "all" for a lifetime budget.' }),
  period_starts_at: DATE_TIME.nullable(),
  period_ends_at: DATE_TIME.nullable().meta({ description: 'When the budget resets; null when it never does.' }),
  limit: z.number().nullable().meta({ description: 'null: spend is tracked without a limit.' }),
  spent: z.number().meta({ description: 'Settled spend in the period (US dollars or tokens).' }),
  reserved: z.number().meta({ description: 'Held by requests in flight.' }),
  remaining: z.number().nullable(),
});
export const spendReport = z.object({
  object_type: z.enum(['key', 'team', 'tenant', 'global']),
  object_id: z.string(),
  budgets: z.array(budgetReport),
});

export const errorEnvelope = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...Array<keyof typeof ERROR_CODES>]),
    param: z.string().nullable(),
  }),
});
