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
export function anthropicMessageId(id: unknown): string {
  if (typeof id !== 'string' || id === '') return 'msg_unknown';
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
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(what: string): GatewayError {
  return new GatewayError('upstream_invalid_response', `The provider returned a malformed chat completion: ${what}.`);
}

/** What a value is, for messages ("null", "an array", "a string", ...). */
function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * One upstream tool call as a tool_use block. `arguments` is normally a JSON string; some
 * OpenAI-compatible local servers send the object itself, which is taken as is. A missing
 * or null `arguments` is {}; a string that is not a JSON object is {} (as before).
 */
function toolUseBlock(call: unknown, k: number, path: string): AnthropicResponseBlock {
  const at = `${path}[${k}]`;
  if (!isRecord(call)) throw invalid(`${at} is ${kind(call)}, not a tool call object`);
  const fn = call.function;
  if (fn === undefined || fn === null) throw invalid(`${at}.function is missing`);
  if (!isRecord(fn)) throw invalid(`${at}.function is ${kind(fn)}, not an object`);
  if (typeof fn.name !== 'string' || fn.name === '') {
    throw invalid(fn.name === undefined || fn.name === null || fn.name === '' ? `${at}.function.name is missing` : `${at}.function.name is ${kind(fn.name)}, not a string`);
  }
  let id: string;
  if (typeof call.id === 'string' && call.id !== '') id = call.id;
  else if (call.id === undefined || call.id === null || call.id === '') id = `toolu_${k}`; // some local servers send no ids
  else throw invalid(`${at}.id is ${kind(call.id)}, not a string`);
  const args = fn.arguments;
  let input: Record<string, unknown>;
  if (args === undefined || args === null) input = {};
  else if (typeof args === 'string') input = toolInput(args);
  else if (isRecord(args)) input = args;
  else throw invalid(`${at}.function.arguments is ${kind(args)}, not a JSON string or object`);
  return { type: 'tool_use', id, name: fn.name, input };
}

/**
 * A chat completion as an Anthropic message: text then tool_use blocks. `model` is what the
 * client asked for. A refusal (OpenAI's `message.refusal`) becomes text with stop_reason refusal.
 * A body without the shape of a chat completion is an upstream_invalid_response naming the field.
 */
export function chatCompletionToAnthropicMessage(c: ChatCompletion, model: string): AnthropicMessage {
  const body: unknown = c;
  if (!isRecord(body)) throw invalid(`the body is ${kind(body)}, not an object`);
  const choices = body.choices;
  if (choices === undefined || choices === null) throw invalid('choices is missing');
  if (!Array.isArray(choices)) throw invalid(`choices is ${kind(choices)}, not an array`);
  if (choices.length === 0) throw invalid('choices is empty');
  const choice: unknown = choices[0];
  if (!isRecord(choice)) throw invalid(`choices[0] is ${kind(choice)}, not an object`);
  const message = choice.message;
  if (message === undefined || message === null) throw invalid('choices[0].message is missing');
  if (!isRecord(message)) throw invalid(`choices[0].message is ${kind(message)}, not an object`);
  const content: AnthropicResponseBlock[] = [];
  const refusal = typeof message.refusal === 'string' && message.refusal !== '' ? message.refusal : undefined;
  const text = typeof message.content === 'string' && message.content !== '' ? message.content : undefined;
  if (text !== undefined) content.push({ type: 'text', text });
  else if (refusal) content.push({ type: 'text', text: refusal });
  const calls = message.tool_calls;
  if (calls !== undefined && calls !== null) {
    if (!Array.isArray(calls)) throw invalid(`choices[0].message.tool_calls is ${kind(calls)}, not an array`);
    calls.forEach((call, k) => content.push(toolUseBlock(call, k, 'choices[0].message.tool_calls')));
  }
  const finish = typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined;
  let stopReason: AnthropicStopReason = refusal && text === undefined ? 'refusal' : stopReasonFromFinish(finish);
  // Some providers (Ollama, older vLLM) report "stop" after tool calls; Anthropic clients run tools on tool_use.
  if (stopReason === 'end_turn' && content.some((b) => b.type === 'tool_use')) stopReason = 'tool_use';
  return {
    id: anthropicMessageId(body.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: anthropicUsageFromOpenAI(isRecord(body.usage) ? body.usage as OpenAIUsage : undefined),
  };
}
