import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../../pipeline/request-context.ts';
import type { AppDeps } from '../app-deps.ts';
import { baseHeaders, sendJson } from '../respond.ts';

/** GET /v1/models: the aliases, in OpenAI's list shape (built once; config is frozen). */
export function modelsRoute(deps: AppDeps, startedAt: number) {
  const created = Math.floor(startedAt / 1000);
  const body = JSON.stringify({
    object: 'list',
    data: [...deps.config.aliases.values()].map((alias) => ({
      id: alias.name,
      object: 'model',
      created,
      owned_by: 'tollgate',
      ...(alias.description ? { description: alias.description } : {}),
    })),
  });
  return async function models(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(res, 200, body, baseHeaders(ctx));
  };
}
