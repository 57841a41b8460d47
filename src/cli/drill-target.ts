// How `tollgate drill` reaches a gateway: a throwaway one built from a config file, or a
// running one asked for the alias's deployments through GET /health/providers. Either way the
// result is a Target: where to send the drill request, the primary to block, and what the
// gateway serves (to read x-gateway-route back). Also the small HTTP helpers the drill shares.

import { Agent, request } from 'undici';
import { hint } from '../config/did-you-mean.ts';
import type { AliasConfig, GatewayConfig } from '../config/gateway-config.ts';
import { loadConfigFile } from '../config/load-config.ts';
import { createLogger } from '../logging/logger.ts';
import { startGateway, type RunningGateway } from '../server.ts';
import { authHeaders, endpoint, errorOf, readAnswer, type HttpAnswer } from './gateway-http.ts';

/** How long the drill waits for the gateway's answer. */
const REQUEST_TIMEOUT_MS = 120_000;
export const NO_SECONDARY = 'no secondary: add another deployment or routing.fallbacks';

/** A failure that ends the drill before its request, with its exit code. */
export class DrillAbort extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'DrillAbort';
    this.exitCode = exitCode;
  }
}

export interface Primary {
  readonly deployment: string;
  readonly alias: string;
  readonly provider?: string;
  readonly model?: string;
  readonly order?: number;
  /** How it was picked: by order tier, or (order unknown) the first listed. */
  readonly pickedBy: 'order' | 'first_listed';
}

export interface Known {
  readonly alias: string;
  readonly deployment: string;
}

export interface Target {
  readonly mode: 'throwaway' | 'running';
  /** Base URL (running mode: as given, without credentials). */
  readonly url: string;
  readonly adminKey?: string;
  readonly alias: string;
  readonly primary: Primary;
  readonly embeddings: boolean;
  /** Every alias/deployment pair the gateway serves, to read x-gateway-route exactly. */
  readonly known: readonly Known[];
  /** Deployments other than the primary that could serve; undefined when unknown (running mode fallbacks). */
  readonly secondaries?: number;
  /** Deployments the alias itself has (running mode: from /health/providers). */
  readonly aliasDeployments: number;
  readonly notes: readonly string[];
}

/** What to drill, as the command line says it. */
export interface TargetRequest {
  readonly alias: string;
  /** Running mode (takes precedence over config). */
  readonly url?: string;
  /** Running mode only. */
  readonly adminKey?: string;
  /** The throwaway gateway's config; with url, only read for model_info.mode. */
  readonly config?: string;
  readonly embeddings: boolean;
  readonly env: NodeJS.ProcessEnv;
}

/** Reaches the gateway to drill and hands `use` the target; a throwaway gateway is always shut down afterwards. */
export async function withTarget<T>(how: TargetRequest, agent: Agent, use: (target: Target) => Promise<T>): Promise<T> {
  if (how.url) {
    const config = how.config ? await loadConfigFile(how.config, { env: how.env }) : undefined;
    return use(await runningTarget(how.url, how.adminKey, how.alias, config, how.embeddings, agent));
  }
  const config = await loadConfigFile(how.config!, { env: how.env });
  const alias = aliasIn(config, how.alias);
  const gateway = await startThrowaway(config);
  try {
    return await use(throwawayTarget(gateway.url, config, alias, how.embeddings));
  } finally {
    await gateway.shutdown();
  }
}

/** The first of the lowest order tier. */
function primaryOf<T extends { readonly order: number }>(items: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const item of items) if (!best || item.order < best.order) best = item;
  return best;
}

// ── throwaway gateway ───────────────────────────────────────────────────────

function aliasIn(config: GatewayConfig, name: string): AliasConfig {
  const alias = config.aliases.get(name);
  if (alias) return alias;
  const missing = config.disabledAliases.get(name);
  if (missing) throw new DrillAbort(`the alias "${name}" is disabled in ${config.source.file}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set.`, 2);
  throw new DrillAbort(`the alias "${name}" does not exist in ${config.source.file}.${hint(name, config.aliases.keys())}`, 2);
}

/** The config, changed so a drill shares nothing with the real gateways: in-memory store, no Redis, no probes. */
export function throwawayConfig(config: GatewayConfig): GatewayConfig {
  const { redis: _redis, ...rest } = config;
  return {
    ...rest,
    server: { ...config.server, host: '127.0.0.1', port: 0, shutdownGraceMs: Math.min(config.server.shutdownGraceMs, 1_000) },
    database: { url: 'sqlite::memory:', poolSize: config.database.poolSize, migrateOnStart: true },
    limits: { ...config.limits, backend: 'memory' },
    // A health check would send the blocked primary a request of its own.
    router: { ...config.router, healthChecks: { ...config.router.healthChecks, enabled: false } },
  };
}

async function startThrowaway(config: GatewayConfig): Promise<RunningGateway> {
  try {
    // The throwaway gateway's own log stays in memory: the drill's output is the route it reports.
    const logger = createLogger({ level: 'error', write: () => {} });
    return await startGateway({ config: throwawayConfig(config), logger });
  } catch (err) {
    throw new DrillAbort(`cannot start the throwaway gateway: ${(err as Error).message}`);
  }
}

