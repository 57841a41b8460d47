// Who a call is for, ready for the ledger: tenant, feature, end user (hashed), tags, metadata
// and prompt version, from headers (X-Tenant-Id, X-Feature-Id, X-User-Id, X-Gateway-Tags,
// X-Prompt-Version) and from the body (OpenAI's `user` and `metadata`, Anthropic's
// `metadata.user_id`, LiteLLM's `metadata.tags`). A malformed header is a
// 400 naming it, never silently ignored.

import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import { LABEL, LABEL_RULE, OBJECT_ID, OBJECT_ID_RULE } from '../identity/ids.ts';
import { header, type RequestContext } from './request-context.ts';

const MAX_TAGS = 32;
const MAX_USER_LENGTH = 256;

function badHeader(name: string, rule: string): GatewayError {
  return new GatewayError('invalid_request', `The ${name} header must be ${rule}.`, { param: name });
}

/** Hashes end-user ids so the ledger can group by user without holding who they are. */
export function hashUserId(user: string, salt: string): string {
  return createHmac('sha256', salt).update(user).digest('hex').slice(0, 32);
}

export function parseTags(value: string, param: string): string[] {
  const tags = value.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags.length > MAX_TAGS) throw new GatewayError('invalid_request', `${param}: at most ${MAX_TAGS} tags.`, { param });
  for (const tag of tags) if (!LABEL.test(tag)) throw badHeader(param, `a comma-separated list of tags, each ${LABEL_RULE}`);
  return tags;
}

/** Header attribution, before auth (auth then checks the tenant against the key). */
export function attributeHeaders(ctx: RequestContext, headers: IncomingHttpHeaders, userSalt: string): void {
  const tenant = header(headers, 'x-tenant-id');
  if (tenant !== undefined) {
    if (!OBJECT_ID.test(tenant)) throw badHeader('X-Tenant-Id', OBJECT_ID_RULE);
    ctx.tenantId = tenant;
  }
  const feature = header(headers, 'x-feature-id');
  if (feature !== undefined) {
    if (!LABEL.test(feature)) throw badHeader('X-Feature-Id', LABEL_RULE);
    ctx.featureId = feature;
  }
  const user = header(headers, 'x-user-id');
  if (user !== undefined) {
    if (user.length === 0 || user.length > MAX_USER_LENGTH) throw badHeader('X-User-Id', `1-${MAX_USER_LENGTH} characters`);
    ctx.userHash = hashUserId(user, userSalt);
  }
  const tags = header(headers, 'x-gateway-tags');
  if (tags !== undefined) ctx.tags = parseTags(tags, 'X-Gateway-Tags');
  const promptVersion = header(headers, 'x-prompt-version');
  if (promptVersion !== undefined) {
    if (!LABEL.test(promptVersion)) throw badHeader('X-Prompt-Version', LABEL_RULE);
    ctx.promptVersion = promptVersion;
  }
}

const MAX_METADATA_KEYS = 16;
const MAX_METADATA_VALUE = 512;

/** The request's metadata for the ledger: its string values (OpenAI's form), the end user's id left out. */
function ledgerMetadata(metadata: Record<string, unknown>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let n = 0;
  for (const [key, value] of Object.entries(metadata)) {
    if (key === 'user_id' || key === 'tags' || typeof value !== 'string' || n >= MAX_METADATA_KEYS) continue;
    (out ??= {})[key.slice(0, 64)] = value.slice(0, MAX_METADATA_VALUE);
    n += 1;
  }
  return out;
}

/**
 * Body attribution: the end user from `user` (OpenAI) or `metadata.user_id` (Anthropic), unless
 * X-User-Id already named one, and tags from `metadata.tags` (LiteLLM's form). metadata.tags is
 * removed from the body, since providers reject a non-string metadata value; returns true when
 * the body was changed that way (it must then be re-serialised).
 */
export function attributeBody(ctx: RequestContext, body: Record<string, unknown>, userSalt: string): boolean {
  if (ctx.userHash === undefined) {
    const metadata = body.metadata as Record<string, unknown> | undefined;
    const user = typeof body.user === 'string' ? body.user : typeof metadata?.user_id === 'string' ? metadata.user_id : undefined;
    if (user) ctx.userHash = hashUserId(user, userSalt);
  }
  const metadata = body.metadata;
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return false;
  const recorded = ledgerMetadata(metadata as Record<string, unknown>);
  if (recorded) ctx.metadata = recorded;
  if (!('tags' in metadata)) return false;
  const tags = (metadata as { tags?: unknown }).tags;
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
    throw new GatewayError('invalid_request', 'metadata.tags: must be an array of strings.', { param: 'metadata.tags' });
  }
  const extra = parseTags(tags.join(','), 'metadata.tags');
  ctx.tags = ctx.tags ? [...new Set([...ctx.tags, ...extra])] : extra;
  const { tags: _removed, ...rest } = metadata as Record<string, unknown>;
  if (Object.keys(rest).length === 0) delete body.metadata;
  else body.metadata = rest;
  return true;
}
