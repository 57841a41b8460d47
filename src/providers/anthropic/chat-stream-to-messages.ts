// Ingress, streaming side: canonical chat.completion.chunk objects → Anthropic Messages SSE
// events, in the order Anthropic sends them: message_start, then per content block
// content_block_start / content_block_delta… / content_block_stop (a ping after the first
// block start), then message_delta (stop_reason, usage) and message_stop.

import type { ChatChunk, FinishReason, OpenAIUsage } from '../types.ts';
import type { AnthropicStopReason, AnthropicStreamEvent, AnthropicStreamEventType } from './anthropic-types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { anthropicMessageId, anthropicUsageFromOpenAI, stopReasonFromFinish } from './chat-to-messages-response.ts';

/** One SSE event ready for formatSseEvent(data, event). */
export interface AnthropicSseEvent {
  event: AnthropicStreamEventType;
  data: string;
}

export interface MessagesStreamState {
  readonly model: string;
  readonly id: string | undefined;
  readonly started: boolean;
  readonly ended: boolean;
  readonly pinged: boolean;
  readonly nextIndex: number;
  /** The content block currently open, by Anthropic block index. */
  readonly open: { readonly kind: 'text' | 'tool'; readonly index: number } | null;
  /** OpenAI tool_calls index → Anthropic block index. */
  readonly tools: Readonly<Record<number, number>>;
  readonly finishReason: FinishReason | undefined;
  readonly refusal: boolean;
  readonly usage: OpenAIUsage | undefined;
}

export interface MessagesStreamStep {
  state: MessagesStreamState;
  events: AnthropicSseEvent[];
}

type Draft = { -readonly [K in keyof MessagesStreamState]: MessagesStreamState[K] };

function emit(events: AnthropicSseEvent[], payload: AnthropicStreamEvent): void {
  events.push({ event: payload.type, data: JSON.stringify(payload) });
}

function start(s: Draft, events: AnthropicSseEvent[]): void {
  if (s.started) return;
  s.started = true;
  const usage = anthropicUsageFromOpenAI(s.usage);
  emit(events, {
    type: 'message_start',
    message: {
      id: anthropicMessageId(s.id), type: 'message', role: 'assistant', model: s.model, content: [],
      stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 0 },
    },
  });
}

function closeOpen(s: Draft, events: AnthropicSseEvent[]): void {
  if (!s.open) return;
  emit(events, { type: 'content_block_stop', index: s.open.index });
  s.open = null;
}

function openBlock(s: Draft, events: AnthropicSseEvent[], kind: 'text' | 'tool', payload: AnthropicStreamEvent & { type: 'content_block_start' }): void {
  emit(events, payload);
  s.open = { kind, index: payload.index };
  s.nextIndex = payload.index + 1;
  if (!s.pinged) {
    emit(events, { type: 'ping' });
    s.pinged = true;
  }
}

function text(s: Draft, events: AnthropicSseEvent[], value: string): void {
  if (s.open?.kind !== 'text') {
    closeOpen(s, events);
    openBlock(s, events, 'text', { type: 'content_block_start', index: s.nextIndex, content_block: { type: 'text', text: '' } });
  }
  emit(events, { type: 'content_block_delta', index: s.open!.index, delta: { type: 'text_delta', text: value } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One tool_calls delta. Junk is ignored where it can be (an entry that is not an object, a
 * non-string id or name, arguments that are neither a string nor an object); a tool call
 * that starts without a function name cannot be turned into a tool_use block and is an
 * upstream_invalid_response. Arguments sent as an object (some local OpenAI-compatible
 * servers) are forwarded as their JSON text.
 */
function toolCall(s: Draft, events: AnthropicSseEvent[], call: unknown, position: number): void {
  if (!isRecord(call)) return;
  const key = typeof call.index === 'number' && Number.isInteger(call.index) && call.index >= 0 ? call.index : position;
  const fn = isRecord(call.function) ? call.function : {};
  const args = typeof fn.arguments === 'string' ? fn.arguments : isRecord(fn.arguments) ? JSON.stringify(fn.arguments) : '';
  let index = s.tools[key];
  if (index === undefined) {
    const name = typeof fn.name === 'string' ? fn.name : '';
    if (name === '') {
      throw new GatewayError('upstream_invalid_response', `The provider streamed a malformed chunk: tool call ${key} starts without function.name.`);
    }
    closeOpen(s, events);
    index = s.nextIndex;
    s.tools = { ...s.tools, [key]: index };
    const id = typeof call.id === 'string' && call.id !== '' ? call.id : `toolu_${key}`;
    openBlock(s, events, 'tool', {
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id, name, input: {} },
    });
  }
  // Arguments for a tool block that is no longer open still go to its own index.
  if (args !== '') emit(events, { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } });
}

function stopReason(s: MessagesStreamState): AnthropicStopReason {
  const reason = stopReasonFromFinish(s.finishReason ?? undefined);
  if (reason !== 'end_turn') return reason;
  if (Object.keys(s.tools).length > 0) return 'tool_use';
  return s.refusal ? 'refusal' : 'end_turn';
}

/** The chunk → event reducer; call `finish` once the provider's stream has ended. */
export const chatChunksToMessagesEvents = {
  /** `model` is the model the client asked for; `messageId` overrides the id taken from chunks. */
  init(model: string, messageId?: string): MessagesStreamState {
    return {
      model, id: messageId, started: false, ended: false, pinged: false, nextIndex: 0, open: null, tools: {},
      finishReason: undefined, refusal: false, usage: undefined,
    };
  },

  step(state: MessagesStreamState, chunk: ChatChunk): MessagesStreamStep {
    const events: AnthropicSseEvent[] = [];
    if (state.ended || !chunk || typeof chunk !== 'object') return { state, events };
    const s: Draft = { ...state };
    if (s.id === undefined && typeof chunk.id === 'string' && chunk.id !== '') s.id = chunk.id;
    if (isRecord(chunk.usage)) s.usage = chunk.usage as OpenAIUsage;
    start(s, events);
    // Junk (a choice or delta that is not an object, tool_calls that is not an array) is ignored.
    const choices: unknown[] = Array.isArray(chunk.choices) ? chunk.choices : [];
    const choice = choices.find((c): c is Record<string, unknown> => isRecord(c) && (c.index ?? 0) === 0);
    if (choice) {
      const delta = isRecord(choice.delta) ? choice.delta : {};
      if (typeof delta.content === 'string' && delta.content !== '') text(s, events, delta.content);
      if (typeof delta.refusal === 'string' && delta.refusal !== '') {
        s.refusal = true;
        text(s, events, delta.refusal);
      }
      if (Array.isArray(delta.tool_calls)) delta.tool_calls.forEach((call: unknown, k) => toolCall(s, events, call, k));
      if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') {
        s.finishReason = choice.finish_reason as FinishReason;
        closeOpen(s, events);
      }
    }
    return { state: s, events };
  },

  finish(state: MessagesStreamState): MessagesStreamStep {
    const events: AnthropicSseEvent[] = [];
    if (state.ended) return { state, events };
    const s: Draft = { ...state };
    start(s, events);
    closeOpen(s, events);
    emit(events, {
      type: 'message_delta',
      delta: { stop_reason: stopReason(s), stop_sequence: null },
      usage: s.usage ? anthropicUsageFromOpenAI(s.usage) : { output_tokens: 0 },
    });
    emit(events, { type: 'message_stop' });
    s.ended = true;
    return { state: s, events };
  },
};
