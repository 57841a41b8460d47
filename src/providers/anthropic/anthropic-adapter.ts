// Anthropic's Messages API (https://api.anthropic.com/v1/messages, anthropic-version 2023-06-01).
//
// Chat requests are translated (wire 'translated'); /v1/messages requests pass through.
//
// Parameters: supportsParam() is true for what the translation carries faithfully —
// model, messages, stream, stream_options (Anthropic always reports usage), tools,
// tool_choice, parallel_tool_calls, stop, max_tokens, max_completion_tokens, temperature,
// top_p, top_k, user, metadata (only metadata.user_id reaches Anthropic), reasoning_effort
// (→ thinking with a 1024 / 4096 / 16384 token budget for low / medium / high, capped below
// max_tokens; none / minimal send no thinking) and thinking (Anthropic's own object, passed on).
// Everything else is unsupported: n (Anthropic returns one choice; n > 1 cannot be served),
// response_format (no model-independent equivalent), logprobs, top_logprobs,
// frequency_penalty, presence_penalty, seed, logit_bias, service_tier, modalities, audio,
// prediction, store, web_search_options, ...

import type { ChatRequest, Deployment, ProviderAdapter, UpstreamRequest } from '../types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { apiBaseProblem } from '../shared/api-base.ts';
import { bodyErrorFailure, mapAnthropicError } from './anthropic-errors.ts';
import { anthropicToChatCompletion } from './anthropic-to-chat.ts';
import { anthropicStreamReducer } from './anthropic-stream-to-chat.ts';
import { anthropicHeaders, anthropicMessagesPassthrough, DEFAULT_API_BASE, messagesTarget } from './anthropic-passthrough.ts';
import { chatRequestToAnthropic } from './chat-to-anthropic.ts';

export const SUPPORTED_CHAT_PARAMS: ReadonlySet<string> = new Set([
  'model', 'messages', 'stream', 'stream_options', 'tools', 'tool_choice', 'parallel_tool_calls', 'stop',
  'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'user', 'metadata',
  'reasoning_effort', 'thinking',
]);

/**
 * Fields at their OpenAI default change nothing, so clients that always send them (n: 1,
 * logprobs: false, penalties of 0, a text response_format) are accepted; the translation
 * leaves them out. Other values cannot be honoured and stay unsupported.
 */
function isNoOpDefault(name: string, value: unknown): boolean {
  switch (name) {
    case 'n':
      return value === 1;
    case 'logprobs':
      return value === false;
    case 'presence_penalty':
    case 'frequency_penalty':
      return value === 0;
    case 'response_format':
      return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'text';
    default:
      return false;
  }
}

export const anthropicAdapter: ProviderAdapter = {
  name: 'anthropic',
  genAiProviderName: 'anthropic',
  defaultApiBase: DEFAULT_API_BASE,
  validate(dep: Deployment): string[] {
    const problems: string[] = [];
    const baseProblem = apiBaseProblem(dep.apiBase);
    if (baseProblem) problems.push(baseProblem);
    if (!dep.apiKey) problems.push('provider anthropic needs api_key (write it as os.environ/ANTHROPIC_API_KEY)');
    return problems;
  },
  chat: {
    wire: 'translated',
    supportsParam: (name: string, value: unknown) => SUPPORTED_CHAT_PARAMS.has(name) || isNoOpDefault(name, value),
    toRequest(req: ChatRequest, dep: Deployment): UpstreamRequest {
      const body = chatRequestToAnthropic(req, dep);
      return { ...messagesTarget(dep), method: 'POST', headers: anthropicHeaders(dep, body.stream === true), body: JSON.stringify(body) };
    },
    fromResponse(body: unknown, dep: Deployment) {
      const failure = bodyErrorFailure(body);
      if (failure) {
        throw new GatewayError(failure.code, `Deployment ${dep.id} answered 200 with an error: ${failure.message}`, { deployment: dep.id, failureClass: failure.class });
      }
      return anthropicToChatCompletion(body, dep);
    },
    stream: anthropicStreamReducer,
  },
  messages: anthropicMessagesPassthrough,
  mapError: mapAnthropicError,
  requestIdHeader: 'request-id',
};
