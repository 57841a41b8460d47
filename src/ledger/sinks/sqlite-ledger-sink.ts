// The ledger on SQLite (the default sink). node:sqlite is synchronous: a batch of 500 events
// takes 15–25 ms (more on a WAL checkpoint), a spend report over a large ledger hundreds, and
// on the gateway's event loop that would be added to every request in flight. So the database
// lives in a worker thread (sqlite-ledger-worker.ts, running sqlite-ledger-db.ts, which
// describes the schema), and this class only posts calls to it and settles their promises.
// Writes, migrations and queries all go through that one worker, in order: with
// sqlite::memory: it holds the only copy of the ledger, and readers see every write.
//
// What stays on the event loop: posting a batch, in slices of POST_SLICE_EVENTS events, one
// slice a turn of the loop for the whole sink, so no step holds the loop for more than a few
// tenths of a millisecond whatever the batch size and however many writes are waiting. The
// events travel as the JSON texts the writer made once for its write-ahead log (copying a string
// is a memcpy; a structured clone of the object cost 2–4 µs per event on each side, and the
// worker then serialized it again for event_json); without them, as structured clones. And
// parsing readers' answers (JSON texts), PARSE_SLICE_MS at a time. The worker validates the events
// and refuses a batch with the same errors as before: InvalidLedgerEvent (with its eventId),
// TypeError, RangeError, StoreUnavailable (see sqlite-ledger-protocol.ts).
//
// The worker: started with the sink (it opens the database at once), unref'd while no call is
// waiting (an idle sink never keeps the process alive), ended by close(), which lets calls
// already made finish first. If it dies (an uncaught error, out of memory, terminate()), the
// calls waiting on it reject with StoreUnavailable (a write may or may not have been committed;
// writes are idempotent on event_id, so the writer's retry is safe), and the next call starts a
// new worker on the same file. An in-memory ledger died with its worker: every later call
// rejects, saying so, rather than answer from an empty one. Nothing the worker does can throw
// on the event loop.

