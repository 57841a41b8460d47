// One write to a ledger sink, bounded in time: it rejects when the sink does not answer within
// timeoutMs, or when the writer's close gives up on it (each call registers an abort in
// `aborts`, which close() calls with an Abandoned error). The sink may still finish the write
// later; sinks are idempotent on event_id, so the spooled copy stores nothing twice.

import type { LedgerEvent } from './ledger-event.ts';
import type { LedgerSink } from './ledger-sink.ts';

/** Thrown into a sink write that close() gave up waiting for: the batch is spooled instead. */
export class Abandoned extends Error {}

export function boundedSinkWrite(
  sink: LedgerSink, events: LedgerEvent[], lines: string[] | undefined, timeoutMs: number, aborts: Set<(error: Error) => void>,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const finish = (error?: Error | { error: unknown }) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      aborts.delete(abort);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : error.error);
    };
    const abort = (error: Error) => finish(error);
    const timer = setTimeout(() => finish(new Error(`ledger sink ${sink.name} did not answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    aborts.add(abort);
    let result: Promise<void>;
    try {
      result = Promise.resolve(sink.write(events, lines));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      () => finish(),
      (error: unknown) => finish({ error }),
    );
  });
}
