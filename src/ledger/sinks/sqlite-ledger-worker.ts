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
/** A batch: its events and, for those that came as JSON texts, the texts (event_json as sent). */
interface Batch {
  readonly events: LedgerEvent[];
  readonly lines: (string | undefined)[];
}

/** The parts of batches still coming in, by request id (or what went wrong reading one). */
const parts = new Map<number, Batch | Error>();

function open(): SqliteLedgerDb {
  db ??= new SqliteLedgerDb(settings);
  return db;
}

try {
  open();
} catch {
  // The first call tries again and reports the error.
}

/** Adds a slice to a batch: JSON texts are parsed for the columns and kept as event_json. */
function addSlice(batch: Batch, slice: BatchSlice): Batch {
  if (slice.json) {
    for (const text of slice.json) {
      batch.events.push(JSON.parse(text) as LedgerEvent);
      batch.lines.push(text);
    }
  } else {
    for (const event of slice.events ?? []) {
      batch.events.push(event);
      batch.lines.push(undefined);
    }
  }
  return batch;
}

function handle(request: WorkerRequest): unknown {
  switch (request.op) {
    case 'write': {
      const earlier = parts.get(request.id);
      parts.delete(request.id);
      if (earlier instanceof Error) throw earlier;
      const batch = addSlice(earlier ?? { events: [], lines: [] }, request);
      open().write(batch.events, batch.lines);
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
    case 'guardrailEvents':
      return open().guardrailEventsJson(request.query);
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
    const batch = parts.get(request.id) ?? { events: [], lines: [] };
    if (batch instanceof Error) return;
    try {
      parts.set(request.id, addSlice(batch, request));
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
