// Anthropic Messages SSE events → canonical chat.completion.chunk objects, shaped the way
// OpenAI streams them: a role chunk first, content / tool_call deltas, a finish_reason chunk,
// then a usage chunk with `choices: []` (the dispatcher decides whether the client sees it).

import type { ChatChunk, SseEvent, StreamReducer, StreamStep } from '../types.ts';
import type { AnthropicUsage } from './anthropic-types.ts';
import { deltaChars, streamErrorFailure } from './anthropic-errors.ts';
import { bodyFailure } from '../shared/upstream-errors.ts';
import { finishReasonFromAnthropic, openAIUsageFromAnthropic, usageFromAnthropic } from './anthropic-to-chat.ts';

type BlockState =
  | { readonly kind: 'text' | 'thinking' | 'other' }
  | { readonly kind: 'tool'; readonly toolIndex: number; readonly argsSent: boolean };

export interface AnthropicStreamState {
  readonly id: string;
  readonly model: string;
  readonly created: number;
  /** Whether the first (role) chunk has been sent. */
  readonly started: boolean;
  /** Content blocks by Anthropic's block index. */
  readonly blocks: Readonly<Record<number, BlockState>>;
  /** Tool calls seen so far: the next tool_use block gets this OpenAI tool_calls index. */
  readonly toolCount: number;
  /** Usage so far: message_start's, updated by message_delta's cumulative counters. */
  readonly usage: AnthropicUsage;
  readonly finished: boolean;
  readonly done: boolean;
}

type Delta = ChatChunk['choices'][number]['delta'];
type Step = StreamStep<AnthropicStreamState>;

interface LooseEvent {
  type?: unknown;
  index?: unknown;
  message?: { id?: unknown; model?: unknown; usage?: AnthropicUsage };
  content_block?: { type?: unknown; id?: unknown; name?: unknown; input?: unknown; text?: unknown; thinking?: unknown };
  delta?: { type?: unknown; text?: unknown; partial_json?: unknown; thinking?: unknown; stop_reason?: unknown };
  usage?: AnthropicUsage;
}

function chunk(s: AnthropicStreamState, delta: Delta, finishReason: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk {
  return {
    id: s.id,
    object: 'chat.completion.chunk',
    created: s.created,
    model: s.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
}

/** Overwrites counters the later event reports (they are cumulative), keeps the others. */
export function mergeAnthropicUsage(base: AnthropicUsage, update: AnthropicUsage | null | undefined): AnthropicUsage {
  const merged: AnthropicUsage = { ...base };
  if (!update || typeof update !== 'object') return merged;
  for (const [key, value] of Object.entries(update)) {
    if (value !== null && value !== undefined) merged[key] = value;
  }
  return merged;
}

/** Sends the role chunk first if the stream has not started (message_start normally does it). */
function start(s: AnthropicStreamState, out: ChatChunk[]): AnthropicStreamState {
  if (s.started) return s;
  const next = { ...s, started: true };
  out.push(chunk(next, { role: 'assistant', content: '' }));
  return next;
}

function withBlock(s: AnthropicStreamState, index: number, block: BlockState): AnthropicStreamState {
  return { ...s, blocks: { ...s.blocks, [index]: block } };
}

function blockStart(s0: AnthropicStreamState, e: LooseEvent, out: ChatChunk[]): AnthropicStreamState {
  const index = Number(e.index);
  const block = e.content_block ?? {};
  let s = start(s0, out);
  if (block.type === 'tool_use') {
    const toolIndex = s.toolCount;
    const input = block.input;
    // Input normally arrives as input_json_delta; a non-empty start input is sent whole.
    const preset = typeof input === 'object' && input !== null && Object.keys(input).length > 0 ? JSON.stringify(input) : '';
    out.push(chunk(s, {
      tool_calls: [{ index: toolIndex, id: String(block.id ?? ''), type: 'function', function: { name: String(block.name ?? ''), arguments: preset } }],
    }));
    s = { ...s, toolCount: toolIndex + 1 };
    return withBlock(s, index, { kind: 'tool', toolIndex, argsSent: preset !== '' });
  }
  if (block.type === 'text') {
    if (typeof block.text === 'string' && block.text !== '') out.push(chunk(s, { content: block.text }));
    return withBlock(s, index, { kind: 'text' });
  }
  if (block.type === 'thinking') {
    if (typeof block.thinking === 'string' && block.thinking !== '') out.push(chunk(s, { reasoning_content: block.thinking }));
    return withBlock(s, index, { kind: 'thinking' });
  }
  return withBlock(s, index, { kind: 'other' });
}

function blockDelta(s0: AnthropicStreamState, e: LooseEvent, out: ChatChunk[]): AnthropicStreamState {
  const index = Number(e.index);
  const delta = e.delta ?? {};
  let s = start(s0, out);
  if (delta.type === 'text_delta' && typeof delta.text === 'string') {
    if (delta.text !== '') out.push(chunk(s, { content: delta.text }));
  } else if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') {
    if (delta.thinking !== '') out.push(chunk(s, { reasoning_content: delta.thinking }));
  } else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
    const block = s.blocks[index];
    if (block?.kind === 'tool' && delta.partial_json !== '') {
      out.push(chunk(s, { tool_calls: [{ index: block.toolIndex, function: { arguments: delta.partial_json } }] }));
      if (!block.argsSent) s = withBlock(s, index, { ...block, argsSent: true });
    }
  }
  // signature_delta and citations_delta have no chat-completions equivalent.
  return s;
}

