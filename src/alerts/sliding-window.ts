// Counts over "the last N minutes" in O(1) per call and fixed memory: the window is cut into
// WINDOW_SLOTS steps (a 5-minute window: 30 steps of 10 s). A call adds to the slot of the
// current step, clearing it first when it still holds a step that has left the window; a read
// sums the slots whose step is inside the window. The window therefore covers between
// (N − 1)/N and all of its nominal length, never more, and nothing is ever allocated per call.
//
// RateWindow counts calls and "hits" (fallbacks, 429s, errors). LatencyWindow keeps a small
// fixed-bucket histogram per slot, enough for a p95 whose comparison with the configured
// threshold is exact (the threshold is one of the bucket bounds).

export const WINDOW_SLOTS = 30;

/** Which step each slot holds; shared by the window kinds. */
class SlotRing {
  readonly slotMs: number;
  readonly #steps: Float64Array;
  readonly #clear: (slot: number) => void;

  constructor(windowMs: number, clear: (slot: number) => void) {
    this.slotMs = Math.max(1, Math.ceil(windowMs / WINDOW_SLOTS));
    this.#steps = new Float64Array(WINDOW_SLOTS).fill(-Infinity);
    this.#clear = clear;
  }

  /** The slot for `now`, cleared when it held an older step. */
  enter(now: number): number {
    const step = Math.floor(now / this.slotMs);
    const slot = step % WINDOW_SLOTS;
    if (this.#steps[slot] !== step) {
      this.#steps[slot] = step;
      this.#clear(slot);
    }
    return slot;
  }

  /** Whether the slot holds a step inside the window that ends at `now`. */
  live(slot: number, now: number): boolean {
    const step = Math.floor(now / this.slotMs);
    const held = this.#steps[slot];
    return held > step - WINDOW_SLOTS && held <= step;
  }
}

export interface RateCounts {
  readonly total: number;
  readonly hits: number;
}

export class RateWindow {
  readonly #ring: SlotRing;
  readonly #totals = new Float64Array(WINDOW_SLOTS);
  readonly #hits = new Float64Array(WINDOW_SLOTS);

  constructor(windowMs: number) {
    this.#ring = new SlotRing(windowMs, (slot) => {
      this.#totals[slot] = 0;
      this.#hits[slot] = 0;
    });
  }

  add(now: number, hit: boolean): void {
    const slot = this.#ring.enter(now);
    this.#totals[slot] += 1;
    if (hit) this.#hits[slot] += 1;
  }

  counts(now: number): RateCounts {
    let total = 0;
    let hits = 0;
    for (let slot = 0; slot < WINDOW_SLOTS; slot++) {
      if (!this.#ring.live(slot, now)) continue;
      total += this.#totals[slot];
      hits += this.#hits[slot];
    }
    return { total, hits };
  }
}

/** Upper bounds (ms, inclusive) of the latency buckets; one more bucket holds everything slower. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  25, 50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000,
  15_000, 20_000, 30_000, 45_000, 60_000, 90_000, 120_000, 180_000, 300_000,
];

export interface LatencySummary {
  readonly count: number;
  /** Undefined when the window holds no sample. */
  readonly p95?: number;
}

export class LatencyWindow {
  readonly #ring: SlotRing;
  readonly #bounds: readonly number[];
  /** Slot-major: slot s's buckets are [s·B, (s+1)·B). */
  readonly #buckets: Float64Array;
  readonly #max = new Float64Array(WINDOW_SLOTS);

  /** `extraBounds`: thresholds the p95 is compared with, so the comparison is exact. */
  constructor(windowMs: number, extraBounds: readonly number[] = []) {
    this.#bounds = [...new Set([...LATENCY_BOUNDS_MS, ...extraBounds.filter((b) => Number.isFinite(b) && b > 0)])].sort((a, b) => a - b);
    const width = this.#bounds.length + 1;
    this.#buckets = new Float64Array(WINDOW_SLOTS * width);
    this.#ring = new SlotRing(windowMs, (slot) => {
      this.#buckets.fill(0, slot * width, (slot + 1) * width);
      this.#max[slot] = 0;
    });
  }

  add(now: number, ms: number): void {
    if (!(ms >= 0)) return;
    const slot = this.#ring.enter(now);
    this.#buckets[slot * (this.#bounds.length + 1) + this.#bucketOf(ms)] += 1;
    if (ms > this.#max[slot]) this.#max[slot] = ms;
  }

  /**
   * The nearest-rank p95, linearly interpolated inside its bucket (the slowest bucket's upper
   * end is the slowest sample in the window). It lies in the same bucket as the true p95, so it
   * is above a bound exactly when the true p95 is.
   */
  summary(now: number): LatencySummary {
    const width = this.#bounds.length + 1;
    const sums = new Float64Array(width);
    let count = 0;
    let max = 0;
    for (let slot = 0; slot < WINDOW_SLOTS; slot++) {
      if (!this.#ring.live(slot, now)) continue;
      for (let b = 0; b < width; b++) sums[b] += this.#buckets[slot * width + b];
      if (this.#max[slot] > max) max = this.#max[slot];
    }
    for (let b = 0; b < width; b++) count += sums[b];
    if (count === 0) return { count };
    const rank = Math.ceil(0.95 * count);
    let before = 0;
    for (let b = 0; b < width; b++) {
      if (before + sums[b] < rank) {
        before += sums[b];
        continue;
      }
      const lower = b === 0 ? 0 : this.#bounds[b - 1];
      const upper = b < this.#bounds.length ? this.#bounds[b] : max;
      return { count, p95: lower + ((upper - lower) * (rank - before)) / sums[b] };
    }
    return { count, p95: max };
  }

  /** The first bucket whose upper bound is ≥ ms (binary search). */
  #bucketOf(ms: number): number {
    let lo = 0;
    let hi = this.#bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#bounds[mid] < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
