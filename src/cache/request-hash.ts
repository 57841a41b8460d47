// The exact cache's key for a request: SHA-256 (hex) of a canonical JSON of everything that
// can change the answer. Canonical: object keys sorted (recursively, by UTF-16 code unit), no
// whitespace, `undefined` members dropped (as JSON.stringify drops them), numbers as JSON
// writes them (1 and 1.0 are both "1"). Strings are taken byte for byte (no Unicode
// normalisation) and `null` is kept distinct from an absent field: a provider may treat them
// differently, and the cost of being careful is a miss, never a wrong answer.
//
// Allow by default: every top-level field of the body counts except those in IGNORED, which
// never change the output. A parameter a provider adds tomorrow therefore splits the cache
// instead of being served the answer to another request. Only top-level fields are ignored: a
// `metadata` or `user` inside a tool's JSON schema counts like everything else there.
//
// The alias stands in for `model` (the client's name for what it wants; the alias's routing is
// the namespace's concern), and the endpoint keeps a chat completion and an Anthropic message
// with equal bodies apart, since their cached responses differ in shape.

import { createHash } from 'node:crypto';

/** Top-level request fields that do not change the output. */
export const IGNORED_FIELDS: ReadonlySet<string> = new Set([
  // The alias is hashed instead.
  'model',
  // How the answer is delivered, not what it is: the cache stores the full answer.
  'stream',
  'stream_options',
  // End-user attribution and abuse monitoring (OpenAI's user / safety_identifier, Anthropic's metadata.user_id).
  'user',
  'safety_identifier',
  'metadata',
  // The provider's prompt-cache routing hint.
  'prompt_cache_key',
  // LiteLLM's per-request cache controls (no-cache, ttl, namespace).
  'cache',
  // Attribution some clients put in the body; the gateway takes it from headers.
  'tenant',
  'tenant_id',
  'feature',
  'feature_id',
]);

/** Bumped whenever what the hash covers changes, so old entries are never read under a new meaning. */
const SCHEME = 1;

export type CacheEndpoint = 'chat' | 'messages';

/** The exact cache key of a request to `alias` on `endpoint`. Pure: the body is not changed. */
export function exactCacheKey(alias: string, body: Record<string, unknown>, endpoint: CacheEndpoint): string {
  // No prototype: a "__proto__" member (JSON.parse makes it an own field) stays a field.
  const request: Record<string, unknown> = Object.create(null);
  for (const [field, value] of Object.entries(body)) if (!IGNORED_FIELDS.has(field)) request[field] = value;
  // The request is a member of its own, so no body field can pose as the alias or endpoint.
  const canonical = canonicalJson({ scheme: SCHEME, alias, endpoint, request });
  return createHash('sha256').update(canonical).digest('hex');
}

/** JSON with object keys sorted at every depth. Throws on a cycle or a BigInt, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Set());
  return out.join('');
}

function write(value: unknown, out: string[], path: Set<object>): void {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') throw new TypeError('canonicalJson: a BigInt is not JSON');
    // JSON.stringify's own rules: strings escaped, non-finite numbers null, -0 as 0.
    out.push(JSON.stringify(value) ?? 'null');
    return;
  }
  if (path.has(value)) throw new TypeError('canonicalJson: the value has a cycle');
  path.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      // As JSON.stringify: an undefined (or function) element is null, keeping positions.
      write(item === undefined || typeof item === 'function' || typeof item === 'symbol' ? null : item, out, path);
    });
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(key), ':');
      write(member, out, path);
    }
    out.push('}');
  }
  path.delete(value);
}
