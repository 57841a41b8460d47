// The checks of `tollgate smoke`, in the order a deploy needs them: the process is up, it is
// ready, the key works and names a model, a call and a stream are served with usage, and the
// call reached the cost ledger. Each check becomes one SmokeCheck (pass, fail or skip, with
// what it saw and how long it took); a check that needs an earlier one's result is skipped
// when that one failed, and everything is skipped once the gateway cannot be reached at all.

import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { createRemoteAdminService } from '../admin/remote-admin-service.ts';
import { isGatewayError } from '../errors/gateway-error.ts';
import { SseParser } from '../providers/shared/sse-parser.ts';
import { authHeaders, endpoint, errorOf, readAnswer, type HttpAnswer } from './gateway-http.ts';

/** How long the ledger check waits for the row: the ledger writes in batches (every 100 ms by default). */
const LEDGER_WAIT_MS = 5_000;
const LEDGER_POLL_MS = 100;
const PROMPT = 'Tollgate smoke test: reply with OK.';

export interface SmokeCheck {
  readonly name: 'live' | 'ready' | 'models' | 'chat' | 'stream' | 'ledger';
  readonly status: 'pass' | 'fail' | 'skip';
  /** What was checked and what came back (never a key). */
  readonly detail: string;
  readonly ms: number;
}

export interface SmokeOptions {
  /** The gateway's base URL, without credentials. */
  readonly url: string;
  readonly key: string;
  readonly adminKey: string;
  /** The admin key was given on its own (not the --key default): a non-admin one is a mistake, not a skip. */
  readonly adminKeyGiven: boolean;
  readonly model?: string;
  readonly timeoutMs: number;
  /** Degraded readiness and skipped checks fail. */
  readonly strict: boolean;
}

export interface SmokeResult {
  readonly checks: SmokeCheck[];
  readonly model?: string;
  /** The request ids of the chat call and the stream, to look them up later. */
  readonly requestIds: { chat?: string; stream?: string };
}

/**
 * A request got no HTTP answer. `fatal` when the gateway could not be reached at all (every
 * later check would say the same), not when one answer was too slow.
 */
class NoAnswer extends Error {
  readonly fatal: boolean;
  constructor(message: string, fatal: boolean) {
    super(message);
    this.fatal = fatal;
  }
}

/** One check's outcome before its time is added. */
type Outcome = Omit<SmokeCheck, 'name' | 'ms'>;
const pass = (detail: string): Outcome => ({ status: 'pass', detail });
const fail = (detail: string): Outcome => ({ status: 'fail', detail });

/** Runs every check against the gateway; never throws for what the gateway does. */
export async function runSmokeChecks(options: SmokeOptions): Promise<SmokeResult> {
  const agent = new Agent({ headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connect: { timeout: options.timeoutMs } });
  const checks: SmokeCheck[] = [];
  const requestIds: SmokeResult['requestIds'] = {};
  let model: string | undefined;
  let unreachable: string | undefined;

  async function check(name: SmokeCheck['name'], needs: string | undefined, run: () => Promise<Outcome>): Promise<boolean> {
    if (unreachable || needs) {
      checks.push({ name, status: 'skip', detail: `not run: ${unreachable ?? needs}`, ms: 0 });
      return false;
    }
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome = await run();
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      if (err.fatal) unreachable = 'the gateway cannot be reached';
      // A gateway that does not even answer its liveness probe would keep every check waiting.
      else if (name === 'live') unreachable = 'the gateway does not answer';
      outcome = fail(err.message);
    }
    checks.push({ name, ...outcome, ms: Math.round(performance.now() - started) });
    return outcome.status === 'pass';
  }

  const http: Http = (method, path, key, body, headers) => send(agent, options, method, path, key, body, headers);
  try {
    await check('live', undefined, () => live(http));
    await check('ready', undefined, () => ready(http, options.strict));
    const listed = await check('models', undefined, async () => {
      const { outcome, picked } = await models(http, options);
      model = picked;
      return outcome;
    });
    const noModel = listed ? undefined : 'needs a model from the models check';
    await check('chat', noModel, async () => {
      const { outcome, requestId } = await chat(http, model!, options.key);
      if (outcome.status === 'pass') requestIds.chat = requestId;
      return outcome;
    });
    await check('stream', noModel, async () => {
      const { outcome, requestId } = await stream(agent, options, model!);
      if (outcome.status === 'pass') requestIds.stream = requestId;
      return outcome;
    });
    const ids = Object.entries(requestIds).filter((e): e is [string, string] => e[1] !== undefined);
    await check('ledger', ids.length === 0 ? 'needs a call that succeeded' : undefined, () => ledger(options, ids));
  } finally {
    await agent.close();
  }
  return { checks, ...(model !== undefined ? { model } : {}), requestIds };
}

