// What the gateway knows about each deployment, from its answers and from health checks:
// the circuit breaker (cooldowns), latency and time-to-first-token averages, calls in
// flight, this minute's usage, the last error and the last health check. The router reads
// it to choose (no I/O: all of it is in memory); /health/providers and /metrics show it.

import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Deployment, FailureClass } from '../providers/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { CircuitBreaker, type Availability, type BreakerSettings, type BreakerState } from './circuit-breaker.ts';
import { localCooldownSync, type CooldownEvent, type CooldownSync } from './cooldown-sync.ts';

/** Failures that say something about the deployment (not the request): they count against its breaker. */
const DEPLOYMENT_FAULTS: ReadonlySet<FailureClass> = new Set(['rate_limit', 'timeout', 'server_error', 'connect_error', 'auth', 'not_found']);
/** Weight of the newest sample in the latency averages. */
const EWMA_ALPHA = 0.3;
const MINUTE_MS = 60_000;
/** A vendor's Retry-After cools a deployment at most this long (a bogus "wait a day" must not take it out for a day). */
const MAX_RETRY_AFTER_MS = 10 * MINUTE_MS;

export interface DeploymentStats {
  /** Average latency of whole calls, ms (undefined before the first success). */
  readonly latencyMs?: number;
  /** Average time to first token of streams, ms. */
  readonly ttftMs?: number;
  readonly inFlight: number;
  /** Requests and tokens this minute, on this replica (usage-based routing). */
  readonly minuteRequests: number;
  readonly minuteTokens: number;
}

export interface HealthCheckResult {
  readonly ok: boolean;
  /** Epoch ms. */
  readonly at: number;
  readonly latencyMs: number;
  readonly error?: string;
}

interface State {
  readonly breaker: CircuitBreaker;
  latencyMs?: number;
  ttftMs?: number;
  inFlight: number;
  minute: number;
  minuteRequests: number;
  minuteTokens: number;
  throttled: number;
  lastError?: { code: string; message: string; at: number };
  lastSuccessAt?: number;
  check?: HealthCheckResult;
}

/** A deployment entered cooldown (its breaker opened): what DeploymentHealth.onCooldown listeners get. */
export interface CooldownEntered {
  readonly deployment: string;
  /** Epoch ms the cooldown ends. */
  readonly until: number;
  /** The error code that tripped it. */
  readonly reason: string;
  /** false: another replica's cooldown, applied here (that replica's listeners saw it as local). */
  readonly local: boolean;
}

export interface DeploymentHealthOptions {
  readonly metrics: Metrics;
  readonly breaker: BreakerSettings;
  readonly logger?: Logger;
  /** Shares cooldowns across replicas (Redis); local by default. */
  readonly sync?: CooldownSync;
  /** Epoch ms. */
  readonly now?: () => number;
}

/** One row of GET /health/providers. */
export interface DeploymentReport {
  readonly deployment: string;
  readonly alias: string;
  readonly provider: string;
  readonly model: string;
  readonly state: 'healthy' | 'cooling' | 'half_open' | 'unhealthy';
  readonly cooldown_until?: string;
  readonly cooldown_reason?: string;
  readonly last_error?: { code: string; message: string; at: string };
  readonly latency_ewma_ms?: number;
  readonly ttft_ewma_ms?: number;
  readonly in_flight: number;
  readonly vendor_throttled: number;
  readonly last_check?: { ok: boolean; at: string; latency_ms: number; error?: string };
}

/** The breaker settings from the `router:` section. */
export function breakerSettings(config: GatewayConfig): BreakerSettings {
  const router = config.router;
  return { enabled: router.cooldowns, allowedFails: router.allowedFails, windowMs: router.allowedFailsWindowMs, cooldownMs: router.cooldownMs };
}

export class DeploymentHealth {
  readonly #states = new Map<string, State>();
  readonly #settings: BreakerSettings;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #sync: CooldownSync;
  readonly #throttles;
  readonly #cooldowns;
  readonly #cooling;
  readonly #cooldownListeners = new Set<(event: CooldownEntered) => void>();

  constructor(options: DeploymentHealthOptions) {
    this.#settings = options.breaker;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
    this.#sync = options.sync ?? localCooldownSync;
    const { metrics } = options;
    this.#throttles = metrics.counter('tollgate_upstream_throttled_total', 'Vendor 429 answers, by deployment.');
    this.#cooldowns = metrics.counter('tollgate_deployment_cooldowns_total', 'Times a deployment entered cooldown (its circuit breaker opened), by deployment.');
    this.#cooling = metrics.gauge('tollgate_deployment_cooling', '1 while a deployment is cooling down or half-open, else 0, by deployment.');
  }

  /** Switches to a shared sync (Redis) once it is open, seeding the cooldowns already in force. */
  async useSync(sync: CooldownSync): Promise<void> {
    this.#sync = sync;
    for (const event of await sync.current()) this.apply(event);
  }

