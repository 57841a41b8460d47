import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../../pipeline/request-context.ts';
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

