import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../../pipeline/request-context.ts';
import { baseHeaders, sendJson } from '../respond.ts';

/** GET /health/live: the process is up. */
export async function liveness(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, '{"status":"ok"}', baseHeaders(ctx));
}

/** GET /health/ready: 503 while draining for shutdown, so load balancers stop sending. */
export function readiness(isDraining: () => boolean) {
  return async function ready(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    const draining = isDraining();
    sendJson(res, draining ? 503 : 200, JSON.stringify({ status: draining ? 'draining' : 'ready' }), baseHeaders(ctx));
  };
}
