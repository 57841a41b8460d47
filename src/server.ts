import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type App, type AppOptions } from './app.ts';
import type { GatewayConfig } from './config/gateway-config.ts';
import { openIdentityRuntime, type IdentityRuntime } from './identity/identity-runtime.ts';
import { openLimitsRuntime, type LimitsRuntime } from './limits/limits-runtime.ts';
import { openLedgerRuntime } from './ledger/ledger-runtime.ts';
import { openDeploymentHealth } from './routing/open-deployment-health.ts';
import { Metrics } from './telemetry/metrics.ts';

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly app: App;
  readonly identity: IdentityRuntime;
  readonly limits: LimitsRuntime;
  readonly metrics: Metrics;
  readonly server: Server;
  /** Graceful shutdown: stop accepting, let in-flight requests finish (up to the grace period), close pools. */
  shutdown(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
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
  const metrics = options.metrics ?? new Metrics();
  const limits = options.limits ?? await openLimitsRuntime({ config, logger: options.logger, metrics, policies: identity.limitPolicies, ...(options.now ? { now: options.now } : {}) });
  const health = options.health ?? await openDeploymentHealth(config, options.logger, metrics);
  const ledger = options.ledger ?? await openLedgerRuntime(config, options.logger, metrics, limits.prices);
  const app = createApp({ ...options, identity, limits, metrics, health, ledger });
  const server = createServer({ keepAliveTimeout: config.server.keepAliveTimeoutMs }, app.handle);
  server.headersTimeout = Math.min(60_000, config.server.keepAliveTimeoutMs + 1_000);
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      if (!options.health) void health.close();
      if (!options.ledger) void ledger.close();
      if (!options.identity) void identity.close();
      if (!options.limits) void limits.close();
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
    app.drain();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = Date.now() + config.server.shutdownGraceMs;
    while (app.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    server.closeAllConnections();
    await closed;
    await app.close();
    // Every queued ledger event is written (or spooled) before the stores close.
    if (!options.ledger) await ledger.close();
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
