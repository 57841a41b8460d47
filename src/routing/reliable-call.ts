// The reliability loop around dispatch: pick a deployment, call it, and on a transient
// failure retry (full-jitter backoff, honouring Retry-After within the request's time budget)
// on a deployment that is not cooling down; when the alias's retries are spent, walk its
// fallback chain. Context-length and content-policy rejections jump to their dedicated
// fallbacks; other permanent errors fail fast. Every attempt feeds the deployment's health
// (circuit breaker, latency), every retry and fallback is logged and counted, and the client
// learns how it was served from x-gateway-attempts and x-gateway-fallback-used.
//
// Nothing is retried once the first byte has reached the client: `deliver` writes the
// response and after that handles failures itself (a stream ends with an error event).

import type { IncomingMessage } from 'node:http';
import type { AliasConfig, FallbackTarget, GatewayConfig } from '../config/gateway-config.ts';
import type { RetryClass } from '../config/routing-schema.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Logger } from '../logging/logger.ts';
import { callUpstream, ClientGone, type AttemptTime, type TransportFor, type UpstreamCall } from '../pipeline/dispatch.ts';
import { authorizeModel, mayUseModel } from '../pipeline/model-access.ts';
import type { Admission, Policy, TokenDemand } from '../pipeline/policy.ts';
import { header, type RequestContext } from '../pipeline/request-context.ts';
import { resolveAlias } from '../pipeline/route.ts';
import { providerFor } from '../providers/registry.ts';
import type { Deployment, FailureClass, ProviderAdapter, UpstreamRequest, Usage } from '../providers/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { attemptsMade, routeHeaders, type AttemptRecord } from './attempt-log.ts';
import { fullJitterMs } from './backoff.ts';
import { chooseDeployment } from './choose-deployment.ts';
import type { DeploymentHealth } from './deployment-health.ts';
import { DRILL_HEADER, drillBlock } from './drill-block.ts';
import { requestDeadline, TIMEOUT_HEADER } from './request-deadline.ts';
import { firstCooldownEnd, retryWait } from './retry-wait.ts';

export type { AttemptRecord } from './attempt-log.ts';

/** Where one attempt goes. */
export interface Target {
  readonly alias: AliasConfig;
  readonly dep: Deployment;
  readonly adapter: ProviderAdapter;
  /** True when the alias is a fallback, not the one the client asked for. */
  readonly fallback: boolean;
}

/** What deliver reports once the client has its response. */
export interface Delivered {
  readonly usage?: Usage;
  /** Output tokens estimated from what a broken stream delivered (no usage arrived). */
  readonly partialOutputTokens?: number;
  /** Streams: ms from sending to the first event. */
  readonly ttftMs?: number;
  /** Set when a stream failed after its first byte (the client got an error event). */
  readonly error?: GatewayError;
}

/** The route's part: how to build the request for a target, and how to answer the client. */
export interface CallPlan {
  readonly model: string;
  readonly stream: boolean;
  /** Token estimate for the policy stage on this target. */
  demand(target: Target): TokenDemand;
  /** The upstream request; throws GatewayError when the target cannot carry this request. */
  prepare(target: Target): UpstreamRequest;
  /**
   * Reads the response and answers the client with `headers` added. Throws (having written
   * nothing) when the call fails before the first byte; after that it never throws for an
   * upstream failure, but reports it in `error`.
   */
  deliver(call: UpstreamCall, target: Target, headers: Record<string, string>): Promise<Delivered>;
}

export type ReliableCall = (ctx: RequestContext, req: IncomingMessage, plan: CallPlan) => Promise<void>;

export interface ReliableCallDeps {
  readonly config: GatewayConfig;
  readonly health: DeploymentHealth;
  readonly policy: Policy;
  readonly transportFor: TransportFor;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly random: () => number;
}

const TRANSIENT: ReadonlySet<FailureClass> = new Set(['rate_limit', 'timeout', 'server_error', 'connect_error']);
/** Policy refusals that concern only the deployment (its share of a vendor quota): another deployment may serve. */
const LIMIT_CODES: ReadonlySet<string> = new Set(['rate_limited', 'concurrency_limited', 'budget_exceeded']);

function isDeploymentRefusal(err: GatewayError): boolean {
  return LIMIT_CODES.has(err.code) && err.limit?.scope === 'deployment';
}

