import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../../pipeline/request-context.ts';
import type { ReadinessReport } from '../../health/readiness-checks.ts';
import { baseHeaders, sendJson } from '../respond.ts';

/** GET /health/live: the process is up. */
export async function liveness(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, '{"status":"ok"}', baseHeaders(ctx));
}

/**
 * GET /health/ready: 503 while draining for shutdown, so load balancers stop sending. Otherwise
 * 200 with each dependency's state (src/health/readiness-checks.ts): "ready", or "degraded"
 * when one is down or failing over (the replica still serves; the checks say how).
 */
export function readiness(isDraining: () => boolean, report: () => Promise<ReadinessReport>) {
  return async function ready(ctx: RequestContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (isDraining()) {
      sendJson(res, 503, '{"status":"draining"}', baseHeaders(ctx));
      return;
    }
    const current = await report();
    // Asked again while the checks ran: shutdown started meanwhile.
    if (isDraining()) {
      sendJson(res, 503, '{"status":"draining"}', baseHeaders(ctx));
      return;
    }
    sendJson(res, 200, JSON.stringify(current), baseHeaders(ctx));
  };
}
