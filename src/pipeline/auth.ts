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

const MAX_REMEMBERED = 10_000;

/**
 * Auth stage. A key seen for the first time is compared as a SHA-256 digest with
 * timingSafeEqual, so the time taken does not depend on how much of it matched. Keys that
 * passed are remembered in a hash map, so later requests skip the digest: a Map lookup hashes
 * the whole string (with V8's per-process seed) and compares only on a full hash match, which
 * reveals nothing about partial matches either. Failures are never remembered.
 */
export function createAuthenticator(masterKey: string | undefined) {
  const masterDigest = masterKey === undefined ? undefined : digest(masterKey);
  const verified = new Map<string, RequestContext['principal']>();
  return function authenticate(ctx: RequestContext, headers: IncomingHttpHeaders): void {
    if (!masterDigest) return; // no key configured: loopback-only open mode (see main.ts)
    const key = presentedKey(headers);
    if (key === undefined) {
      const hasHeader = headers.authorization !== undefined;
      throw new GatewayError('missing_api_key', hasHeader
        ? 'The Authorization header must be "Bearer <key>".'
        : 'Missing API key. Send "Authorization: Bearer <key>" (or "x-api-key: <key>").');
    }
    const known = verified.get(key);
    if (known) {
      ctx.principal = known;
      return;
    }
    if (!timingSafeEqual(digest(key), masterDigest)) throw new GatewayError('invalid_api_key', 'Invalid API key.');
    ctx.principal = Object.freeze({ kind: 'master' as const });
    if (verified.size < MAX_REMEMBERED) verified.set(key, ctx.principal);
  };
}
