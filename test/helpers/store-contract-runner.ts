// The harness the store contract suites share: each test opens a fresh store (migrated unless
// asked not to), runs, and cleans up whatever happened.

import { test } from 'node:test';

export interface OpenedFixture<S> {
  readonly store: S;
  cleanup(): Promise<void>;
}

export function storeContractRunner<O extends OpenedFixture<{ migrate(): Promise<unknown> }>>(open: () => Promise<O>) {
  async function withStore(work: (store: O['store'], opened: O) => Promise<void>, migrate = true): Promise<void> {
    const opened = await open();
    try {
      if (migrate) await opened.store.migrate();
      await work(opened.store, opened);
    } finally {
      await opened.cleanup();
    }
  }
  const it = (title: string, work: (store: O['store'], opened: O) => Promise<void>) => test(title, () => withStore(work));
  return { withStore, it };
}
