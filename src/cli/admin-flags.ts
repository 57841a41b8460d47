// Flag parsing for the admin commands. A field flag maps one command-line flag to one field of the
// admin API's JSON input (--rpm → rpm_limit) and says how to read its value; teams, tenants and
// keys are described by lists of these, so they share parsing, validation and help text.

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** A mistake on the command line: the caller prints the message and the command's usage, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type ValueKind = 'string' | 'list' | 'int' | 'number' | 'json' | 'boolean';

export interface FieldFlag {
  readonly flag: string;
  /** The input field it sets. */
  readonly field: string;
  readonly kind: ValueKind;
  /** Placeholder in the help text, e.g. "N", "a,b". */
  readonly arg?: string;
  readonly help: string;
  /** The only values accepted. */
  readonly choices?: readonly string[];
}

export function flag(name: string, field: string, kind: ValueKind, help: string, arg?: string, choices?: readonly string[]): FieldFlag {
  return { flag: name, field, kind, help, ...(arg ? { arg } : {}), ...(choices ? { choices } : {}) };
}

export const JSON_FLAG = flag('json', '', 'boolean', 'print JSON instead of text');

/** Accepted by every admin command: where to act, and how to print. */
export const TARGET_FLAGS: readonly FieldFlag[] = [
  flag('config', '', 'string', 'act on the database configured in FILE', 'FILE'),
  flag('url', '', 'string', 'act through a running gateway (or set TOLLGATE_URL)', 'URL'),
  flag('admin-key', '', 'string', 'admin key for --url (or TOLLGATE_ADMIN_KEY, else TOLLGATE_MASTER_KEY)', 'KEY'),
  JSON_FLAG,
];

export const MODELS_FLAG = flag('models', 'models', 'list', 'alias patterns it may call (empty = all)', 'a,b');
export const METADATA_FLAG = flag('metadata', 'metadata', 'json', 'free-form JSON object', 'JSON');
export const REQUIRE_TENANT_FLAG = flag('require-tenant', 'require_tenant', 'boolean', 'calls must send X-Tenant-Id (--no-require-tenant to clear)');

export const LIMIT_FLAGS: readonly FieldFlag[] = [
  flag('rpm', 'rpm_limit', 'int', 'requests per minute', 'N'),
  flag('tpm', 'tpm_limit', 'int', 'tokens per minute', 'N'),
  flag('max-parallel', 'max_parallel_requests', 'int', 'concurrent requests', 'N'),
  flag('max-budget', 'max_budget', 'number', 'US dollars per budget duration', 'USD'),
  flag('budget-duration', 'budget_duration', 'string', 'budget window, e.g. 1d, 30d, 1mo', 'D'),
  flag('daily-tokens', 'daily_token_cap', 'int', 'tokens per UTC day', 'N'),
  flag('token-budget', 'token_budget', 'int', 'tokens per budget duration', 'N'),
  flag('max-cost', 'max_cost_per_request', 'number', 'largest worst-case cost of one request, US dollars', 'USD'),
];

export function parseOptions(flags: readonly FieldFlag[]): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } };
  for (const f of flags) options[f.flag] = { type: f.kind === 'boolean' ? 'boolean' : 'string' };
  if (options.config) options.config = { type: 'string', short: 'c' };
  return options;
}

export interface ParsedCommand {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Strict parse: unknown flags and missing values are UsageErrors. */
export function parseCommand(argv: string[], flags: readonly FieldFlag[]): ParsedCommand {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: parseOptions(flags), allowPositionals: true, allowNegative: true, strict: true });
    return { values: values as ParsedCommand['values'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function convert(f: FieldFlag, raw: string | boolean): unknown {
  if (f.kind === 'boolean') return raw;
  const text = String(raw);
  switch (f.kind) {
    case 'string':
      if (f.choices && !f.choices.includes(text)) throw new UsageError(`--${f.flag} must be one of ${f.choices.join(', ')}; got "${text}".`);
      return text;
    case 'list':
      return text.split(',').map((s) => s.trim()).filter(Boolean);
    case 'int':
    case 'number': {
      const n = Number(text);
      const ok = text.trim() !== '' && Number.isFinite(n) && (f.kind === 'number' ? n >= 0 : Number.isInteger(n) && n >= 1);
      if (!ok) throw new UsageError(`--${f.flag} must be ${f.kind === 'int' ? 'a whole number of 1 or more' : 'a number of 0 or more'}, got "${text}".`);
      return n;
    }
    case 'json': {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new UsageError(`--${f.flag} must be a JSON object, e.g. '{"owner":"ml-team"}'; got ${text}.`);
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`--${f.flag} must be a JSON object, got ${text}.`);
      return value;
    }
  }
}

/** The API input object built from the flags that were given (flags not given are left out). */
export function inputFrom(values: ParsedCommand['values'], flags: readonly FieldFlag[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const f of flags) {
    const raw = values[f.flag];
    if (raw !== undefined && f.field) input[f.field] = convert(f, raw);
  }
  return input;
}

/** `--clear a,b` on update: the named flags' fields are reset (sent as null). */
export const CLEAR_FLAG = flag('clear', '', 'list', 'reset these options to their defaults, e.g. --clear alias,rpm', 'a,b');

export function clearedFields(values: ParsedCommand['values'], flags: readonly FieldFlag[]): Record<string, null> {
  if (typeof values.clear !== 'string') return {};
  const out: Record<string, null> = {};
  for (const name of values.clear.split(',').map((s) => s.trim().replace(/^--/, '')).filter(Boolean)) {
    const f = flags.find((x) => x.flag === name && x.field);
    if (!f) throw new UsageError(`--clear ${name}: not an option of this command; one of ${flags.filter((x) => x.field).map((x) => x.flag).join(', ')}.`);
    if (values[name] !== undefined) throw new UsageError(`--${name} is both set and cleared.`);
    out[f.field] = null;
  }
  return out;
}

/** Help lines for a list of flags, aligned. */
export function flagHelp(flags: readonly FieldFlag[], width = helpWidth(flags)): string {
  return flags.map((f) => `  ${flagSynopsis(f).padEnd(width)}${f.help}`).join('\n');
}

/** The column width that aligns the help of these flags. */
export function helpWidth(flags: readonly FieldFlag[]): number {
  return Math.max(...flags.map((f) => flagSynopsis(f).length)) + 2;
}

function flagSynopsis(f: FieldFlag): string {
  return `--${f.flag}${f.arg ? ` ${f.arg}` : ''}`;
}
