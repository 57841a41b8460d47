// POST /admin/cache/invalidate: drops cached answers at once on every replica (for a knowledge-
// base ingest webhook, or an operator). The body names whose entries: exactly one of tenant,
// team or key, and optionally one alias.
//
//   {"tenant": "acme"}                       every alias, every version of acme's entries
//   {"tenant": "acme", "alias": "faq-bot"}   only faq-bot's
//
// A version bump (X-Cache-Namespace-Version or cache.namespace_version) needs no call: entries
// of other versions are simply never looked up.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResponseCache } from '../../cache/response-cache.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import type { AuditEntry } from '../../identity/records.ts';
import type { Logger } from '../../logging/logger.ts';
import { actorId } from '../../pipeline/auth.ts';
import { readJsonBody } from '../read-json.ts';
import { sendJson } from '../respond.ts';

const OWNERS = ['tenant', 'team', 'key'] as const;
const FIELDS = new Set<string>([...OWNERS, 'alias']);
const ID = /^[\x21-\x7e]{1,256}$/;

function invalid(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

/** The selector in the body; throws invalid_request naming the field to fix. */
export function invalidationSelector(body: unknown): { kind: 'tenant' | 'team' | 'key'; id: string; owner: string; alias?: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('body', 'The body must be a JSON object like {"tenant": "acme", "alias": "faq-bot"}.');
  const fields = body as Record<string, unknown>;
  for (const name of Object.keys(fields)) if (!FIELDS.has(name)) throw invalid(name, `${name} is not a field here; send one of tenant, team or key, and optionally alias.`);
  const given = OWNERS.filter((name) => fields[name] !== undefined);
  if (given.length !== 1) throw invalid('tenant', 'Send exactly one of tenant, team or key: whose cached answers to drop.');
  const kind = given[0]!;
  const id = fields[kind];
  if (typeof id !== 'string' || !ID.test(id)) throw invalid(kind, `${kind} must be an id: 1-256 printable characters without spaces.`);
  const alias = fields.alias;
  if (alias !== undefined && (typeof alias !== 'string' || !ID.test(alias))) throw invalid('alias', 'alias must be an alias name.');
  return { kind, id: id as string, owner: `${kind}:${id}`, ...(alias !== undefined ? { alias: alias as string } : {}) };
}

export interface CacheInvalidateOptions {
  readonly maxBodyBytes: number;
  /** Writes the audit entry of an invalidation (the admin audit log). */
  readonly audit: (entry: AuditEntry) => Promise<void>;
  readonly logger: Logger;
}

export function cacheInvalidateRoute(cache: ResponseCache | undefined, options: CacheInvalidateOptions) {
  return async function cacheInvalidate(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!cache) throw new GatewayError('cache_disabled', 'The response cache is off on this gateway (cache.enabled: false): there is nothing to invalidate.');
    const selector = invalidationSelector((await readJsonBody(req, options.maxBodyBytes)).value);
    try {
      await cache.invalidate(selector);
    } catch (err) {
      throw new GatewayError('cache_unavailable', `The cache store could not be reached, so nothing was invalidated: ${(err as Error).message}. Retry when it is back.`, { cause: err });
    }
    // The invalidation has happened: an audit log that cannot be written is logged, not answered as a failure.
    await options.audit({
      at: new Date().toISOString(), actor: actorId(ctx.principal), action: `cache.invalidate${selector.alias ? `:${selector.alias}` : ''}`,
      object_type: selector.kind, object_id: selector.id, request_id: ctx.requestId,
    }).catch((err: unknown) => options.logger.error('cache invalidation done, but its audit entry could not be written', { request_id: ctx.requestId, error: String((err as Error)?.message ?? err) }));
    sendJson(res, 200, JSON.stringify({ invalidated: { namespace_owner: selector.owner, ...(selector.alias ? { alias: selector.alias } : {}) } }), { 'x-request-id': ctx.requestId });
  };
}
