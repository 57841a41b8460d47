import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.ts';
import { toAnthropicErrorBody } from '../../errors/to-response.ts';
import {
  chatChunksToMessagesEvents, chatCompletionToAnthropicMessage, messagesRequestToChat, type AnthropicSseEvent, type MessagesStreamState,
} from '../../providers/anthropic/messages-ingress.ts';
import { formatSseEvent } from '../../providers/shared/sse-parser.ts';
import { usageFromOpenAI } from '../../providers/shared/usage.ts';
import type { ChatChunk, ChatRequest, Deployment, MessagesPassthrough, ProviderAdapter, SseEvent, StreamStep } from '../../providers/types.ts';
import { maxOutputTokens } from '../../limits/token-estimate.ts';
import { completionText } from '../../ledger/prompt-log/completion-text.ts';
import { readJsonResponse, scrub, type UpstreamCall } from '../../pipeline/dispatch.ts';
import { attributeBody } from '../../pipeline/attribution.ts';
import { applyParamSupport } from '../../pipeline/param-support.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { relayStream, type RelayMode } from '../../pipeline/stream-relay.ts';
import { requireModel, requireObject } from '../../pipeline/validate-request.ts';
import type { AppDeps } from '../app-deps.ts';
import { readJsonBody } from '../read-json.ts';
import { sendError, sendJson, servedHeaders } from '../respond.ts';
import { anthropicAnswerTargets, anthropicTargets } from '../../guardrails/scan-targets.ts';
import { guardStage, type GuardedCall } from '../../pipeline/guard-stage.ts';
import type { Delivered } from '../../routing/reliable-call.ts';
import { delivered, SSE_HEADERS, withUsage } from './route-helpers.ts';

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

type Guarded = GuardedCall<Record<string, unknown>> | undefined;

/** Runs an output guard: false when the answer may be sent, else the block (already answered as an Anthropic error). */
async function answerBlocked(guard: () => Promise<void>, ctx: RequestContext, res: ServerResponse): Promise<GatewayError | false> {
  try {
    await guard();
    return false;
  } catch (err) {
    if (!(err instanceof GatewayError) || (err.code !== 'guardrail_blocked' && err.code !== 'guardrail_unavailable')) throw err;
    sendError(res, ctx, err, 'anthropic');
    return err;
  }
}

function checkNativeRequest(body: Record<string, unknown>): void {
  if (!Array.isArray(body.messages)) throw new GatewayError('invalid_request', 'messages: is required: an array of {role, content} objects.', { param: 'messages' });
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) throw new GatewayError('invalid_request', 'max_tokens: is required: a positive integer.', { param: 'max_tokens' });
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw new GatewayError('invalid_request', 'stream: must be a boolean.', { param: 'stream' });
}

/**
 * POST /v1/messages (Anthropic Messages API). To an Anthropic deployment the body goes
 * through with only `model` pinned, and the response bytes come back untouched; to any
 * other provider it is translated through the canonical chat format.
 */
