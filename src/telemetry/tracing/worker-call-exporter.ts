// The main thread's side of the trace exporter's worker (span-worker.ts): hands a batch of
// finished calls to the worker and reports how its export went. Building spans, encoding them
// and the HTTP request all happen on the worker, so the event loop that serves requests only
// posts one message per batch. The worker starts on the first export and does not keep the
// process alive; one that dies fails the exports it held (as `other`), and the next export
// starts a new one.

import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FinishedCall } from '../finished-call.ts';
import { toWire, type FromWorker, type SpanWorkerSettings, type ToWorker, type WireCall } from './span-worker-protocol.ts';
import { EXPORTER_CLOSED, OtlpExportError } from './otlp-http-exporter.ts';

const WORKER_URL = new URL(`./span-worker${extname(new URL(import.meta.url).pathname) || '.js'}`, import.meta.url);
const CLOSE_WAIT_MS = 2_000;

/** How a batch of calls went: `error` when the export failed; `invalid` spans could not be built. */
export interface CallExportResult {
  readonly error?: Error & { code?: string | number };
  readonly invalid: number;
}

export interface CallExporter {
  export(calls: readonly FinishedCall[], done: (result: CallExportResult) => void): void;
  shutdown(): Promise<void>;
}

export class WorkerCallExporter implements CallExporter {
  readonly #settings: SpanWorkerSettings;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, (result: CallExportResult) => void>();
  #next = 1;
  #shutdown = false;

  constructor(settings: SpanWorkerSettings) {
    this.#settings = settings;
  }

  export(calls: readonly FinishedCall[], done: (result: CallExportResult) => void): void {
    if (this.#shutdown) return done({ invalid: 0, error: new OtlpExportError('the trace exporter is shut down', EXPORTER_CLOSED) });
    const wire: WireCall[] = [];
    let invalid = 0;
    for (const call of calls) {
      const w = toWire(call);
      if (w) wire.push(w);
      else invalid += 1 + call.timeline.stages.length + call.timeline.attempts.length;
    }
    const id = this.#next++;
    this.#pending.set(id, (result) => done({ ...result, invalid: result.invalid + invalid }));
    try {
      this.#spawned().postMessage({ op: 'export', id, calls: wire } satisfies ToWorker);
    } catch (error) {
      this.#pending.delete(id);
      done({ invalid, error: error as Error });
    }
  }

  async shutdown(): Promise<void> {
    this.#shutdown = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(new OtlpExportError('the trace exporter is shut down', EXPORTER_CLOSED));
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ op: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void worker.terminate(), CLOSE_WAIT_MS);
    await exited;
    clearTimeout(timer);
  }

  #spawned(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_URL, { workerData: this.#settings, name: 'tollgate-trace-exporter' });
    worker.unref();
    worker.on('message', (message: FromWorker) => {
      const done = this.#pending.get(message.id);
      if (!done) return;
      this.#pending.delete(message.id);
      const error = message.error ? Object.assign(new Error(message.error.message), message.error) : undefined;
      done({ invalid: message.invalid, ...(error ? { error } : {}) });
    });
    const lost = (why: string) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#failAll(new Error(`the trace exporter's worker ${why}`));
    };
    worker.on('error', (error) => lost(`failed: ${error.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const done of pending) done({ invalid: 0, error });
  }
}
