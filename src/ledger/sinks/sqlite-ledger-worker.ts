// The SQLite ledger sink's worker thread: it owns the database (one connection; for :memory:,
// the whole ledger) and runs every call of the sink, writes, migrations and queries, one at a
// time in the order they arrive, so the gateway's event loop never waits on SQLite. Messages:
// sqlite-ledger-protocol.ts. Started by sqlite-ledger-sink.ts, with WorkerSettings as workerData.
//
// The database opens at start; if it cannot (a missing directory, a locked file), each call
// reports why and tries again. close closes it and ends the thread.

import { parentPort, workerData } from 'node:worker_threads';
import type { LedgerEvent } from '../ledger-event.ts';
import { SqliteLedgerDb } from './sqlite-ledger-db.ts';
import { encodeError, type BatchSlice, type WorkerReply, type WorkerRequest, type WorkerSettings } from './sqlite-ledger-protocol.ts';

const port = parentPort;
if (!port) throw new Error('sqlite-ledger-worker.ts runs as a worker thread of the SQLite ledger sink');
const settings = workerData as WorkerSettings;

let db: SqliteLedgerDb | undefined;
/** The parts of batches still coming in, by request id (or what went wrong reading one). */
const parts = new Map<number, LedgerEvent[] | Error>();

function open(): SqliteLedgerDb {
  db ??= new SqliteLedgerDb(settings);
  return db;
}

try {
  open();
} catch {
  // The first call tries again and reports the error.
}

function sliceEvents(slice: BatchSlice): readonly LedgerEvent[] {
  return slice.json ? slice.json.map((text) => JSON.parse(text) as LedgerEvent) : (slice.events ?? []);
}

function handle(request: WorkerRequest): unknown {
  switch (request.op) {
    case 'write': {
      const earlier = parts.get(request.id);
      parts.delete(request.id);
      if (earlier instanceof Error) throw earlier;
      const events = earlier ? earlier.concat(sliceEvents(request)) : sliceEvents(request);
      open().write(events);
      return undefined;
    }
    case 'migrate':
      return open().migrate();
    case 'schemaVersion':
      return open().schemaVersion();
    case 'spend':
      return open().spend(request.query).map((row) => JSON.stringify(row));
    case 'requests':
      return open().requestsJson(request.query);
    case 'request':
      return open().requestJson(request.requestId);
    default:
      throw new TypeError(`unknown request ${JSON.stringify((request as { op?: unknown }).op)}`);
  }
}

port.on('message', (request: WorkerRequest) => {
  if (request.op === 'close') {
    try {
      db?.close();
    } finally {
      process.exit(0); // ends this thread only; the sink waits for its exit
    }
  }
  if (request.op === 'drop') {
    parts.delete(request.id);
    return;
  }
  if (request.op === 'part') {
    const list = parts.get(request.id) ?? [];
    if (list instanceof Error) return;
    try {
      for (const event of sliceEvents(request)) list.push(event);
      parts.set(request.id, list);
    } catch (error) {
      parts.set(request.id, error instanceof Error ? error : new Error(String(error))); // the write that ends the batch reports it
    }
    return;
  }
  let reply: WorkerReply;
  try {
    reply = { id: request.id, ok: true, value: handle(request) };
  } catch (error) {
    reply = { id: request.id, ok: false, error: encodeError(error) };
  }
  port.postMessage(reply);
});
