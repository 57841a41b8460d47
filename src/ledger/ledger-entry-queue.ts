// A sink lane's queue of ledger entries (ledger-sink-lane.ts): push one, take a batch.

import type { LedgerEntry } from './ledger-entry.ts';

/** A FIFO of entries with O(1) push and batch take. */
export class EntryQueue {
  #items: LedgerEntry[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(entry: LedgerEntry): void {
    this.#items.push(entry);
  }

  take(max: number): LedgerEntry[] {
    const end = Math.min(this.#items.length, this.#head + max);
    const out = this.#items.slice(this.#head, end);
    this.#head = end;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }
}
