// The admin API over logged prompts (ledger.prompt_logging): read one call's prompt and
// completion, and delete them by request, by end user (the ledger's user_id_hash) or by tenant.
// Handlers take the prompt logger (undefined when this gateway keeps no prompt log) and the
// parsed path parameter or query; bad input is a 400 invalid_request naming the parameter, a
// store outage a 503 store_unavailable.

import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.ts';
import { OBJECT_ID, OBJECT_ID_RULE } from '../identity/ids.ts';
import type { PromptLogger } from '../ledger/prompt-log/prompt-logger.ts';
import type { PromptLogRow, PromptLogSelector } from '../ledger/prompt-log/prompt-log-store.ts';
import { StoreUnavailable } from '../stores/identity-store.ts';
import type { Actor } from './admin-service.ts';
import { invalidField, parseInput } from './parse-input.ts';

/** Request ids as the gateway accepts and issues them (x-request-id). */
export const REQUEST_ID = /^[\w.:@-]{1,128}$/;
const REQUEST_ID_RULE = '1-128 characters of letters, digits and _ . : @ -';
/** The ledger's user_id_hash: 32 lower-case hex characters. */
export const USER_HASH = /^[0-9a-f]{32}$/;
const USER_HASH_RULE = 'the user_id_hash shown by the ledger (32 lower-case hex characters), not the user id itself';

function patterned(pattern: RegExp, rule: string) {
  const error = `must be ${rule}`;
  return z.string({ error }).regex(pattern, { error });
}

const SELECTORS = ['request_id', 'user', 'tenant'] as const;

export const promptDeleteQuery = z.strictObject(
  {
    request_id: patterned(REQUEST_ID, REQUEST_ID_RULE).optional().meta({ description: 'Delete the prompt of this request.' }),
    user: patterned(USER_HASH, USER_HASH_RULE).optional().meta({ description: "Delete every prompt of this end user (the ledger's user_id_hash)." }),
    tenant: patterned(OBJECT_ID, OBJECT_ID_RULE).optional().meta({ description: 'Delete every prompt of this tenant.' }),
  },
  { error: 'must be a JSON object' },
);

const ISO = z.iso.datetime({ offset: true });

export const promptLogRecord = z.object({
  request_id: z.string(),
  timestamp: ISO.meta({ description: 'When the request arrived.' }),
  expires_at: ISO.meta({ description: 'When the prompt is purged (ledger.prompt_logging.retention_days).' }),
  tenant_id: z.string().nullable(),
  team_id: z.string().nullable(),
  key_id: z.string().nullable(),
  user_id_hash: z.string().nullable(),
  model_alias: z.string().nullable(),
  prompt: z.unknown().meta({ description: 'The request body as JSON, redacted ([EMAIL], [PHONE], [CARD], [IBAN], [SSN], [SECRET]); a cut one carries "[TRUNCATED]" markers.' }),
  completion: z.string().meta({ description: 'The response text, redacted; a cut one ends with …[TRUNCATED].' }),
});

export const promptLogDeleted = z.object({ deleted: z.int().min(0).meta({ description: 'Prompts deleted (stored, and still queued on this replica).' }) });

export type PromptLogView = z.output<typeof promptLogRecord>;

/** GET /admin/prompts/{request_id}: one call's logged prompt and completion; 404 when none is stored. */
export async function getPromptLog(prompts: PromptLogger | undefined, requestId: string, actor?: Actor): Promise<PromptLogView> {
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
    throw invalidField('request_id', `request_id must be ${REQUEST_ID_RULE}.`);
  }
  const row = prompts ? await storeCall(() => prompts.get(requestId, actor?.id ?? 'unknown')) : undefined;
  if (!row) {
    throw new GatewayError(
      'resource_not_found',
      `No prompt is logged for request ${requestId}. Prompts are logged only for the teams and tenants listed in ledger.prompt_logging, and are purged after its retention_days.`,
      { param: 'request_id' },
    );
  }
  return view(row);
}

/** DELETE /admin/prompts?request_id=|user=|tenant= (exactly one): `{deleted: n}`. */
export async function deletePromptLogs(prompts: PromptLogger | undefined, query: unknown, actor?: Actor): Promise<z.output<typeof promptLogDeleted>> {
  const parsed = parseInput(promptDeleteQuery, query ?? {}, 'query string');
  const given = SELECTORS.filter((name) => parsed[name] !== undefined);
  if (given.length !== 1) {
    const param = given.length === 0 ? 'request_id' : given[1]!;
    const sent = given.length === 0 ? 'none was sent' : `${given.join(' and ')} were sent`;
    throw invalidField(param, `Send exactly one of request_id, user or tenant (${sent}).`);
  }
  const name = given[0]!;
  const value = parsed[name]!;
  const selector: PromptLogSelector = name === 'request_id' ? { requestId: value } : name === 'user' ? { userHash: value } : { tenantId: value };
  if (!prompts) return { deleted: 0 };
  const deleted = await storeCall(() => prompts.deleteBy(selector, actor?.id));
  return { deleted };
}

function view(row: PromptLogRow): PromptLogView {
  let prompt: unknown = row.prompt;
  try {
    prompt = JSON.parse(row.prompt);
  } catch {
    // Stored by another writer as plain text: returned as it is.
  }
  return {
    request_id: row.request_id,
    timestamp: row.ts,
    expires_at: row.expires_at,
    tenant_id: row.tenant_id,
    team_id: row.team_id,
    key_id: row.key_id,
    user_id_hash: row.user_id_hash,
    model_alias: row.model_alias,
    prompt,
    completion: row.completion,
  };
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof StoreUnavailable) {
      throw new GatewayError('store_unavailable', `The prompt log store is unavailable: ${error.message} Retry when the database is back.`, { cause: error });
    }
    throw error;
  }
}
