// `tollgate smoke --url URL --key KEY`: the post-deploy smoke check. It asks a running gateway
// what a user and an operator would, in order (health, the key and its models, one call, one
// stream, the call's ledger row; smoke-checks.ts), prints one line per check and exits 0 only
// when every check passed: a deploy pipeline can gate on it. Exit 1: a check failed; 2: a usage
// mistake.
//
// Keys are secrets in a CI log: they are only sent in the Authorization header, and anything
// printed is masked (a key echoed back by a proxy in an error body included).

import { KEY_PREFIX } from '../identity/key-secret.ts';
import { flag, flagHelp, JSON_FLAG, parseCommand, UsageError, type ParsedCommand } from './admin-flags.ts';
import type { CliIO } from './run-cli.ts';
import { runSmokeChecks, type SmokeCheck, type SmokeOptions, type SmokeResult } from './smoke-checks.ts';

const DEFAULT_TIMEOUT_MS = 30_000;

const SMOKE_FLAGS = [
  flag('url', '', 'string', 'the gateway to check (or set TOLLGATE_URL)', 'URL'),
  flag('key', '', 'string', 'the key to call it with, as a client would (or TOLLGATE_SMOKE_KEY)', 'KEY'),
  flag('admin-key', '', 'string', 'master or admin key to read the ledger row (or TOLLGATE_SMOKE_ADMIN_KEY; default: --key)', 'KEY'),
  flag('model', '', 'string', 'the alias to call (default: the first one GET /v1/models lists)', 'NAME'),
  flag('timeout-ms', '', 'int', `how long each request may take (default ${DEFAULT_TIMEOUT_MS})`, 'N'),
  flag('strict', '', 'boolean', 'fail on degraded readiness and on skipped checks too'),
  JSON_FLAG,
];

export const SMOKE_USAGE = `Usage:
  tollgate smoke --url URL --key KEY [--admin-key KEY] [--model NAME] [--strict] [--json]

Post-deploy smoke check of a running gateway, one line per check:
  live     GET /health/live answers 200
  ready    GET /health/ready answers 200 (degraded passes, and is reported, unless --strict)
  models   GET /v1/models accepts the key; picks the model to call
  chat     one chat completion answers 200 with usage
  stream   one streamed chat completion: events, usage (include_usage), then [DONE]
  ledger   the cost ledger has a row for each call (GET /admin/requests/{id}, admin key;
           skipped when the key is not an admin key, a failure with --strict)
Exit 0: every check passed; 1: one failed; 2: usage mistake. Keys are never printed.

${flagHelp(SMOKE_FLAGS)}`;

/** A key as it may be shown: its kind and last four characters, e.g. "sk-tg-…x7Qa". */
export function maskKey(key: string): string {
  if (key.length < 16) return '…';
  return `${key.slice(0, key.startsWith(KEY_PREFIX) ? KEY_PREFIX.length : 3)}…${key.slice(-4)}`;
}

/** The URL without user:password, query or fragment, for output. */
function shownUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`"${raw}" is not a valid URL; pass the gateway's base URL, e.g. http://127.0.0.1:4000.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http(s) URL, got ${url.protocol}//…`);
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}

function optionsFrom(values: ParsedCommand['values'], env: NodeJS.ProcessEnv): SmokeOptions {
  const raw = (values.url as string | undefined) ?? env.TOLLGATE_URL;
  if (!raw) throw new UsageError('smoke needs --url URL (the gateway to check; or set TOLLGATE_URL).');
  const key = (values.key as string | undefined) || env.TOLLGATE_SMOKE_KEY;
  if (!key) throw new UsageError('smoke needs --key KEY (or TOLLGATE_SMOKE_KEY): the key a client of this gateway uses.');
  const givenAdmin = (values['admin-key'] as string | undefined) || env.TOLLGATE_SMOKE_ADMIN_KEY;
  const model = values.model as string | undefined;
  if (model === '') throw new UsageError('--model needs a name.');
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (values['timeout-ms'] !== undefined) {
    const text = String(values['timeout-ms']);
    timeoutMs = Number(text);
    if (!/^\d+$/.test(text) || timeoutMs < 1) throw new UsageError(`--timeout-ms must be a whole number of 1 or more, got "${text}".`);
  }
  return {
    url: shownUrl(raw),
    key,
    adminKey: givenAdmin ?? key,
    adminKeyGiven: givenAdmin !== undefined,
    ...(model !== undefined ? { model } : {}),
    timeoutMs,
    strict: values.strict === true,
  };
}

export async function runSmoke(argv: string[], io: CliIO): Promise<number> {
  let options: SmokeOptions;
  let json: boolean;
  try {
    const { values, positionals } = parseCommand(argv, SMOKE_FLAGS);
    if (values.help) {
      io.out(SMOKE_USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}".`);
    options = optionsFrom(values, io.env);
    json = values.json === true;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${err.message}\n\n${SMOKE_USAGE}`);
    return 2;
  }
  const result = await runSmokeChecks(options);
  // A skip passes unless --strict (a skip that --strict fails is already reported as a failure).
  const ok = result.checks.every((c) => c.status !== 'fail' && !(options.strict && c.status === 'skip'));
  const mask = masker(options);
  io.out(mask(json ? JSON.stringify(report(result, options, ok), null, 2) : asText(result, options, ok)));
  return ok ? 0 : 1;
}

/** Replaces every occurrence of a key in `text` by its masked form. */
function masker(options: SmokeOptions): (text: string) => string {
  const keys = [...new Set([options.key, options.adminKey])].filter((k) => k.length > 0).sort((a, b) => b.length - a.length);
  return (text) => keys.reduce((out, key) => out.split(key).join(maskKey(key)), text);
}

function report(result: SmokeResult, options: SmokeOptions, ok: boolean) {
  return {
    ok,
    gateway: options.url,
    key: maskKey(options.key),
    admin_key: options.adminKey === options.key ? 'same as key' : maskKey(options.adminKey),
    strict: options.strict,
    model: result.model ?? null,
    request_ids: { chat: result.requestIds.chat ?? null, stream: result.requestIds.stream ?? null },
    checks: result.checks.map((c) => ({ name: c.name, status: c.status, ms: c.ms, detail: c.detail })),
  };
}

const MARKS: Record<SmokeCheck['status'], string> = { pass: '✓', fail: '✗', skip: '-' };

function asText(result: SmokeResult, options: SmokeOptions, ok: boolean): string {
  const admin = options.adminKey === options.key ? '' : `, admin key ${maskKey(options.adminKey)}`;
  const lines = [`Smoke check of ${options.url} (key ${maskKey(options.key)}${admin})`];
  const width = Math.max(...result.checks.map((c) => c.name.length)) + 2;
  for (const c of result.checks) lines.push(`${MARKS[c.status]} ${c.name.padEnd(width)}${c.detail}${c.status === 'skip' ? '' : ` (${c.ms} ms)`}`);
  const failed = result.checks.filter((c) => c.status === 'fail' || (options.strict && c.status === 'skip'));
  const skipped = result.checks.filter((c) => c.status === 'skip').length;
  lines.push(ok
    ? `PASS: ${result.checks.length - skipped} of ${result.checks.length} checks passed${skipped ? `, ${skipped} skipped` : ''}.`
    : `FAIL: ${failed.map((c) => c.name).join(', ')} (${failed.length} of ${result.checks.length} checks).`);
  return lines.join('\n');
}
