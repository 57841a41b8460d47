import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import type { Deployment, SendOptions, Transport, UpstreamRequest, UpstreamResponse } from '../types.ts';

// Only undici's Pool and its request API are loaded: undici's index also pulls in fetch,
// WebSocket, caches and more, about 14 MB of resident memory the gateway never uses.
// These paths are undici internals, so package.json pins undici to an exact version.
const require = createRequire(import.meta.url);
const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
const request = require('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export interface HttpTransportOptions {
  connectionsPerOrigin: number;
  keepAliveTimeoutMs: number;
}

/**
 * Upstream HTTP through one keep-alive undici Pool per origin (never fetch). Deployments that
 * share an origin but not a connect timeout get a pool each, since the timeout is the pool's.
 */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const pools = new Map<string, UndiciPool>();
  /** A deployment always calls the same origin: its pool is remembered per deployment object. */
  let byDeployment = new WeakMap<Deployment, UndiciPool>();
  function poolFor(req: UpstreamRequest, dep: Deployment): UndiciPool {
    let found = byDeployment.get(dep);
    if (!found) {
      found = pool(req.origin, dep.connectTimeoutMs);
      byDeployment.set(dep, found);
    }
    return found;
  }
  function pool(origin: string, connectTimeoutMs: number): UndiciPool {
    const key = `${connectTimeoutMs} ${origin}`;
    let found = pools.get(key);
    if (!found) {
      found = new Pool(origin, {
        connections: options.connectionsPerOrigin,
        keepAliveTimeout: options.keepAliveTimeoutMs,
        pipelining: 1,
        connect: { timeout: connectTimeoutMs },
      });
      pools.set(key, found);
    }
    return found;
  }
  return {
    async send(req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse> {
      const res = await request.call(poolFor(req, opts.deployment), {
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
      byDeployment = new WeakMap();
      await Promise.all(all.map((p) => p.close().catch(() => p.destroy())));
    },
  };
}
