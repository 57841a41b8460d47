import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.ts';
import { attributeBody } from '../../pipeline/attribution.ts';
import { readJsonResponse } from '../../pipeline/dispatch.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { encodingFor } from '../../limits/token-estimate.ts';
import { usageFromOpenAI } from '../../providers/shared/usage.ts';
import type { OpenAIUsage } from '../../providers/types.ts';
import { requireObject, validateEmbeddingsRequest } from '../../pipeline/validate-request.ts';
import type { AppDeps } from '../app-deps.ts';
import { readJsonBody } from '../read-json.ts';
import { sendJson, servedHeaders } from '../respond.ts';
import { withUsage } from './route-helpers.ts';

/** POST /v1/embeddings */
export function embeddingsRoute(deps: AppDeps) {
  return async function embeddings(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = validateEmbeddingsRequest(requireObject((await readJsonBody(req, deps.config.server.maxBodyBytes)).value));
    attributeBody(ctx, request as unknown as Record<string, unknown>, deps.config.identity.userIdSalt);
    if (ctx.ledger?.capture) ctx.ledger.capture.prompt = request;
    await deps.call(ctx, req, {
      model: request.model,
      stream: false,
      demand: ({ dep }) => ({ inputTokens: deps.tokens.embeddingsInputTokens(request, encodingFor(dep.model)), maxOutputTokens: 0 }),
      prepare({ dep, adapter }) {
        if (!adapter.embeddings) {
          throw new GatewayError('endpoint_not_supported', `The model "${request.model}" routes to ${dep.provider}, which has no embeddings endpoint. Use an embeddings alias.`, { param: 'model' });
        }
        return adapter.embeddings.toRequest(request, dep);
      },
      async deliver(call, { dep, adapter }, extra) {
        const { raw, json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
        const response = adapter.embeddings!.fromResponse(json, dep);
        const usage = usageFromOpenAI(response.usage as OpenAIUsage | undefined);
        sendJson(res, 200, raw, withUsage({ ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...extra }, usage, dep, deps.prices));
        return usage ? { usage } : {};
      },
    });
  };
}
