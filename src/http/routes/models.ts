import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AliasConfig } from '../../config/gateway-config.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { authorizeModel, mayUseModel, unrestricted } from '../../pipeline/model-access.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { resolveAlias } from '../../pipeline/route.ts';
import type { AppDeps } from '../app-deps.ts';
import { baseHeaders, sendJson } from '../respond.ts';

function modelEntry(alias: AliasConfig, created: number) {
  return { id: alias.name, object: 'model', created, owned_by: 'tollgate', ...(alias.description ? { description: alias.description } : {}) };
}

/** GET /v1/models: the aliases the caller may use, in OpenAI's list shape (the full list is built once). */
export function modelsRoute(deps: AppDeps, startedAt: number) {
  const created = Math.floor(startedAt / 1000);
  const entries = [...deps.config.aliases.values()].map((alias) => modelEntry(alias, created));
  const everything = JSON.stringify({ object: 'list', data: entries });
  return async function models(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = unrestricted(ctx) ? everything : JSON.stringify({ object: 'list', data: entries.filter((e) => mayUseModel(ctx, e.id)) });
    sendJson(res, 200, body, baseHeaders(ctx));
  };
}

/** GET /v1/models/{id}: one alias, or model_not_found. */
export function modelRoute(deps: AppDeps, startedAt: number) {
  const created = Math.floor(startedAt / 1000);
  return async function model(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]!;
    const raw = path.slice(path.indexOf('/models/') + '/models/'.length);
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch {
      throw new GatewayError('invalid_request', `The model id in the path is not valid percent-encoding: "${raw.slice(0, 100)}".`, { param: 'model' });
    }
    const alias = resolveAlias(deps.config, id, (name) => mayUseModel(ctx, name));
    authorizeModel(ctx, alias.name);
    sendJson(res, 200, JSON.stringify(modelEntry(alias, created)), baseHeaders(ctx));
  };
}
