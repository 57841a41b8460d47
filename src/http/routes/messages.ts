import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.ts';
import { toAnthropicErrorBody } from '../../errors/to-response.ts';
import {
  chatChunksToMessagesEvents, chatCompletionToAnthropicMessage, messagesRequestToChat, type AnthropicSseEvent, type MessagesStreamState,
} from '../../providers/anthropic/messages-ingress.ts';
import { formatSseEvent } from '../../providers/shared/sse-parser.ts';
import { usageFromOpenAI } from '../../providers/shared/usage.ts';
import type { ChatChunk, ChatRequest, Deployment, ProviderAdapter, SseEvent, StreamStep, Usage } from '../../providers/types.ts';
import { maxOutputTokens } from '../../limits/token-estimate.ts';
import { callUpstream, readJsonResponse, scrub } from '../../pipeline/dispatch.ts';
import { attributeBody } from '../../pipeline/attribution.ts';
import { applyParamSupport } from '../../pipeline/param-support.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { relayStream, type RelayMode } from '../../pipeline/stream-relay.ts';
import { requireModel, requireObject } from '../../pipeline/validate-request.ts';
import type { AppDeps } from '../app-deps.ts';
import { readJsonBody } from '../read-json.ts';
import { sendJson, servedHeaders } from '../respond.ts';
import { admit, SSE_HEADERS, startDeployment } from './route-helpers.ts';

function anthropicErrorEvent(err: GatewayError): string {
  return formatSseEvent(JSON.stringify(toAnthropicErrorBody(err)), 'error');
}

function writeEvents(events: AnthropicSseEvent[]): string {
  let out = '';
  for (const e of events) out += formatSseEvent(e.data, e.event);
  return out;
}

/** Provider chunks (OpenAI wire or translated) → Anthropic Messages events. */
function translatedMode(adapter: ProviderAdapter, model: string): RelayMode {
  let state: MessagesStreamState = chatChunksToMessagesEvents.init(model);
  return {
    raw: false,
    onEvent(event: SseEvent, step: StreamStep<unknown>) {
      let chunks: ChatChunk[] = step.out;
      if (adapter.chat.wire === 'openai') chunks = event.data === '[DONE]' ? [] : [JSON.parse(event.data) as ChatChunk];
      let out = '';
      for (const chunk of chunks) {
        const next = chatChunksToMessagesEvents.step(state, chunk);
        state = next.state;
        out += writeEvents(next.events);
      }
      return out;
    },
    onEnd() {
      const last = chatChunksToMessagesEvents.finish(state);
      state = last.state;
      return writeEvents(last.events);
    },
    errorEvent: anthropicErrorEvent,
  };
}

const rawMode: RelayMode = { raw: true, onEvent: () => '', onEnd: () => '', errorEvent: anthropicErrorEvent };

function checkNativeRequest(body: Record<string, unknown>): void {
  if (!Array.isArray(body.messages)) throw new GatewayError('invalid_request', 'messages: is required: an array of {role, content} objects.', { param: 'messages' });
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) throw new GatewayError('invalid_request', 'max_tokens: is required: a positive integer.', { param: 'max_tokens' });
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw new GatewayError('invalid_request', 'stream: must be a boolean.', { param: 'stream' });
}

/** What the policy stage added (headers) and what settlement needs to know (outcome). */
interface Served {
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly outcome: { usage?: Usage; accepted: boolean };
}

function withUsage(headers: Record<string, string>, usage: Usage | undefined): Record<string, string> {
  if (usage) headers['x-usage-total-tokens'] = String(usage.totalTokens);
  return headers;
}

/**
 * POST /v1/messages (Anthropic Messages API). To an Anthropic deployment the body goes
 * through with only `model` pinned, and the response bytes come back untouched; to any
 * other provider it is translated through the canonical chat format.
 */
export function messagesRoute(deps: AppDeps) {
  async function native(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, dep: Deployment, adapter: ProviderAdapter, served: Served) {
    const passthrough = adapter.messages!;
    const stream = body.stream === true;
    const call = await callUpstream(deps, ctx, dep, adapter, passthrough.toRequest(body, dep, req.headers), stream);
    served.outcome.accepted = true;
    if (!stream) {
      const { raw, json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
      const failure = passthrough.failureInBody?.(json);
      if (failure) throw new GatewayError(failure.code, scrub(`Deployment ${dep.id} (${dep.provider}) answered 200 with an error: ${failure.message}`, dep), { deployment: dep.id });
      const usage = served.outcome.usage = passthrough.usageFromResponse(json);
      sendJson(res, 200, raw, withUsage({ ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...served.headers }, usage));
      return;
    }
    res.writeHead(200, { ...SSE_HEADERS, ...servedHeaders(ctx, dep, call.headersAt - call.sentAt), ...served.headers });
    const relayed = await relayStream(res, call, passthrough.streamUsage, rawMode);
    if (relayed.usage) served.outcome.usage = relayed.usage;
  }

  async function translated(ctx: RequestContext, res: ServerResponse, chat: ChatRequest, model: string, dep: Deployment, adapter: ProviderAdapter, served: Served) {
    const stream = chat.stream === true;
    if (stream) chat.stream_options = { include_usage: true };
    const call = await callUpstream(deps, ctx, dep, adapter, adapter.chat.toRequest(chat, dep), stream);
    served.outcome.accepted = true;
    if (!stream) {
      const { json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
      const completion = adapter.chat.fromResponse(json, dep);
      const message = chatCompletionToAnthropicMessage(completion, model);
      const usage = served.outcome.usage = usageFromOpenAI(completion.usage);
      sendJson(res, 200, JSON.stringify(message), withUsage({ ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...served.headers }, usage));
      return;
    }
    res.writeHead(200, { ...SSE_HEADERS, ...servedHeaders(ctx, dep, call.headersAt - call.sentAt), ...served.headers });
    const relayed = await relayStream(res, call, adapter.chat.stream, translatedMode(adapter, model));
    if (relayed.usage) served.outcome.usage = relayed.usage;
  }

  /** The body in the canonical chat form, for a provider without a native Messages API. */
  function toChat(body: Record<string, unknown>, dep: Deployment, adapter: ProviderAdapter): ChatRequest {
    const chat = messagesRequestToChat(body);
    // `user` is derived from metadata.user_id, which the client sent for Anthropic's sake: a
    // provider that takes no user field simply does not get it.
    if (chat.user !== undefined && !adapter.chat.supportsParam('user', chat.user)) delete chat.user;
    applyParamSupport(chat, adapter, dep);
    return chat;
  }

  return async function messages(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = requireObject((await readJsonBody(req, deps.config.server.maxBodyBytes)).value);
    const model = requireModel(body);
    const chosen = startDeployment(deps, ctx, model);
    const { dep, adapter } = chosen;
    attributeBody(ctx, body, deps.config.identity.userIdSalt);
    if (adapter.messages) checkNativeRequest(body);
    const chat = adapter.messages ? undefined : toChat(body, dep, adapter);
    const admission = await admit(deps, ctx, req, chosen, body.stream === true, () => ({
      inputTokens: deps.tokens.messagesInputTokens(body),
      maxOutputTokens: maxOutputTokens(body, dep),
    }));
    const served: Served = { headers: admission?.headers, outcome: { accepted: false } };
    try {
      if (chat) await translated(ctx, res, chat, model, dep, adapter, served);
      else await native(ctx, req, res, body, dep, adapter, served);
    } finally {
      admission?.settle(served.outcome);
    }
  };
}
