// The links of a vector index's slots (vector-index.ts): each slot's key in every LSH table and
// its place in that table's bucket (a doubly linked chain per bucket, newest first, its head in
// a Map by key), and its place in the recency list. Fixed capacity; the index makes a new one to
// grow or shrink.

const NONE = -1;

export class SlotLinks {
  readonly tables: number;
  readonly capacity: number;
  /** Per slot and table (at slot × tables + table): the slot's key, the next and previous slot in its bucket. */
  readonly keys: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Per table: the first slot of each bucket, by key. */
  readonly buckets: Map<number, number>[] = [];
  readonly #newer: Int32Array;
  readonly #older: Int32Array;
  #newest = NONE;
  /** The least recently used slot (NONE when empty). */
  oldest = NONE;

  constructor(tables: number, capacity: number) {
    this.tables = tables;
    this.capacity = capacity;
    this.keys = new Int32Array(capacity * tables);
    this.next = new Int32Array(capacity * tables);
    this.prev = new Int32Array(capacity * tables);
    this.#newer = new Int32Array(capacity);
    this.#older = new Int32Array(capacity);
    for (let t = 0; t < tables; t++) this.buckets.push(new Map());
  }

  get bytes(): number {
    return this.keys.byteLength * 3 + this.#newer.byteLength * 2;
  }

  /** Links a slot whose keys are set: at the head of its bucket in every table, and as the most recently used. */
  insert(slot: number): void {
    const T = this.tables;
    for (let t = 0; t < T; t++) {
      const at = slot * T + t;
      const head = this.buckets[t].get(this.keys[at]) ?? NONE;
      this.next[at] = head;
      this.prev[at] = NONE;
      if (head !== NONE) this.prev[head * T + t] = slot;
      this.buckets[t].set(this.keys[at], slot);
    }
    this.#pushNewest(slot);
  }

  remove(slot: number): void {
    const T = this.tables;
    for (let t = 0; t < T; t++) {
      const at = slot * T + t;
      const next = this.next[at];
      const prev = this.prev[at];
      if (prev !== NONE) this.next[prev * T + t] = next;
      else if (next !== NONE) this.buckets[t].set(this.keys[at], next);
      else this.buckets[t].delete(this.keys[at]);
      if (next !== NONE) this.prev[next * T + t] = prev;
    }
    this.#unlink(slot);
  }

  /** Makes the slot the most recently used. */
  touch(slot: number): void {
    this.#unlink(slot);
    this.#pushNewest(slot);
  }

  /** The linked slots, least recently used first. */
  oldestFirst(): number[] {
    const order: number[] = [];
    for (let slot = this.oldest; slot !== NONE; slot = this.#newer[slot]) order.push(slot);
    return order;
  }

  #pushNewest(slot: number): void {
    this.#older[slot] = this.#newest;
    this.#newer[slot] = NONE;
    if (this.#newest !== NONE) this.#newer[this.#newest] = slot;
    this.#newest = slot;
    if (this.oldest === NONE) this.oldest = slot;
  }

  #unlink(slot: number): void {
    const newer = this.#newer[slot];
    const older = this.#older[slot];
    if (newer !== NONE) this.#older[newer] = older;
    else this.#newest = older;
    if (older !== NONE) this.#newer[older] = newer;
    else this.oldest = newer;
  }
}
