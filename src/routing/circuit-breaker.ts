// One deployment's circuit breaker. Closed: traffic flows and failures are counted. More than
// allowed_fails within the window (or a vendor 429 with Retry-After) opens it: the deployment
// cools down and no request goes to it. When the cooldown ends it is half-open: exactly one
// request (the probe) may go; its success closes the breaker, its failure opens it again.
// Pure state with an injected clock; DeploymentHealth owns one per deployment.

export interface BreakerSettings {
  /** false: the breaker never opens (router.disable_cooldowns). */
  readonly enabled: boolean;
  readonly allowedFails: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
}

export type BreakerState = 'closed' | 'cooling' | 'half_open';

/** What a request may do with the deployment now. */
export type Availability = 'available' | 'probe' | 'cooling';

export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  /** Timestamps of recent failures (closed state), oldest first. */
  #failures: number[] = [];
  #openUntil = 0;
  #open = false;
  /** While a probe is in flight (claimed by some request), until when its claim holds. */
  #probeUntil = 0;
  /** The probe in flight is this replica's own (its failure re-opens the breaker). */
  #probeIsLocal = false;
  #reason: string | undefined;

  constructor(settings: BreakerSettings) {
    this.#settings = settings;
  }

  state(now: number): BreakerState {
    if (!this.#open) return 'closed';
    return now < this.#openUntil ? 'cooling' : 'half_open';
  }

  /** Epoch ms the cooldown ends (while cooling), else undefined. */
  cooldownUntil(now: number): number | undefined {
    return this.#open && now < this.#openUntil ? this.#openUntil : undefined;
  }

  /** Why the breaker opened last. */
  get reason(): string | undefined {
    return this.#reason;
  }

  availability(now: number): Availability {
    if (!this.#open) return 'available';
    if (now < this.#openUntil || now < this.#probeUntil) return 'cooling';
    return 'probe';
  }

  /**
   * A probe is in flight: others see 'cooling' until it ends or `leaseMs` passes. `local`: the
   * probe is this replica's request (false when another replica holds it).
   */
  claimProbe(now: number, leaseMs: number, local = true): void {
    this.#probeUntil = now + leaseMs;
    this.#probeIsLocal = local;
  }

  /** This replica's probe ended without saying anything about the deployment: the next request may probe. */
  releaseProbe(): void {
    if (!this.#probeIsLocal) return;
    this.#probeUntil = 0;
    this.#probeIsLocal = false;
  }

  /**
   * A success. Once the cooldown is over (half-open) it closes the breaker; during the cooldown
   * it changes nothing (a call that started before the cooldown may finish late). In the
   * closed state failures keep counting within their window. Returns true when it closed.
   */
  success(now: number): boolean {
    if (!this.#open || now < this.#openUntil) return false;
    this.close();
    return true;
  }

  /** Closes the breaker (a success here, or another replica's). */
  close(): void {
    this.#open = false;
    this.#failures = [];
    this.#probeUntil = 0;
    this.#probeIsLocal = false;
    this.#reason = undefined;
  }

  /**
   * A transient failure at `now`; `retryAfterMs` is the vendor's Retry-After. Returns the new
   * cooldown end when this failure opened (or re-opened, or lengthened) the cooldown.
   */
  failure(now: number, reason: string, retryAfterMs?: number): number | undefined {
    const { enabled, allowedFails, windowMs, cooldownMs } = this.#settings;
    if (!enabled) return undefined;
    let until = 0;
    if (this.#open && this.#probeIsLocal && now < this.#probeUntil) {
      // The probe failed: cool down again.
      until = now + cooldownMs;
    } else {
      const failures = this.#failures;
      failures.push(now);
      while (failures.length > 0 && failures[0]! <= now - windowMs) failures.shift();
      if (failures.length > allowedFails) until = now + cooldownMs;
    }
    if (retryAfterMs !== undefined && retryAfterMs > 0) until = Math.max(until, now + retryAfterMs);
    if (until <= this.#openUntil && this.#open) return undefined;
    if (until === 0) return undefined;
    this.open(until, reason);
    return until;
  }

  /** Opens the breaker until `until` (a local trip, or one another replica reported). */
  open(until: number, reason: string): void {
    if (this.#open && until <= this.#openUntil) return;
    this.#open = true;
    this.#openUntil = until;
    this.#probeUntil = 0;
    this.#probeIsLocal = false;
    this.#failures = [];
    this.#reason = reason;
  }
}