// ── the checks ──────────────────────────────────────────────────────────────

type Http = (method: 'GET' | 'POST', path: string, key?: string, body?: unknown, headers?: Record<string, string>) => Promise<HttpAnswer>;

/** "HTTP 401 invalid_api_key: Invalid API key." */
function refusal(answer: HttpAnswer): string {
  const { code, message } = errorOf(answer);
  return `HTTP ${answer.status} ${code}: ${message}`;
}

async function live(http: Http): Promise<Outcome> {
  const answer = await http('GET', '/health/live');
  return answer.status === 200 ? pass('GET /health/live: 200') : fail(`GET /health/live: ${refusal(answer)}`);
}

/** What is degraded, from either shape of the report: `degraded: {name: reason}` or `checks: {name: {status, detail}}`. */
function degradedReasons(report: any): string[] {
  const reasons: string[] = [];
  if (report?.degraded && typeof report.degraded === 'object') {
    for (const [name, reason] of Object.entries(report.degraded)) reasons.push(`${name}: ${String(reason)}`);
  }
  if (report?.checks && typeof report.checks === 'object') {
    for (const [name, dep] of Object.entries<any>(report.checks)) {
      if (dep?.status && dep.status !== 'ok' && dep.status !== 'disabled') reasons.push(`${name} ${dep.status}${dep.detail ? `: ${dep.detail}` : ''}`);
    }
  }
  return reasons;
}

async function ready(http: Http, strict: boolean): Promise<Outcome> {
  const answer = await http('GET', '/health/ready');
  const status = answer.json?.status;
  if (answer.status === 503 && status === 'draining') return fail('GET /health/ready: 503 draining (the gateway is shutting down)');
  if (answer.status !== 200) return fail(`GET /health/ready: ${refusal(answer)}`);
  if (status === 'degraded') {
    const reasons = degradedReasons(answer.json);
    const detail = `GET /health/ready: 200 degraded${reasons.length ? ` (${reasons.join('; ')})` : ''}`;
    return strict ? fail(`${detail}; --strict fails on degraded`) : pass(detail);
  }
  return pass(`GET /health/ready: 200 ${typeof status === 'string' ? status : 'ready'}`);
}

async function models(http: Http, options: SmokeOptions): Promise<{ outcome: Outcome; picked?: string }> {
  const answer = await http('GET', '/v1/models', options.key);
  if (answer.status === 401 || answer.status === 403) return { outcome: fail(`GET /v1/models: the key was refused (${refusal(answer)})`) };
  if (answer.status !== 200 || !Array.isArray(answer.json?.data)) return { outcome: fail(`GET /v1/models: ${refusal(answer)}`) };
  const ids: string[] = answer.json.data.map((m: { id?: unknown }) => m?.id).filter((id: unknown): id is string => typeof id === 'string');
  if (options.model !== undefined) {
    const note = ids.includes(options.model) ? '' : ` (not in the list; trying it anyway)`;
    return { outcome: pass(`GET /v1/models: key accepted, ${ids.length} model${ids.length === 1 ? '' : 's'}; using ${options.model} (--model)${note}`), picked: options.model };
  }
  const first = ids[0];
  if (first === undefined) return { outcome: fail('GET /v1/models: key accepted, but it may call no model (the list is empty)') };
  return { outcome: pass(`GET /v1/models: key accepted, ${ids.length} model${ids.length === 1 ? '' : 's'}; using ${first} (the first listed; --model picks another)`), picked: first };
}