  #state(id: string): State {
    let state = this.#states.get(id);
    if (!state) {
      state = { breaker: new CircuitBreaker(this.#settings), inFlight: 0, minute: 0, minuteRequests: 0, minuteTokens: 0, throttled: 0 };
      this.#states.set(id, state);
    }
    return state;
  }

  /** Whether a request may go to the deployment now; a failed health check makes it 'cooling' too. */
  availability(id: string): Availability {
    const state = this.#states.get(id);
    if (!state) return 'available';
    if (state.check && !state.check.ok) return 'cooling';
    return state.breaker.availability(this.#now());
  }

  breakerState(id: string): BreakerState {
    return this.#states.get(id)?.breaker.state(this.#now()) ?? 'closed';
  }

  /** Epoch ms the deployment's cooldown ends, if it is cooling. */
  cooldownUntil(id: string): number | undefined {
    return this.#states.get(id)?.breaker.cooldownUntil(this.#now());
  }

  /**
   * Claims the half-open probe (here and across replicas). While the claim is held, other
   * requests skip the deployment; the probe's own success or failure ends it.
   */
  async claimProbe(dep: Deployment): Promise<boolean> {
    const state = this.#state(dep.id);
    const now = this.#now();
    if (state.breaker.availability(now) !== 'probe') return false;
    const lease = Math.max(dep.timeoutMs, dep.streamTimeoutMs);
    state.breaker.claimProbe(now, lease); // synchronously, so no other local request claims it meanwhile
    if (await this.#sync.claimProbe(dep.id, lease)) {
      this.#logger?.info('deployment half-open: sending a probe request', { deployment: dep.id });
      return true;
    }
    // Another replica probes: skip the deployment here until it reports or the lease ends.
    state.breaker.claimProbe(now, lease, false);
    return false;
  }

  /** The probe this replica claimed ended without a verdict (client gone, skipped): free the slot. */
  releaseProbe(id: string): void {
    const state = this.#states.get(id);
    if (!state) return;
    state.breaker.releaseProbe();
    this.#sync.releaseProbe(id);
  }

  stats(id: string): DeploymentStats {
    const state = this.#states.get(id);
    if (!state) return { inFlight: 0, minuteRequests: 0, minuteTokens: 0 };
    this.#rollMinute(state);
    return {
      ...(state.latencyMs !== undefined ? { latencyMs: state.latencyMs } : {}),
      ...(state.ttftMs !== undefined ? { ttftMs: state.ttftMs } : {}),
      inFlight: state.inFlight,
      minuteRequests: state.minuteRequests,
      minuteTokens: state.minuteTokens,
    };
  }

  #rollMinute(state: State): void {
    const minute = Math.floor(this.#now() / MINUTE_MS);
    if (state.minute !== minute) {
      state.minute = minute;
      state.minuteRequests = 0;
      state.minuteTokens = 0;
    }
  }

  /** An attempt starts on the deployment; call the returned function once when it ends. */
  begin(id: string): () => void {
    const state = this.#state(id);
    this.#rollMinute(state);
    state.inFlight += 1;
    state.minuteRequests += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      state.inFlight -= 1;
    };
  }

  /** A call the deployment served: latency (whole call) or time to first token (streams), and tokens used. */
  recordSuccess(id: string, sample: { latencyMs?: number; ttftMs?: number; tokens?: number }): void {
    const state = this.#state(id);
    if (sample.latencyMs !== undefined) state.latencyMs = ewma(state.latencyMs, sample.latencyMs);
    if (sample.ttftMs !== undefined) state.ttftMs = ewma(state.ttftMs, sample.ttftMs);
    if (sample.tokens) {
      this.#rollMinute(state);
      state.minuteTokens += sample.tokens;
    }
    state.lastSuccessAt = this.#now();
    if (state.breaker.success(state.lastSuccessAt)) this.#closed(id, state, 'a request succeeded');
  }

  /**
   * A failed attempt. Transient failures, auth and not-found count against the deployment's
   * breaker; a request's own fault (bad request, context length, content policy) does not.
   * A vendor 429 with Retry-After cools the deployment at least that long. A timeout counts
   * as a latency sample of the time it took.
   */
  recordFailure(id: string, failure: { class: FailureClass; code: string; message: string; retryAfterSeconds?: number; timedOutAfterMs?: number; stream?: boolean }): void {
    const state = this.#state(id);
    const now = this.#now();
    state.lastError = { code: failure.code, message: failure.message, at: now };
    // A timeout is a (very slow) latency sample: latency-based routing must not see the deployment as fast.
    if (failure.class === 'timeout' && failure.timedOutAfterMs !== undefined) {
      if (failure.stream) state.ttftMs = ewma(state.ttftMs, failure.timedOutAfterMs);
      else state.latencyMs = ewma(state.latencyMs, failure.timedOutAfterMs);
    }
    if (failure.class === 'rate_limit') {
      state.throttled += 1;
      this.#throttles.inc({ deployment: id });
    }
    if (!DEPLOYMENT_FAULTS.has(failure.class)) {
      // The request's own fault, answered properly: the deployment works (a probe passes).
      if (state.breaker.success(now)) this.#closed(id, state, 'it answered a request');
      return;
    }
    const retryAfterMs = failure.class === 'rate_limit' && failure.retryAfterSeconds !== undefined ? Math.min(failure.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
    const until = state.breaker.failure(now, failure.code, retryAfterMs);
    if (until !== undefined) this.#opened(id, until, failure.code, true);
  }

  /** Calls `listener` each time a deployment enters cooldown (e.g. the alert engine). Returns the unsubscribe. */
  onCooldown(listener: (event: CooldownEntered) => void): () => void {
    this.#cooldownListeners.add(listener);
    return () => this.#cooldownListeners.delete(listener);
  }

  #opened(id: string, until: number, reason: string, publish: boolean): void {
    this.#cooldowns.inc({ deployment: id });
    this.#cooling.set({ deployment: id }, 1);
    this.#logger?.warn('deployment entered cooldown', { deployment: id, until: new Date(until).toISOString(), reason, ...(publish ? {} : { from: 'another replica' }) });
    if (publish) this.#sync.publish({ deployment: id, state: 'open', until, reason });
    for (const listener of this.#cooldownListeners) {
      try {
        listener({ deployment: id, until, reason, local: publish });
      } catch (err) {
        // Runs on the request path (a failed attempt): a listener's bug must not fail the request.
        this.#logger?.error('cooldown listener failed', { deployment: id, error: (err as Error)?.message });
      }
    }
  }

  #closed(id: string, _state: State, why: string, publish = true): void {
    this.#cooling.set({ deployment: id }, 0);
    this.#logger?.info('deployment recovered: cooldown over', { deployment: id, why });
    if (publish) this.#sync.publish({ deployment: id, state: 'closed' });
  }

