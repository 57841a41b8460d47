/**
 * Tollgate under test: write a config pointing at the fake upstream, start
 * `node dist/main.js serve` (built by npm run bench) as a child process and wait for GET /health/ready.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chatBody, delayPrefix } from './chat-requests.ts';
import type { TargetSpec } from './load-protocol.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from './processes.ts';
import type { Tracked } from './processes.ts';

export const MASTER_KEY = 'sk-bench-master';
const MODEL = 'bench-model';
const DELAYED_MODEL = 'bench-model-delayed';
const READY_TIMEOUT_MS = 20_000;

export interface GatewayHandle {
  process: Tracked;
  target: TargetSpec;
}

/** Native YAML config: one model on the instant upstream, one on the fixed-delay variant (priced, for budgets). */
export function bareConfigYaml(gatewayPort: number, upstreamPort: number, delayMs: number, extra: string[] = []): string {
  const deployment = (apiBase: string): string =>
    [
      '    deployments:',
      '      - provider: openai_compatible',
      '        model: gpt-4o-mini',
      `        api_base: ${apiBase}`,
      '        api_key: sk-upstream-fake',
      '        input_cost_per_token: 0.00000015',
      '        output_cost_per_token: 0.0000006',
    ].join('\n');
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  return [
    'server:',
    '  host: 127.0.0.1',
    `  port: ${gatewayPort}`,
    '  access_log: false',
    'models:',
    `  ${MODEL}:`,
    deployment(`${upstream}/v1`),
    `  ${DELAYED_MODEL}:`,
    deployment(`${upstream}${delayPrefix(delayMs)}/v1`),
    ...extra,
    '',
  ].join('\n');
}

function tollgateTarget(name: string, port: number, key = MASTER_KEY, extraHeaders: Record<string, string> = {}): TargetSpec {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...extraHeaders };
  const route = '/v1/chat/completions';
  return {
    name,
    origin: `http://127.0.0.1:${port}`,
    plain: { path: route, headers, body: chatBody(MODEL, false) },
    delayed: { path: route, headers, body: chatBody(DELAYED_MODEL, false) },
    stream: { path: route, headers, body: chatBody(MODEL, true) },
  };
}

