// One request's way through the reliability loop (see reliable-call.ts): the fallback chain,
// each alias's retries, each attempt's policy admission, upstream call and delivery, and what
// is recorded about it (deployment health, the attempt log, metrics and logs).

import type { IncomingMessage } from 'node:http';
import type { AliasConfig, FallbackTarget } from '../config/gateway-config.ts';
import type { RetryClass } from '../config/routing-schema.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { callUpstream, ClientGone, type AttemptTime, type UpstreamCall } from '../pipeline/dispatch.ts';
import { authorizedAlias, mayUseModel } from '../pipeline/model-access.ts';
import type { Admission } from '../pipeline/policy.ts';
import { header, type RequestContext } from '../pipeline/request-context.ts';
import { endAttempt, startAttempt, startStage } from '../pipeline/timeline-marks.ts';
import { providerFor } from '../providers/registry.ts';
import type { Deployment, FailureClass } from '../providers/types.ts';
import type { Counter } from '../telemetry/metrics.ts';
import { attemptsMade, routeHeaders, type AttemptRecord } from './attempt-log.ts';
import { fullJitterMs } from './backoff.ts';
import { chooseDeployment } from './choose-deployment.ts';
import { DRILL_HEADER, drillBlock } from './drill-block.ts';
import type { CallPlan, Delivered, ReliableCallDeps, Target } from './reliable-call.ts';
import { requestDeadline, TIMEOUT_HEADER } from './request-deadline.ts';
import { firstCooldownEnd, retryWait } from './retry-wait.ts';

/** What every request's loop shares: the app's parts and the routing metrics. */
export interface RoutingShared extends ReliableCallDeps {
  readonly retries: Counter;
  readonly fallbacks: Counter;
}

const TRANSIENT: ReadonlySet<FailureClass> = new Set(['rate_limit', 'timeout', 'server_error', 'connect_error']);
/** Policy refusals that concern only the deployment (its share of a vendor quota): another deployment may serve. */
const LIMIT_CODES: ReadonlySet<string> = new Set(['rate_limited', 'concurrency_limited', 'budget_exceeded']);

/** How one attempt ended. */
type Step =
  | { readonly kind: 'served' }
  /** The deployment was not called: it cannot carry the request, or its own limit refused it. */
  | { readonly kind: 'skipped' }
  /** The deployment failed before the client's first byte. */
  | { readonly kind: 'failed'; readonly error: GatewayError & { failureClass: FailureClass } };

/** Per alias in the chain: what this request has done there. */
interface AliasTry {
  readonly alias: AliasConfig;
  /** Deployments this request must not use there (blocked by a drill, skipped). */
  readonly avoid: Set<string>;
  /** Deployments that failed this request (used again only when no other is left). */
  readonly failed: Set<string>;
  retried: number;
  readonly retriedByClass: Map<FailureClass, number>;
}

export class RoutedRequest {
  readonly #shared: RoutingShared;
  readonly #ctx: RequestContext;
  readonly #plan: CallPlan;
  readonly #primary: AliasConfig;
  readonly #time: AttemptTime;
  readonly #maxCost: string | undefined;
  /** Deployments a fallback drill blocks for this request. */
  readonly #blocked: readonly string[];
  readonly #attempts: AttemptRecord[] = [];
  /** Half-open deployments this request is the probe of. */
  readonly #probes = new Set<string>();
  #chain: AliasConfig[];
  /** A context-window or content-policy jump already happened (once per request). */
  #jumped = false;
  #admission: Admission | undefined;
  #admitted: Deployment | undefined;
  /** The provider accepted the current attempt (it may bill for it even if the client then left). */
  #accepted = false;
  #lastError: GatewayError | undefined;
  /** Some deployment has been able to carry the request (after that, one that cannot is skipped). */
  #prepared = false;

  constructor(shared: RoutingShared, ctx: RequestContext, req: IncomingMessage, plan: CallPlan) {
    this.#shared = shared;
    this.#ctx = ctx;
    this.#plan = plan;
    const draft = ctx.ledger;
    if (draft) {
      draft.alias = plan.model;
      draft.stream = plan.stream;
      draft.attempts = this.#attempts;
    }
    this.#primary = authorizedAlias(shared.config, ctx, plan.model);
    this.#time = requestDeadline(shared.config, this.#primary, ctx.receivedAt, header(req.headers, TIMEOUT_HEADER));
    this.#maxCost = header(req.headers, 'x-max-cost-usd');
    this.#blocked = drillBlock(ctx, header(req.headers, DRILL_HEADER));
    this.#chain = [this.#primary, ...this.#usable(this.#primary.routing.fallbacks)];
  }