import { extname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { LedgerEvent } from '../ledger-event.ts';
import type { GuardrailEventQuery, GuardrailEventRow, LedgerReader, LedgerSink, RequestQuery, SpendQuery, SpendRow } from '../ledger-sink.ts';
import { StoreUnavailable, type MigrationReport } from '../../stores/identity-store.ts';
import { decodeError, type WorkerReply, type WorkerRequest, type WorkerSettings } from './sqlite-ledger-protocol.ts';

/** The worker's module beside this one: .ts when running from the sources, .js from dist/. */
const WORKER_URL = new URL(`./sqlite-ledger-worker${extname(new URL(import.meta.url).pathname) || '.js'}`, import.meta.url);

/** Events per message when posting a batch (0.2–0.4 ms of structured clone). */
export const POST_SLICE_EVENTS = 100;
/** Parse readers' answers for at most this long before letting the event loop run. */
const PARSE_SLICE_MS = 0.5;

export interface SqliteLedgerSinkOptions {
  /** A file path, or ":memory:". */
  path: string;
  /** How long a writer waits for another process's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

interface Waiting {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Call = WorkerRequest extends infer R ? (R extends { readonly id: number } ? Omit<R, 'id'> : never) : never;

export class SqliteLedgerSink implements LedgerSink, LedgerReader {
  readonly name = 'sqlite';
  readonly #settings: WorkerSettings;
  #worker: Worker | undefined;
  /** Calls the worker has not answered, by id (all on the current worker: a new one starts only after the old one exited). */
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  /** Batches being posted, one after the other, slice by slice (never rejects): close() lets them finish. */
  #posting: Promise<void> = Promise.resolve();
  #postsQueued = 0;
  #closed: Promise<void> | undefined;
  /** Why no new worker can take over (an in-memory ledger that died with its worker). */
  #lost: string | undefined;

  constructor(options: SqliteLedgerSinkOptions) {
    if (typeof options?.path !== 'string') throw new TypeError('the SQLite ledger path must be a string');
    this.#settings = { path: options.path, busyTimeoutMs: options.busyTimeoutMs };
    try {
      this.#worker = this.#spawn();
    } catch {
      // The first call tries again and reports why.
    }
  }

  /** Tests: the worker thread running this sink's calls, when one is. */
  static workerOf(sink: SqliteLedgerSink): Worker | undefined {
    return sink.#worker;
  }

  /** Applies pending ledger migrations (also done on first use). */
  async migrate(): Promise<MigrationReport> {
    return (await this.#call({ op: 'migrate' })) as MigrationReport;
  }

  /** 0 on a database without the ledger schema. */
  async schemaVersion(): Promise<number> {
    return (await this.#call({ op: 'schemaVersion' })) as number;
  }

  async write(events: readonly LedgerEvent[], lines?: readonly string[]): Promise<void> {
    if (!Array.isArray(events)) throw new TypeError('write() takes an array of ledger events');
    if (lines !== undefined && lines.length !== events.length) throw new TypeError('write(): lines must hold one JSON text per event');
    if (events.length === 0) return;
    const { worker, id, answer } = this.#begin();
    // One batch posted at a time, one slice a turn, however many writes are waiting.
    const waitTurn = this.#postsQueued > 0;
    this.#postsQueued++;
    this.#posting = this.#posting.then(async () => {
      try {
        await this.#postSlices(worker, id, events, lines, waitTurn);
      } catch (error) {
        this.#settle(id)?.reject(error);
      } finally {
        this.#postsQueued--;
      }
    });
    await answer;
  }

  async spend(query: SpendQuery): Promise<SpendRow[]> {
    return parseSliced<SpendRow>((await this.#call({ op: 'spend', query })) as string[]);
  }

  async requests(query: RequestQuery): Promise<LedgerEvent[]> {
    return parseSliced<LedgerEvent>((await this.#call({ op: 'requests', query })) as string[]);
  }

  async request(requestId: string): Promise<LedgerEvent | undefined> {
    const text = (await this.#call({ op: 'request', requestId })) as string | undefined;
    return text === undefined ? undefined : (JSON.parse(text) as LedgerEvent);
  }

  async guardrailEvents(query: GuardrailEventQuery): Promise<GuardrailEventRow[]> {
    return parseSliced<GuardrailEventRow>((await this.#call({ op: 'guardrailEvents', query })) as string[]);
  }

  /** Lets the calls already made finish, then closes the database and ends the worker. Never rejects. */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    await this.#posting;
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ id: 0, op: 'close' } satisfies WorkerRequest);
    await exited;
  }

  #spawn(): Worker {
    const worker = new Worker(WORKER_URL, { workerData: this.#settings, name: 'tollgate-sqlite-ledger', execArgv: workerExecArgv() });
    worker.unref();
    let failure: Error | undefined;
    worker.on('message', (reply: WorkerReply) => {
      if (typeof reply?.id !== 'number') return;
      const waiting = this.#settle(reply.id);
      if (!waiting) return;
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(decodeError(reply.error));
    });
    worker.on('error', (error) => {
      failure = error; // an uncaught error in the worker: 'exit' follows
    });
    worker.on('messageerror', (error) => {
      failure = error; // an answer that could not be read: its caller would wait forever
      void worker.terminate();
    });
    worker.on('exit', (code) => this.#exited(worker, code, failure));
    return worker;
  }

  #exited(worker: Worker, code: number, failure: Error | undefined): void {
    if (this.#worker === worker) this.#worker = undefined;
    const why = this.#closed
      ? 'the sink is closed'
      : failure
        ? `its worker thread failed: ${failure.message}`
        : `its worker thread stopped (exit code ${code})`;
    if (!this.#closed && this.#settings.path === ':memory:') this.#lost = `the in-memory ledger was lost: ${why}`;
    if (this.#waiting.size === 0) return;
    const error = new StoreUnavailable(`SQLite ledger sink failed: ${why}`, failure ? { cause: failure } : undefined);
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const call of waiting) call.reject(error);
  }

  /** The running worker, started if need be; throws when the sink is closed or cannot start one. */
  #live(): Worker {
    if (this.#closed) throw new StoreUnavailable('SQLite ledger sink failed: the sink is closed');
    if (this.#lost) throw new StoreUnavailable(`SQLite ledger sink failed: ${this.#lost}`);
    if (!this.#worker) {
      try {
        this.#worker = this.#spawn();
      } catch (error) {
        throw new StoreUnavailable(`SQLite ledger sink failed: could not start its worker thread: ${(error as Error)?.message}`, { cause: error });
      }
    }
    return this.#worker;
  }

  /** Registers a call: its id, and the promise its answer (or the worker's death) settles. */
  #begin(): { worker: Worker; id: number; answer: Promise<unknown> } {
    const worker = this.#live();
    const id = this.#nextId++;
    const answer = new Promise<unknown>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    worker.ref(); // a call in flight keeps the process alive until it is answered
    return { worker, id, answer };
  }

  /** Forgets a call, and lets the process exit when none is left. */
  #settle(id: number): Waiting | undefined {
    const waiting = this.#waiting.get(id);
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#worker?.unref();
    return waiting;
  }

  async #call(call: Call): Promise<unknown> {
    const { worker, id, answer } = this.#begin();
    try {
      worker.postMessage({ ...call, id });
    } catch (error) {
      // Something in the query that cannot be cloned (a function): not a string, as filters must be.
      const cause = error as Error;
      this.#settle(id)?.reject(cause?.name === 'DataCloneError' ? new TypeError(`invalid ledger query: ${cause.message}`, { cause }) : cause);
    }
    return answer;
  }

  /** Posts a batch a slice at a time, a turn of the event loop apart; the last slice is the write. */
  async #postSlices(worker: Worker, id: number, events: readonly LedgerEvent[], lines: readonly string[] | undefined, waitTurn: boolean): Promise<void> {
    for (let start = 0; start < events.length; start += POST_SLICE_EVENTS) {
      if (start > 0 || waitTurn) await nextTurn();
      if (!this.#waiting.has(id) || this.#worker !== worker) return; // the worker died: the write was rejected
      const end = start + POST_SLICE_EVENTS;
      try {
        const op = end >= events.length ? 'write' : 'part';
        if (lines) worker.postMessage({ id, op, json: lines.slice(start, end) } satisfies WorkerRequest);
        else postSlice(worker, op, id, events.slice(start, end));
      } catch (error) {
        if (start > 0) worker.postMessage({ id, op: 'drop' } satisfies WorkerRequest);
        this.#settle(id)?.reject(error);
        return;
      }
    }
  }
}

/**
 * The worker inherits the process's Node options (undefined), except --input-type: it applies to
 * the main entry (node --input-type=module -e ...), and a worker started with it refuses to load
 * a file; then it gets the rest of the options as given on the command line.
 */
function workerExecArgv(): string[] | undefined {
  const given = process.execArgv;
  if (!given.some((arg) => arg === '--input-type' || arg.startsWith('--input-type='))) return undefined;
  const args: string[] = [];
  for (let i = 0; i < given.length; i++) {
    if (given[i] === '--input-type') i++;
    else if (!given[i].startsWith('--input-type=')) args.push(given[i]);
  }
  return args;
}

/** Posts events as clones, or as JSON texts when one cannot be cloned (JSON leaves functions out, as event_json does). */
function postSlice(worker: Worker, op: 'part' | 'write', id: number, events: readonly LedgerEvent[]): void {
  try {
    worker.postMessage({ id, op, events } satisfies WorkerRequest);
  } catch (error) {
    if ((error as Error)?.name !== 'DataCloneError') throw error;
    const json = events.map((event) => JSON.stringify(event) ?? 'null');
    worker.postMessage({ id, op, json } satisfies WorkerRequest);
  }
}

/** JSON.parse of each text, yielding to the event loop every PARSE_SLICE_MS. */
async function parseSliced<T>(texts: readonly string[]): Promise<T[]> {
  const out = new Array<T>(texts.length);
  let sliceStart = performance.now();
  for (let i = 0; i < texts.length; i++) {
    if (performance.now() - sliceStart > PARSE_SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
    out[i] = JSON.parse(texts[i]) as T;
  }
  return out;
}
