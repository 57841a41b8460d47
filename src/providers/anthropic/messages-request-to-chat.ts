// Ingress: an Anthropic Messages request (a client calling /v1/messages) → canonical chat
// request, for aliases that route to a provider that does not speak Anthropic's wire.

import type { ChatMessage, ChatRequest, ContentPart, FunctionTool, ToolCall, ToolChoice } from '../types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';

type Json = Record<string, unknown>;

function bad(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalNumber(body: Json, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(`${name} must be a number.`, name);
  return value;
}

/** Image / document sources as data or http(s) URLs. */
function sourceUrl(source: unknown, param: string, kind: 'image' | 'document'): { url: string; mediaType?: string } {
  if (!isObject(source)) throw bad(`An ${kind} block needs a source object.`, `${param}.source`);
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string' || typeof source.data !== 'string') {
      throw bad('A base64 source needs media_type and data strings.', `${param}.source`);
    }
    return { url: `data:${source.media_type};base64,${source.data}`, mediaType: source.media_type };
  }
  if (source.type === 'url' && typeof source.url === 'string') return { url: source.url };
  throw bad(`${kind} source type "${String(source.type)}" cannot be sent to this provider; use base64 or url.`, `${param}.source`);
}

function imagePart(block: Json, param: string): ContentPart {
  return { type: 'image_url', image_url: { url: sourceUrl(block.source, param, 'image').url } };
}

function documentPart(block: Json, param: string): ContentPart {
  const source = block.source;
  if (isObject(source) && source.type === 'text' && typeof source.data === 'string') return { type: 'text', text: source.data };
  const { url, mediaType } = sourceUrl(source, param, 'document');
  if (mediaType !== 'application/pdf') throw bad('Only base64 PDF and plain-text documents can be sent to this provider.', `${param}.source`);
  const file: Json = { file_data: url };
  if (typeof block.title === 'string') file.filename = block.title;
  return { type: 'file', file };
}

function text(block: Json, param: string): string {
  if (typeof block.text !== 'string') throw bad('A text block needs a string text.', `${param}.text`);
  return block.text;
}

/** A tool_result's content as tool-message text plus any images it carried. */
function toolResultContent(content: unknown, param: string): { text: string; images: ContentPart[] } {
  if (content === undefined || content === null) return { text: '', images: [] };
  if (typeof content === 'string') return { text: content, images: [] };
  if (!Array.isArray(content)) throw bad('tool_result content must be a string or an array of blocks.', `${param}.content`);
  const texts: string[] = [];
  const images: ContentPart[] = [];
  content.forEach((block: unknown, k) => {
    const p = `${param}.content[${k}]`;
    if (!isObject(block)) throw bad('Content blocks must be objects.', p);
    if (block.type === 'text') texts.push(text(block, p));
    else if (block.type === 'image') images.push(imagePart(block, p));
    else if (block.type === 'document') images.push(documentPart(block, p));
    else throw bad(`tool_result block type "${String(block.type)}" cannot be sent to this provider.`, p);
  });
  return { text: texts.join('\n'), images };
}

function userMessages(content: unknown[], i: number): ChatMessage[] {
  const tools: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  const toolImages: ContentPart[] = [];
  content.forEach((block: unknown, j) => {
    const param = `messages[${i}].content[${j}]`;
    if (!isObject(block)) throw bad('Content blocks must be objects.', param);
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: text(block, param) });
        break;
      case 'image':
        parts.push(imagePart(block, param));
        break;
      case 'document':
        parts.push(documentPart(block, param));
        break;
      case 'tool_result': {
        if (typeof block.tool_use_id !== 'string') throw bad('A tool_result block needs tool_use_id.', `${param}.tool_use_id`);
        const result = toolResultContent(block.content, param);
        // Chat tool messages carry text only: images from tool results follow as a user message.
        toolImages.push(...result.images);
        tools.push({ role: 'tool', tool_call_id: block.tool_use_id, content: result.text });
        break;
      }
      default:
        throw bad(`Content block type "${String(block.type)}" cannot be sent to this provider.`, param);
    }
  });
  const all = [...toolImages, ...parts];
  if (all.length === 0) return tools;
  const only = all[0];
  const userContent = all.length === 1 && only.type === 'text' ? String(only.text) : all;
  return [...tools, { role: 'user', content: userContent }];
}

function assistantMessage(content: unknown[], i: number): ChatMessage {
  let textContent = '';
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  content.forEach((block: unknown, j) => {
    const param = `messages[${i}].content[${j}]`;
    if (!isObject(block)) throw bad('Content blocks must be objects.', param);
    if (block.type === 'text') {
      textContent += text(block, param);
      hasText = true;
    } else if (block.type === 'tool_use') {
      if (typeof block.id !== 'string' || typeof block.name !== 'string') throw bad('A tool_use block needs id and name.', param);
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    } else if (block.type !== 'thinking' && block.type !== 'redacted_thinking') {
      // Thinking is signed for Anthropic only and is dropped; other blocks have no chat form.
      throw bad(`Content block type "${String(block.type)}" cannot be sent to this provider.`, param);
    }
  });
  const message: ChatMessage = { role: 'assistant', content: hasText ? textContent : toolCalls.length > 0 ? null : '' };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return message;
}

function translateMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages)) throw bad('messages must be an array of {role, content} objects.', 'messages');
  if (messages.length === 0) throw bad('messages must contain at least one message.', 'messages');
  return messages.flatMap((m: unknown, i): ChatMessage[] => {
    if (!isObject(m)) throw bad('Each message must be an object.', `messages[${i}]`);
    if (m.role !== 'user' && m.role !== 'assistant') throw bad('role must be "user" or "assistant".', `messages[${i}].role`);
    if (typeof m.content === 'string') return [{ role: m.role, content: m.content }];
    if (!Array.isArray(m.content)) throw bad('content must be a string or an array of content blocks.', `messages[${i}].content`);
    return m.role === 'user' ? userMessages(m.content, i) : [assistantMessage(m.content, i)];
  });
}

function translateSystem(system: unknown): string | undefined {
  if (system === undefined || system === null) return undefined;
  if (typeof system === 'string') return system === '' ? undefined : system;
  if (!Array.isArray(system)) throw bad('system must be a string or an array of text blocks.', 'system');
  const texts = system.map((block: unknown, k) => {
    if (!isObject(block) || block.type !== 'text') throw bad('system blocks must be text blocks.', `system[${k}]`);
    return text(block, `system[${k}]`);
  });
  return texts.length > 0 ? texts.join('\n\n') : undefined;
}

function translateTools(tools: unknown): FunctionTool[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) throw bad('tools must be an array.', 'tools');
  return tools.map((tool: unknown, k) => {
    if (!isObject(tool)) throw bad('Each tool must be an object.', `tools[${k}]`);
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      throw bad(`Server tool "${String(tool.type)}" is only available on Anthropic.`, `tools[${k}].type`);
    }
    if (typeof tool.name !== 'string' || tool.name === '') throw bad('A tool needs a name.', `tools[${k}].name`);
    if (!isObject(tool.input_schema)) throw bad('A tool needs an input_schema object.', `tools[${k}].input_schema`);
    const fn: FunctionTool['function'] = { name: tool.name };
    if (typeof tool.description === 'string') fn.description = tool.description;
    fn.parameters = tool.input_schema;
    return { type: 'function', function: fn };
  });
}

function translateToolChoice(choice: unknown): { choice?: ToolChoice; parallel?: false } {
  if (choice === undefined || choice === null) return {};
  if (!isObject(choice)) throw bad('tool_choice must be an object like {"type":"auto"}.', 'tool_choice');
  const parallel = choice.disable_parallel_tool_use === true ? { parallel: false as const } : {};
  switch (choice.type) {
    case 'auto':
      return { choice: 'auto', ...parallel };
    case 'any':
      return { choice: 'required', ...parallel };
    case 'none':
      return { choice: 'none' };
    case 'tool':
      if (typeof choice.name !== 'string') throw bad('tool_choice of type "tool" needs a name.', 'tool_choice.name');
      return { choice: { type: 'function', function: { name: choice.name } }, ...parallel };
    default:
      throw bad('tool_choice.type must be auto, any, tool or none.', 'tool_choice.type');
  }
}

/**
 * Validates an Anthropic Messages request and translates it to the canonical chat request.
 * Unsupported for non-Anthropic providers and ignored: thinking, service_tier, cache_control.
 */
export function messagesRequestToChat(body: unknown): ChatRequest {
  if (!isObject(body)) throw new GatewayError('invalid_request', 'The body must be a JSON object.');
  if (body.model === undefined || body.model === null || body.model === '') {
    throw new GatewayError('missing_model', 'The body has no model.', { param: 'model' });
  }
  if (typeof body.model !== 'string') throw bad('model must be a string.', 'model');
  const maxTokens = body.max_tokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw bad('max_tokens is required and must be a positive integer.', 'max_tokens');
  }
  const messages = translateMessages(body.messages);
  const system = translateSystem(body.system);
  const req: ChatRequest = { model: body.model, messages: system === undefined ? messages : [{ role: 'system', content: system }, ...messages], max_tokens: maxTokens };
  const tools = translateTools(body.tools);
  if (tools && tools.length > 0) {
    req.tools = tools;
    const { choice, parallel } = translateToolChoice(body.tool_choice);
    if (choice !== undefined) req.tool_choice = choice;
    if (parallel === false) req.parallel_tool_calls = false;
  } else {
    translateToolChoice(body.tool_choice);
  }
  if (body.stop_sequences !== undefined && body.stop_sequences !== null) {
    if (!Array.isArray(body.stop_sequences) || !body.stop_sequences.every((s) => typeof s === 'string')) {
      throw bad('stop_sequences must be an array of strings.', 'stop_sequences');
    }
    if (body.stop_sequences.length > 0) req.stop = body.stop_sequences as string[];
  }
  for (const name of ['temperature', 'top_p'] as const) {
    const value = optionalNumber(body, name);
    if (value !== undefined) req[name] = value;
  }
  // Chat completions has no top_k (OpenAI rejects it), so it is checked but not carried over.
  optionalNumber(body, 'top_k');
  if (body.metadata !== undefined && body.metadata !== null) {
    if (!isObject(body.metadata)) throw bad('metadata must be an object.', 'metadata');
    const userId = body.metadata.user_id;
    if (userId !== undefined && userId !== null && typeof userId !== 'string') throw bad('metadata.user_id must be a string.', 'metadata.user_id');
    if (typeof userId === 'string' && userId !== '') req.user = userId;
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw bad('stream must be a boolean.', 'stream');
  if (body.stream === true) {
    req.stream = true;
    // Anthropic streams always end with usage; ask the chat provider for it too.
    req.stream_options = { include_usage: true };
  }
  return req;
}
