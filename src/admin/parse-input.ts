import type { z } from 'zod';
import { formatPath } from '../config/config-error.ts';
import { formatIssues } from '../config/format-issues.ts';
import { GatewayError } from '../errors/gateway-error.ts';

/**
 * Validates admin input against a zod schema. Bad input is always a 400 invalid_request whose
 * `param` is the first field at fault and whose message names every problem (with a "did you
 * mean" for unknown fields), never a 500.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const nul = nulPath(input, []);
  if (nul) throw new GatewayError('invalid_request', `Invalid ${what}: ${formatPath(nul)} contains a NUL character (\\u0000), which cannot be stored.`, nul.length > 0 ? { param: formatPath(nul) } : {});
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const lines = [...new Set(formatIssues(schema, issues, input))];
  const first = issues[0]!;
  const path = first.code === 'unrecognized_keys' ? [...first.path, first.keys[0]!] : first.path;
  throw new GatewayError('invalid_request', `Invalid ${what}: ${lines.join(' ')}`, path.length > 0 ? { param: formatPath(path) } : {});
}

/** A 400 about one field, for rules that span fields or need the clock. */
export function invalidField(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

/** The path of the first string (value or object key) holding U+0000, which PostgreSQL text and jsonb refuse. */
function nulPath(value: unknown, path: PropertyKey[]): PropertyKey[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (!value || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) return [...path, key];
    const found = nulPath(item, [...path, key]);
    if (found) return found;
  }
  return undefined;
}
