import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../../pipeline/request-context.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { baseHeaders } from '../respond.ts';

/** GET /metrics: Prometheus text format. */
export function metricsRoute(metrics: Metrics) {
  return async function metricsText(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = metrics.render();
    res.writeHead(200, { ...baseHeaders(ctx), 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };
}
