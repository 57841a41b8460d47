// The `ledger.prompt_logging:` config section. Prompts and completions are personal data, so
// logging them is off by default: only the ledger's metadata is kept. A call's prompt and
// completion are stored (redacted, truncated, for retention_days) when its team or its tenant
// is listed here. Nothing listed: nothing logged.

import { z } from 'zod';
import { OBJECT_ID, OBJECT_ID_RULE } from '../identity/ids.ts';
import { fromEnv } from './identity-schema.ts';

export const DEFAULT_PROMPT_RETENTION_DAYS = 30;
export const DEFAULT_PROMPT_MAX_CHARS = 100_000;
export const MIN_PROMPT_MAX_CHARS = 1_000;
export const MAX_PROMPT_MAX_CHARS = 10_000_000;

const objectId = z.string().regex(OBJECT_ID, { error: `must be ${OBJECT_ID_RULE}` });

export const promptLogSchema = z.strictObject({
  /** Team ids whose calls are logged. */
  teams: z.array(objectId).max(10_000).default([]),
  /** Tenant ids whose calls are logged (whatever the team). */
  tenants: z.array(objectId).max(100_000).default([]),
  /** Logged calls are purged this many days after the call. */
  retention_days: fromEnv(
    z.number().int({ error: 'must be a whole number of days, 1 to 3650' }).min(1, { error: 'must be a whole number of days, 1 to 3650' }).max(3650, {
      error: 'must be a whole number of days, 1 to 3650',
    }),
  ).default(DEFAULT_PROMPT_RETENTION_DAYS),
  /** Longest prompt (as JSON) and completion kept, in characters each; longer ones are cut with a [TRUNCATED] marker. */
  max_chars: fromEnv(
    z.number().int().min(MIN_PROMPT_MAX_CHARS, { error: `must be an integer from ${MIN_PROMPT_MAX_CHARS} to ${MAX_PROMPT_MAX_CHARS}` }).max(MAX_PROMPT_MAX_CHARS, {
      error: `must be an integer from ${MIN_PROMPT_MAX_CHARS} to ${MAX_PROMPT_MAX_CHARS}`,
    }),
  ).default(DEFAULT_PROMPT_MAX_CHARS),
}).prefault({});

export type PromptLogInput = z.output<typeof promptLogSchema>;