function blockStop(s: AnthropicStreamState, e: LooseEvent, out: ChatChunk[]): AnthropicStreamState {
  const index = Number(e.index);
  const block = s.blocks[index];
  // A tool called without input streams no JSON at all; OpenAI would send "{}".
  if (block?.kind === 'tool' && !block.argsSent) {
    out.push(chunk(s, { tool_calls: [{ index: block.toolIndex, function: { arguments: '{}' } }] }));
    return withBlock(s, index, { ...block, argsSent: true });
  }
  return s;
}

function messageDelta(s0: AnthropicStreamState, e: LooseEvent, out: ChatChunk[]): Step {
  let s = start(s0, out);
  const stopReason = e.delta?.stop_reason;
  if (stopReason !== null && stopReason !== undefined && !s.finished) {
    out.push(chunk(s, {}, finishReasonFromAnthropic(stopReason)));
    s = { ...s, finished: true };
  }
  s = { ...s, usage: mergeAnthropicUsage(s.usage, e.usage) };
  const usage = usageFromAnthropic(s.usage);
  out.push({ id: s.id, object: 'chat.completion.chunk', created: s.created, model: s.model, choices: [], usage: openAIUsageFromAnthropic(s.usage) });
  return usage ? { state: s, out, usage } : { state: s, out };
}

/** A reducer whose chunks carry `created` from the given clock (milliseconds). */
export function createAnthropicStreamReducer(clock: () => number = Date.now): StreamReducer<AnthropicStreamState> {
  return {
    init: () => ({
      id: '', model: '', created: Math.floor(clock() / 1000), started: false, blocks: {}, toolCount: 0,
      usage: {}, finished: false, done: false,
    }),
    step(state: AnthropicStreamState, event: SseEvent): Step {
      if (state.done) return { state, out: [] };
      let e: LooseEvent;
      try {
        e = JSON.parse(event.data) as LooseEvent;
      } catch {
        return { state, out: [], error: bodyFailure('upstream_invalid_response', `stream event ${event.event ?? 'data'} is not JSON`) };
      }
      if (typeof e !== 'object' || e === null) return { state, out: [] };
      const out: ChatChunk[] = [];
      switch (e.type ?? event.event) {
        case 'message_start': {
          const m = e.message ?? {};
          const s: AnthropicStreamState = {
            ...state,
            id: typeof m.id === 'string' ? m.id : state.id,
            model: typeof m.model === 'string' ? m.model : state.model,
            usage: mergeAnthropicUsage(state.usage, m.usage),
          };
          return { state: start(s, out), out };
        }
        case 'content_block_start':
          return { state: blockStart(state, e, out), out };
        case 'content_block_delta':
          return { state: blockDelta(state, e, out), out, outputChars: deltaChars(e.delta) };
        case 'content_block_stop':
          return { state: blockStop(state, e, out), out };
        case 'message_delta':
          return messageDelta(state, e, out);
        case 'message_stop':
          return { state: { ...state, done: true }, out, done: true };
        case 'error':
          return { state: { ...state, done: true }, out, error: streamErrorFailure(e) };
        default:
          // ping, and event types added later (Anthropic's versioning policy allows new ones).
          return { state, out };
      }
    },
  };
}

export const anthropicStreamReducer: StreamReducer<AnthropicStreamState> = createAnthropicStreamReducer();
