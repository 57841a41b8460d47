// A value that satisfies a JSON schema, drawn deterministically from a seed: the simulator's
// answer to structured outputs (response_format json_schema) and its tool-call arguments.
// Best effort: types, enum/const, required, nested objects and arrays, $ref/$defs, anyOf/oneOf/
// allOf, numeric and length bounds, common string formats. Never throws, whatever the schema.

import { generateTokens, seededRandom } from './simulator-text.ts';

type Schema = Record<string, unknown>;

interface Context {
  root: unknown;
  random: () => number;
}

/** From this depth on, optional structure is left out (minimum array lengths, null where allowed), so recursive schemas end. */
const SHALLOW_DEPTH = 5;
const MAX_DEPTH = 24;
const DAY_MS = 86_400_000;

export const isPlainObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A value valid against `schema`; the same schema and seed always give the same value. */
export function schemaValue(schema: unknown, seed: number): unknown {
  return valueFor(schema, { root: schema, random: seededRandom(seed) }, 0);
}

function valueFor(input: unknown, ctx: Context, depth: number): unknown {
  if (input === false || depth > MAX_DEPTH) return null;
  const schema = isPlainObject(input) ? resolve(input, ctx) : {};
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return pick(ctx, schema.enum);
  const options = [schema.anyOf, schema.oneOf].find((o): o is unknown[] => Array.isArray(o) && o.length > 0);
  if (options) {
    const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = schema;
    const option = choose(options, depth);
    return valueFor({ ...rest, ...(isPlainObject(option) ? option : {}) }, ctx, depth);
  }
  switch (typeOf(schema, depth)) {
    case 'null': return null;
    case 'boolean': return ctx.random() < 0.5;
    case 'integer': return numberValue(schema, ctx, true);
    case 'number': return numberValue(schema, ctx, false);
    case 'array': return arrayValue(schema, ctx, depth);
    case 'object': return objectValue(schema, ctx, depth);
    default: return stringValue(schema, ctx);
  }
}

/** Follows $ref (local JSON pointers only) and merges allOf into one schema. */
function resolve(schema: Schema, ctx: Context): Schema {
  let s = schema;
  for (let hops = 0; hops < 32 && typeof s.$ref === 'string'; hops++) {
    const { $ref, ...rest } = s;
    const target = pointer(ctx.root, $ref as string);
    s = { ...(isPlainObject(target) ? target : {}), ...rest };
  }
  if ('$ref' in s) s = { ...s, $ref: undefined };
  if (Array.isArray(s.allOf)) {
    const { allOf, ...rest } = s;
    s = (allOf as unknown[]).reduce<Schema>((merged, part) => (isPlainObject(part) ? merge(merged, resolve(part, ctx)) : merged), rest);
  }
  return s;
}

function pointer(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    node = Object.hasOwn(node, key) ? (node as Schema)[key] : undefined;
  }
  return node;
}

function merge(a: Schema, b: Schema): Schema {
  const out: Schema = { ...a, ...b };
  if (isPlainObject(a.properties) || isPlainObject(b.properties)) out.properties = { ...(a.properties as Schema), ...(b.properties as Schema) };
  if (Array.isArray(a.required) || Array.isArray(b.required)) out.required = [...new Set([...(Array.isArray(a.required) ? a.required : []), ...(Array.isArray(b.required) ? b.required : [])])];
  return out;
}

const isNullSchema = (o: unknown): boolean => isPlainObject(o) && o.type === 'null';

/** The first non-null option; null once deep enough, when allowed. */
function choose(options: unknown[], depth: number): unknown {
  const nullOption = options.find(isNullSchema);
  if (nullOption && depth >= SHALLOW_DEPTH) return nullOption;
  return options.find((o) => !isNullSchema(o)) ?? options[0];
}