  /** A cooldown another replica started or ended. */
  apply(event: CooldownEvent): void {
    const state = this.#state(event.deployment);
    if (event.state === 'open' && event.until !== undefined && event.until > this.#now()) {
      const before = state.breaker.cooldownUntil(this.#now());
      state.breaker.open(event.until, event.reason ?? 'another replica');
      if (before === undefined || event.until > before) this.#opened(event.deployment, event.until, event.reason ?? 'cooldown', false);
    } else if (event.state === 'closed' && state.breaker.state(this.#now()) !== 'closed') {
      state.breaker.close();
      this.#closed(event.deployment, state, 'another replica saw it succeed', false);
    }
  }

  /** A background health check's result: a failed check keeps the deployment out of rotation until one passes. */
  recordCheck(id: string, result: HealthCheckResult): void {
    const state = this.#state(id);
    const wasDown = state.check !== undefined && !state.check.ok;
    state.check = result;
    // A check's latency is not a real call's: it is reported apart and not averaged in.
    if (result.ok) {
      if (wasDown) this.#logger?.info('deployment health check passed again', { deployment: id });
    } else {
      state.lastError = { code: 'health_check_failed', message: result.error ?? 'health check failed', at: result.at };
      if (!wasDown) this.#logger?.warn('deployment health check failed: out of rotation until a check passes', { deployment: id, error: result.error });
    }
  }

  report(dep: Deployment): DeploymentReport {
    const state = this.#states.get(dep.id);
    const now = this.#now();
    const breaker = state?.breaker.state(now) ?? 'closed';
    const unhealthy = state?.check !== undefined && !state.check.ok;
    const until = state?.breaker.cooldownUntil(now);
    return {
      deployment: dep.id,
      alias: dep.alias,
      provider: dep.provider,
      model: dep.model,
      state: breaker === 'cooling' ? 'cooling' : breaker === 'half_open' ? 'half_open' : unhealthy ? 'unhealthy' : 'healthy',
      ...(until !== undefined ? { cooldown_until: new Date(until).toISOString(), ...(state?.breaker.reason ? { cooldown_reason: state.breaker.reason } : {}) } : {}),
      ...(state?.lastError ? { last_error: { code: state.lastError.code, message: state.lastError.message, at: new Date(state.lastError.at).toISOString() } } : {}),
      ...(state?.latencyMs !== undefined ? { latency_ewma_ms: round(state.latencyMs) } : {}),
      ...(state?.ttftMs !== undefined ? { ttft_ewma_ms: round(state.ttftMs) } : {}),
      in_flight: state?.inFlight ?? 0,
      vendor_throttled: state?.throttled ?? 0,
      ...(state?.check ? { last_check: { ok: state.check.ok, at: new Date(state.check.at).toISOString(), latency_ms: round(state.check.latencyMs), ...(state.check.error ? { error: state.check.error } : {}) } } : {}),
    };
  }

  close(): Promise<void> {
    return this.#sync.close();
  }
}

function ewma(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : previous + EWMA_ALPHA * (sample - previous);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
