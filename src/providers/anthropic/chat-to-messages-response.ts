// Ingress, response side: a canonical chat completion → an Anthropic Messages response.

import type { ChatCompletion, FinishReason, OpenAIUsage } from '../types.ts';
import type { AnthropicMessage, AnthropicResponseBlock, AnthropicStopReason } from './anthropic-types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { count } from '../shared/usage.ts';

/** OpenAI finish_reason → Anthropic stop_reason. */
export function stopReasonFromFinish(finish: FinishReason | string | undefined): AnthropicStopReason {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** The id Anthropic clients expect: `msg_` followed by the provider's id. */
export function anthropicMessageId(id: string | undefined): string {
  if (!id) return 'msg_unknown';
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

export type AnthropicUsageOut = {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
};

/** OpenAI usage → Anthropic usage, where input_tokens excludes cache reads and writes. */
export function anthropicUsageFromOpenAI(usage: OpenAIUsage | null | undefined): AnthropicUsageOut {
  const cacheRead = count(usage?.prompt_tokens_details?.cached_tokens);
  const cacheWrite = count(usage?.cache_creation_input_tokens);
  return {
    input_tokens: Math.max(0, count(usage?.prompt_tokens) - cacheRead - cacheWrite),
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    output_tokens: count(usage?.completion_tokens),
  };
}

/** Tool arguments as the object Anthropic's `input` must be; unparsable arguments become {}. */
export function toolInput(args: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(args === '' ? '{}' : args);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

/**
 * A chat completion as an Anthropic message: text then tool_use blocks. `model` is what the
 * client asked for. A refusal (OpenAI's `message.refusal`) becomes text with stop_reason refusal.
 */
export function chatCompletionToAnthropicMessage(c: ChatCompletion, model: string): AnthropicMessage {
  const choice = Array.isArray(c?.choices) ? c.choices[0] : undefined;
  if (!choice || typeof choice.message !== 'object' || choice.message === null) {
    throw new GatewayError('upstream_invalid_response', 'The provider returned a chat completion without choices.');
  }
  const { message } = choice;
  const content: AnthropicResponseBlock[] = [];
  const refusal = typeof message.refusal === 'string' && message.refusal !== '' ? message.refusal : undefined;
  if (typeof message.content === 'string' && message.content !== '') content.push({ type: 'text', text: message.content });
  else if (refusal) content.push({ type: 'text', text: refusal });
  for (const call of message.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInput(call.function.arguments) });
  }
  let stopReason: AnthropicStopReason = refusal && !message.content ? 'refusal' : stopReasonFromFinish(choice.finish_reason);
  // Some providers (Ollama, older vLLM) report "stop" after tool calls; Anthropic clients run tools on tool_use.
  if (stopReason === 'end_turn' && content.some((b) => b.type === 'tool_use')) stopReason = 'tool_use';
  return {
    id: anthropicMessageId(c.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: anthropicUsageFromOpenAI(c.usage),
  };
}
