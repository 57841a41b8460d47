// Log lines about a failing destination (Langfuse down, events refused, the queue full) would
// repeat on every batch, which under load is many a second. Each kind is logged at most once per
// interval, with the number of occurrences left out since the last line.

import type { Logger, LogLevel } from '../../logging/logger.ts';

export class ThrottledLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** Per kind (a handful of constants): when it was last logged and what was left out since. */
  readonly #kinds = new Map<string, { at: number; suppressed: number }>();

  constructor(logger: Logger, intervalMs: number, now: () => number = Date.now) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  log(level: LogLevel, kind: string, msg: string, fields: Record<string, unknown>): void {
    const now = this.#now();
    const seen = this.#kinds.get(kind);
    if (seen && now - seen.at < this.#intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.#kinds.set(kind, { at: now, suppressed: 0 });
    this.#logger[level](msg, suppressed > 0 ? { ...fields, suppressed_since_last: suppressed } : fields);
  }
}
