// An in-process stand-in for Langfuse's ingestion endpoint (POST /api/public/ingestion): it
// checks Basic auth and the body's shape the way Langfuse does (an envelope per event: id,
// ISO timestamp, known type, body with an id), records every request, and answers as the test
// says: 207 with per-event results by default, any status, or never (a hang).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const PUBLIC_KEY = 'pk-lf-tollgate-test';
export const SECRET_KEY = 'sk-lf-0d9f8e7c-secret-never-logged';

export interface Envelope {
  readonly id: string;
  readonly timestamp: string;
  readonly type: string;
  readonly body: Record<string, any>;
}

export interface Received {
  readonly n: number;
  readonly authorized: boolean;
  readonly bytes: number;
  readonly batch: readonly Envelope[];
  /** Shape problems found (empty when the body is what Langfuse expects). */
  readonly problems: readonly string[];
}

export type Reply =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | 'hang';

/** Decides the answer to request n (from 1); by default 207 with every event a success. */
export type Responder = (req: Received) => Reply;

export interface FakeLangfuse {
  readonly url: string;
  readonly requests: Received[];
  respond: Responder;
  /** All envelopes received, in order. */
  envelopes(): Envelope[];
  close(): Promise<void>;
}

export const allAccepted: Responder = (req) => ({ status: 207, body: { successes: req.batch.map((e) => ({ id: e.id, status: 201 })), errors: [] } });

const TYPES = new Set(['trace-create', 'generation-create', 'span-create', 'event-create', 'score-create']);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export async function startFakeLangfuse(respond: Responder = allAccepted): Promise<FakeLangfuse> {
  const requests: Received[] = [];
  const expectedAuth = `Basic ${Buffer.from(`${PUBLIC_KEY}:${SECRET_KEY}`).toString('base64')}`;
  const fake: FakeLangfuse = {
    url: '',
    requests,
    respond,
    envelopes: () => requests.flatMap((r) => r.batch),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const problems: string[] = [];
      if (req.method !== 'POST') problems.push(`method ${req.method}`);
      if (req.url !== '/api/public/ingestion') problems.push(`path ${req.url}`);
      if (!String(req.headers['content-type']).startsWith('application/json')) problems.push('content-type');
      let batch: Envelope[] = [];
      try {
        const parsed = JSON.parse(raw.toString('utf8'));
        if (!Array.isArray(parsed.batch)) problems.push('no batch array');
        else batch = parsed.batch;
        for (const key of Object.keys(parsed)) if (key !== 'batch' && key !== 'metadata') problems.push(`unknown top-level key ${key}`);
      } catch {
        problems.push('body is not JSON');
      }
      for (const e of batch) {
        if (typeof e.id !== 'string' || e.id.length < 1 || e.id.length > 800) problems.push(`envelope id ${e.id}`);
        if (typeof e.timestamp !== 'string' || !ISO.test(e.timestamp)) problems.push(`timestamp ${e.timestamp}`);
        if (!TYPES.has(e.type)) problems.push(`type ${e.type}`);
        if (!e.body || typeof e.body !== 'object' || typeof e.body.id !== 'string') problems.push(`body of ${e.id}`);
      }
      const received: Received = { n: requests.length + 1, authorized: req.headers.authorization === expectedAuth, bytes: raw.length, batch, problems };
      requests.push(received);
      if (!received.authorized) return send(res, { status: 401, body: { error: 'UnauthorizedError', message: 'Invalid credentials. Confirm that you have used the correct host.' } });
      if (problems.length > 0) return send(res, { status: 400, body: { message: 'Invalid request data', errors: problems } });
      const reply = fake.respond(received);
      if (reply === 'hang') return;
      send(res, reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (fake as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function send(res: ServerResponse, reply: Exclude<Reply, 'hang'>): void {
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  res.end(text);
}

/** Waits until `condition` holds (polling); fails the test after `ms` with `what`. */
export async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
