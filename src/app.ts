import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from './config/gateway-config.ts';
import { GatewayError } from './errors/gateway-error.ts';
import { toGatewayError } from './errors/to-response.ts';
import type { AppDeps } from './http/app-deps.ts';
import { sendError, type ErrorFormat } from './http/respond.ts';
import { chatCompletionsRoute } from './http/routes/chat-completions.ts';
import { embeddingsRoute } from './http/routes/embeddings.ts';
import { databaseCheck, deploymentsCheck, ledgerCheck, limitsCheck } from './health/dependency-checks.ts';
import { createReadiness } from './health/readiness-checks.ts';
import { liveness, readiness } from './http/routes/health.ts';
import { metricsRoute } from './http/routes/metrics.ts';
import { providerHealthRoute } from './http/routes/provider-health.ts';
import { cacheInvalidateRoute } from './http/routes/cache-invalidate.ts';
import type { ResponseCacheRuntime } from './cache/open-response-cache.ts';
import type { Guardrails } from './guardrails/guardrails.ts';
import { messagesRoute } from './http/routes/messages.ts';
import { modelRoute, modelsRoute } from './http/routes/models.ts';
import type { Logger } from './logging/logger.ts';
import type { LedgerDraft } from './ledger/ledger-draft.ts';
import type { LedgerRuntime } from './ledger/ledger-runtime.ts';
import { writeAccessLine } from './logging/access-log.ts';
import { createAdminRouter } from './admin/admin-routes.ts';
import type { IdentityRuntime } from './identity/identity-runtime.ts';
import type { LimitsRuntime } from './limits/limits-runtime.ts';
import { createSpendReader } from './limits/spend-report.ts';
import { createTokenEstimator } from './limits/token-estimate.ts';
import { breakerSettings, DeploymentHealth } from './routing/deployment-health.ts';
import { startHealthChecks } from './routing/health-checker.ts';
import { createReliableCall } from './routing/reliable-call.ts';
import type { CallObserver } from './telemetry/finished-call.ts';
import type { Metrics } from './telemetry/metrics.ts';
import { attributeHeaders } from './pipeline/attribution.ts';
import { actorId, createAuthenticator, isAdmin, type AuthScope } from './pipeline/auth.ts';
import { ClientGone, type TransportFor } from './pipeline/dispatch.ts';
import { createCallFinisher } from './pipeline/finish-call.ts';
import { ClientWatchSlot, createRequestContext, type RequestContext } from './pipeline/request-context.ts';
import type { Random } from './pipeline/route.ts';
import { createHttpTransport } from './providers/shared/http-transport.ts';
import type { ProviderAdapter, Transport } from './providers/types.ts';

type Handler = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface Route {
  readonly methods: Readonly<Record<string, Handler>>;
  /** false: no key needed (health); else which API the key is checked for. */
  readonly auth: false | AuthScope;
  readonly errors: ErrorFormat;
  /** Model calls: each one is recorded in the cost ledger under this endpoint. */
  readonly ledger?: LedgerDraft['endpoint'];
}

/** close() waits at most this long for calls cut at shutdown to settle and be recorded. */
const CLOSE_FINISH_WAIT_MS = 1_000;

export interface AppOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Keys, teams, tenants and the admin service (opened by startGateway unless given). */
  identity: IdentityRuntime;
  /** Rate limits and budgets (opened by startGateway unless given). */
  limits: LimitsRuntime;
  metrics: Metrics;
  health?: DeploymentHealth;
  /** The cost ledger (recorder, reports, prompt log); without one, calls are not recorded. */
  ledger?: LedgerRuntime;
  /** Telemetry that gets every finished model call (metrics, traces, Langfuse, alerts). */
  observers?: readonly CallObserver[];
  /** Replaces the upstream transport (tests); by default undici pools, or the provider's own. */
  transportFor?: TransportFor;
  random?: Random;
  maxUpstreamBodyBytes?: number;
  /** The response cache (opened by startGateway when cache.enabled). */
  cache?: ResponseCacheRuntime;
  /** The guardrails (made by startGateway when guardrails.enabled). */
  guardrails?: Guardrails;
}

export interface App {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Requests being served right now. */
  inFlight(): number;
  /** Marks the app as draining: readiness turns 503 and responses ask clients to reconnect. */
  drain(): void;
  close(): Promise<void>;
}

function defaultTransports(config: GatewayConfig): { transportFor: TransportFor; close(): Promise<void> } {
  const http = createHttpTransport(config.upstream);
  const own = new Map<ProviderAdapter, Transport>();
  return {
    transportFor(adapter) {
      if (!adapter.createTransport) return http;
      let transport = own.get(adapter);
      if (!transport) {
        transport = adapter.createTransport();
        own.set(adapter, transport);
      }
      return transport;
    },
    async close() {
      await Promise.all([http.close(), ...[...own.values()].map((t) => t.close())]);
    },
  };
}