function typeOf(schema: Schema, depth: number): string {
  let type = schema.type;
  if (Array.isArray(type)) {
    const real = type.filter((t): t is string => typeof t === 'string' && t !== 'null');
    type = type.includes('null') && (real.length === 0 || depth >= SHALLOW_DEPTH) ? 'null' : real[0];
  }
  if (typeof type === 'string') return type;
  if ('properties' in schema || 'required' in schema || 'additionalProperties' in schema) return 'object';
  if ('items' in schema || 'prefixItems' in schema) return 'array';
  if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'].some((k) => k in schema)) return 'number';
  return 'string';
}

function pick<T>(ctx: Context, items: readonly T[]): T {
  return items[Math.floor(ctx.random() * items.length)]!;
}

function numberValue(schema: Schema, ctx: Context, integer: boolean): number {
  let lo = finite(schema.minimum);
  let hi = finite(schema.maximum);
  let loOpen = schema.exclusiveMinimum === true;
  let hiOpen = schema.exclusiveMaximum === true;
  const exMin = finite(schema.exclusiveMinimum);
  const exMax = finite(schema.exclusiveMaximum);
  if (exMin !== undefined && (lo === undefined || exMin >= lo)) [lo, loOpen] = [exMin, true];
  if (exMax !== undefined && (hi === undefined || exMax <= hi)) [hi, hiOpen] = [exMax, true];
  if (lo === undefined && hi === undefined) [lo, hi] = [0, 100];
  else if (lo === undefined) [lo, loOpen] = [hi! > 0 ? 0 : hi! - 100, false];
  else if (hi === undefined) [hi, hiOpen] = [lo + 100, false];
  const step = finite(schema.multipleOf) ?? (integer ? 1 : undefined);
  if (step !== undefined && step > 0) {
    const unit = integer && !Number.isInteger(step) ? Math.max(1, Math.ceil(step)) : step;
    const decimals = Math.min(12, (String(unit).split('.')[1] ?? '').length);
    let first = Math.ceil(lo! / unit);
    let last = Math.floor(hi! / unit);
    if (loOpen && first * unit <= lo!) first++;
    if (hiOpen && last * unit >= hi!) last--;
    const k = last < first ? first : first + Math.floor(ctx.random() * (last - first + 1));
    return Number((k * unit).toFixed(decimals)) + 0;
  }
  const value = Math.round((lo! + ctx.random() * (hi! - lo!)) * 100) / 100;
  const inside = (v: number) => (loOpen ? v > lo! : v >= lo!) && (hiOpen ? v < hi! : v <= hi!);
  return inside(value) ? value : (lo! + hi!) / 2;
}

function words(ctx: Context, n: number): string {
  return generateTokens(Math.floor(ctx.random() * 2 ** 32), n).join('').replace(/\.$/, '');
}

function word(ctx: Context): string {
  return words(ctx, 1).toLowerCase().replace(/[^a-z]/g, '') || 'value';
}

function hex(ctx: Context, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += Math.floor(ctx.random() * 16).toString(16);
  return out;
}

