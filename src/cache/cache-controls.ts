// A request's own say over the response cache, from its headers and LiteLLM's body field:
//
//   Cache-Control: no-cache     skip the lookup, store the answer
//   Cache-Control: no-store     do not store the answer (a lookup may still hit)
//   Cache-Control: max-age=N    only a cached answer at most N seconds old may serve
//   X-Cache-Namespace-Version   the content version (kb_revision) the answer belongs to
//   X-Gateway-Cache: use        opt in where the cache is default_off
//
//   "cache": { "no-cache": true, "no-store": true, "ttl": 600, "namespace": "faq",
//              "s-maxage": 60, "use-cache": true }        (LiteLLM's names)
//
// `ttl` is how long a stored answer lives; `namespace` narrows the request's namespace further.
// Unknown Cache-Control directives are ignored (as HTTP says); a malformed body field is a 400.

import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import { header } from '../pipeline/request-context.ts';

export const NAMESPACE_VERSION_HEADER = 'x-cache-namespace-version';
export const CACHE_OPT_IN_HEADER = 'x-gateway-cache';
/** Versions and namespaces go into cache keys: short printable tokens only. */
const TOKEN = /^[\x21-\x7e]{1,64}$/;

export interface CacheControls {
  readonly noCache: boolean;
  readonly noStore: boolean;
  /** A hit must be at most this old (ms). */
  readonly maxAgeMs?: number;
  /** How long a stored answer lives (ms), instead of the alias's TTL. */
  readonly ttlMs?: number;
  readonly version?: string;
  readonly namespace?: string;
  /** The request asked for the cache (needed where the mode is default_off). */
  readonly optIn: boolean;
}

function invalid(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

function seconds(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 30 * 86_400) {
    throw invalid(param, `${param} must be a number of seconds from 0 to 2592000 (30 days).`);
  }
  return Math.round(value * 1000);
}

function flag(value: unknown, param: string): boolean {
  if (typeof value !== 'boolean') throw invalid(param, `${param} must be true or false.`);
  return value;
}

function token(value: unknown, param: string): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) throw invalid(param, `${param} must be 1-64 printable characters without spaces.`);
  return value;
}

/** Cache-Control request directives: no-cache, no-store, max-age=N (others ignored). */
function cacheControlHeader(value: string | undefined): { noCache: boolean; noStore: boolean; maxAgeMs?: number } {
  const out: { noCache: boolean; noStore: boolean; maxAgeMs?: number } = { noCache: false, noStore: false };
  if (!value) return out;
  for (const part of value.split(',')) {
    const [rawName, rawArg] = part.split('=', 2);
    const name = rawName!.trim().toLowerCase();
    if (name === 'no-cache') out.noCache = true;
    else if (name === 'no-store') out.noStore = true;
    else if (name === 'max-age' && rawArg !== undefined) {
      const n = Number(rawArg.trim().replace(/^"|"$/g, ''));
      if (Number.isInteger(n) && n >= 0) out.maxAgeMs = n * 1000;
    }
  }
  return out;
}

const BODY_FIELDS = new Set(['no-cache', 'no-store', 'ttl', 'namespace', 's-maxage', 'use-cache']);

/** The request's cache controls; throws invalid_request for a malformed `cache` field or version header. */
export function cacheControls(headers: IncomingHttpHeaders, body: Record<string, unknown>): CacheControls {
  const fromHeader = cacheControlHeader(header(headers, 'cache-control'));
  let noCache = fromHeader.noCache;
  let noStore = fromHeader.noStore;
  let maxAgeMs = fromHeader.maxAgeMs;
  let ttlMs: number | undefined;
  let namespace: string | undefined;
  let optIn = header(headers, CACHE_OPT_IN_HEADER)?.trim().toLowerCase() === 'use';
  const field = body.cache;
  if (field !== undefined && field !== null) {
    if (typeof field !== 'object' || Array.isArray(field)) throw invalid('cache', 'cache must be an object like {"no-cache": true, "ttl": 600}.');
    for (const [name, value] of Object.entries(field as Record<string, unknown>)) {
      const param = `cache.${name}`;
      if (!BODY_FIELDS.has(name)) throw invalid(param, `${param} is not a cache control; use no-cache, no-store, ttl, s-maxage, namespace or use-cache.`);
      if (name === 'no-cache') noCache ||= flag(value, param);
      else if (name === 'no-store') noStore ||= flag(value, param);
      else if (name === 'ttl') ttlMs = seconds(value, param);
      else if (name === 's-maxage') maxAgeMs = Math.min(maxAgeMs ?? Infinity, seconds(value, param));
      else if (name === 'namespace') namespace = token(value, param);
      else optIn ||= flag(value, param);
    }
  }
  const versionHeader = header(headers, NAMESPACE_VERSION_HEADER);
  const version = versionHeader === undefined ? undefined : token(versionHeader.trim(), NAMESPACE_VERSION_HEADER);
  return {
    noCache, noStore, optIn,
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
    ...(ttlMs !== undefined ? { ttlMs } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
  };
}