function usageText(usage: any): string | undefined {
  if (!usage || typeof usage.total_tokens !== 'number') return undefined;
  return `${usage.prompt_tokens ?? '?'}+${usage.completion_tokens ?? '?'} tokens`;
}

function servedBy(headers: HttpAnswer['headers']): string {
  const dep = headers['x-gateway-deployment'];
  return typeof dep === 'string' ? ` by ${dep}` : '';
}

async function chat(http: Http, model: string, key: string): Promise<{ outcome: Outcome; requestId: string }> {
  const requestId = `smoke-${randomUUID()}`;
  const answer = await http('POST', '/v1/chat/completions', key, { model, messages: [{ role: 'user', content: PROMPT }], max_tokens: 16 }, { 'x-request-id': requestId });
  const id = headerOf(answer, 'x-request-id') ?? requestId;
  if (answer.status !== 200) return { outcome: fail(`POST /v1/chat/completions (${model}): ${refusal(answer)}${hintModel(answer)}`), requestId: id };
  const usage = usageText(answer.json?.usage);
  if (!usage) return { outcome: fail(`POST /v1/chat/completions (${model}): 200 but no usage in the answer`), requestId: id };
  return { outcome: pass(`POST /v1/chat/completions (${model}): 200${servedBy(answer.headers)}, ${usage}, request ${id}`), requestId: id };
}

/** A failed model call on the first listed model may just be a model that does not chat (embeddings). */
function hintModel(answer: HttpAnswer): string {
  return answer.status === 400 || answer.status === 404 ? ' (pick a chat model with --model)' : '';
}

async function stream(agent: Agent, options: SmokeOptions, model: string): Promise<{ outcome: Outcome; requestId: string }> {
  const what = `POST /v1/chat/completions stream (${model})`;
  const requestId = `smoke-${randomUUID()}`;
  const started = performance.now();
  let res;
  try {
    res = await request(endpoint(options.url, '/v1/chat/completions'), {
      method: 'POST',
      dispatcher: agent,
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': requestId, ...authHeaders(options.key) },
      body: JSON.stringify({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: PROMPT }], max_tokens: 16 }),
    });
  } catch (err) {
    throw noAnswer(err, options, 'POST', '/v1/chat/completions');
  }
  const id = typeof res.headers['x-request-id'] === 'string' ? res.headers['x-request-id'] : requestId;
  const type = String(res.headers['content-type'] ?? '');
  if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
    const answer = await readAnswer(res).catch((err: unknown) => {
      throw new NoAnswer(`POST /v1/chat/completions: the answer broke off (${errorCode(err)})`, false);
    });
    return { outcome: fail(`${what}: ${res.statusCode === 200 ? `200 but content-type "${type}", not an event stream` : refusal(answer)}`), requestId: id };
  }
  const parser = new SseParser();
  let events = 0;
  let firstMs: number | undefined;
  let done = false;
  let afterDone = false;
  let usage: string | undefined;
  let streamError: string | undefined;
  try {
    for await (const chunk of res.body) {
      for (const event of parser.push(chunk as Buffer)) {
        if (done) afterDone = true;
        if (event.data === '[DONE]') {
          done = true;
          continue;
        }
        events++;
        firstMs ??= performance.now() - started;
        let json: any;
        try {
          json = JSON.parse(event.data);
        } catch {
          streamError ??= `an event that is not JSON: ${event.data.slice(0, 80)}`;
          continue;
        }
        if (json?.error) streamError ??= `an error event: ${json.error.code ?? json.error.type ?? ''} ${json.error.message ?? ''}`.trim();
        usage = usageText(json?.usage) ?? usage;
      }
    }
  } catch (err) {
    return { outcome: fail(`${what}: the stream broke after ${events} event${events === 1 ? '' : 's'} (${errorCode(err)})`), requestId: id };
  }
  const problem = streamError
    ?? (events === 0 ? 'no events arrived' : undefined)
    ?? (!done ? `it ended after ${events} events without [DONE]` : undefined)
    ?? (afterDone ? 'events arrived after [DONE]' : undefined)
    ?? (!usage ? 'no usage, though include_usage was asked for' : undefined);
  if (problem) return { outcome: fail(`${what}: ${problem}`), requestId: id };
  return { outcome: pass(`${what}: ${events} events, first after ${Math.round(firstMs!)} ms, ${usage}, [DONE], request ${id}`), requestId: id };
}

