import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.ts';
import { attributeBody } from '../../pipeline/attribution.ts';
import { callUpstream, readJsonResponse } from '../../pipeline/dispatch.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { encodingFor } from '../../limits/token-estimate.ts';
import { usageFromOpenAI } from '../../providers/shared/usage.ts';
import type { OpenAIUsage, Usage } from '../../providers/types.ts';
import { requireObject, validateEmbeddingsRequest } from '../../pipeline/validate-request.ts';
import type { AppDeps } from '../app-deps.ts';
import { readJsonBody } from '../read-json.ts';
import { sendJson, servedHeaders } from '../respond.ts';
import { admit, startDeployment } from './route-helpers.ts';

/** POST /v1/embeddings */
export function embeddingsRoute(deps: AppDeps) {
  return async function embeddings(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = validateEmbeddingsRequest(requireObject((await readJsonBody(req, deps.config.server.maxBodyBytes)).value));
    const chosen = startDeployment(deps, ctx, request.model);
    const { dep, adapter } = chosen;
    attributeBody(ctx, request as unknown as Record<string, unknown>, deps.config.identity.userIdSalt);
    if (!adapter.embeddings) {
      throw new GatewayError('endpoint_not_supported', `The model "${request.model}" routes to ${dep.provider}, which has no embeddings endpoint. Use an embeddings alias.`, { param: 'model' });
    }
    const admission = await admit(deps, ctx, req, chosen, false, () => ({ inputTokens: deps.tokens.embeddingsInputTokens(request, encodingFor(dep.model)), maxOutputTokens: 0 }));
    const outcome: { usage?: Usage; accepted: boolean } = { accepted: false };
    try {
      const call = await callUpstream(deps, ctx, dep, adapter, adapter.embeddings.toRequest(request, dep), false);
      outcome.accepted = true;
      const { raw, json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
      const response = adapter.embeddings.fromResponse(json, dep);
      const usage = usageFromOpenAI(response.usage as OpenAIUsage | undefined);
      if (usage) outcome.usage = usage;
      const headers = { ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...admission?.headers };
      headers['x-usage-total-tokens'] = String(response.usage?.total_tokens ?? 0);
      sendJson(res, 200, raw, headers);
    } finally {
      admission?.settle(outcome);
    }
  };
}
