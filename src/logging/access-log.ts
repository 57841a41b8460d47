// The access log: one structured line per request (server.access_log, on by default). A model
// call's line is written once its ledger event exists and carries the ledger's key fields
// (outcome, tokens, cost, cache, fallback); any other request's line is written when its
// response closes. The logger redacts every string before the line is written.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LedgerEvent } from '../ledger/ledger-event.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Logger } from './logger.ts';

export function writeAccessLine(logger: Logger, ctx: RequestContext, req: IncomingMessage, res: ServerResponse, path: string, event?: LedgerEvent): void {
  const fields: Record<string, unknown> = {
    request_id: ctx.requestId,
    method: req.method,
    path,
    status: res.statusCode,
    duration_ms: Math.round((performance.now() - ctx.receivedAt) * 1000) / 1000,
    trace_id: ctx.trace.traceId,
  };
  if (event) addLedgerFields(fields, event);
  // The alias and deployment that served (after any fallback).
  if (ctx.served) Object.assign(fields, { model: ctx.served.alias, deployment: ctx.served.deployment, provider: ctx.served.provider });
  if (!event) {
    const principal = ctx.principal;
    if (principal.kind === 'virtual') Object.assign(fields, { key_id: principal.resolved.key.key_id, team_id: principal.resolved.key.team_id });
    else if (principal.kind === 'master') fields.key_id = 'master';
    if (ctx.tenantId) fields.tenant_id = ctx.tenantId;
    if (ctx.featureId) fields.feature_id = ctx.featureId;
  }
  if (ctx.route && ctx.route.attempts > 1) fields.attempts = ctx.route.attempts;
  if (ctx.route?.fallbackFrom) fields.fallback_from = ctx.route.fallbackFrom;
  if (!res.writableFinished) fields.client_aborted = true;
  logger.info('request', fields);
}

/** The ledger event's key fields (docs/ledger.md names them); nulls, zeros that say nothing and false flags are left out. */
function addLedgerFields(fields: Record<string, unknown>, event: LedgerEvent): void {
  const put = (key: string, value: unknown) => {
    if (value !== null && value !== undefined && value !== false) fields[key] = value;
  };
  put('outcome', event.outcome.status);
  put('model', event.model_alias);
  put('model_resolved', event.model_resolved);
  put('provider', event.provider);
  put('deployment', event.deployment_id);
  put('key_id', event.key_id);
  put('team_id', event.team_id);
  put('tenant_id', event.tenant_id);
  put('feature_id', event.feature_id);
  put('user_id_hash', event.user_id_hash);
  put('error_code', event.outcome.error_code);
  put('input_tokens', event.usage.input);
  put('output_tokens', event.usage.output);
  if (event.usage.cached_input > 0) put('cached_input_tokens', event.usage.cached_input);
  put('cost_usd', event.cost_usd.total);
  put('price_missing', event.cost_usd.price_missing);
  put('cache_hit', event.cache_hit);
  put('fallback_used', event.outcome.fallback_used);
  put('ttft_ms', event.latency_ms.ttft);
  put('stream', event.stream);
  if (event.tags.length > 0) put('tags', event.tags);
}
