// The sliding-window counter (the two-window approximation) and the rules both CounterStore
// backends share. src/limits/redis-scripts.ts mirrors every function here in Lua: change one,
// change the other (the contract suite runs the same cases against both).
//
// A window limit of `limit` units per `windowMs` (W) keeps one count per fixed window
// (index = floor(now / W)). At elapsed time e into the current window:
//
//   used = current + previous × (W − e) / W
//
// All arithmetic is on integers scaled by W ("weighted" = used × W), so the memory and Redis
// backends agree exactly; it stays exact while limit × W < 2^53 (e.g. 1.5e11 tokens per
// minute, 1e8 tokens per day).

/** Reservations that expired unsettled are remembered this long after their expiry, so a late settle still records its spend. */
export const LATE_SETTLE_GRACE_MS = 60 * 60 * 1000;
/** Budget counters are kept this long after `periodEndsAt` (spend-so-far stays visible through the reset). */
export const BUDGET_RETENTION_MS = 24 * 60 * 60 * 1000;
/** retryAfterMs of a concurrency refusal when no lease tells when a slot frees (limit 0). */
export const UNKNOWN_RETRY_MS = 1000;

/** floor(a / b) for integers, b > 0, exact even where a / b rounds in floating point. */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q -= 1;
  else if ((q + 1) * b <= a) q += 1;
  return q;
}

export function ceilDiv(a: number, b: number): number {
  return -floorDiv(-a, b);
}

export function windowIndex(now: number, windowMs: number): number {
  return floorDiv(now, windowMs);
}

/** used × W for the counts of the current and previous window. */
function weighted(windowMs: number, elapsed: number, current: number, previous: number): number {
  return current * windowMs + previous * (windowMs - elapsed);
}

export interface WindowCheck {
  readonly fits: boolean;
  /** used, rounded up (what a refusal reports). */
  readonly used: number;
  /** When refused: the smallest wait after which the request fits if nothing else arrives. */
  readonly retryAfterMs: number;
}

/** Does `cost` fit? used + cost ≤ limit, compared as used × W + cost × W ≤ limit × W. */
export function checkWindow(limit: number, windowMs: number, cost: number, now: number, current: number, previous: number): WindowCheck {
  const elapsed = now - windowIndex(now, windowMs) * windowMs;
  const load = weighted(windowMs, elapsed, current, previous);
  const excess = load + cost * windowMs - limit * windowMs;
  const used = ceilDiv(load, windowMs);
  if (excess <= 0) return { fits: true, used, retryAfterMs: 0 };
  return { fits: false, used, retryAfterMs: windowRetryAfter(limit, windowMs, cost, elapsed, current, previous, excess) };
}

function windowRetryAfter(limit: number, W: number, cost: number, e: number, cur: number, prev: number, excess: number): number {
  // A cost above the limit never fits, however long the caller waits; one window is as good
  // an answer as any (the caller should report it as a request too large for the limit).
  if (cost > limit) return W;
  // Still inside the current window: the previous window's share decays by `prev` per ms × W.
  if (prev > 0) {
    const wait = ceilDiv(excess, prev);
    if (wait < W - e) return Math.max(1, wait);
  }
  // In the next window the current count becomes "previous" and decays from its start.
  const over = (cur + cost - limit) * W;
  if (over <= 0) return W - e;
  // cur ≥ 1 here (cur > limit − cost ≥ 0); the wait is at most the end of the next window.
  return W - e + ceilDiv(over, cur);
}

export interface WindowReport {
  /** Units left (never below 0). */
  readonly remaining: number;
  /**
   * Ms until used falls to 0 if nothing more arrives: 2W − e while the current window holds
   * anything (it weighs on the next window until that one ends), W − e while only the previous
   * one does, 0 when both are empty. Never more than 2 windows.
   */
  readonly resetMs: number;
}

/** The state after the request: counts include its cost when it was taken, not when refused. */
export function reportWindow(limit: number, windowMs: number, now: number, current: number, previous: number): WindowReport {
  const elapsed = now - windowIndex(now, windowMs) * windowMs;
  const load = weighted(windowMs, elapsed, current, previous);
  const remaining = Math.max(0, floorDiv(limit * windowMs - load, windowMs));
  const resetMs = current > 0 ? 2 * windowMs - elapsed : previous > 0 ? windowMs - elapsed : 0;
  return { remaining, resetMs };
}

/** Whether the window a lease was counted in still counts (it is the current or the previous one). */
export function isCorrectable(window: { windowMs: number; acquiredAt: number }, now: number): boolean {
  return windowIndex(window.acquiredAt, window.windowMs) >= windowIndex(now, window.windowMs) - 1;
}