export function createReliableCall(deps: ReliableCallDeps): ReliableCall {
  const { config, health, logger } = deps;
  const retries = deps.metrics.counter('tollgate_retries_total', 'Retries of a failed attempt, by alias and failure class.');
  const fallbacks = deps.metrics.counter('tollgate_fallbacks_total', 'Requests that moved to a fallback alias, by alias, target and reason.');
  const backoff = config.router.backoff;

  /** The chain after `primary`: its fallbacks the caller may use (or that are open to all callers). */
  function chainOf(ctx: RequestContext, list: readonly FallbackTarget[]): AliasConfig[] {
    const out: AliasConfig[] = [];
    for (const target of list) {
      const alias = config.aliases.get(target.alias);
      if (alias && (target.openToAll || mayUseModel(ctx, alias.name))) out.push(alias);
    }
    return out;
  }

  return async function reliableCall(ctx, req, plan) {
    const primary = resolveAlias(config, plan.model, (name) => mayUseModel(ctx, name));
    authorizeModel(ctx, primary.name);
    const time = requestDeadline(config, primary, ctx.receivedAt, header(req.headers, TIMEOUT_HEADER));
    const maxCost = header(req.headers, 'x-max-cost-usd');
    const blocked = drillBlock(ctx, header(req.headers, DRILL_HEADER));
    const attempts: AttemptRecord[] = [];
    let chain: AliasConfig[] = [primary, ...chainOf(ctx, primary.routing.fallbacks)];
    let dedicated: 'context_window' | 'content_policy' | undefined;
    let admission: Admission | undefined;
    let admitted: Deployment | undefined;
    let lastError: GatewayError | undefined;
    let prepared = false;
    const visible = () => {
      const served = ctx.served?.alias;
      ctx.route = { attempts: attemptsMade(attempts), ...(served !== undefined && served !== primary.name ? { fallbackFrom: primary.name } : {}) };
      return routeHeaders(attempts, primary.name, served, blocked);
    };
    /** The provider accepted the current attempt (it may bill for it even if the client then left). */
    let accepted = false;
    const release = () => {
      admission?.settle({ accepted, attempts });
      admission = undefined;
      admitted = undefined;
      accepted = false;
    };

    try {
      for (let i = 0; i < chain.length; i++) {
        const alias = chain[i]!;
        const fallback = alias !== primary;
        if (i > 0) {
          const reason = lastError ? lastError.code : 'no_healthy_deployment';
          fallbacks.inc({ alias: primary.name, to: alias.name, reason });
          logger.warn('falling back', { request_id: ctx.requestId, alias: primary.name, from: chain[i - 1]!.name, to: alias.name, reason });
        }
        const avoid = new Set<string>(blocked);
        const failed = new Set<string>();
        let retried = 0;
        const retriedByClass = new Map<FailureClass, number>();
        for (;;) {
          if (performance.now() >= time.deadline) throw lastError ?? deadlineError(primary);
          // Prefer a deployment that has not failed this request; go back to one only if none is left.
          const choose = (exclude: ReadonlySet<string>) => chooseDeployment(alias, { health, random: deps.random, latencyBuffer: config.router.latencyBuffer, stream: plan.stream, avoid: exclude });
          const dep = failed.size === 0 ? await choose(avoid) : await choose(new Set([...avoid, ...failed])) ?? await choose(avoid);
          if (!dep) break;
          const target: Target = { alias, dep, adapter: providerFor(dep.provider), fallback };
          let request: UpstreamRequest;
          try {
            request = plan.prepare(target);
            prepared = true;
          } catch (err) {
            // The request the client sent does not fit the first deployment: that is its error.
            if (!prepared || !(err instanceof GatewayError)) throw err;
            attempts.push({ alias: alias.name, deployment: dep.id, provider: dep.provider, outcome: 'skipped', code: err.code, ms: 0 });
            logger.info('deployment skipped: it cannot carry this request', { request_id: ctx.requestId, deployment: dep.id, code: err.code });
            avoid.add(dep.id);
            continue;
          }
          if (admitted !== dep) {
            release();
            try {
              admission = await deps.policy(ctx, alias.name, dep, () => plan.demand(target), maxCost, plan.stream);
            } catch (err) {
              if (err instanceof GatewayError && isDeploymentRefusal(err)) {
                attempts.push({ alias: alias.name, deployment: dep.id, provider: dep.provider, outcome: 'skipped', code: err.code, ms: 0 });
                lastError = err;
                avoid.add(dep.id);
                continue;
              }
              throw err;
            }
            admitted = dep;
          }
          ctx.served = { alias: alias.name, deployment: dep.id, provider: dep.provider };
          const startedAt = performance.now();
          const end = health.begin(dep.id);
          let delivered: Delivered;
          try {
            const call = await callUpstream(deps, ctx, dep, target.adapter, request, plan.stream, time);
            accepted = true;
            attempts.push({ alias: alias.name, deployment: dep.id, provider: dep.provider, outcome: 'ok', ms: 0 });
            try {
              delivered = await plan.deliver(call, target, { ...visible(), ...admission?.headers });
            } catch (err) {
              attempts.pop();
              throw err;
            }
          } catch (err) {
            end();
            if (err instanceof ClientGone) throw err;
            // A failure before the client's first byte: the provider billed nothing usable.
            accepted = false;
            if (!(err instanceof GatewayError) || err.failureClass === undefined) throw err;
            const ms = performance.now() - startedAt;
            attempts.push({ alias: alias.name, deployment: dep.id, provider: dep.provider, outcome: 'failed', code: err.code, class: err.failureClass, ms });
            health.recordFailure(dep.id, { class: err.failureClass, code: err.code, message: err.message, ...(err.retryAfterSeconds !== undefined ? { retryAfterSeconds: err.retryAfterSeconds } : {}) });
            lastError = err;
            const cls = err.failureClass;
            if ((cls === 'context_window' || cls === 'content_policy') && !dedicated) {
              const list = cls === 'context_window' ? alias.routing.contextWindowFallbacks : alias.routing.contentPolicyFallbacks;
              const next = chainOf(ctx, list).filter((a) => a !== alias);
              if (next.length === 0) throw err;
              dedicated = cls;
              // The chain goes on from the dedicated fallbacks (the outer loop logs the move).
              chain = [alias, ...next];
              i = 0;
              break;
            }
            if (!TRANSIENT.has(cls)) throw err;
            failed.add(dep.id);
            const used = retriedByClass.get(cls) ?? 0;
            if (used >= alias.routing.retries[cls as RetryClass]) break;
            const jitter = fullJitterMs(retried, backoff.initialMs, backoff.maxMs, deps.random);
            const wait = retryWait(health, alias, { deployment: err.deployment, retryAfterSeconds: err.retryAfterSeconds }, avoid, i < chain.length - 1, jitter);
            if (wait === undefined || performance.now() + wait >= time.deadline) break;
            retriedByClass.set(cls, used + 1);
            retried += 1;
            retries.inc({ alias: alias.name, reason: cls });
            logger.warn('retrying', { request_id: ctx.requestId, alias: alias.name, deployment: dep.id, code: err.code, reason: cls, retry: retried, wait_ms: Math.round(wait) });
            await sleep(wait, ctx);
            continue;
          }
          end();
          const served = performance.now() - startedAt;
          attempts[attempts.length - 1] = { ...attempts[attempts.length - 1]!, ms: served, ...(delivered.error ? { code: delivered.error.code } : {}) };
          if (delivered.error) {
            if (delivered.error.failureClass) health.recordFailure(dep.id, { class: delivered.error.failureClass, code: delivered.error.code, message: delivered.error.message });
          } else {
            health.recordSuccess(dep.id, {
              ...(plan.stream ? {} : { latencyMs: served }),
              ...(delivered.ttftMs !== undefined ? { ttftMs: delivered.ttftMs } : {}),
              ...(delivered.usage ? { tokens: delivered.usage.totalTokens } : {}),
            });
          }
          admission?.settle({
            accepted: true,
            attempts,
            ...(delivered.usage ? { usage: delivered.usage } : {}),
            ...(delivered.partialOutputTokens !== undefined ? { partialOutputTokens: delivered.partialOutputTokens } : {}),
          });
          admission = undefined;
          return;
        }
      }
      throw lastError ?? noHealthy(primary, chain, blocked);
    } catch (err) {
      // An error after upstream attempts says how many were made (and the route, in a drill).
      const tried = attempts.length > 0 || blocked.length > 0;
      throw err instanceof GatewayError && tried && !err.headers?.['x-gateway-attempts'] ? err.withHeaders(visible()) : err;
    } finally {
      release();
    }
  };

  function noHealthy(primary: AliasConfig, chain: readonly AliasConfig[], blocked: readonly string[]): GatewayError {
    const first = firstCooldownEnd(health, chain.flatMap((a) => a.deployments));
    const names = chain.map((a) => a.name);
    const also = names.length > 1 ? ` (nor of its fallbacks ${names.slice(1).join(', ')})` : '';
    const why = blocked.length > 0
      ? `every deployment is blocked for this request (${DRILL_HEADER}: ${blocked.join(', ')}), cooling down after failures or failing its health checks`
      : 'every deployment is cooling down after failures or failing its health checks';
    return new GatewayError('no_healthy_deployment',
      `No healthy deployment for the model "${primary.name}"${also}: ${why}. GET /health/providers shows why.`,
      { ...(first !== undefined ? { retryAfterSeconds: Math.max(1, Math.ceil((first - Date.now()) / 1000)) } : {}) });
  }

  function deadlineError(alias: AliasConfig): GatewayError {
    return new GatewayError('upstream_timeout', `The request's time budget for "${alias.name}" ran out before a deployment answered.`, { failureClass: 'timeout' });
  }
}

/** Waits `ms`, or rejects with ClientGone as soon as the client disconnects. */
function sleep(ms: number, ctx: RequestContext): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const unwatch = ctx.client.onGone(() => {
      clearTimeout(timer);
      reject(new ClientGone());
    });
    const timer = setTimeout(() => {
      unwatch();
      resolve();
    }, ms);
  });
}
