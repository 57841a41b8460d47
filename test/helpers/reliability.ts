// Shared pieces of the reliability e2e tests (test/e2e/reliability-*.test.ts): one chat call as
// raw HTTP with its body always parsed (a test never accepts an answer that is not JSON), the
// deployment rows of GET /health/providers, one Prometheus sample from GET /metrics, a
// deployment block for the fault upstream, and an upstream whose answers a test releases.

import assert from 'node:assert/strict';
import { listenOnLoopback, readRequestBody } from './request-log.ts';
import type { TestGateway } from './test-gateway.ts';

export interface ChatAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
  /** The deployment's model that served it ("served by <model>" from the fault upstream), if 200. */
  readonly servedBy?: string;
}

/**
 * POST /v1/chat/completions. The body must be JSON: a 200 must be a chat.completion, anything
 * else an OpenAI error envelope whose code matches x-gateway-error-code.
 */
export async function chat(gw: TestGateway, key: string, model: string, headers: Record<string, string> = {}): Promise<ChatAnswer> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${model}: HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (res.status === 200) {
    assert.equal(body.object, 'chat.completion', `${model}: ${text.slice(0, 300)}`);
    const content = String(body.choices?.[0]?.message?.content ?? '');
    const match = /^served by (.+)$/.exec(content);
    return { status: res.status, headers: res.headers, body, ...(match ? { servedBy: match[1]! } : {}) };
  }
  assert.equal(typeof body?.error?.message, 'string', `${model}: HTTP ${res.status} without an OpenAI error envelope: ${text.slice(0, 300)}`);
  assert.equal(body.error.code, res.headers.get('x-gateway-error-code'), `${model}: error code and x-gateway-error-code disagree`);
  return { status: res.status, headers: res.headers, body };
}

export interface DeploymentRow {
  deployment: string;
  alias: string;
  state: 'healthy' | 'cooling' | 'half_open' | 'unhealthy';
  cooldown_until?: string;
  cooldown_reason?: string;
  last_error?: { code: string; message: string; at: string };
  in_flight: number;
  vendor_throttled: number;
}

/** GET /health/providers (admin): the row of each deployment, by id. */
export async function providers(gw: TestGateway, adminKey: string): Promise<Map<string, DeploymentRow>> {
  const res = await fetch(`${gw.url}/health/providers`, { headers: { authorization: `Bearer ${adminKey}` } });
  assert.equal(res.status, 200);
  const json = await res.json() as { deployments: DeploymentRow[] };
  return new Map(json.deployments.map((row) => [row.deployment, row]));
}

/** The value of one series of GET /metrics (0 when the series is absent). */
export async function metric(gw: TestGateway, name: string, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`${gw.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const space = line.lastIndexOf(' ');
    const series = line.slice(0, space);
    if (wanted.every(([k, v]) => series.includes(`${k}="${v}"`))) return Number(line.slice(space + 1));
  }
  return 0;
}

/** Log lines with this message. */
export function logLines(gw: TestGateway, msg: string, filter: (line: Record<string, any>) => boolean = () => true): Array<Record<string, any>> {
  return gw.logs().filter((line) => line.msg === msg && filter(line));
}

/** YAML for one deployment on the fault upstream (`model` is what the upstream sees and scripts). */
export function faultDeployment(baseURL: string, id: string, model: string, extra: Record<string, string | number> = {}): string {
  const lines = [`      - id: ${id}`, '        provider: openai_compatible', `        model: ${model}`, `        api_base: ${baseURL}`, '        api_key: sk-fault-upstream-key'];
  for (const [k, v] of Object.entries(extra)) lines.push(`        ${k}: ${v}`);
  return lines.join('\n');
}

/** An alias `name` with deployments dep-<name>-<x> whose upstream model is <name>-<x> (on the upstream whose base URL replaces BASE). */
export function faultAlias(name: string, suffixes: string[], routing = '', extra: Record<string, Record<string, string | number>> = {}): string {
  return [
    `  ${name}:`,
    '    deployments:',
    ...suffixes.map((s) => faultDeployment('BASE', `dep-${name}-${s}`, `${name}-${s}`, extra[s] ?? {})),
    ...(routing ? [`    routing: ${routing}`] : []),
  ].join('\n');
}

/** The head of a reliability test's config: a master key and a fast `ordered` router; `extra` adds router lines. */
export function fastRouterYaml(masterKey: string, extra: string): string {
  return `
general_settings:
  master_key: ${masterKey}
router:
  routing_strategy: ordered
  num_retries: 2
${extra.split('\n').map((l) => `  ${l}`).join('\n')}
`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the gated upstream does with its next request. */
export type GateStep = 'fail' | 'hold' | 'ok';

export interface GatedUpstream {
  /** url + '/v1', a deployment's api_base. */
  readonly baseURL: string;
  /** Requests received so far. */
  readonly received: number;
  /** Requests held (answered only on release()). */
  readonly holding: number;
  /** The next requests get these steps, in order; then 'ok'. */
  script(...steps: GateStep[]): void;
  /** Answers every held request with a 200. */
  release(): void;
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible upstream whose answers a test releases by hand: 'fail' answers 500,
 * 'ok' answers "served by <model>" at once, 'hold' keeps the request in flight until
 * release(). A held request proves what happened while it was in flight without any timing.
 */
export async function startGatedUpstream(): Promise<GatedUpstream> {
  const steps: GateStep[] = [];
  const held: Array<() => void> = [];
  let received = 0;
  const server = await listenOnLoopback((req, res) => {
    readRequestBody(req, (_raw, body) => {
      received += 1;
      const step = steps.shift() ?? 'ok';
      if (step === 'fail') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'gated failure', type: 'server_error', param: null, code: null } }));
        return;
      }
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id: 'chatcmpl-gated', object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: body?.model,
          choices: [{ index: 0, message: { role: 'assistant', content: `served by ${body?.model}` }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }));
      };
      if (step === 'hold') held.push(answer);
      else answer();
    });
  });
  return {
    baseURL: `${server.url}/v1`,
    get received() {
      return received;
    },
    get holding() {
      return held.length;
    },
    script(...more) {
      steps.push(...more);
    },
    release() {
      for (const answer of held.splice(0)) answer();
    },
    close: () => server.close(),
  };
}

/** Resolves once `condition` holds, checking every few ms (no upper bound: the test runner's timeout is the limit). */
export async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await sleep(5);
}

/** Epoch ms the deployment's latest cooldown ends, from its 'deployment entered cooldown' log line. */
export function loggedCooldownEnd(gw: TestGateway, deployment: string): number {
  const lines = logLines(gw, 'deployment entered cooldown', (l) => l.deployment === deployment);
  assert.ok(lines.length > 0, `${deployment} never entered cooldown`);
  return Date.parse(lines.at(-1)!.until);
}
