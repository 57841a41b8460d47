// The cost ledger's admin API shapes: the query strings of GET /admin/spend, /admin/requests and
// /admin/guardrail-events (strict, like every admin input) and the response schemas the OpenAPI
// document shows.

import { z } from 'zod';
import { GUARDRAIL_VERDICTS, LEDGER_SCHEMA_VERSION, type LedgerEvent, type LedgerStatus } from '../ledger/ledger-event.ts';
import { FLAGGED_VERDICTS, type FlaggedVerdict, type GuardrailEventRow, type SpendDimension } from '../ledger/ledger-sink.ts';
import { DEFAULT_PAGE, MAX_PAGE } from './admin-schemas.ts';

export const SPEND_DIMENSIONS = ['tenant', 'feature', 'model', 'key', 'team', 'day', 'provider', 'deployment'] as const satisfies readonly SpendDimension[];
export const LEDGER_STATUSES = [
  'success', 'upstream_error', 'rate_limited', 'budget_blocked', 'auth_failed', 'invalid_request', 'client_gone', 'cache_hit',
] as const satisfies readonly LedgerStatus[];
export const SPEND_FORMATS = ['json', 'csv'] as const;
// Both lists must name every value of their type.
const allDimensions: Exclude<SpendDimension, (typeof SPEND_DIMENSIONS)[number]> extends never ? true : never = true;
const allStatuses: Exclude<LedgerStatus, (typeof LEDGER_STATUSES)[number]> extends never ? true : never = true;
void allDimensions;
void allStatuses;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ZONED_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
export const BOUND_RULE = 'an ISO-8601 date (2026-12-01, UTC midnight) or date-time with a time zone (2026-12-01T09:00:00Z)';

