// A label whose values come from requests (tenant ids) but whose series must stay few: the
// first `max` distinct values keep their own name, every later one is reported as one overflow
// value ("other"). The set of values never grows past max + 1, whatever clients send, and a
// value once admitted keeps its own series for the life of the process (so a series never
// changes meaning between scrapes).

export class BoundedLabel {
  readonly #admitted = new Set<string>();
  readonly max: number;
  readonly overflow: string;

  constructor(max: number, overflow = 'other') {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`a bounded label needs a whole number ≥ 0 of values, got ${max}`);
    this.max = max;
    this.overflow = overflow;
  }

  /** `value` itself while there is room (or it already has its series), else the overflow value. */
  of(value: string): string {
    if (this.#admitted.has(value)) return value;
    if (this.#admitted.size >= this.max) return this.overflow;
    this.#admitted.add(value);
    return value;
  }

  /** Distinct values admitted so far (the overflow value not included). */
  get size(): number {
    return this.#admitted.size;
  }
}
