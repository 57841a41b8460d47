import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type App, type AppOptions } from './app.ts';
import type { GatewayConfig } from './config/gateway-config.ts';
import { GatewayError } from './errors/gateway-error.ts';
import { sendError } from './http/respond.ts';
import { openIdentityRuntime, type IdentityRuntime } from './identity/identity-runtime.ts';
import { openLimitsRuntime, type LimitsRuntime } from './limits/limits-runtime.ts';
import { openLedgerRuntime } from './ledger/ledger-runtime.ts';
import { ClientWatchSlot, createRequestContext } from './pipeline/request-context.ts';
import { openDeploymentHealth } from './routing/open-deployment-health.ts';
import { startMetricsListener, type MetricsListener } from './telemetry/metrics-listener.ts';
import { Metrics } from './telemetry/metrics.ts';
import { openTelemetry } from './telemetry/open-telemetry.ts';
import { openResponseCache } from './cache/open-response-cache.ts';
import { Guardrails } from './guardrails/guardrails.ts';

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly app: App;
  readonly identity: IdentityRuntime;
  readonly limits: LimitsRuntime;
  readonly metrics: Metrics;
  readonly server: Server;
  /**
   * Graceful shutdown: readiness turns 503 and new requests are refused (503 shutting_down), in-flight
   * requests finish (up to the grace period), then the port closes, the ledger is flushed and pools close.
   */
  shutdown(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Served while draining: probes must see readiness turn 503, and scrapers get the last metrics. */
function servedWhileDraining(url: string | undefined): boolean {
  const path = (url ?? '/').split('?', 1)[0]!;
  return path.startsWith('/health/') || path === '/metrics';
}

/**
 * A request that arrives while draining is refused before any work is done: 503 shutting_down
 * (retryable: nothing was processed) with Connection: close, so the client reconnects, and the
 * load balancer sends it elsewhere.
 */
function refuseWhileDraining(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  res.shouldKeepAlive = false;
  const ctx = createRequestContext(req.headers, performance.now(), new ClientWatchSlot());
  const error = new GatewayError('shutting_down', 'This gateway is shutting down and takes no new requests. Retry; another replica will answer.', { retryAfterSeconds: 1 });
  sendError(res, ctx, error, (req.url ?? '').startsWith('/v1/messages') ? 'anthropic' : 'openai');
}

/** A configuration the server must refuse to start with, as a fix-it message. */
export function unsafeToServe(config: GatewayConfig): string | undefined {
  if (config.masterKey || isLoopback(config.server.host)) return undefined;
  return `No master key is configured, so auth is off; refusing to listen on ${config.server.host}. Set TOLLGATE_MASTER_KEY (or general_settings.master_key), or bind to 127.0.0.1.`;
}

export type GatewayOptions = Omit<AppOptions, 'identity' | 'limits' | 'metrics'> & {
  identity?: IdentityRuntime;
  limits?: LimitsRuntime;
  metrics?: Metrics;
  /** Epoch-ms clock for budget periods (tests). */
  now?: () => number;
};

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { config } = options;
  const unsafe = unsafeToServe(config);
  if (unsafe) throw new Error(unsafe);
  const identity = options.identity ?? await openIdentityRuntime(config, options.logger);
  const metrics = options.metrics ?? new Metrics({
    defaultMetrics: config.metrics.defaultMetrics,
    onCollectError: (metric, error) => options.logger.warn('a metric could not be read for this scrape', { metric, error: String((error as Error)?.message ?? error) }),
  });
  const limits = options.limits ?? await openLimitsRuntime({ config, logger: options.logger, metrics, policies: identity.limitPolicies, ...(options.now ? { now: options.now } : {}) });
  const health = options.health ?? await openDeploymentHealth(config, options.logger, metrics);
  const ledger = options.ledger ?? await openLedgerRuntime(config, options.logger, metrics, limits.prices);
  const telemetry = options.observers
    ? { observers: options.observers, close: async () => {} }
    : await openTelemetry({ config, logger: options.logger, metrics, health, limits, identity, ledger });
  const cache = options.cache ?? await openResponseCache({ config, metrics, logger: options.logger, ...(options.now ? { now: options.now } : {}) });
  const guardrails = options.guardrails ?? (config.guardrails.enabled ? new Guardrails({ settings: config.guardrails, metrics, logger: options.logger }) : undefined);
  const app = createApp({ ...options, identity, limits, metrics, health, ledger, observers: telemetry.observers, ...(cache ? { cache } : {}), ...(guardrails ? { guardrails } : {}) });
  let draining = false;
  const server = createServer({ keepAliveTimeout: config.server.keepAliveTimeoutMs }, (req, res) => {
    if (draining && !servedWhileDraining(req.url)) refuseWhileDraining(req, res);
    else app.handle(req, res);
  });
  server.headersTimeout = Math.min(60_000, config.server.keepAliveTimeoutMs + 1_000);
  const closeAll = () => {
    void telemetry.close();
    if (!options.cache) void cache?.close();
    if (!options.guardrails) void guardrails?.close();
    if (!options.health) void health.close();
    if (!options.ledger) void ledger.close();
    if (!options.identity) void identity.close();
    if (!options.limits) void limits.close();
  };
  // metrics.port: /metrics on its own listener (an admin port), not on the API port.
  let metricsListener: MetricsListener | undefined;
  try {
    metricsListener = config.metrics.enabled && config.metrics.port !== undefined
      ? await startMetricsListener({ metrics, port: config.metrics.port, host: config.metrics.host, ...(config.metrics.token ? { token: config.metrics.token } : {}), logger: options.logger })
      : undefined;
  } catch (err) {
    closeAll();
    throw err;
  }
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      void metricsListener?.close();
      closeAll();
      reject(err);
    };
    server.once('error', failed);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  let closing: Promise<void> | undefined;

  async function shutdown(): Promise<void> {
    draining = true;
    app.drain();
    // The port stays open until in-flight work is done (or the grace period is over): a closed
    // port would only tell a load balancer's readiness probe "down", never the 503 "draining",
    // and new requests are refused with a retryable 503 anyway (refuseWhileDraining).
    server.closeIdleConnections();
    const deadline = Date.now() + config.server.shutdownGraceMs;
    while (app.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await app.close();
    // Every queued ledger event is written (or spooled) before the stores close, and the
    // telemetry exporters send what they hold (each within its own deadline).
    if (!options.ledger) await ledger.close();
    await telemetry.close();
    await metricsListener?.close();
    if (!options.cache) await cache?.close();
    if (!options.guardrails) await guardrails?.close();
    if (!options.health) await health.close();
    if (!options.limits) await limits.close();
    if (!options.identity) await identity.close();
  }

  return {
    url: `http://${host}:${port}`,
    port,
    app,
    identity,
    limits,
    metrics,
    server,
    shutdown: () => (closing ??= shutdown()),
  };
}
