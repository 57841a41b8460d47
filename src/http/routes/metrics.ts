import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { baseHeaders } from '../respond.ts';

export interface MetricsRouteOptions {
  /**
   * When set, a scrape must send `Authorization: Bearer <token>`. Metrics name aliases,
   * deployments, error rates and spend: on a port clients reach, they are for operators only.
   */
  readonly token?: string;
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="tollgate-metrics"' };

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Checks an Authorization header against the metrics token, in constant time: both sides are
 * hashed first, so neither the comparison nor its length says how much of a guess was right.
 * Throws missing_api_key or invalid_api_key (401, with a Bearer challenge).
 */
export function metricsTokenCheck(token: string): (authorization: string | undefined) => void {
  if (token.length === 0) throw new RangeError('the metrics token must not be empty');
  const expected = digest(token);
  return (authorization) => {
    const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match) throw new GatewayError('missing_api_key', 'GET /metrics needs `Authorization: Bearer <metrics.token>`.', { headers: CHALLENGE });
    if (!timingSafeEqual(digest(match[1]), expected)) throw new GatewayError('invalid_api_key', 'The metrics token is not valid.', { headers: CHALLENGE });
  };
}

/** GET /metrics: the Prometheus text format, optionally behind a bearer token. */
export function metricsRoute(metrics: Metrics, options: MetricsRouteOptions = {}) {
  const check = options.token === undefined ? undefined : metricsTokenCheck(options.token);
  return async function metricsText(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    check?.(req.headers.authorization);
    const body = await metrics.render();
    res.writeHead(200, {
      ...baseHeaders(ctx),
      'content-type': metrics.contentType,
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
    });
    res.end(body);
  };
}
