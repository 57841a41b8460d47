import type { z } from 'zod';
import { formatPath } from './config-error.ts';
import { hint } from './did-you-mean.ts';
import { SECRET_FIELDS } from './schema.ts';

/** Walks a zod schema along a config path, unwrapping defaults and optionals. */
function schemaAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): z.ZodType | undefined {
  let current: any = schema;
  const unwrap = () => {
    while (current?._zod?.def?.innerType) current = current._zod.def.innerType;
    if (current?._zod?.def?.type === 'pipe') current = current._zod.def.in;
  };
  unwrap();
  for (const part of path) {
    const def = current?._zod?.def;
    if (!def) return undefined;
    if (def.type === 'object') current = def.shape[part as string];
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'array') current = def.element;
    else return undefined;
    unwrap();
  }
  return current;
}

function knownKeys(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  const def = (schemaAt(schema, path) as any)?._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape) : [];
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current: any = root;
  for (const part of path) current = current?.[part as any];
  return current;
}

/** One readable line per zod issue: the field path, what is wrong, and how to fix it. */
export function formatIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path);
      for (const key of issue.keys) {
        const where = formatPath([...issue.path, key]);
        lines.push(`${where}: unknown key "${key}".${hint(key, known)} Allowed keys here: ${known.join(', ')}.`);
      }
      continue;
    }
    const where = formatPath(issue.path);
    const last = issue.path[issue.path.length - 1];
    const secret = typeof last === 'string' && SECRET_FIELDS.has(last);
    if (issue.code === 'invalid_value') {
      const given = valueAt(input, issue.path);
      const options = issue.values.map(String);
      const shown = secret || typeof given !== 'string' ? '' : ` "${given}"`;
      const guess = typeof given === 'string' && !secret ? hint(given, options) : '';
      lines.push(`${where}: invalid value${shown}.${guess} Use one of: ${options.join(', ')}.`);
      continue;
    }
    if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
      lines.push(`${where}: is required (expected ${issue.expected}).`);
      continue;
    }
    lines.push(`${where}: ${issue.message}.`);
  }
  return lines;
}
