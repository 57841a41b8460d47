import type { IncomingMessage } from 'node:http';
import type { AliasConfig } from '../../config/gateway-config.ts';
import { providerFor } from '../../providers/registry.ts';
import type { Deployment, ProviderAdapter } from '../../providers/types.ts';
import { authorizeModel, mayUseModel } from '../../pipeline/model-access.ts';
import { header, type RequestContext } from '../../pipeline/request-context.ts';
import { pickDeployment, resolveAlias } from '../../pipeline/route.ts';
import type { Admission, TokenDemand } from '../../pipeline/policy.ts';
import type { AppDeps } from '../app-deps.ts';

export const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
});

export interface Chosen {
  alias: AliasConfig;
  dep: Deployment;
  adapter: ProviderAdapter;
}

/** Route stage for one request: alias → deployment → its provider adapter. */
export function startDeployment(deps: AppDeps, ctx: RequestContext, model: string): Chosen {
  const alias = resolveAlias(deps.config, model, (name) => mayUseModel(ctx, name));
  authorizeModel(ctx, alias.name);
  const dep = pickDeployment(alias, deps.random);
  ctx.served = { alias: alias.name, deployment: dep.id, provider: dep.provider };
  return { alias, dep, adapter: providerFor(dep.provider) };
}

/** Policy stage for the chosen deployment: limits, cost cap and budget reservation (undefined when none apply). */
export function admit(deps: AppDeps, ctx: RequestContext, req: IncomingMessage, chosen: Chosen, stream: boolean, demand: () => TokenDemand): Promise<Admission | undefined> {
  return deps.policy(ctx, chosen.alias.name, chosen.dep, demand, header(req.headers, 'x-max-cost-usd'), stream);
}
