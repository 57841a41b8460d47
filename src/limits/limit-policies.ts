// The global and deployment limit policies in effect, held in memory for the request path (a
// map lookup, no I/O). Declared ones (config) win and never change; stored ones (admin API)
// are loaded at startup and re-read when the change feed or Redis says one changed, on every
// replica. A failed re-read keeps the copy it has and retries on the next change.

import type { LimitPolicy } from '../identity/records.ts';
import type { Logger } from '../logging/logger.ts';
import type { IdentityStore } from '../stores/identity-store.ts';

/** What the policy stage reads. */
export interface LimitPolicySource {
  get(scope: string): LimitPolicy | undefined;
}

const PAGE = 500;
/** A failed re-read is tried again after this long (the store may be down for a while). */
const RETRY_MS = 5_000;

export class LimitPolicies implements LimitPolicySource {
  readonly #store: IdentityStore;
  readonly #declared: ReadonlyMap<string, LimitPolicy>;
  readonly #logger: Logger;
  readonly #stored = new Map<string, LimitPolicy>();
  /** Scopes being re-read, and whether another change came in meanwhile. */
  readonly #reading = new Map<string, { again: boolean }>();
  #closed = false;

  constructor(store: IdentityStore, declared: ReadonlyMap<string, LimitPolicy>, logger: Logger) {
    this.#store = store;
    this.#declared = declared;
    this.#logger = logger;
  }

  get(scope: string): LimitPolicy | undefined {
    return this.#declared.get(scope) ?? this.#stored.get(scope);
  }

  /** Reads every stored policy (at startup). */
  async load(): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#store.list('limit', { limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const policy of page) this.#stored.set(policy.scope, policy);
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.scope;
    }
  }

  /** Stops re-reads (the store is closing). */
  close(): void {
    this.#closed = true;
  }

  /** The stored policy of `scope` changed: re-read it (in the background). */
  invalidate(scope: string): void {
    if (this.#closed) return;
    const reading = this.#reading.get(scope);
    if (reading) {
      reading.again = true;
      return;
    }
    const state = { again: false };
    this.#reading.set(scope, state);
    void (async () => {
      try {
        do {
          state.again = false;
          const policy = await this.#store.get('limit', scope);
          if (policy) this.#stored.set(scope, policy);
          else this.#stored.delete(scope);
        } while (state.again);
      } catch (error) {
        this.#logger.warn('limit policy could not be re-read; the previous one stays in effect and the read is retried', { scope, error: (error as Error).message });
        this.#reading.delete(scope);
        setTimeout(() => this.invalidate(scope), RETRY_MS).unref();
        return;
      }
      this.#reading.delete(scope);
    })();
  }
}