function throwawayTarget(url: string, config: GatewayConfig, alias: AliasConfig, embeddings: boolean): Target {
  const dep = primaryOf(alias.deployments);
  if (!dep) throw new DrillAbort(`the alias "${alias.name}" has no deployments. ${NO_SECONDARY}.`);
  const fallbackDeployments = alias.routing.fallbacks.reduce((n, f) => n + (config.aliases.get(f.alias)?.deployments.length ?? 0), 0);
  return {
    mode: 'throwaway',
    url,
    ...(config.masterKey ? { adminKey: config.masterKey } : {}),
    alias: alias.name,
    primary: { deployment: dep.id, alias: alias.name, provider: dep.provider, model: dep.model, order: dep.order, pickedBy: 'order' },
    embeddings: embeddings || dep.modelInfo.mode === 'embedding',
    known: [...config.aliases.values()].flatMap((a) => a.deployments.map((d) => ({ alias: a.name, deployment: d.id }))),
    secondaries: alias.deployments.length - 1 + fallbackDeployments,
    aliasDeployments: alias.deployments.length,
    notes: [],
  };
}

// ── running gateway ─────────────────────────────────────────────────────────

interface ProviderRow {
  deployment: string;
  alias: string;
  provider?: string;
  model?: string;
  state?: string;
  order?: number;
}

function baseOf(url: string): { base: URL; shown: string } {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new DrillAbort(`"${url}" is not a valid URL; pass the gateway's base URL, e.g. http://127.0.0.1:4000.`, 2);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new DrillAbort(`${url} is not an http(s) URL.`, 2);
  const shownUrl = new URL(base);
  shownUrl.username = '';
  shownUrl.password = '';
  shownUrl.search = '';
  shownUrl.hash = '';
  return { base, shown: shownUrl.toString().replace(/\/+$/, '') };
}

/** The deployments of a GET /health/providers answer, or undefined when it is not one. */
function providerRows(answer: HttpAnswer): ProviderRow[] | undefined {
  return answer.status === 200 && Array.isArray(answer.json?.deployments) ? answer.json.deployments : undefined;
}

async function runningTarget(url: string, adminKey: string | undefined, alias: string, config: GatewayConfig | undefined, embeddings: boolean, agent: Agent): Promise<Target> {
  const { base, shown } = baseOf(url);
  const headers = { accept: 'application/json', ...authHeaders(adminKey) };
  const answer = await send(agent, endpoint(base.toString(), `/health/providers?alias=${encodeURIComponent(alias)}`), 'GET', headers);
  if (answer.status === 401 || answer.status === 403) {
    const { code, message } = errorOf(answer);
    const how = adminKey
      ? 'Pass the master key or an admin-role key with --admin-key (or TOLLGATE_ADMIN_KEY).'
      : 'No admin key was sent: pass --admin-key or set TOLLGATE_ADMIN_KEY (or TOLLGATE_MASTER_KEY).';
    throw new DrillAbort(`the gateway at ${shown} refused the admin key (HTTP ${answer.status} ${code}: ${message}) ${how}`);
  }
  if (answer.status === 404 && answer.json?.error?.code === 'model_not_found') throw new DrillAbort(answer.json.error.message, 2);
  const rows = providerRows(answer);
  if (!rows) {
    const { code, message } = errorOf(answer);
    throw new DrillAbort(`${shown} answered GET /health/providers with HTTP ${answer.status} (${code}: ${message}); is this a Tollgate gateway with the fallback drill?`);
  }
  const mine = rows.filter((r) => r.alias === alias);
  if (mine.length === 0) throw new DrillAbort(`the gateway at ${shown} reports no deployments for the alias "${alias}". ${NO_SECONDARY}.`);
  const notes: string[] = [];
  const ordered = mine.filter((r): r is ProviderRow & { order: number } => typeof r.order === 'number');
  let row: ProviderRow;
  let pickedBy: Primary['pickedBy'];
  if (ordered.length === mine.length) {
    row = primaryOf(ordered)!;
    pickedBy = 'order';
  } else {
    row = mine[0]!;
    pickedBy = 'first_listed';
    if (mine.length > 1) notes.push(`GET /health/providers does not report deployment order: took the first listed deployment (${row.deployment}) as the primary.`);
  }
  // Every alias's deployments, to read x-gateway-route exactly (best effort).
  const all = await send(agent, endpoint(base.toString(), '/health/providers'), 'GET', headers).catch(() => undefined);
  const everything = (all && providerRows(all)) ?? mine;
  const dep = config?.aliases.get(alias)?.deployments.find((d) => d.id === row.deployment);
  return {
    mode: 'running',
    url: shown,
    ...(adminKey ? { adminKey } : {}),
    alias,
    primary: { deployment: row.deployment, alias, ...(row.provider ? { provider: row.provider } : {}), ...(row.model ? { model: row.model } : {}), ...(typeof row.order === 'number' ? { order: row.order } : {}), pickedBy },
    embeddings: embeddings || dep?.modelInfo.mode === 'embedding',
    known: everything.map((r) => ({ alias: r.alias, deployment: r.deployment })),
    aliasDeployments: mine.length,
    notes,
  };
}

// ── HTTP ────────────────────────────────────────────────────────────────────

/** The connection pool for the drill's requests, with its timeouts. */
export function drillAgent(): Agent {
  return new Agent({ headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, connect: { timeout: 10_000 } });
}

export async function send(agent: Agent, url: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
  let res;
  try {
    res = await request(url, { method, headers, body: body ?? null, dispatcher: agent });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const origin = new URL(url).origin;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new DrillAbort(`the gateway at ${origin} did not answer ${method} ${new URL(url).pathname} within ${REQUEST_TIMEOUT_MS / 1000} s.`);
    throw new DrillAbort(`cannot reach the gateway at ${origin} (${code ?? (err as Error).message}). Check --url / TOLLGATE_URL and that the gateway is running.`);
  }
  return readAnswer(res);
}