/** A report bound as a UTC ISO timestamp, or undefined when `text` is not a real date or zoned date-time. */
export function boundInstant(text: string): string | undefined {
  const match = DATE.exec(text) ?? ZONED_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  const ms = Date.parse(DATE.test(text) ? `${text}T00:00:00Z` : text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

const BOUND = z.string({ error: `must be ${BOUND_RULE}` })
  .refine((text) => boundInstant(text) !== undefined, { error: (issue) => `must be ${BOUND_RULE}; got ${JSON.stringify(String(issue.input).slice(0, 64))}` });
const FROM = BOUND.meta({ description: 'Start, inclusive: a date (UTC midnight) or a date-time with a time zone.' });
const TO = BOUND.meta({ description: 'End, exclusive (to=2027-01-01 ends with 2026-12-31): a date or a date-time with a time zone, after from.' });
const FILTER = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(256, { error: 'must be at most 256 characters' });

/** "day,tenant,feature" → the dimensions, or a message naming the first value that is not one. */
export function splitGroupBy(text: string): SpendDimension[] | string {
  const dims: SpendDimension[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (!(SPEND_DIMENSIONS as readonly string[]).includes(name)) {
      return `has ${name ? `"${name.slice(0, 64)}"` : 'an empty entry'}, which is not a dimension; use a comma-separated list of ${SPEND_DIMENSIONS.join(', ')}`;
    }
    if (!dims.includes(name as SpendDimension)) dims.push(name as SpendDimension);
  }
  return dims;
}

const GROUP_BY = z.string({ error: 'must be a comma-separated list of dimensions' })
  .refine((text) => Array.isArray(splitGroupBy(text)), { error: (issue) => String(splitGroupBy(String(issue.input))) })
  .meta({ description: `Comma-separated, in column order: ${SPEND_DIMENSIONS.join(', ')} (day is the UTC day). Absent: one row of totals.` });

export const spendQuery = z.strictObject({
  group_by: GROUP_BY.optional(),
  from: FROM.optional(),
  to: TO.optional(),
  tenant: FILTER.optional().meta({ description: 'Only this tenant_id.' }),
  feature: FILTER.optional().meta({ description: 'Only this feature_id (X-Feature-Id).' }),
  model: FILTER.optional().meta({ description: 'Only this model alias (as the client named it).' }),
  key: FILTER.optional().meta({ description: 'Only this key_id.' }),
  team: FILTER.optional().meta({ description: 'Only this team_id.' }),
  provider: FILTER.optional().meta({ description: 'Only this provider (openai, anthropic, azure, …).' }),
  format: z.enum(SPEND_FORMATS).optional().meta({ description: 'json (default) or csv (text/csv, one row per group, no totals row).' }),
}, { error: 'must be a JSON object' });

export const requestsQuery = z.strictObject({
  from: FROM.optional(),
  to: TO.optional(),
  tenant: FILTER.optional(),
  feature: FILTER.optional(),
  model: FILTER.optional().meta({ description: 'The model alias.' }),
  key: FILTER.optional(),
  team: FILTER.optional(),
  user: FILTER.optional().meta({ description: 'The user_id_hash recorded in the event.' }),
  status: z.enum(LEDGER_STATUSES).optional(),
  limit: z.coerce.number({ error: `must be an integer from 1 to ${MAX_PAGE}` }).int({ error: `must be an integer from 1 to ${MAX_PAGE}` })
    .min(1, { error: `must be an integer from 1 to ${MAX_PAGE}` }).max(MAX_PAGE, { error: `must be an integer from 1 to ${MAX_PAGE}` })
    .optional().meta({ description: `Page size, 1..${MAX_PAGE} (default ${DEFAULT_PAGE}).` }),
  cursor: z.string({ error: 'must be a string' }).max(512, { error: 'must be at most 512 characters' }).optional()
    .meta({ description: 'The `next` value of the previous page.' }),
}, { error: 'must be a JSON object' });

/**
 * The verdict parameter (given once, repeated, or as a comma list; `flag,block` and
 * `verdict=flag&verdict=block` are the same) → the verdicts, or a message naming the first
 * value that is not one.
 */
export function splitVerdicts(value: string | readonly string[]): FlaggedVerdict[] | string {
  const out: FlaggedVerdict[] = [];
  for (const raw of (typeof value === 'string' ? [value] : value).flatMap((text) => text.split(','))) {
    const name = raw.trim();
    if (!(FLAGGED_VERDICTS as readonly string[]).includes(name)) {
      return `has ${name ? `"${name.slice(0, 64)}"` : 'an empty entry'}, which is not a verdict; use ${FLAGGED_VERDICTS.join(', ')} (repeated, or comma-separated)`;
    }
    if (!out.includes(name as FlaggedVerdict)) out.push(name as FlaggedVerdict);
  }
  return out;
}

const VERDICTS = z.union([z.string(), z.array(z.string()).max(16)], { error: `must be one of ${FLAGGED_VERDICTS.join(', ')}` })
  .refine((value) => Array.isArray(splitVerdicts(value)), { error: (issue) => String(splitVerdicts(issue.input as string | string[])) })
  .meta({ description: `Only these verdicts: ${FLAGGED_VERDICTS.join(', ')}; repeat the parameter or give a comma-separated list. Absent: all three.` });

export const guardrailEventsQuery = z.strictObject({
  verdict: VERDICTS.optional(),
  tenant_id: FILTER.optional().meta({ description: 'Only this tenant_id.' }),
  team_id: FILTER.optional().meta({ description: 'Only this team_id.' }),
  key_id: FILTER.optional().meta({ description: 'Only this key_id.' }),
  alias: FILTER.optional().meta({ description: 'Only this model alias (as the client named it).' }),
  detector: FILTER.optional().meta({ description: 'Only calls with a detector whose name contains this text, case-sensitive (input:pii.email, pii.email, lakera, scanner_unavailable).' }),
  from: FROM.optional(),
  to: TO.optional(),
  limit: requestsQuery.shape.limit,
  cursor: requestsQuery.shape.cursor,
}, { error: 'must be a JSON object' });

// ── responses (for the OpenAPI document) ──────────────────────────────────────
const METRICS = {
  requests: z.int(),
  errors: z.int().meta({ description: 'Requests that were not served (every status but success and cache_hit).' }),
  input_tokens: z.int(),
  output_tokens: z.int(),
  cached_input_tokens: z.int(),
  total_tokens: z.int(),
  cost_usd: z.number(),
  saved_usd: z.number().meta({ description: 'What cache hits would have cost.' }),
};
const spendRow = z.object({
  ...Object.fromEntries(SPEND_DIMENSIONS.map((dim) => [dim, z.string().nullable().optional()])),
  ...METRICS,
}).meta({ description: 'One group: a field per group_by dimension (null: not recorded), then its totals.' });
export const spendReportSchema = z.object({
  group_by: z.array(z.enum(SPEND_DIMENSIONS)),
  from: z.string().nullable(),
  to: z.string().nullable(),
  filters: z.record(z.string(), z.string()),
  data: z.array(spendRow),
  totals: z.object(METRICS),
});

const nullableText = z.string().nullable();
export const ledgerEventSchema = z.object({
  schema_version: z.int(),
  event_id: z.string(),
  timestamp: z.string(),
  request_id: z.string(),
  trace_id: z.string(),
  endpoint: z.enum(['chat.completions', 'messages', 'embeddings']),
  stream: z.boolean(),
  key_id: nullableText, key_alias: nullableText, team_id: nullableText, tenant_id: nullableText, feature_id: nullableText, user_id_hash: nullableText,
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.string()),
  prompt_version: nullableText,
  model_alias: nullableText, model_resolved: nullableText, provider: nullableText, deployment_id: nullableText, region: nullableText,
  cache_hit: z.boolean(),
  usage: z.object({ input: z.int(), output: z.int(), cached_input: z.int(), cache_write: z.int(), reasoning: z.int(), total: z.int(), estimated: z.boolean() }),
  cost_usd: z.object({ input: z.number(), output: z.number(), total: z.number(), saved: z.number(), price_table_version: z.string(), price_missing: z.boolean() }),
  latency_ms: z.object({ gateway: z.number(), provider: z.number().nullable(), ttft: z.number().nullable(), total: z.number() }),
  outcome: z.object({
    status: z.enum(LEDGER_STATUSES),
    error_code: nullableText,
    http_status: z.int(),
    vendor_request_id: nullableText,
    attempts: z.int(),
    fallback_chain: z.array(z.string()),
    fallback_used: z.boolean(),
    rate_limit_tier: nullableText,
    guardrail_verdict: z.enum(GUARDRAIL_VERDICTS).nullable()
      .meta({ description: 'What the guardrails decided (pass, flag, redact, block); null when no guardrail policy applied.' }),
    guardrail_detectors: z.array(z.string())
      .meta({ description: 'The guardrail detectors that fired, as <input|output>:<detector> (input:pii.email, output:secret.jwt); empty when none. Names only, never the matched text.' }),
  }),
}).meta({ description: `One cost-ledger event (schema v${LEDGER_SCHEMA_VERSION}; v1 events read with guardrail_verdict null and guardrail_detectors []): one per model request, whatever its outcome.` });
export const requestPageSchema = z.object({
  data: z.array(ledgerEventSchema),
  next: z.string().optional().meta({ description: 'Absent on the last page; pass as cursor for the next (older) one.' }),
});

export const guardrailEventSchema = z.object({
  request_id: z.string(),
  event_id: z.string(),
  timestamp: z.string().meta({ description: 'When the request arrived (UTC, ISO 8601).' }),
  tenant_id: nullableText,
  team_id: nullableText,
  key_id: nullableText,
  alias: nullableText.meta({ description: 'The model alias the client named.' }),
  endpoint: z.enum(['chat.completions', 'messages', 'embeddings']),
  status: z.enum(LEDGER_STATUSES),
  guardrail_verdict: z.enum(FLAGGED_VERDICTS),
  guardrail_detectors: z.array(z.string()).meta({ description: 'The detectors that fired, as <input|output>:<detector>.' }),
  error_code: nullableText,
}).meta({ description: 'A call the guardrails flagged, redacted or blocked, from the cost ledger: who, what, the verdict and the detectors; never prompt or completion text.' });
export const guardrailEventPageSchema = z.object({
  data: z.array(guardrailEventSchema),
  next: z.string().optional().meta({ description: 'Absent on the last page; pass as cursor for the next (older) one.' }),
});

// The schemas above must name exactly the fields of what they describe.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const eventFieldsMatch: SameKeys<z.infer<typeof ledgerEventSchema>, LedgerEvent> = true;
const outcomeFieldsMatch: SameKeys<z.infer<typeof ledgerEventSchema>['outcome'], LedgerEvent['outcome']> = true;
const guardrailFieldsMatch: SameKeys<z.infer<typeof guardrailEventSchema>, GuardrailEventRow> = true;
void eventFieldsMatch;
void outcomeFieldsMatch;
void guardrailFieldsMatch;
