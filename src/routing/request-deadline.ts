import type { AliasConfig, GatewayConfig } from '../config/gateway-config.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { AttemptTime } from '../pipeline/dispatch.ts';

export const TIMEOUT_HEADER = 'x-gateway-timeout-ms';

/**
 * The request's time budget, from its arrival: the client's x-gateway-timeout-ms (shorter or
 * longer than the alias's, capped at router.max_timeout_ms), else the alias's timeout. A
 * client-set deadline bounds a stream's whole length; the default only bounds it until its
 * first event.
 */
export function requestDeadline(config: GatewayConfig, alias: AliasConfig, receivedAt: number, header: string | undefined): AttemptTime {
  if (header === undefined) return { deadline: receivedAt + alias.routing.timeoutMs, strict: false };
  const text = header.trim();
  const ms = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!(ms > 0)) {
    throw new GatewayError('invalid_request', `${TIMEOUT_HEADER}: must be a positive whole number of milliseconds, got ${JSON.stringify(header.slice(0, 32))}.`, { param: TIMEOUT_HEADER });
  }
  return { deadline: receivedAt + Math.min(ms, config.router.maxTimeoutMs), strict: true };
}
