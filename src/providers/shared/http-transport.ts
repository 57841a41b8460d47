import { Pool } from 'undici';
import type { SendOptions, Transport, UpstreamRequest, UpstreamResponse } from '../types.ts';

export interface HttpTransportOptions {
  connectionsPerOrigin: number;
  keepAliveTimeoutMs: number;
}

/** Upstream HTTP through one keep-alive undici Pool per origin (never fetch). */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const pools = new Map<string, Pool>();
  function pool(origin: string): Pool {
    let found = pools.get(origin);
    if (!found) {
      found = new Pool(origin, {
        connections: options.connectionsPerOrigin,
        keepAliveTimeout: options.keepAliveTimeoutMs,
        pipelining: 1,
      });
      pools.set(origin, found);
    }
    return found;
  }
  return {
    async send(req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse> {
      const res = await pool(req.origin).request({
        path: req.path,
        method: req.method,
        headers: req.headers,
        body: req.body ?? null,
        signal: opts.signal,
        headersTimeout: opts.headersTimeoutMs,
        bodyTimeout: opts.bodyTimeoutMs,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((p) => p.close().catch(() => p.destroy())));
    },
  };
}
