import { GatewayError } from '../errors/gateway-error.ts';
import type { ChatRequest, EmbeddingsRequest } from '../providers/types.ts';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

function bad(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', `${param}: ${message}`, { param });
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

export function requireModel(body: Record<string, unknown>): string {
  const model = body.model;
  if (model === undefined || model === null || model === '') throw new GatewayError('missing_model', 'The request has no "model". Send one of the aliases listed by GET /v1/models.', { param: 'model' });
  if (typeof model !== 'string') throw bad('model', `must be a string, got ${kind(model)}.`);
  return model;
}

function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function optional(body: Record<string, unknown>, name: string, check: (v: unknown) => boolean, expected: string): void {
  const value = body[name];
  if (value === undefined || value === null) return;
  if (!check(value)) throw bad(name, `must be ${expected}, got ${kind(value)}${typeof value === 'number' ? ` ${value}` : ''}.`);
}

const isPositiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const intUpTo = (max: number) => (v: unknown) => isPositiveInt(v) && (v as number) <= max;

// Upper bounds the providers themselves enforce (OpenAI: n ≤ 128, 2,048 embedding inputs).
const MAX_CHOICES = 128;
const MAX_EMBEDDING_INPUTS = 2048;
const MAX_DIMENSIONS = 16_384;
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/** Checks the fields the gateway itself relies on; everything else is the provider's to judge. */
export function validateChatRequest(body: Record<string, unknown>): ChatRequest {
  requireModel(body);
  const messages = body.messages;
  if (!Array.isArray(messages)) throw bad('messages', messages === undefined ? 'is required: an array of {role, content} objects.' : `must be an array, got ${kind(messages)}.`);
  if (messages.length === 0) throw bad('messages', 'must contain at least one message.');
  messages.forEach((m, i) => {
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw bad(`messages[${i}]`, `must be an object with role and content, got ${kind(m)}.`);
    const role = (m as { role?: unknown }).role;
    if (typeof role !== 'string' || !ROLES.has(role)) throw bad(`messages[${i}].role`, `must be one of ${[...ROLES].join(', ')}.`);
    const content = (m as { content?: unknown }).content;
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) throw bad(`messages[${i}].content`, `must be a string or an array of content parts, got ${kind(content)}.`);
  });
  optional(body, 'stream', (v) => typeof v === 'boolean', 'a boolean');
  optional(body, 'stream_options', (v) => typeof v === 'object' && !Array.isArray(v), 'an object like {"include_usage": true}');
  optional(body, 'n', intUpTo(MAX_CHOICES), `an integer from 1 to ${MAX_CHOICES}`);
  optional(body, 'max_tokens', isPositiveInt, 'a positive integer');
  optional(body, 'max_completion_tokens', isPositiveInt, 'a positive integer');
  optional(body, 'temperature', isNumber, 'a number');
  optional(body, 'top_p', isNumber, 'a number');
  optional(body, 'stop', (v) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')), 'a string or an array of strings');
  optional(body, 'tools', (v) => Array.isArray(v) && v.every((t) => t && typeof t === 'object' && typeof (t as any).function?.name === 'string'), 'an array of {"type":"function","function":{"name",...}} objects');
  optional(body, 'response_format', (v) => typeof v === 'object' && !Array.isArray(v) && typeof (v as any).type === 'string', 'an object with a "type"');
  optional(body, 'user', (v) => typeof v === 'string', 'a string');
  return body as ChatRequest;
}

export function validateEmbeddingsRequest(body: Record<string, unknown>): EmbeddingsRequest {
  requireModel(body);
  const input = body.input;
  const ok = typeof input === 'string'
    || (Array.isArray(input) && input.length > 0 && (input.every((s) => typeof s === 'string') || input.every((n) => typeof n === 'number') || input.every((a) => Array.isArray(a) && a.every((n) => typeof n === 'number'))));
  if (!ok) throw bad('input', input === undefined ? 'is required: a string or an array of strings.' : 'must be a string, an array of strings, or token arrays.');
  if (Array.isArray(input) && typeof input[0] !== 'number' && input.length > MAX_EMBEDDING_INPUTS) throw bad('input', `must have at most ${MAX_EMBEDDING_INPUTS} items, got ${input.length}.`);
  optional(body, 'dimensions', intUpTo(MAX_DIMENSIONS), `an integer from 1 to ${MAX_DIMENSIONS}`);
  optional(body, 'encoding_format', (v) => v === 'float' || v === 'base64', '"float" or "base64"');
  return body as EmbeddingsRequest;
}
