// JSON mode: the simulated answer when response_format asks for JSON, as tokens.

import type { ChatRequest } from '../types.ts';
import { isPlainObject, schemaValue } from './simulator-schema.ts';
import { generateTokens, splitTokens } from './simulator-text.ts';

/** The schema of a json_schema response_format, if it has one. */
function responseSchema(format: ChatRequest['response_format']): unknown {
  const spec = format?.json_schema;
  return isPlainObject(spec) && isPlainObject(spec.schema) ? spec.schema : undefined;
}

/**
 * The full (untruncated) JSON answer as tokens, or undefined when the request does not ask for
 * JSON. json_schema: a value that satisfies the schema. json_object (or a schema-less
 * json_schema): `{"answer": "..."}`, `outputTokens` long, its punctuation included.
 */
export function jsonTokens(req: ChatRequest, seed: number, outputTokens: number): string[] | undefined {
  const format = isPlainObject(req.response_format) ? req.response_format : undefined;
  if (format?.type !== 'json_object' && format?.type !== 'json_schema') return undefined;
  const schema = format.type === 'json_schema' ? responseSchema(format) : undefined;
  if (schema !== undefined) return splitTokens(JSON.stringify(schemaValue(schema, seed) ?? null));
  const words = generateTokens(seed, Math.max(1, outputTokens - 2)).map((t) => t.replace(/["\\]/g, ''));
  return ['{"answer": "', ...words, '"}'];
}
