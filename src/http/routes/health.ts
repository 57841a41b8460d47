import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../../pipeline/request-context.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { baseHeaders, sendJson } from '../respond.ts';

/** GET /health/live: the process is up. */
export async function liveness(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, '{"status":"ok"}', baseHeaders(ctx));
}

/**
 * GET /health/ready: 503 while draining for shutdown, so load balancers stop sending. A
 * degraded dependency (the shared limits store failing open) keeps it 200 (the replica still
 * serves) with status "degraded" and the reason under `degraded`.
 */
export function readiness(isDraining: () => boolean, degradations: () => Record<string, string>) {
  return async function ready(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (isDraining()) {
      sendJson(res, 503, '{"status":"draining"}', baseHeaders(ctx));
      return;
    }
    const degraded = degradations();
    const body = Object.keys(degraded).length === 0 ? '{"status":"ready"}' : JSON.stringify({ status: 'degraded', degraded });
    sendJson(res, 200, body, baseHeaders(ctx));
  };
}

/** GET /metrics: Prometheus text format. */
export function metricsRoute(metrics: Metrics) {
  return async function metricsText(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = metrics.render();
    res.writeHead(200, { ...baseHeaders(ctx), 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };
}