function formatted(format: unknown, ctx: Context): string | undefined {
  const iso = () => new Date(Date.UTC(2024, 0, 1) + Math.floor(ctx.random() * 365 * DAY_MS / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  switch (format) {
    case 'date-time': return iso();
    case 'date': return iso().slice(0, 10);
    case 'time': return iso().slice(11, 19);
    case 'email': case 'idn-email': return `${word(ctx)}.${word(ctx)}@example.com`;
    case 'uuid': return `${hex(ctx, 8)}-${hex(ctx, 4)}-4${hex(ctx, 3)}-${'89ab'[Math.floor(ctx.random() * 4)]}${hex(ctx, 3)}-${hex(ctx, 12)}`;
    case 'uri': case 'url': case 'iri': case 'uri-reference': case 'iri-reference': return `https://example.com/${word(ctx)}`;
    case 'hostname': case 'idn-hostname': return `${word(ctx)}.example.com`;
    case 'ipv4': return `192.0.2.${1 + Math.floor(ctx.random() * 254)}`;
    case 'ipv6': return `2001:db8::${hex(ctx, 4)}`;
    case 'duration': return `P${1 + Math.floor(ctx.random() * 9)}D`;
    default: return undefined;
  }
}

function stringValue(schema: Schema, ctx: Context): string {
  const format = formatted(schema.format, ctx);
  let value = format ?? words(ctx, 1 + Math.floor(ctx.random() * 3));
  const min = count(schema.minLength) ?? 0;
  const max = count(schema.maxLength) ?? Infinity;
  while (value.length < min) value += ` ${words(ctx, 2)}`;
  if (value.length > max) value = value.slice(0, max);
  if (value.length > min && value.endsWith(' ')) value = value.slice(0, -1);
  return typeof schema.pattern === 'string' ? fitPattern(value, schema.pattern, ctx) : value;
}

/** A few plausible candidates for a pattern we cannot generate from; the value as is if none fits. */
function fitPattern(value: string, pattern: string, ctx: Context): string {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'u');
  } catch {
    return value;
  }
  if (re.test(value)) return value;
  const w = word(ctx);
  const digits = String(Math.floor(ctx.random() * 1e12)).padStart(12, '7');
  const candidates = [w, w.toUpperCase(), w[0]!.toUpperCase() + w.slice(1), `${w}1`, `${w}_${word(ctx)}`, `${w}-${word(ctx)}`];
  const letters = `${w}${word(ctx)}${word(ctx)}abcdefghijkl`;
  for (let n = 1; n <= 12; n++) candidates.push(digits.slice(0, n), letters.slice(0, n), letters.toUpperCase().slice(0, n));
  for (const f of ['date', 'date-time', 'time', 'email', 'uuid', 'uri', 'ipv4']) candidates.push(formatted(f, ctx)!);
  candidates.push(`${formatted('time', ctx)}Z`);
  return candidates.find((c) => re.test(c)) ?? value;
}

function arrayValue(schema: Schema, ctx: Context, depth: number): unknown[] {
  const prefix: unknown[] = Array.isArray(schema.prefixItems) ? schema.prefixItems : Array.isArray(schema.items) ? schema.items : [];
  const rest = Array.isArray(schema.items) ? schema.additionalItems : schema.items;
  const min = count(schema.minItems) ?? 0;
  const max = count(schema.maxItems) ?? Infinity;
  let n = Math.max(min, Math.min(max, depth >= SHALLOW_DEPTH ? 0 : 1 + Math.floor(ctx.random() * 3)));
  if (rest === false) n = Math.max(min, Math.min(n, prefix.length));
  const out: unknown[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; out.length < n && attempt < n * 4 + 4; attempt++) {
    const item = valueFor(out.length < prefix.length ? prefix[out.length] : (rest ?? {}), ctx, depth + 1);
    const key = JSON.stringify(item);
    if (schema.uniqueItems === true && seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
}

function objectValue(schema: Schema, ctx: Context, depth: number): Record<string, unknown> {
  const props = isPlainObject(schema.properties) ? schema.properties : {};
  const names = Object.keys(props);
  const required = Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : undefined;
  const keys = new Set(required ? [...names.filter((k) => required.includes(k)), ...required] : depth >= SHALLOW_DEPTH ? [] : names);
  const minProps = count(schema.minProperties) ?? 0;
  for (const k of names) if (keys.size < minProps) keys.add(k);
  for (let i = 1; keys.size < minProps && schema.additionalProperties !== false && i <= minProps; i++) keys.add(`field_${i}`);
  const extra = isPlainObject(schema.additionalProperties) ? schema.additionalProperties : {};
  return Object.fromEntries([...keys].map((k) => [k, valueFor(Object.hasOwn(props, k) ? props[k] : extra, ctx, depth + 1)]));
}
