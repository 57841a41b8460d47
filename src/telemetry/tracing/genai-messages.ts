// A logged call's prompt and completion in the shape of the GenAI conventions' message
// attributes (semantic-conventions-genai, model/gen-ai/gen-ai-input-messages.json and
// gen-ai-output-messages.json): messages of {role, parts}, each part typed (text, tool_call,
// tool_call_response, reasoning, uri, blob, or the part's own type for anything else). Pure.
//
// The prompt is the request body as the client sent it: OpenAI chat (messages with string or
// part-array content, assistant tool_calls, tool results), or Anthropic messages (a separate
// `system`, content blocks). Embeddings have no messages (the conventions define none for them).
// Nothing here redacts or bounds the text: the caller serializes the result through the prompt
// log's bounded, redacting writer.

import type { LedgerEvent } from '../../ledger/ledger-event.ts';

export interface MessagePart {
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface GenAiMessage {
  readonly role: string;
  readonly parts: MessagePart[];
  readonly name?: string;
}

export interface GenAiInput {
  readonly messages: GenAiMessage[];
  /** Anthropic's `system`, sent apart from the messages (gen_ai.system_instructions). */
  readonly system?: MessagePart[];
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (content: string): MessagePart => ({ type: 'text', content });

/** The prompt's messages, or undefined when it has none (embeddings, or a body of another shape). */
export function inputMessages(endpoint: LedgerEvent['endpoint'], prompt: unknown): GenAiInput | undefined {
  if (endpoint === 'embeddings') return undefined;
  const list = Array.isArray(prompt) ? prompt : isObject(prompt) && Array.isArray(prompt.messages) ? prompt.messages : undefined;
  if (!list) return undefined;
  const messages = list.filter(isObject).map(message);
  const system = isObject(prompt) ? systemParts(prompt.system) : undefined;
  return system ? { messages, system } : { messages };
}

/** The completion as the one output message (one choice: the gateway logs the first). */
export function outputMessages(completion: string): GenAiMessage[] {
  return [{ role: 'assistant', parts: [text(completion)] }];
}

function message(m: Json): GenAiMessage {
  const role = typeof m.role === 'string' ? m.role : 'user';
  const parts: MessagePart[] = [];
  if (role === 'tool') {
    // OpenAI's tool result: the whole content is the response to one call.
    parts.push({ type: 'tool_call_response', id: typeof m.tool_call_id === 'string' ? m.tool_call_id : null, response: flatText(m.content) });
  } else if (typeof m.content === 'string') {
    parts.push(text(m.content));
  } else if (Array.isArray(m.content)) {
    for (const block of m.content) if (isObject(block)) parts.push(contentPart(block));
  }
  if (Array.isArray(m.tool_calls)) {
    for (const call of m.tool_calls) {
      if (!isObject(call) || !isObject(call.function)) continue;
      parts.push({ type: 'tool_call', id: typeof call.id === 'string' ? call.id : null, name: String(call.function.name ?? ''), arguments: jsonOrText(call.function.arguments) });
    }
  }
  return typeof m.name === 'string' ? { role, parts, name: m.name } : { role, parts };
}

/** One content part or block, OpenAI's or Anthropic's. */
function contentPart(block: Json): MessagePart {
  const type = typeof block.type === 'string' ? block.type : 'unknown';
  switch (type) {
    case 'text':
    case 'input_text':
      return text(typeof block.text === 'string' ? block.text : '');
    case 'thinking':
      return { type: 'reasoning', content: typeof block.thinking === 'string' ? block.thinking : '' };
    case 'tool_use':
      return { type: 'tool_call', id: typeof block.id === 'string' ? block.id : null, name: String(block.name ?? ''), arguments: block.input ?? null };
    case 'tool_result':
      return { type: 'tool_call_response', id: typeof block.tool_use_id === 'string' ? block.tool_use_id : null, response: flatText(block.content) };
    case 'image_url':
      return media('image', isObject(block.image_url) ? block.image_url.url : undefined);
    case 'image':
    case 'document':
      return anthropicSource(type, block.source);
    case 'input_audio':
      return isObject(block.input_audio) && typeof block.input_audio.data === 'string'
        ? { type: 'blob', modality: 'audio', mime_type: typeof block.input_audio.format === 'string' ? `audio/${block.input_audio.format}` : null, content: block.input_audio.data }
        : { type };
    default:
      // Another kind of part: its type only (its payload may be large or binary).
      return { type };
  }
}

/** An image or file referenced by URL, or inline as a data: URL (the bounded writer shortens its base64). */
function media(modality: string, url: unknown): MessagePart {
  if (typeof url !== 'string') return { type: 'uri', modality, uri: '' };
  const data = /^data:([^;,]*)(?:;[^,]*)?,/.exec(url);
  if (data) return { type: 'blob', modality, mime_type: data[1] || null, content: url.slice(data[0].length) };
  return { type: 'uri', modality, uri: url };
}

function anthropicSource(type: string, source: unknown): MessagePart {
  const modality = type === 'document' ? 'document' : 'image';
  if (!isObject(source)) return { type };
  if (source.type === 'base64') return { type: 'blob', modality, mime_type: typeof source.media_type === 'string' ? source.media_type : null, content: String(source.data ?? '') };
  if (source.type === 'url') return { type: 'uri', modality, uri: String(source.url ?? '') };
  if (source.type === 'text') return text(String(source.data ?? ''));
  return { type };
}

function systemParts(system: unknown): MessagePart[] | undefined {
  if (typeof system === 'string') return system ? [text(system)] : undefined;
  if (!Array.isArray(system)) return undefined;
  const parts = system.filter(isObject).map(contentPart);
  return parts.length > 0 ? parts : undefined;
}

/** A tool result's content: a string, or the text of its blocks. */
function flatText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.filter(isObject).map((b) => (typeof b.text === 'string' ? b.text : '')).join('');
}

/** Tool-call arguments arrive as a JSON string (OpenAI): the object when it parses. */
function jsonOrText(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
