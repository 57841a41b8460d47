// Anthropic Messages response → canonical chat completion, and Anthropic usage → canonical usage.

import type { ChatCompletion, Deployment, FinishReason, OpenAIUsage, ToolCall, Usage } from '../types.ts';
import type { AnthropicThinkingBlock, AnthropicRedactedThinkingBlock, AnthropicUsage } from './anthropic-types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { count, usageFromOpenAI } from '../shared/usage.ts';

/**
 * Anthropic usage in OpenAI's shape. Anthropic's `input_tokens` excludes cached tokens, so
 * prompt_tokens = input + cache_read + cache_creation; cache reads become cached_tokens.
 */
export function openAIUsageFromAnthropic(u: AnthropicUsage | null | undefined): OpenAIUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const cacheRead = count(u.cache_read_input_tokens);
  const cacheWrite = count(u.cache_creation_input_tokens);
  const prompt = count(u.input_tokens) + cacheRead + cacheWrite;
  const completion = count(u.output_tokens);
  const usage: OpenAIUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
    cache_creation_input_tokens: cacheWrite,
  };
  const thinking = u.output_tokens_details?.thinking_tokens;
  if (typeof thinking === 'number') usage.completion_tokens_details = { reasoning_tokens: count(thinking) };
  return usage;
}

/** Canonical ledger usage from Anthropic's `usage` object. */
export function usageFromAnthropic(u: AnthropicUsage | null | undefined): Usage | undefined {
  return usageFromOpenAI(openAIUsageFromAnthropic(u));
}

/** Anthropic stop_reason → OpenAI finish_reason. */
export function finishReasonFromAnthropic(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    default:
      return stopReason === null || stopReason === undefined ? null : 'stop';
  }
}

function invalid(dep: Deployment, what: string): GatewayError {
  return new GatewayError('upstream_invalid_response', `Deployment ${dep.id} returned ${what}.`, { deployment: dep.id, failureClass: 'server_error' });
}

interface LooseBlock {
  type?: unknown;
  text?: unknown;
  id?: unknown;
  name?: unknown;
  input?: unknown;
  thinking?: unknown;
  signature?: unknown;
  data?: unknown;
}

/**
 * A Messages response as a chat completion. Text blocks join into `content`, tool_use blocks
 * become `tool_calls`; thinking is kept out of `content` and exposed as `reasoning_content`
 * (joined text) and `thinking_blocks` (verbatim, to pass back on the next turn).
 */
export function anthropicToChatCompletion(body: unknown, dep: Deployment, created: number = Math.floor(Date.now() / 1000)): ChatCompletion {
  const msg = body as { id?: unknown; model?: unknown; content?: unknown; stop_reason?: unknown; usage?: AnthropicUsage } | null;
  if (!msg || typeof msg !== 'object' || !Array.isArray(msg.content)) throw invalid(dep, 'a message without content');
  let text = '';
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  const reasoning: string[] = [];
  const thinkingBlocks: Array<AnthropicThinkingBlock | AnthropicRedactedThinkingBlock> = [];
  for (const raw of msg.content as LooseBlock[]) {
    if (!raw || typeof raw !== 'object') continue;
    if (raw.type === 'text' && typeof raw.text === 'string') {
      text += raw.text;
      hasText = true;
    } else if (raw.type === 'tool_use' && typeof raw.id === 'string' && typeof raw.name === 'string') {
      toolCalls.push({ id: raw.id, type: 'function', function: { name: raw.name, arguments: JSON.stringify(raw.input ?? {}) } });
    } else if (raw.type === 'thinking' && typeof raw.thinking === 'string') {
      reasoning.push(raw.thinking);
      thinkingBlocks.push({ type: 'thinking', thinking: raw.thinking, signature: typeof raw.signature === 'string' ? raw.signature : '' });
    } else if (raw.type === 'redacted_thinking' && typeof raw.data === 'string') {
      thinkingBlocks.push({ type: 'redacted_thinking', data: raw.data });
    }
    // Server-tool blocks (server_tool_use, web_search_tool_result, ...) have no chat equivalent.
  }
  const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: hasText ? text : null, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning.length > 0) message.reasoning_content = reasoning.join('\n\n');
  if (thinkingBlocks.length > 0) message.thinking_blocks = thinkingBlocks;
  const completion: ChatCompletion = {
    id: typeof msg.id === 'string' ? msg.id : '',
    object: 'chat.completion',
    created,
    model: typeof msg.model === 'string' ? msg.model : dep.model,
    choices: [{ index: 0, message, finish_reason: finishReasonFromAnthropic(msg.stop_reason ?? 'end_turn'), logprobs: null }],
  };
  const usage = openAIUsageFromAnthropic(msg.usage);
  if (usage) completion.usage = usage;
  return completion;
}
