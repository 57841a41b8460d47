// The admin-port mode of GET /metrics (`metrics.port`): a listener of its own that serves only
// /metrics, so it can be bound to an interface clients cannot reach (or be firewalled apart)
// while the API port stays public. It answers with the same route as the main port, token
// check included when one is set. Other paths are 404; nothing else of the gateway is here.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors/gateway-error.ts';
import { toGatewayError } from '../errors/to-response.ts';
import { sendError } from '../http/respond.ts';
import { metricsRoute } from '../http/routes/metrics.ts';
import type { Logger } from '../logging/logger.ts';
import { ClientWatchSlot, createRequestContext } from '../pipeline/request-context.ts';
import type { Metrics } from './metrics.ts';

export interface MetricsListenerOptions {
  readonly metrics: Metrics;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Default 127.0.0.1: exposing metrics beyond the host is a decision to make explicitly. */
  readonly host?: string;
  /** Bearer token scrapes must send (metrics.token). */
  readonly token?: string;
  readonly logger?: Logger;
}

export interface MetricsListener {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const host = options.host ?? '127.0.0.1';
  const route = metricsRoute(options.metrics, options.token === undefined ? {} : { token: options.token });
  const server: Server = createServer((req, res) => {
    const ctx = createRequestContext(req.headers, performance.now(), new ClientWatchSlot());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const handled = path !== '/metrics'
      ? Promise.reject(new GatewayError('route_not_found', `No endpoint ${req.method} ${path} on the metrics port: it serves GET /metrics only.`))
      : req.method !== 'GET'
        ? (res.setHeader('allow', 'GET'), Promise.reject(new GatewayError('method_not_allowed', `${req.method} is not allowed on /metrics; use GET.`)))
        : route(ctx, req, res);
    handled.catch((err: unknown) => {
      const failure = toGatewayError(err, ctx.requestId);
      if (failure.code === 'internal_error') options.logger?.error('metrics could not be rendered', { request_id: ctx.requestId, error: String((err as Error)?.stack ?? err) });
      sendError(res, ctx, failure, 'openai');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${shown}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
