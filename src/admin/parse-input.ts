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
  const bad = unstorable(input, [], 0);
  if (bad) throw new GatewayError('invalid_request', `Invalid ${what}: ${bad.path.length > 0 ? formatPath(bad.path) : 'the input'} ${bad.problem}.`, bad.path.length > 0 ? { param: formatPath(bad.path) } : {});
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

const MAX_DEPTH = 32;

/**
 * The first thing in the input no store can keep: text with a NUL character or an unpaired UTF-16
 * surrogate (PostgreSQL refuses both), or nesting deeper than MAX_DEPTH.
 */
function unstorable(value: unknown, path: PropertyKey[], depth: number): { path: PropertyKey[]; problem: string } | undefined {
  if (typeof value === 'string') return textProblem(value, path);
  if (!value || typeof value !== 'object') return undefined;
  if (depth >= MAX_DEPTH) return { path, problem: `is nested more than ${MAX_DEPTH} levels deep` };
  for (const [key, item] of Object.entries(value)) {
    const found = textProblem(key, [...path, key]) ?? unstorable(item, [...path, key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

function textProblem(text: string, path: PropertyKey[]): { path: PropertyKey[]; problem: string } | undefined {
  if (text.includes('\u0000')) return { path, problem: 'contains a NUL character (\\u0000), which cannot be stored' };
  if (!text.isWellFormed()) return { path, problem: 'contains an unpaired UTF-16 surrogate (invalid Unicode), which cannot be stored' };
  return undefined;
}