async function ledger(options: SmokeOptions, ids: ReadonlyArray<[string, string]>): Promise<Outcome> {
  const admin = createRemoteAdminService({ url: options.url, adminKey: options.adminKey, timeoutMs: options.timeoutMs });
  const deadline = performance.now() + LEDGER_WAIT_MS;
  const found: string[] = [];
  try {
    for (const [call, id] of ids) {
      for (;;) {
        try {
          const row = await admin.ledger.request(id);
          const status = row.outcome?.status;
          if (status !== 'success') return fail(`GET /admin/requests/${id}: the ${call} call's row says ${status}, not success`);
          found.push(`${call} ${status}, ${row.usage?.total ?? '?'} tokens, ${row.cost_usd?.price_missing ? 'no price known' : `$${row.cost_usd?.total ?? '?'}`}`);
          break;
        } catch (err) {
          if (isGatewayError(err) && err.code === 'resource_not_found' && performance.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, LEDGER_POLL_MS));
            continue;
          }
          return ledgerFailure(err, options, call, id);
        }
      }
    }
  } finally {
    await admin.close();
  }
  return pass(`GET /admin/requests/{id}: a row for each call (${found.join('; ')})`);
}

function ledgerFailure(err: unknown, options: SmokeOptions, call: string, id: string): Outcome {
  const skip = (reason: string): Outcome => options.strict ? fail(`${reason}; --strict fails on a skipped check`) : { status: 'skip', detail: reason };
  if (isGatewayError(err)) {
    if (err.code === 'resource_not_found') return fail(`GET /admin/requests/${id}: no ledger row for the ${call} call within ${LEDGER_WAIT_MS / 1000} s`);
    if (err.code === 'admin_required' && !options.adminKeyGiven) {
      return skip('skipped: the key is not an admin key, so the ledger cannot be read; pass --admin-key (or TOLLGATE_SMOKE_ADMIN_KEY) to check it');
    }
    if (err.code === 'admin_required' || err.code === 'invalid_api_key') return fail(`GET /admin/requests/{id}: the admin key was refused (${err.code}: ${err.message})`);
    if (err.code === 'ledger_disabled') return skip(`skipped: the gateway's ledger cannot be queried (${err.message})`);
    return fail(`GET /admin/requests/${id}: ${err.code}: ${err.message}`);
  }
  return fail(`GET /admin/requests/${id}: ${(err as Error)?.message ?? String(err)}`);
}

// ── HTTP ────────────────────────────────────────────────────────────────────

function headerOf(answer: HttpAnswer, name: string): string | undefined {
  const v = answer.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.code ?? e?.cause?.code ?? e?.message ?? String(err);
}

const SLOW = new Set(['timed out', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function noAnswer(err: unknown, options: SmokeOptions, method: string, path: string): NoAnswer {
  const origin = new URL(options.url).origin;
  const code = errorCode(err);
  if (SLOW.has(code)) return new NoAnswer(`${method} ${path}: no answer from ${origin} within ${options.timeoutMs} ms (--timeout-ms)`, false);
  return new NoAnswer(`${method} ${path}: cannot reach the gateway at ${origin} (${code}). Check --url and that the gateway is running.`, true);
}

/** One JSON request; no answer (refused, or not in time) is a NoAnswer. */
async function send(agent: Agent, options: SmokeOptions, method: 'GET' | 'POST', path: string, key?: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  let res;
  try {
    res = await request(endpoint(options.url, path), {
      method,
      dispatcher: agent,
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...authHeaders(key),
        ...headers,
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch (err) {
    throw noAnswer(err, options, method, path);
  }
  try {
    return await readAnswer(res);
  } catch (err) {
    throw new NoAnswer(`${method} ${path}: the answer broke off (${errorCode(err)})`, false);
  }
}
