// Builds the chat.completion a stream amounts to, from its chunks (OpenAI's chunk shape), so a
// streamed answer can be cached and later served to streaming and non-streaming clients alike.
// Pure: feed chunks in order, then take the completion (undefined when the stream never
// finished a choice, e.g. it broke off).

import type { ChatChunk, ChatCompletion, FinishReason, OpenAIUsage, ToolCall } from '../providers/types.ts';

interface ChoiceState {
  content: string;
  refusal: string;
  hasContent: boolean;
  tools: Map<number, { id: string; name: string; arguments: string }>;
  finish: FinishReason | undefined;
}

export class StreamAssembler {
  #id = '';
  #created = 0;
  #model = '';
  #fingerprint: string | null | undefined;
  #usage: OpenAIUsage | undefined;
  readonly #choices = new Map<number, ChoiceState>();

  add(chunk: ChatChunk): void {
    if (!this.#id && typeof chunk.id === 'string') this.#id = chunk.id;
    if (!this.#created && typeof chunk.created === 'number') this.#created = chunk.created;
    if (!this.#model && typeof chunk.model === 'string') this.#model = chunk.model;
    if (this.#fingerprint === undefined && chunk.system_fingerprint !== undefined) this.#fingerprint = chunk.system_fingerprint as string | null;
    if (chunk.usage) this.#usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) {
      let state = this.#choices.get(choice.index);
      if (!state) this.#choices.set(choice.index, (state = { content: '', refusal: '', hasContent: false, tools: new Map(), finish: undefined }));
      const delta = choice.delta ?? {};
      if (typeof delta.content === 'string') {
        state.content += delta.content;
        state.hasContent = true;
      }
      if (typeof delta.refusal === 'string') state.refusal += delta.refusal;
      for (const call of delta.tool_calls ?? []) {
        let tool = state.tools.get(call.index);
        if (!tool) state.tools.set(call.index, (tool = { id: '', name: '', arguments: '' }));
        if (call.id) tool.id = call.id;
        if (call.function?.name) tool.name += call.function.name;
        if (call.function?.arguments) tool.arguments += call.function.arguments;
      }
      if (choice.finish_reason) state.finish = choice.finish_reason;
    }
  }

  /** The whole completion, or undefined unless every choice finished. */
  completion(): ChatCompletion | undefined {
    if (this.#choices.size === 0) return undefined;
    const choices: ChatCompletion['choices'] = [];
    for (const [index, state] of [...this.#choices].sort((a, b) => a[0] - b[0])) {
      if (!state.finish) return undefined;
      const toolCalls: ToolCall[] = [...state.tools].sort((a, b) => a[0] - b[0]).map(([, t]) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
      choices.push({
        index,
        message: {
          role: 'assistant',
          content: state.hasContent || toolCalls.length === 0 ? state.content : null,
          ...(state.refusal ? { refusal: state.refusal } : {}),
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: state.finish,
        logprobs: null,
      });
    }
    return {
      id: this.#id, object: 'chat.completion', created: this.#created, model: this.#model, choices,
      ...(this.#usage ? { usage: this.#usage } : {}),
      ...(this.#fingerprint !== undefined ? { system_fingerprint: this.#fingerprint } : {}),
    };
  }
}