  async run(): Promise<void> {
    try {
      for (let i = 0; i < this.#chain.length; i++) {
        const alias = this.#chain[i]!;
        if (i > 0) this.#fellBack(this.#chain[i - 1]!, alias);
        const outcome = await this.#tryAlias(alias, i < this.#chain.length - 1);
        if (outcome === 'served') return;
        if (outcome === 'jumped') i = 0; // the chain now continues from the dedicated fallbacks
      }
      throw this.#lastError ?? this.#noHealthy();
    } catch (err) {
      // An error after upstream attempts says how many were made (and the route, in a drill).
      const tried = this.#attempts.length > 0 || this.#blocked.length > 0;
      throw err instanceof GatewayError && tried && !err.headers?.['x-gateway-attempts'] ? err.withHeaders(this.#visible()) : err;
    } finally {
      this.#release();
    }
  }

  /** Fallback targets the caller may use (or that are open to every caller of the alias). */
  #usable(list: readonly FallbackTarget[]): AliasConfig[] {
    const out: AliasConfig[] = [];
    for (const target of list) {
      const alias = this.#shared.config.aliases.get(target.alias);
      if (alias && (target.openToAll || mayUseModel(this.#ctx, alias.name))) out.push(alias);
    }
    return out;
  }

  #fellBack(from: AliasConfig, to: AliasConfig): void {
    const reason = this.#lastError ? this.#lastError.code : 'no_healthy_deployment';
    this.#shared.fallbacks.inc({ alias: this.#primary.name, to: to.name, reason });
    this.#shared.logger.warn('falling back', { request_id: this.#ctx.requestId, alias: this.#primary.name, from: from.name, to: to.name, reason });
  }

  /** Attempts within one alias until one serves, its retries are spent, or the chain jumps. */
  async #tryAlias(alias: AliasConfig, canFallBack: boolean): Promise<'served' | 'exhausted' | 'jumped'> {
    const here: AliasTry = { alias, avoid: new Set(this.#blocked), failed: new Set(), retried: 0, retriedByClass: new Map() };
    for (;;) {
      if (performance.now() >= this.#time.deadline) throw this.#lastError ?? this.#deadlineError();
      const route = startStage(this.#ctx.timeline, 'route');
      let dep: Deployment | undefined;
      try {
        dep = await this.#choose(here);
      } finally {
        route.end = performance.now();
      }
      if (!dep) return 'exhausted';
      let step: Step;
      try {
        step = await this.#attempt(alias, dep);
      } finally {
        // A probe that ended without a verdict (client gone, skipped) frees the half-open slot.
        if (this.#probes.delete(dep.id)) this.#shared.health.releaseProbe(dep.id);
      }
      if (step.kind === 'served') return 'served';
      if (step.kind === 'skipped') {
        here.avoid.add(dep.id);
        continue;
      }
      const error = step.error;
      const cls = error.failureClass;
      if (cls === 'context_window' || cls === 'content_policy') {
        if (this.#jump(alias, cls)) return 'jumped';
        throw error;
      }
      if (!TRANSIENT.has(cls)) throw error;
      here.failed.add(dep.id);
      const wait = this.#retryWait(here, error, canFallBack);
      if (wait === undefined) return 'exhausted';
      await sleep(wait, this.#ctx);
    }
  }

  /** Prefers a deployment that has not failed this request; goes back to one only if none is left. */
  async #choose(here: AliasTry): Promise<Deployment | undefined> {
    const { health, random, config, unitPrice } = this.#shared;
    const choose = (avoid: ReadonlySet<string>) => chooseDeployment(here.alias, {
      health, random, latencyBuffer: config.router.latencyBuffer, stream: this.#plan.stream, avoid, probes: this.#probes, ...(unitPrice ? { unitPrice } : {}),
    });
    if (here.failed.size === 0) return choose(here.avoid);
    return await choose(new Set([...here.avoid, ...here.failed])) ?? choose(here.avoid);
  }

  /** A context-length or content-policy rejection moves the chain to its dedicated fallbacks, once. */
  #jump(alias: AliasConfig, cls: 'context_window' | 'content_policy'): boolean {
    if (this.#jumped) return false;
    const list = cls === 'context_window' ? alias.routing.contextWindowFallbacks : alias.routing.contentPolicyFallbacks;
    const next = this.#usable(list).filter((a) => a !== alias);
    if (next.length === 0) return false;
    this.#jumped = true;
    this.#chain = [alias, ...next];
    return true;
  }

  /** The wait before the next retry in this alias (logged and counted), or undefined when its retries are spent. */
  #retryWait(here: AliasTry, error: GatewayError & { failureClass: FailureClass }, canFallBack: boolean): number | undefined {
    const { health, config, random, logger } = this.#shared;
    const cls = error.failureClass;
    const used = here.retriedByClass.get(cls) ?? 0;
    if (used >= here.alias.routing.retries[cls as RetryClass]) return undefined;
    const backoff = config.router.backoff;
    const jitter = fullJitterMs(here.retried, backoff.initialMs, backoff.maxMs, random);
    const wait = retryWait(health, here.alias, { deployment: error.deployment, retryAfterSeconds: error.retryAfterSeconds }, here.avoid, canFallBack, jitter);
    if (wait === undefined || performance.now() + wait >= this.#time.deadline) return undefined;
    here.retriedByClass.set(cls, used + 1);
    here.retried += 1;
    this.#shared.retries.inc({ alias: here.alias.name, reason: cls });
    logger.warn('retrying', { request_id: this.#ctx.requestId, alias: here.alias.name, deployment: error.deployment, code: error.code, reason: cls, retry: here.retried, wait_ms: Math.round(wait) });
    return wait;
  }

  /** One attempt on `dep`: translate, admit, call, deliver. */
  async #attempt(alias: AliasConfig, dep: Deployment): Promise<Step> {
    const { health } = this.#shared;
    const target: Target = { alias, dep, adapter: providerFor(dep.provider), fallback: alias !== this.#primary };
    const request = this.#prepare(target);
    if (!request) return { kind: 'skipped' };
    if (!await this.#admit(target)) return { kind: 'skipped' };
    const ctx = this.#ctx;
    ctx.served = { alias: alias.name, deployment: dep.id, provider: dep.provider };
    const startedAt = performance.now();
    const mark = startAttempt(ctx.timeline, alias.name, dep, startedAt);
    const end = health.begin(dep.id);
    const record = { alias: alias.name, deployment: dep.id, provider: dep.provider };
    let delivered: Delivered;
    let sentAt = startedAt;
    try {
      const call = await callUpstream(this.#shared, ctx, dep, target.adapter, request, this.#plan.stream, this.#time, mark);
      sentAt = call.sentAt;
      this.#accepted = true;
      this.#ledgerServing(target, call);
      this.#attempts.push({ ...record, outcome: 'ok', ms: 0 });
      try {
        delivered = await this.#plan.deliver(call, target, { ...this.#visible(), ...this.#admission?.headers });
      } catch (err) {
        this.#attempts.pop();
        throw err;
      }
    } catch (err) {
      end();
      endAttempt(mark, performance.now(), err instanceof GatewayError ? err.code : err instanceof ClientGone ? 'client_gone' : 'internal_error');
      if (ctx.ledger) ctx.ledger.deployment = dep;
      if (err instanceof ClientGone) {
        // The provider had accepted the call: its input is billed even though nobody got the answer.
        if (this.#accepted && ctx.ledger) ctx.ledger.estimatedInputTokens = this.#plan.demand(target).inputTokens;
        throw err;
      }
      // A failure before the client's first byte: the provider billed nothing usable.
      this.#accepted = false;
      if (!(err instanceof GatewayError) || err.failureClass === undefined) throw err;
      const error = err as GatewayError & { failureClass: FailureClass };
      const ms = performance.now() - startedAt;
      this.#attempts.push({ ...record, outcome: 'failed', code: error.code, class: error.failureClass, ms });
      health.recordFailure(dep.id, {
        class: error.failureClass, code: error.code, message: error.message, timedOutAfterMs: ms, stream: this.#plan.stream,
        ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      });
      this.#lastError = error;
      return { kind: 'failed', error };
    }
    end();
    const endedAt = performance.now();
    endAttempt(mark, endedAt, delivered.error?.code);
    if (delivered.ttftMs !== undefined) mark.firstTokenAt = sentAt + delivered.ttftMs;
    this.#served(dep, endedAt - startedAt, delivered);
    this.#ledgerServed(target, delivered);
    return { kind: 'served' };
  }

  /** The upstream request for the target, or undefined when it cannot carry the request (and another one could). */
  #prepare(target: Target) {
    try {
      const request = this.#plan.prepare(target);
      this.#prepared = true;
      return request;
    } catch (err) {
      // The request the client sent does not fit the first deployment: that is its error.
      if (!this.#prepared || !(err instanceof GatewayError)) throw err;
      this.#skipped(target, err);
      this.#shared.logger.info('deployment skipped: it cannot carry this request', { request_id: this.#ctx.requestId, deployment: target.dep.id, code: err.code });
      return undefined;
    }
  }

  /**
   * The policy stage for the target's deployment; a request that moves to another deployment
   * is admitted again there (the last admission is released at $0). False when the deployment's
   * own limits refuse it: another deployment may serve.
   */
  async #admit(target: Target): Promise<boolean> {
    if (this.#admitted === target.dep) return true;
    this.#release();
    const policy = startStage(this.#ctx.timeline, 'policy');
    try {
      this.#admission = await this.#shared.policy(this.#ctx, target.alias.name, target.dep, () => this.#plan.demand(target), this.#maxCost, this.#plan.stream);
    } catch (err) {
      if (err instanceof GatewayError && LIMIT_CODES.has(err.code) && err.limit?.scope === 'deployment') {
        this.#skipped(target, err);
        this.#lastError = err;
        return false;
      }
      throw err;
    } finally {
      policy.end = performance.now();
    }
    this.#admitted = target.dep;
    return true;
  }

  #skipped(target: Target, err: GatewayError): void {
    this.#attempts.push({ alias: target.alias.name, deployment: target.dep.id, provider: target.dep.provider, outcome: 'skipped', code: err.code, ms: 0 });
  }

  /** The client has its response: record it on the deployment and settle the admission. */
  #served(dep: Deployment, ms: number, delivered: Delivered): void {
    const { health } = this.#shared;
    const last = this.#attempts.length - 1;
    this.#attempts[last] = { ...this.#attempts[last]!, ms, ...(delivered.error ? { code: delivered.error.code } : {}) };
    if (delivered.error) {
      const e = delivered.error;
      if (e.failureClass) health.recordFailure(dep.id, { class: e.failureClass, code: e.code, message: e.message });
    } else {
      health.recordSuccess(dep.id, {
        ...(this.#plan.stream ? {} : { latencyMs: ms }),
        ...(delivered.ttftMs !== undefined ? { ttftMs: delivered.ttftMs } : {}),
        ...(delivered.usage ? { tokens: delivered.usage.totalTokens } : {}),
      });
    }
    this.#admission?.settle({
      accepted: true,
      attempts: this.#attempts,
      ...(delivered.usage ? { usage: delivered.usage } : {}),
      ...(delivered.partialOutputTokens !== undefined ? { partialOutputTokens: delivered.partialOutputTokens } : {}),
    });
    this.#admission = undefined;
  }

  /** The ledger: who is serving, from when, and the provider's own id of the call. */
  #ledgerServing(target: Target, call: UpstreamCall): void {
    const draft = this.#ctx.ledger;
    if (!draft) return;
    draft.deployment = target.dep;
    draft.providerStartedAt = call.sentAt;
    const name = target.adapter.requestIdHeader;
    const id = name === undefined ? undefined : call.response.headers[name];
    if (typeof id === 'string') draft.vendorRequestId = id.slice(0, 200);
  }

  /** The ledger: what the served call used (or, without usage, what Tollgate estimates it used). */
  #ledgerServed(target: Target, delivered: Delivered): void {
    const draft = this.#ctx.ledger;
    if (!draft) return;
    draft.providerEndedAt = performance.now();
    if (delivered.ttftMs !== undefined) draft.ttftMs = delivered.ttftMs;
    if (delivered.error) draft.errorCode = delivered.error.code;
    if (delivered.usage) {
      draft.usage = delivered.usage;
      return;
    }
    draft.estimatedInputTokens = this.#plan.demand(target).inputTokens;
    if (delivered.partialOutputTokens !== undefined) draft.estimatedOutputTokens = delivered.partialOutputTokens;
  }

  /** Settles the current admission as it stands (idempotent). */
  #release(): void {
    this.#admission?.settle({ accepted: this.#accepted, attempts: this.#attempts });
    this.#admission = undefined;
    this.#admitted = undefined;
    this.#accepted = false;
  }

  /** The route headers for the client (and the access log's attempt count). */
  #visible(): Record<string, string> {
    const served = this.#ctx.served?.alias;
    const primary = this.#primary.name;
    this.#ctx.route = { attempts: attemptsMade(this.#attempts), ...(served !== undefined && served !== primary ? { fallbackFrom: primary } : {}) };
    return routeHeaders(this.#attempts, primary, served, this.#blocked);
  }

  #noHealthy(): GatewayError {
    const chain = this.#chain;
    const first = firstCooldownEnd(this.#shared.health, chain.flatMap((a) => a.deployments));
    const names = chain.map((a) => a.name);
    const also = names.length > 1 ? ` (nor of its fallbacks ${names.slice(1).join(', ')})` : '';
    const why = this.#blocked.length > 0
      ? `every deployment is blocked for this request (${DRILL_HEADER}: ${this.#blocked.join(', ')}), cooling down after failures or failing its health checks`
      : 'every deployment is cooling down after failures or failing its health checks';
    return new GatewayError('no_healthy_deployment',
      `No healthy deployment for the model "${this.#primary.name}"${also}: ${why}. GET /health/providers shows why.`,
      { ...(first !== undefined ? { retryAfterSeconds: Math.max(1, Math.ceil((first - Date.now()) / 1000)) } : {}) });
  }

  #deadlineError(): GatewayError {
    return new GatewayError('upstream_timeout', `The request's time budget for "${this.#primary.name}" ran out before a deployment answered.`, { failureClass: 'timeout' });
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
