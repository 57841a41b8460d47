import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.ts';
import { chatTargets } from '../../guardrails/scan-targets.ts';
import { chatStreamMode } from '../../pipeline/chat-stream-mode.ts';
import { guardStage, type GuardedCall } from '../../pipeline/guard-stage.ts';
import { GuardedStream } from '../../pipeline/guarded-stream.ts';
import { usageFromOpenAI } from '../../providers/shared/usage.ts';
import type { ChatCompletion, ChatRequest } from '../../providers/types.ts';
import { fromOpenAiMessages } from '../../cache/semantic-conversation.ts';
import { StreamAssembler } from '../../cache/stream-assembler.ts';
import { CACHE_HEADER, cacheStage } from '../../pipeline/cache-stage.ts';
import { encodingFor, maxOutputTokens } from '../../limits/token-estimate.ts';
import { completionText } from '../../ledger/prompt-log/completion-text.ts';
import { readJsonResponse } from '../../pipeline/dispatch.ts';
import { attributeBody } from '../../pipeline/attribution.ts';
import { applyParamSupport } from '../../pipeline/param-support.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { relayStream } from '../../pipeline/stream-relay.ts';
import { requireObject, validateChatRequest } from '../../pipeline/validate-request.ts';
import type { AppDeps } from '../app-deps.ts';
import { readJsonBody } from '../read-json.ts';
import { sendError, sendJson, servedHeaders } from '../respond.ts';
import { delivered, SSE_HEADERS, withUsage } from './route-helpers.ts';

/** Only whole answers are cached: every choice stopped or hit its length (no filter, no tool call). */
function cacheable(completion: ChatCompletion): boolean {
  return completion.choices.length > 0 && completion.choices.every((c) => c.finish_reason === 'stop' || c.finish_reason === 'length');
}

/** The output guard on a whole completion: false when it may be sent, else the block (already answered as an error). */
async function outputBlocked(guarded: GuardedCall<Record<string, unknown>>, completion: ChatCompletion, ctx: RequestContext, res: ServerResponse): Promise<GatewayError | false> {
  try {
    await guarded.completion(completion, ctx);
    return false;
  } catch (err) {
    if (!(err instanceof GatewayError) || (err.code !== 'guardrail_blocked' && err.code !== 'guardrail_unavailable')) throw err;
    sendError(res, ctx, err, 'openai');
    return err;
  }
}

/** POST /v1/chat/completions */
export function chatCompletionsRoute(deps: AppDeps) {
  return async function chatCompletions(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonBody(req, deps.config.server.maxBodyBytes);
    const validated: ChatRequest = validateChatRequest(requireObject(body.value));
    const attributed = attributeBody(ctx, validated as unknown as Record<string, unknown>, deps.config.identity.userIdSalt);
    const guarded = await guardStage(deps.guardrails, deps.config, ctx, validated.model, validated as unknown as Record<string, unknown>, (b) => chatTargets(b.messages as unknown[]));
    const chat = (guarded?.body ?? validated) as unknown as ChatRequest;
    const stream = chat.stream === true;
    const clientWantsUsage = stream && chat.stream_options?.include_usage === true;
    const capture = ctx.ledger?.capture;
    if (capture) capture.prompt = body.value;
    const body$ = chat as unknown as Record<string, unknown>;
    const cached = await cacheStage(deps, ctx, req, res, { endpoint: 'chat', body: body$, stream, includeUsage: clientWantsUsage, conversation: () => fromOpenAiMessages(chat.messages) }, chat.model);
    if (cached.served) return;
    const cacheHeader: Record<string, string> = cached.header ? { [CACHE_HEADER]: cached.header } : {};
    const hasCacheField = body$.cache !== undefined;
    // An answer with the caller's own values put back in must never be served to anyone else.
    const store = guarded?.pseudonymizer && guarded.policy.restorePii ? undefined : cached.store;
    await deps.call(ctx, req, {
      model: chat.model,
      stream,
      demand: ({ dep }) => ({ inputTokens: deps.tokens.chatInputTokens(chat, encodingFor(dep.model)), maxOutputTokens: maxOutputTokens(chat, dep) }),
      prepare({ dep, adapter }) {
        // Each deployment gets its own copy: what one provider drops, another may take.
        const request: ChatRequest = { ...chat };
        // The cache controls are the gateway's (LiteLLM's body form), never the provider's.
        if (hasCacheField) delete (request as { cache?: unknown }).cache;
        const dropped = applyParamSupport(request, adapter, dep);
        // Streams always ask the provider for usage, so no streamed call goes uncounted.
        if (stream && !clientWantsUsage) request.stream_options = { ...request.stream_options, include_usage: true };
        const unchanged = dropped.length === 0 && !attributed && !hasCacheField && !guarded?.changed && (!stream || clientWantsUsage);
        return adapter.chat.toRequest(request, dep, unchanged ? body.text : undefined);
      },
      async deliver(call, { dep, adapter }, extra) {
        if (!stream) {
          const { raw, json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
          const completion = adapter.chat.fromResponse(json, dep);
          const usage = usageFromOpenAI(completion.usage);
          if (guarded) {
            const blocked = await outputBlocked(guarded, completion, ctx, res);
            if (blocked) return { ...(usage ? { usage } : {}), error: blocked };
          }
          if (capture) capture.completion = completionText(completion);
          sendJson(res, 200, adapter.chat.wire === 'openai' && !guarded ? raw : JSON.stringify(completion), withUsage({ ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...extra, ...cacheHeader }, usage, dep, deps.prices));
          if (store && cacheable(completion)) store(completion, usage, dep);
          return usage ? { usage } : {};
        }
        const assembler = store ? new StreamAssembler() : undefined;
        const mode = chatStreamMode({
          passthrough: adapter.chat.wire === 'openai', clientWantsUsage,
          ...(guarded ? { guard: new GuardedStream(guarded, ctx) } : {}),
          ...(assembler ? { assembler } : {}),
        });
        const head = () => res.writeHead(200, { ...SSE_HEADERS, ...servedHeaders(ctx, dep, call.headersAt - call.sentAt), ...extra, ...cacheHeader });
        const relayed = await relayStream(res, call, adapter.chat.stream, mode, head, capture?.events);
        const whole = assembler && relayed.completed && !relayed.error ? assembler.completion() : undefined;
        if (whole && cacheable(whole)) store!(whole, relayed.usage, dep);
        return delivered(relayed);
      },
    });
  };
}
