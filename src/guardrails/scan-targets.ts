// The texts of a request the input guard scans, each with the role that decides how it is
// treated and a way to write a redacted version back. System messages are trusted; user turns
// are the caller's; tool results and retrieved context are untrusted data. Retrieved context is
// marked by the caller: an OpenAI message whose `name` is "context", "retrieved" or starts with
// "rag", or an Anthropic `document` block with text.
//
// Redaction copies on write: `cloneMessages` first, then `set` on the targets of the copy.

import type { TextRole } from './detector.ts';

export interface ScanTarget {
  readonly role: TextRole;
  readonly text: string;
  /** Replaces this text in the (copied) request. */
  set(text: string): void;
}

type Json = Record<string, unknown>;
const CONTEXT_NAME = /^(context|retrieved|rag)/i;

function openAiRole(message: Json): TextRole {
  switch (message.role) {
    case 'system':
    case 'developer':
      return 'system';
    case 'assistant':
      return 'assistant';
    case 'tool':
    case 'function':
      return 'tool';
    default:
      return typeof message.name === 'string' && CONTEXT_NAME.test(message.name) ? 'context' : 'user';
  }
}

/** Text parts of one content value (a string or an array of parts/blocks), as targets. */
function contentTargets(holder: Json, key: string, role: TextRole, out: ScanTarget[]): void {
  const content = holder[key];
  if (typeof content === 'string') {
    out.push({ role, text: content, set: (text) => { holder[key] = text; } });
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (!part || typeof part !== 'object') continue;
    const block = part as Json;
    if (block.type === 'text' && typeof block.text === 'string') out.push({ role, text: block.text, set: (text) => { block.text = text; } });
    // Anthropic: a tool result's content, and a document's text source (retrieved context).
    else if (block.type === 'tool_result') contentTargets(block, 'content', 'tool', out);
    else if (block.type === 'document' && block.source && typeof block.source === 'object' && (block.source as Json).type === 'text') {
      const source = block.source as Json;
      if (typeof source.data === 'string') out.push({ role: 'context', text: source.data, set: (text) => { source.data = text; } });
    }
  }
}

/** OpenAI chat messages. */
export function chatTargets(messages: readonly unknown[]): ScanTarget[] {
  const out: ScanTarget[] = [];
  for (const m of messages) {
    if (!m || typeof m !== 'object') continue;
    const message = m as Json;
    contentTargets(message, 'content', openAiRole(message), out);
  }
  return out;
}

/** An Anthropic /v1/messages request: its system prompt and its messages. */
export function anthropicTargets(body: Json): ScanTarget[] {
  const out: ScanTarget[] = [];
  contentTargets(body, 'system', 'system', out);
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const m of messages) {
    if (!m || typeof m !== 'object') continue;
    const message = m as Json;
    contentTargets(message, 'content', message.role === 'assistant' ? 'assistant' : 'user', out);
  }
  return out;
}

/** A deep copy of the messages (and system) a redaction may change. */
export function cloneMessages<T extends Json>(body: T): T {
  const copy: Json = { ...body };
  if (Array.isArray(body.messages)) copy.messages = structuredClone(body.messages);
  if (body.system !== undefined && typeof body.system === 'object') copy.system = structuredClone(body.system);
  return copy as T;
}

/** The system prompt's text (for the output's leak detector). */
export function systemText(targets: readonly ScanTarget[]): string {
  return targets.filter((t) => t.role === 'system').map((t) => t.text).join('\n');
}

/** The text blocks of an Anthropic message (an answer), as targets. */
export function anthropicAnswerTargets(message: unknown): ScanTarget[] {
  const content = (message as Json | null)?.content;
  if (!Array.isArray(content)) return [];
  const out: ScanTarget[] = [];
  for (const block of content) {
    if (block && typeof block === 'object' && (block as Json).type === 'text' && typeof (block as Json).text === 'string') {
      out.push({ role: 'completion', text: (block as Json).text as string, set: (text) => { (block as Json).text = text; } });
    }
  }
  return out;
}