export function messagesRoute(deps: AppDeps) {
  async function native(ctx: RequestContext, res: ServerResponse, call: UpstreamCall, dep: Deployment, passthrough: MessagesPassthrough, stream: boolean, extra: Record<string, string>, guarded: Guarded): Promise<Delivered> {
    if (!stream) {
      const { raw, json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
      const failure = passthrough.failureInBody?.(json);
      if (failure) throw new GatewayError(failure.code, scrub(`Deployment ${dep.id} (${dep.provider}) answered 200 with an error: ${failure.message}`, dep), { deployment: dep.id, failureClass: failure.class });
      const usage = passthrough.usageFromResponse(json);
      const blocked = guarded && await answerBlocked(() => guarded.answer(anthropicAnswerTargets(json), ctx), ctx, res);
      if (blocked) return { ...(usage ? { usage } : {}), error: blocked };
      if (ctx.ledger?.capture) ctx.ledger.capture.completion = completionText(json);
      sendJson(res, 200, guarded ? JSON.stringify(json) : raw, withUsage({ ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...extra }, usage, dep, deps.prices));
      return usage ? { usage } : {};
    }
    const head = () => res.writeHead(200, { ...SSE_HEADERS, ...servedHeaders(ctx, dep, call.headersAt - call.sentAt), ...extra });
    return delivered(await relayStream(res, call, passthrough.streamUsage, rawMode, head, ctx.ledger?.capture?.events));
  }

  async function translated(ctx: RequestContext, res: ServerResponse, call: UpstreamCall, chat: ChatRequest, model: string, dep: Deployment, adapter: ProviderAdapter, extra: Record<string, string>, guarded: Guarded): Promise<Delivered> {
    if (chat.stream !== true) {
      const { json } = await readJsonResponse(call, deps.maxUpstreamBodyBytes);
      const completion = adapter.chat.fromResponse(json, dep);
      const blocked = guarded && await answerBlocked(() => guarded.completion(completion, ctx), ctx, res);
      if (blocked) {
        const usage = usageFromOpenAI(completion.usage);
        return { ...(usage ? { usage } : {}), error: blocked };
      }
      const message = chatCompletionToAnthropicMessage(completion, model);
      const usage = usageFromOpenAI(completion.usage);
      if (ctx.ledger?.capture) ctx.ledger.capture.completion = completionText(completion);
      sendJson(res, 200, JSON.stringify(message), withUsage({ ...servedHeaders(ctx, dep, performance.now() - call.sentAt), ...extra }, usage, dep, deps.prices));
      return usage ? { usage } : {};
    }
    const head = () => res.writeHead(200, { ...SSE_HEADERS, ...servedHeaders(ctx, dep, call.headersAt - call.sentAt), ...extra });
    return delivered(await relayStream(res, call, adapter.chat.stream, translatedMode(adapter, model), head, ctx.ledger?.capture?.events));
  }

  /** The body in the canonical chat form, for a provider without a native Messages API. */
  function toChat(body: Record<string, unknown>, dep: Deployment, adapter: ProviderAdapter): ChatRequest {
    const chat = messagesRequestToChat(body);
    // `user` is derived from metadata.user_id, which the client sent for Anthropic's sake: a
    // provider that takes no user field simply does not get it.
    if (chat.user !== undefined && !adapter.chat.supportsParam('user', chat.user)) delete chat.user;
    applyParamSupport(chat, adapter, dep);
    if (chat.stream === true) chat.stream_options = { include_usage: true };
    return chat;
  }

  return async function messages(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const original = requireObject((await readJsonBody(req, deps.config.server.maxBodyBytes)).value);
    const model = requireModel(original);
    if (ctx.ledger?.capture) ctx.ledger.capture.prompt = original;
    attributeBody(ctx, original, deps.config.identity.userIdSalt);
    const guarded = await guardStage(deps.guardrails, deps.config, ctx, model, original, anthropicTargets);
    const body = guarded?.body ?? original;
    const stream = body.stream === true;
    /** The translated request of the current attempt (attempts run one at a time). */
    let chat: ChatRequest | undefined;
    await deps.call(ctx, req, {
      model,
      stream,
      demand: ({ dep }) => ({ inputTokens: deps.tokens.messagesInputTokens(body), maxOutputTokens: maxOutputTokens(body, dep) }),
      prepare({ dep, adapter }) {
        if (adapter.messages) {
          checkNativeRequest(body);
          chat = undefined;
          return adapter.messages.toRequest(body, dep, req.headers);
        }
        chat = toChat(body, dep, adapter);
        return adapter.chat.toRequest(chat, dep);
      },
      deliver(call, { dep, adapter }, extra) {
        if (chat) return translated(ctx, res, call, chat, model, dep, adapter, extra, guarded);
        return native(ctx, res, call, dep, adapter.messages!, stream, extra, guarded);
      },
    });
  };
}
