// What both fake upstreams share: reading a request's JSON body, keeping every request in
// order, finding them again, waiting for one, and serving on a loopback port.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
  finished: boolean;
}

/** Reads a request's body; `body` is its parsed JSON, or undefined when it is not JSON. */
export function readRequestBody(req: IncomingMessage, done: (rawBody: string, body: any) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: any;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    done(rawBody, body);
  });
}

export class RequestLog<R extends LoggedRequest> {
  readonly requests: R[] = [];
  private readonly waiters: Array<{ model: string; resolve: (r: R) => void }> = [];
  private readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  add(record: R): void {
    this.requests.push(record);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.model === record.body?.model) {
        this.waiters[i]!.resolve(record);
        this.waiters.splice(i, 1);
      }
    }
  }

  /** The last request whose body named `model` (or the last request at all). */
  last(model?: string): R {
    const found = model === undefined ? this.requests.at(-1) : this.requests.findLast((r) => r.body?.model === model);
    if (!found) throw new Error(`the ${this.name} received no request${model === undefined ? '' : ` for model ${model}`}`);
    return found;
  }

  /** The request the gateway tagged with this X-Request-Id. */
  byRequestId(id: string): R {
    const found = this.requests.findLast((r) => r.headers['x-request-id'] === id);
    if (!found) throw new Error(`the ${this.name} received no request with x-request-id ${id}`);
    return found;
  }

  /** Resolves when a request for `model` is in progress or arrives (e.g. before aborting it). */
  waitForRequest(model: string, timeoutMs = 2_000, inProgress: (r: R) => boolean = (r) => !r.finished): Promise<R> {
    const existing = this.requests.find((r) => r.body?.model === model && inProgress(r));
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no request for model ${model} reached the ${this.name} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ model, resolve: (r) => { clearTimeout(timer); resolve(r); } });
    });
  }
}

export interface LoopbackServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1 at a free port; close() also drops open connections. */
export async function listenOnLoopback(handler: RequestListener): Promise<LoopbackServer & { server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
