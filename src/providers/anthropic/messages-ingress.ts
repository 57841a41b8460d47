// Ingress for clients calling /v1/messages when the alias routes to a provider that does not
// speak Anthropic's wire: request → canonical chat, and chat results → Anthropic responses.

export { messagesRequestToChat } from './messages-request-to-chat.ts';
export {
  anthropicMessageId, anthropicUsageFromOpenAI, chatCompletionToAnthropicMessage, stopReasonFromFinish, toolInput,
} from './chat-to-messages-response.ts';
export type { AnthropicUsageOut } from './chat-to-messages-response.ts';
export { chatChunksToMessagesEvents } from './chat-stream-to-messages.ts';
export type { AnthropicSseEvent, MessagesStreamState, MessagesStreamStep } from './chat-stream-to-messages.ts';
export type { AnthropicMessage, AnthropicStreamEvent, AnthropicStreamEventType } from './anthropic-types.ts';
