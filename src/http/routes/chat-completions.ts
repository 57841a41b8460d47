import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayError } from '../../errors/gateway-error.ts';
import { toOpenAIErrorBody } from '../../errors/to-response.ts';
import { formatSseEvent } from '../../providers/shared/sse-parser.ts';
import { usageFromOpenAI } from '../../providers/shared/usage.ts';
import type { ChatChunk, ChatRequest, SseEvent, StreamStep, Usage } from '../../providers/types.ts';
import { encodingFor, maxOutputTokens } from '../../limits/token-estimate.ts';
import { callUpstream, readJsonResponse } from '../../pipeline/dispatch.ts';
import { attributeBody } from '../../pipeline/attribution.ts';
import { applyParamSupport } from '../../pipeline/param-support.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { relayStream, type RelayMode } from '../../pipeline/stream-relay.ts';
import { requireObject, validateChatRequest } from '../../pipeline/validate-request.ts';
import type { AppDeps } from '../app-deps.ts';
import { readJsonBody } from '../read-json.ts';
import { sendJson, servedHeaders } from '../respond.ts';
import { admit, SSE_HEADERS, startDeployment } from './route-helpers.ts';

const DONE = 'data: [DONE]\n\n';

function openAIErrorEvent(err: GatewayError): string {
  return formatSseEvent(JSON.stringify(toOpenAIErrorBody(err)));
}

/** OpenAI-wire providers: each event's data is forwarded as is. */
function passthroughMode(clientWantsUsage: boolean): RelayMode {
  return {
    raw: false,
    onEvent(event: SseEvent, step: StreamStep<unknown>) {
      if (event.data === '[DONE]') return '';
      if (step.usageOnly && !clientWantsUsage) return '';
      return formatSseEvent(event.data);
    },
    onEnd: () => DONE,
    errorEvent: openAIErrorEvent,
  };
}

/** Translated providers: the adapter's canonical chunks are serialised. */
function chunkMode(clientWantsUsage: boolean): RelayMode {
  const keep = (chunk: ChatChunk) => clientWantsUsage || chunk.choices.length > 0;
  return {
    raw: false,
    onEvent: (_event, step) => step.out.filter(keep).map((chunk) => formatSseEvent(JSON.stringify(chunk))).join(''),
    onEnd: () => DONE,
    errorEvent: openAIErrorEvent,
  };
}

/** POST /v1/chat/completions */
export function chatCompletionsRoute(deps: AppDeps) {
  return async function chatCompletions(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonBody(req, deps.config.server.maxBodyBytes);
    const chat: ChatRequest = validateChatRequest(requireObject(body.value));
    const chosen = startDeployment(deps, ctx, chat.model);
    const { dep, adapter } = chosen;
    const attributed = attributeBody(ctx, chat as unknown as Record<string, unknown>, deps.config.identity.userIdSalt);
    const dropped = applyParamSupport(chat, adapter, dep);
    const admission = await admit(deps, ctx, req, chosen, chat.stream === true, () => ({
      inputTokens: deps.tokens.chatInputTokens(chat, encodingFor(dep.model)),
      maxOutputTokens: maxOutputTokens(chat, dep),
    }));
    const stream = chat.stream === true;
    const clientWantsUsage = stream && chat.stream_options?.include_usage === true;
    // Streams always ask the provider for usage, so no streamed call goes uncounted.
    if (stream && !clientWantsUsage) chat.stream_options = { ...chat.stream_options, include_usage: true };
    const unchanged = dropped.length === 0 && !attributed && (!stream || clientWantsUsage);
    const outcome: { usage?: Usage; accepted: boolean } = { accepted: false };
    try {
      const request = adapter.chat.toRequest(chat, dep, unchanged ? body.text : undefined);
      const call = await callUpstream(deps, ctx, dep, adapter, request, stream);
      outcome.accepted = true;
      if (!stream) {
        const { raw, json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
        const completion = adapter.chat.fromResponse(json, dep);
        const headers = { ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...admission?.headers };
        const usage = outcome.usage = usageFromOpenAI(completion.usage);
        if (usage) headers['x-usage-total-tokens'] = String(usage.totalTokens);
        sendJson(res, 200, adapter.chat.wire === 'openai' ? raw : JSON.stringify(completion), headers);
        return;
      }
      res.writeHead(200, { ...SSE_HEADERS, ...servedHeaders(ctx, dep, call.headersAt - call.sentAt), ...admission?.headers });
      const mode = adapter.chat.wire === 'openai' ? passthroughMode(clientWantsUsage) : chunkMode(clientWantsUsage);
      const relayed = await relayStream(res, call, adapter.chat.stream, mode);
      if (relayed.usage) outcome.usage = relayed.usage;
    } finally {
      admission?.settle(outcome);
    }
  };
}
