import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayError } from '../../errors/gateway-error.ts';
import { toOpenAIErrorBody } from '../../errors/to-response.ts';
import { formatSseEvent } from '../../providers/shared/sse-parser.ts';
import { usageFromOpenAI } from '../../providers/shared/usage.ts';
import type { ChatChunk, ChatRequest, SseEvent, StreamStep } from '../../providers/types.ts';
import { encodingFor, maxOutputTokens } from '../../limits/token-estimate.ts';
import { completionText } from '../../ledger/prompt-log/completion-text.ts';
import { readJsonResponse } from '../../pipeline/dispatch.ts';
import { attributeBody } from '../../pipeline/attribution.ts';
import { applyParamSupport } from '../../pipeline/param-support.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { relayStream, type RelayMode } from '../../pipeline/stream-relay.ts';
import { requireObject, validateChatRequest } from '../../pipeline/validate-request.ts';
import type { AppDeps } from '../app-deps.ts';
import { readJsonBody } from '../read-json.ts';
import { sendJson, servedHeaders } from '../respond.ts';
import { delivered, SSE_HEADERS, withUsage } from './route-helpers.ts';

const DONE = 'data: [DONE]\n\n';

/** A stream that fails after its first byte ends with OpenAI's error object, then [DONE]. */
function openAIErrorEvent(err: GatewayError): string {
  return formatSseEvent(JSON.stringify(toOpenAIErrorBody(err))) + DONE;
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
    const attributed = attributeBody(ctx, chat as unknown as Record<string, unknown>, deps.config.identity.userIdSalt);
    const stream = chat.stream === true;
    const clientWantsUsage = stream && chat.stream_options?.include_usage === true;
    const capture = ctx.ledger?.capture;
    if (capture) capture.prompt = body.value;
    await deps.call(ctx, req, {
      model: chat.model,
      stream,
      demand: ({ dep }) => ({ inputTokens: deps.tokens.chatInputTokens(chat, encodingFor(dep.model)), maxOutputTokens: maxOutputTokens(chat, dep) }),
      prepare({ dep, adapter }) {
        // Each deployment gets its own copy: what one provider drops, another may take.
        const request: ChatRequest = { ...chat };
        const dropped = applyParamSupport(request, adapter, dep);
        // Streams always ask the provider for usage, so no streamed call goes uncounted.
        if (stream && !clientWantsUsage) request.stream_options = { ...request.stream_options, include_usage: true };
        const unchanged = dropped.length === 0 && !attributed && (!stream || clientWantsUsage);
        return adapter.chat.toRequest(request, dep, unchanged ? body.text : undefined);
      },
      async deliver(call, { dep, adapter }, extra) {
        if (!stream) {
          const { raw, json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
          const completion = adapter.chat.fromResponse(json, dep);
          const usage = usageFromOpenAI(completion.usage);
          if (capture) capture.completion = completionText(completion);
          sendJson(res, 200, adapter.chat.wire === 'openai' ? raw : JSON.stringify(completion), withUsage({ ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...extra }, usage, dep, deps.prices));
          return usage ? { usage } : {};
        }
        const mode = adapter.chat.wire === 'openai' ? passthroughMode(clientWantsUsage) : chunkMode(clientWantsUsage);
        const head = () => res.writeHead(200, { ...SSE_HEADERS, ...servedHeaders(ctx, dep, call.headersAt - call.sentAt), ...extra });
        return delivered(await relayStream(res, call, adapter.chat.stream, mode, head, capture?.events));
      },
    });
  };
}