/** BENCH_TOLLGATE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": extra Node flags for the gateway. */
function nodeArgs(): string[] {
  // The same V8 flag `npm start` and the tollgate bin run with.
  return ['--max-semi-space-size=8', ...(process.env.BENCH_TOLLGATE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
}

export async function startTollgate(repoRoot: string, port: number, yaml: (dir: string) => string): Promise<Tracked> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-'));
  const configFile = path.join(dir, 'tollgate.yaml');
  writeFileSync(configFile, yaml(dir));
  const child = startProcess(
    'tollgate',
    process.execPath,
    [...nodeArgs(), 'dist/main.js', 'serve', '--config', configFile, '--port', String(port), '--host', '127.0.0.1'],
    { cwd: repoRoot, env: { ...process.env, TOLLGATE_MASTER_KEY: MASTER_KEY } },
  );
  void child.exited.then(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await waitForHttp(child, `http://127.0.0.1:${port}/health/ready`, READY_TIMEOUT_MS);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return child;
}

/** The default ledger (a SQLite file), in the gateway's own temporary folder. */
function ledgerYaml(dir: string): string {
  return `ledger: { sinks: [${process.env.BENCH_LEDGER_SINK ? `"${process.env.BENCH_LEDGER_SINK}:${dir}/ledger"` : `"sqlite:${dir}/ledger.db"`}], spool_dir: "${dir}/spool"${process.env.BENCH_LEDGER_WAL === "0" ? ", write_ahead_log: false" : ""}${process.env.BENCH_LEDGER_OFF === "1" ? ", enabled: false" : ""} }`;
}

/** Start Tollgate in the bare configuration (master key, no tenant, in-memory SQLite). */
export async function startTollgateBare(repoRoot: string, upstreamPort: number, delayMs: number): Promise<GatewayHandle> {
  const port = await freePort();
  const child = await startTollgate(repoRoot, port, (dir) => bareConfigYaml(port, upstreamPort, delayMs, ['database: { url: "sqlite::memory:" }', ledgerYaml(dir)]));
  return { process: child, target: tollgateTarget('tollgate bare', port) };
}

async function adminPost(port: number, route: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json() as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`${route} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** The machine's Redis for the Redis-backed governed path (BENCH_REDIS_URL). */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BENCH_REDIS_PREFIX = `tollgate-bench-${process.pid}:`;

/**
 * Start Tollgate governed: a SQLite database file, a team, a tenant with a model list, and a
 * virtual key created through the admin API, so every request resolves the key (from the
 * cache), checks its state, its team's and tenant's model ACLs, and the tenant binding. Limits
 * that never trip in the bench are on every scope (key concurrency, team rpm, tpm and a dollar
 * budget, tenant rpm and a daily token cap), so each request estimates its tokens, takes one
 * acquire and one settle. With `redis`, the counters live in Redis (one round trip each). The
 * observability issue's configuration: metrics (default on), OpenTelemetry traces of every call
 * to the fake upstream's OTLP collector, and the ledger.
 */
export async function startTollgateGoverned(repoRoot: string, upstreamPort: number, delayMs: number, redis = false): Promise<GatewayHandle> {
  const port = await freePort();
  const extra = (dir: string) => [
    `database: { url: "sqlite:${dir}/bench.db" }`,
    ledgerYaml(dir),
    // Metrics are on by default; traces go to the fake upstream's OTLP collector.
    `tracing: { enabled: ${process.env.BENCH_TRACING !== '0'}, endpoint: "http://127.0.0.1:${upstreamPort}/v1/traces"${process.env.BENCH_TRACING_EXTRA ? `, ${process.env.BENCH_TRACING_EXTRA}` : ''} }`,
    ...(redis ? [`redis: { url: "${BENCH_REDIS_URL}", key_prefix: "${BENCH_REDIS_PREFIX}" }`] : []),
  ];
  const child = await startTollgate(repoRoot, port, (dir) => bareConfigYaml(port, upstreamPort, delayMs, extra(dir)));
  try {
    await adminPost(port, '/admin/teams', {
      team_id: 'bench-team', models: ['bench-*'], rpm_limit: 100_000_000, tpm_limit: 10_000_000_000, max_budget: 1_000_000, budget_duration: '1mo',
    });
    await adminPost(port, '/admin/tenants', { tenant_id: 'bench-tenant', models: ['bench-model*'], rpm_limit: 100_000_000, daily_token_cap: 100_000_000_000 });
    const key = await adminPost(port, '/admin/keys', { team_id: 'bench-team', allowed_tenants: ['bench-tenant'], key_alias: 'bench', max_parallel_requests: 100_000 });
    const name = redis ? 'tollgate governed + redis' : 'tollgate governed';
    return { process: child, target: tollgateTarget(name, port, key.key as string, { 'x-tenant-id': 'bench-tenant', 'x-feature-id': 'bench' }) };
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
}

/** Whether the bench's Redis answers (the Redis path is reported unavailable otherwise). */
export async function benchRedisReachable(): Promise<string | undefined> {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url: BENCH_REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return `Redis at ${BENCH_REDIS_URL} unreachable: ${(err as Error).message}`;
  } finally {
    if (client.isOpen) await client.close();
  }
}

/** Removes the counters the Redis-backed path left (budgets would otherwise live for their period). */
export async function cleanupBenchRedis(): Promise<void> {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url: BENCH_REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${BENCH_REDIS_PREFIX}*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
  } catch {
    // Redis was never there: nothing to remove.
  } finally {
    if (client.isOpen) await client.close();
  }
}
