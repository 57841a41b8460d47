import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import type { RequestContext } from './request-context.ts';

function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/** The key a client sent: `Authorization: Bearer …`, or `x-api-key` from Anthropic clients. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    return match ? match[1]!.trim() : undefined;
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.trim() ? apiKey.trim() : undefined;
}

/**
 * Auth stage. Keys are compared as SHA-256 digests with timingSafeEqual, so neither the
 * comparison time nor the digest length depends on how much of the key matched.
 */
export function createAuthenticator(masterKey: string | undefined) {
  const masterDigest = masterKey === undefined ? undefined : digest(masterKey);
  return function authenticate(ctx: RequestContext, headers: IncomingHttpHeaders): void {
    if (!masterDigest) return; // no key configured: loopback-only open mode (see main.ts)
    const key = presentedKey(headers);
    if (key === undefined) {
      const hasHeader = headers.authorization !== undefined;
      throw new GatewayError('missing_api_key', hasHeader
        ? 'The Authorization header must be "Bearer <key>".'
        : 'Missing API key. Send "Authorization: Bearer <key>" (or "x-api-key: <key>").');
    }
    if (!timingSafeEqual(digest(key), masterDigest)) throw new GatewayError('invalid_api_key', 'Invalid API key.');
    ctx.principal = { kind: 'master' };
  };
}