/** Wires the pipeline stages into one request handler. No I/O happens here at import time. */
export function createApp(options: AppOptions): App {
  const { config, logger } = options;
  const ledger = options.ledger?.recorder;
  const prompts = options.ledger?.prompts;
  const observers = options.observers ?? [];
  const finishCall = createCallFinisher({
    pricing: options.limits.prices, ledger, prompts, observers, logger, accessLog: config.server.accessLog,
  });
  /** Model calls get a draft (and so a ledger event) when anything will read it. */
  const recordsCalls = ledger !== undefined || observers.length > 0 || config.server.accessLog;
  const teamOf = (ctx: RequestContext) => (ctx.principal.kind === 'virtual' ? ctx.principal.resolved.key.team_id : null);
  const transports = options.transportFor ? { transportFor: options.transportFor, close: async () => {} } : defaultTransports(config);
  const random = options.random ?? Math.random;
  const health = options.health ?? new DeploymentHealth({ metrics: options.metrics, logger, breaker: breakerSettings(config) });
  const policy = options.limits.policy;
  const deps: AppDeps = {
    config,
    logger,
    transportFor: transports.transportFor,
    random,
    maxUpstreamBodyBytes: options.maxUpstreamBodyBytes ?? 64 * 1024 * 1024,
    policy,
    tokens: createTokenEstimator(),
    health,
    prices: options.limits.prices,
    cache: options.cache?.cache,
    guardrails: options.guardrails,
    call: createReliableCall({
      config, health, policy, transportFor: transports.transportFor, logger, metrics: options.metrics, random,
      unitPrice: (dep) => {
        const price = options.limits.prices.priceOf(dep);
        return price ? price.input + price.output : undefined;
      },
    }),
  };
  options.cache?.attach(deps.call);
  const { identity } = options;
  const authenticate = createAuthenticator({ masterKey: config.masterKey, directory: identity.directory, unknownTenants: config.identity.unknownTenants });
  const userSalt = config.identity.userIdSalt;
  const spend = { read: createSpendReader(options.limits.store, config.limits.trackSpend, options.limits.now), global: options.limits.global };
  const adminRouter = createAdminRouter(identity.admin, {
    maxBodyBytes: config.server.maxBodyBytes, limits: identity.limitAdmin, spend,
    ...(options.ledger?.reader ? { ledger: options.ledger.reader } : {}),
    ...(options.ledger?.prompts ? { prompts: options.ledger.prompts } : {}),
  });
  const requireAdmin = (ctx: RequestContext) => {
    if (!isAdmin(ctx.principal)) throw new GatewayError('admin_required', 'The admin API needs the master key or a key with role "admin".');
  };
  const adminHandler: Handler = async (ctx, req, res) => {
    requireAdmin(ctx);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    await adminRouter(ctx, req, res, q === -1 ? url : url.slice(0, q), { id: actorId(ctx.principal), requestId: ctx.requestId });
  };
  const admin: Route = { methods: { GET: adminHandler, POST: adminHandler, PATCH: adminHandler, DELETE: adminHandler, PUT: adminHandler }, auth: 'admin', errors: 'openai' };
  let draining = false;
  const live = new Set<ServerResponse>();
  /** Model calls whose ledger event is not recorded yet (their response may have closed already). */
  const unfinished = new Set<ServerResponse>();
  const readinessReport = createReadiness({
    checks: [
      databaseCheck(config, identity.store),
      limitsCheck(config, () => options.limits.degraded()),
      ledgerCheck(options.ledger?.stats),
      deploymentsCheck(config, health),
    ],
  });

  const adminOnly = (handler: Handler): Handler => (ctx, req, res) => {
    requireAdmin(ctx);
    return handler(ctx, req, res);
  };
  const checks = startHealthChecks({ config, health, transportFor: transports.transportFor, logger });
  const chat = { POST: chatCompletionsRoute(deps) };
  const embeddings = { POST: embeddingsRoute(deps) };
  const startedAt = Date.now();
  const models = { GET: modelsRoute(deps, startedAt) };
  const model: Route = { methods: { GET: modelRoute(deps, startedAt) }, auth: 'model', errors: 'openai' };
  const routes = new Map<string, Route>([
    ['/v1/chat/completions', { methods: chat, auth: 'model', errors: 'openai', ledger: 'chat.completions' }],
    ['/chat/completions', { methods: chat, auth: 'model', errors: 'openai', ledger: 'chat.completions' }],
    ['/v1/embeddings', { methods: embeddings, auth: 'model', errors: 'openai', ledger: 'embeddings' }],
    ['/embeddings', { methods: embeddings, auth: 'model', errors: 'openai', ledger: 'embeddings' }],
    ['/v1/models', { methods: models, auth: 'model', errors: 'openai' }],
    ['/models', { methods: models, auth: 'model', errors: 'openai' }],
    ['/v1/messages', { methods: { POST: messagesRoute(deps) }, auth: 'model', errors: 'anthropic', ledger: 'messages' }],
    ['/health/live', { methods: { GET: liveness }, auth: false, errors: 'openai' }],
    ['/health/ready', { methods: { GET: readiness(() => draining, readinessReport) }, auth: false, errors: 'openai' }],
    ['/admin/cache/invalidate', { methods: { POST: adminOnly(cacheInvalidateRoute(deps.cache, { maxBodyBytes: config.server.maxBodyBytes, audit: (entry) => identity.store.appendAudit(entry), logger })) }, auth: 'admin', errors: 'openai' }],
    // Deployment ids, models and provider errors: for operators only.
    ['/health/providers', { methods: { GET: adminOnly(providerHealthRoute(config, health)) }, auth: 'admin', errors: 'openai' }],
  ]);
  // /metrics on the API port, unless metrics.port gives it its own listener (server.ts).
  if (config.metrics.enabled && config.metrics.port === undefined) {
    routes.set('/metrics', { methods: { GET: metricsRoute(options.metrics, config.metrics.token ? { token: config.metrics.token } : {}) }, auth: false, errors: 'openai' });
  }

  async function run(route: Route, handler: Handler, ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (route.auth) {
        if (route.auth === 'model') attributeHeaders(ctx, req.headers, userSalt);
        const pending = authenticate(ctx, req.headers, route.auth);
        if (pending) await pending;
        if (ctx.ledger && prompts?.wants({ teamId: teamOf(ctx), tenantId: ctx.tenantId ?? null })) ctx.ledger.capture = { events: [] };
      }
      await handler(ctx, req, res);
    } catch (err) {
      if (err instanceof ClientGone) {
        res.destroy();
        return;
      }
      const failure = toGatewayError(err, ctx.requestId);
      if (ctx.ledger) {
        ctx.ledger.errorCode = failure.code;
        if (failure.limit) ctx.ledger.limitTier = `${String(failure.limit.type)}:${String(failure.limit.scope)}`;
      }
      if (failure.code === 'internal_error') {
        const cause = (err as { cause?: { stack?: string } })?.cause;
        logger.error('internal error', { request_id: ctx.requestId, error: String(cause?.stack ?? (err as Error)?.stack ?? err) });
      }
      sendError(res, ctx, failure, route.errors);
      // A body we refused to read must not be parsed as the next request on this connection.
      if (failure.code === 'body_too_large') res.once('finish', () => req.destroy());
    }
  }

  return {
    handle(req, res) {
      const client = new ClientWatchSlot();
      let ledgerStep: (() => void) | undefined;
      const ctx = createRequestContext(req.headers, performance.now(), client);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      live.add(res);
      res.once('close', () => {
        live.delete(res);
        if (!res.writableFinished) client.clientGone();
        // A model call's line is written with its ledger event (finish-call.ts).
        if (config.server.accessLog && !ctx.ledger) writeAccessLine(logger, ctx, req, res, path);
        ledgerStep?.();
      });
      if (draining) res.shouldKeepAlive = false;
      const route = routes.get(path)
        ?? (path.startsWith('/v1/models/') || path.startsWith('/models/') ? model : path.startsWith('/admin/') ? admin : undefined);
      if (!route) {
        const format: ErrorFormat = path.startsWith('/v1/messages/') ? 'anthropic' : 'openai';
        sendError(res, ctx, new GatewayError('route_not_found', `No endpoint ${req.method} ${path}. See docs/api.md for the endpoints Tollgate serves.`), format);
        return;
      }
      if (route.ledger && req.method === 'POST' && recordsCalls) {
        const draft: LedgerDraft = ctx.ledger = { endpoint: route.ledger, stream: false };
        // The event is built once both the response has closed and the handler has finished
        // (a stream's usage is settled just after its last byte is written).
        let steps = 2;
        unfinished.add(res);
        ledgerStep = () => {
          if (--steps > 0) return;
          unfinished.delete(res);
          finishCall(ctx, draft, req, res, path);
        };
      }
      const handler = route.methods[req.method ?? ''];
      if (!handler) {
        res.setHeader('allow', Object.keys(route.methods).join(', '));
        sendError(res, ctx, new GatewayError('method_not_allowed', `${req.method} is not allowed on ${path}; use ${Object.keys(route.methods).join(' or ')}.`), route.errors);
        return;
      }
      void run(route, handler, ctx, req, res).finally(ledgerStep);
    },
    // A call counts until its ledger event is recorded, so shutdown never closes the ledger under it.
    inFlight() {
      let count = live.size;
      for (const res of unfinished) if (!live.has(res)) count++;
      return count;
    },
    drain() {
      draining = true;
      // Responses still being served close their connection when done (with Connection: close
      // where headers are not sent yet), so no client reuses a socket that is about to go.
      for (const res of live) {
        res.shouldKeepAlive = false;
        if (res.headersSent) res.once('finish', () => res.socket?.end());
      }
    },
    async close() {
      checks.stop();
      await transports.close();
      // Calls cut at the end of the grace period settle right after their connection closed:
      // wait briefly for their handlers to unwind, so they are recorded before the ledger closes.
      const until = performance.now() + CLOSE_FINISH_WAIT_MS;
      while (unfinished.size > 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
    },
  };
}
