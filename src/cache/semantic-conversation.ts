// Converts a request's messages into the normalised conversation semantic-text.ts embeds:
// OpenAI chat messages (content a string or parts) and Anthropic /v1/messages requests (system
// a string or text blocks; content a string or blocks). Text stays text; tool calls and tool
// uses become "name arguments" text, tool results their text; every other part (images, audio,
// files, documents, thinking) becomes an attachment digest, so it changes the text and the
// attachment key. Inputs are request bodies as parsed JSON: anything malformed is skipped,
// never thrown on (validation is not this module's job).

import { attachmentDigest, type SemanticConversation, type SemanticTurn } from './semantic-text.ts';

/** OpenAI chat messages: "system" and "developer" messages make the system prompt. */
export function fromOpenAiMessages(messages: readonly unknown[]): SemanticConversation {
  const system: string[] = [];
  const turns: SemanticTurn[] = [];
  for (const message of messages) {
    if (!isObject(message) || typeof message.role !== 'string') continue;
    const { texts, attachments } = openAiContent(message.content);
    if (message.role === 'system' || message.role === 'developer') {
      system.push(texts.join('\n'));
      continue;
    }
    if (typeof message.refusal === 'string') texts.push(message.refusal);
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        if (isObject(call) && isObject(call.function)) texts.push(`${str(call.function.name)} ${str(call.function.arguments)}`);
      }
    }
    turns.push(turn(message.role, texts, attachments));
  }
  return { system: system.join('\n'), turns };
}

/** An Anthropic /v1/messages request's system and messages. */
export function fromAnthropicRequest(system: unknown, messages: readonly unknown[]): SemanticConversation {
  const turns: SemanticTurn[] = [];
  for (const message of messages) {
    if (!isObject(message) || typeof message.role !== 'string') continue;
    const { texts, attachments } = anthropicContent(message.content);
    turns.push(turn(message.role, texts, attachments));
  }
  return { system: anthropicContent(system).texts.join('\n'), turns };
}

interface Content {
  texts: string[];
  attachments: string[];
}

function openAiContent(content: unknown): Content {
  const out: Content = { texts: [], attachments: [] };
  if (typeof content === 'string') out.texts.push(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (isObject(part) && (part.type === 'text' || part.type === 'refusal')) out.texts.push(str(part.type === 'text' ? part.text : part.refusal));
      else out.attachments.push(attachmentDigest(part));
    }
  }
  return out;
}

function anthropicContent(content: unknown): Content {
  const out: Content = { texts: [], attachments: [] };
  if (typeof content === 'string') out.texts.push(content);
  else if (Array.isArray(content)) {
    for (const block of content) {
      if (!isObject(block)) continue;
      if (block.type === 'text') out.texts.push(str(block.text));
      else if (block.type === 'tool_use') out.texts.push(`${str(block.name)} ${JSON.stringify(block.input ?? null)}`);
      else if (block.type === 'tool_result') {
        const inner = anthropicContent(block.content);
        out.texts.push(...inner.texts);
        out.attachments.push(...inner.attachments);
        if (block.is_error === true) out.texts.push('(error)');
      } else out.attachments.push(attachmentDigest(block));
    }
  }
  return out;
}

function turn(role: string, texts: string[], attachments: string[]): SemanticTurn {
  const text = texts.filter((t) => t !== '').join('\n');
  return attachments.length > 0 ? { role, text, attachments } : { role, text };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}
