// What the gateway has learned about each deployment from its answers. For now: vendor
// throttling (a provider's 429), recorded against the deployment so the router can steer
// around it (cooldowns, issue 5) and operators can see it (metric, admin API). The client
// never sees the vendor's raw 429: it gets upstream_rate_limited with the deployment named.

import type { Metrics } from '../telemetry/metrics.ts';

export interface ThrottleState {
  /** Vendor 429s seen since start. */
  readonly throttled: number;
  /** Epoch ms of the last one. */
  readonly lastThrottledAt?: number;
  /** Until when the vendor asked us to wait (its Retry-After), epoch ms. */
  readonly retryAfterUntil?: number;
}

export class DeploymentHealth {
  readonly #states = new Map<string, { throttled: number; lastThrottledAt?: number; retryAfterUntil?: number }>();
  readonly #throttles;
  readonly #now: () => number;

  constructor(metrics: Metrics, now: () => number = Date.now) {
    this.#throttles = metrics.counter('tollgate_upstream_throttled_total', 'Vendor 429 answers, by deployment.');
    this.#now = now;
  }

  /** A vendor 429 from `deploymentId`, with its Retry-After when it sent one. */
  recordThrottle(deploymentId: string, retryAfterSeconds?: number): void {
    const now = this.#now();
    let state = this.#states.get(deploymentId);
    if (!state) {
      state = { throttled: 0 };
      this.#states.set(deploymentId, state);
    }
    state.throttled += 1;
    state.lastThrottledAt = now;
    if (retryAfterSeconds !== undefined && retryAfterSeconds > 0) {
      state.retryAfterUntil = Math.max(state.retryAfterUntil ?? 0, now + retryAfterSeconds * 1000);
    }
    this.#throttles.inc({ deployment: deploymentId });
  }

  throttle(deploymentId: string): ThrottleState {
    return { ...(this.#states.get(deploymentId) ?? { throttled: 0 }) };
  }

  /** Whether the vendor's Retry-After for the deployment has not passed yet. */
  isThrottled(deploymentId: string): boolean {
    const until = this.#states.get(deploymentId)?.retryAfterUntil;
    return until !== undefined && until > this.#now();
  }
}
