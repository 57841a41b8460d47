// A fake OpenTelemetry collector on a real HTTP server, for the trace exporter's tests: it
// takes OTLP/HTTP JSON on POST /v1/traces, decodes each body and keeps every span that arrived
// (with its resource and scope), and can be told to answer an error status, to hang (accept the
// request and never answer) or to be down (refuse connections: nothing listens on its port).

import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './free-port.ts';

/** An OTLP JSON attribute value, decoded: strings, numbers (intValue may be a string), booleans, arrays. */
export type DecodedValue = string | number | boolean | DecodedValue[] | undefined;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly status: { code?: number; message?: string };
  readonly flags?: number;
  /** The attributes as a plain object. */
  readonly attributes: Record<string, DecodedValue>;
  readonly resource: Record<string, DecodedValue>;
  readonly scope: { name: string; version?: string };
}

export interface ReceivedExport {
  readonly headers: IncomingHttpHeaders;
  /** The body as sent. */
  readonly body: any;
  readonly spans: ReceivedSpan[];
}

export type CollectorMode =
  | { kind: 'ok' }
  | { kind: 'status'; status: number }
  /** Reads the request and never answers. */
  | { kind: 'hang' };

export interface FakeCollector {
  /** http://127.0.0.1:<port>/v1/traces */
  readonly url: string;
  readonly exports: ReceivedExport[];
  /** Every span received, in order. */
  spans(): ReceivedSpan[];
  /** Requests that arrived (answered or not). */
  readonly received: number;
  mode(mode: CollectorMode): void;
  /** Resolves once `count` spans have arrived. */
  waitForSpans(count: number): Promise<ReceivedSpan[]>;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

export function decodeValue(value: any): DecodedValue {
  if (value === undefined || value === null) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(decodeValue);
  return undefined;
}

function decodeAttributes(list: any[] | undefined): Record<string, DecodedValue> {
  const out: Record<string, DecodedValue> = {};
  for (const kv of list ?? []) out[kv.key] = decodeValue(kv.value);
  return out;
}

/** The spans of an ExportTraceServiceRequest, flattened. */
export function decodeSpans(body: any): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of body?.resourceSpans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        spans.push({ ...span, attributes: decodeAttributes(span.attributes), resource, scope: ss.scope });
      }
    }
  }
  return spans;
}

export async function startFakeCollector(): Promise<FakeCollector> {
  const exports: ReceivedExport[] = [];
  let current: CollectorMode = { kind: 'ok' };
  let received = 0;
  const hanging = new Set<ServerResponse>();
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const spans = () => exports.flatMap((e) => e.spans);

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received += 1;
      const mode = current;
      if (mode.kind === 'hang') {
        hanging.add(res);
        wake();
        return;
      }
      if (mode.kind === 'status') {
        res.writeHead(mode.status, { 'content-type': 'application/json' });
        res.end('{"code":3,"message":"refused by the fake collector"}');
        wake();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      exports.push({ headers: req.headers, body, spans: decodeSpans(body) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (done() ? resolve() : waiters.push(check));
      check();
    });
  }

  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    exports,
    spans,
    get received() {
      return received;
    },
    mode(mode) {
      current = mode;
    },
    async waitForSpans(count) {
      await until(() => spans().length >= count);
      return spans();
    },
    waitForRequests(count) {
      return until(() => received >= count);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A traces URL on a loopback port nothing listens on (connections are refused). */
export async function refusingCollectorUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/v1/traces`;
}
