// What the simulated model reads: the prompt's text and size, the same whether content is a
// string or an array of parts, and the request fingerprint behind the completion id.

import type { ChatMessage, ChatRequest } from '../types.ts';
import { countTokens, hashText } from './simulator-text.ts';

/** What an image costs, whatever its size (OpenAI's low-detail price). */
export const IMAGE_TOKENS = 85;
/** Per-message framing tokens (role and separators). */
const MESSAGE_OVERHEAD = 3;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function partText(part: unknown): string | undefined {
  if (typeof part === 'string') return part;
  if (!isRecord(part)) return undefined;
  if ((part.type === 'text' || part.type === 'input_text' || part.type === 'output_text') && typeof part.text === 'string') return part.text;
  if (part.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
  return undefined;
}

const isImage = (part: unknown): boolean => isRecord(part) && (part.type === 'image_url' || part.type === 'input_image' || part.type === 'image');

/** The text of a message's content: the string itself, or its text parts one per line. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map(partText).filter((t): t is string => t !== undefined).join('\n');
}

function toolCallsText(message: ChatMessage): string {
  if (!Array.isArray(message.tool_calls)) return '';
  return message.tool_calls
    .map((call) => (isRecord(call) && isRecord(call.function) ? `${call.function.name ?? ''} ${call.function.arguments ?? ''}` : ''))
    .join('\n');
}

export interface Prompt {
  /** Everything that makes two prompts different, for seeding the answer. */
  fingerprint: string;
  tokens: number;
}

/** The prompt as the model sees it: text parts and tool calls as text, images at a fixed size. */
export function readPrompt(req: ChatRequest): Prompt {
  const messages: unknown[] = Array.isArray(req.messages) ? req.messages : [];
  const lines: string[] = [];
  let tokens = 0;
  for (const m of messages) {
    if (!isRecord(m)) continue;
    const message = m as ChatMessage;
    const parts = Array.isArray(message.content) ? message.content : [];
    const images = parts.filter(isImage);
    // Non-text parts (images, audio, files) change the answer but are not counted as text.
    const other = parts.filter((p) => partText(p) === undefined);
    const text = [contentText(message.content), toolCallsText(message)].filter(Boolean).join('\n');
    lines.push(other.length > 0 ? `${text}\n${JSON.stringify(other)}` : text);
    tokens += countTokens(text) + images.length * IMAGE_TOKENS + MESSAGE_OVERHEAD;
  }
  return { fingerprint: lines.join('\n'), tokens };
}

/** The params that change what comes back; mixed into the id so different requests get different ids. */
const OUTPUT_PARAMS = ['n', 'stop', 'max_tokens', 'max_completion_tokens', 'response_format', 'tools', 'tool_choice', 'temperature', 'seed'] as const;

export function completionId(seed: number, req: ChatRequest): string {
  const params = OUTPUT_PARAMS.map((k) => JSON.stringify(req[k] ?? null)).join('\n');
  return `chatcmpl-sim${hashText(`${seed}\n${params}`).toString(36)}`;
}
