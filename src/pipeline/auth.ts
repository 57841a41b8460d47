import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import type { KeyDirectory, ResolvedKey, TenantPolicy } from '../identity/key-directory.ts';
import type { Principal, RequestContext } from './request-context.ts';
import { startStage } from './timeline-marks.ts';

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

export interface AuthOptions {
  masterKey: string | undefined;
  directory: KeyDirectory;
  /** reject: an X-Tenant-Id that names no configured tenant gets 403. */
  unknownTenants: 'allow' | 'reject';
  now?: () => number;
}

const MAX_REMEMBERED = 10_000;
const MASTER: Principal = Object.freeze({ kind: 'master' });
/**
 * What a virtual key can look like: generated ones are 49 characters, declared ones 32-256
 * printable characters. Anything else is refused without a lookup, so junk never reaches the
 * store or the caches (which stay small: at most 256 bytes a remembered secret).
 */
const KEY_CANDIDATE = /^[\x21-\x7e]{32,256}$/;

/** 'model': the /v1 API, where tenants apply. 'admin': the admin API, where they do not. */
export type AuthScope = 'model' | 'admin';
export type Authenticate = (ctx: RequestContext, headers: IncomingHttpHeaders, scope?: AuthScope) => void | Promise<void>;

/**
 * Auth stage. The master key is compared as a SHA-256 digest with timingSafeEqual; once it has
 * passed it is remembered in a hash map so later requests skip the digest (a Map lookup hashes
 * the whole string and compares only on a full hash match, which reveals nothing about partial
 * matches). Every other key is a virtual key, resolved through the key directory: synchronously
 * from memory once cached, so the hot path does no I/O. Unknown, revoked, blocked and expired
 * keys fail with 401s whose codes differ only for callers who hold a real secret.
 *
 * Without a master key (loopback-only open mode) callers without a key, or with a key the
 * gateway does not know, are anonymous; a known virtual key still applies its policy.
 */
export function createAuthenticator(options: AuthOptions): Authenticate {
  const { masterKey, directory } = options;
  const now = options.now ?? Date.now;
  const masterDigest = masterKey === undefined ? undefined : digest(masterKey);
  const masters = new Set<string>();
  // Virtual keys already resolved skip the master-key comparison (a SHA-256 of the presented key,
  // the largest cost of authenticating a cached key): whether an exact key was seen before says
  // nothing about the master key. Only keys the directory knows are remembered, so garbage keys
  // cannot fill the set.
  const virtualKeys = new Set<string>();
  const open = masterDigest === undefined;
  const rememberVirtual = (key: string) => {
    if (virtualKeys.size < MAX_REMEMBERED && !virtualKeys.has(key)) virtualKeys.add(key);
  };

  function admitTenant(ctx: RequestContext, policy: TenantPolicy | null): void {
    if (policy) ctx.tenant = policy;
    else if (options.unknownTenants === 'reject') throw new GatewayError('tenant_not_allowed', `The tenant "${ctx.tenantId}" is not configured on this gateway.`, { param: 'X-Tenant-Id' });
  }

  function resolveTenant(ctx: RequestContext): void | Promise<void> {
    if (ctx.tenantId === undefined) return;
    const policy = directory.lookupTenant(ctx.tenantId);
    if (policy instanceof Promise) return policy.then((p) => admitTenant(ctx, p));
    admitTenant(ctx, policy);
  }

  function unknownKey(ctx: RequestContext, scope: AuthScope): void | Promise<void> {
    if (!open) throw new GatewayError('invalid_api_key', 'Invalid API key.');
    return scope === 'model' ? resolveTenant(ctx) : undefined;
  }

  function admitKey(ctx: RequestContext, resolved: ResolvedKey | null, scope: AuthScope): void | Promise<void> {
    if (!resolved) return unknownKey(ctx, scope);
    const { key } = resolved;
    /** A refusal of a key we know: the ledger still records whose call it was. */
    const refuse = (err: GatewayError) => {
      ctx.refusedKey = { keyId: key.key_id, teamId: key.team_id, ...(key.key_alias ? { alias: key.key_alias } : {}) };
      return err;
    };
    // Its team was deleted or removed from the config: the team's policy cannot be applied, so the key is refused.
    if (!resolved.team) throw refuse(new GatewayError('invalid_api_key', `This key's team "${key.team_id}" no longer exists. Ask an admin for a key of an existing team.`));
    if (key.status === 'revoked') throw refuse(new GatewayError('key_revoked', 'This key was revoked.'));
    if (key.status === 'blocked') throw refuse(new GatewayError('key_blocked', 'This key is blocked. Ask an admin to unblock it.'));
    const at = now();
    if (resolved.expiresAtMs <= at) throw refuse(new GatewayError('key_expired', `This key expired at ${key.expires_at}.`));
    if (resolved.secretExpiresAtMs <= at) throw refuse(new GatewayError('key_expired', 'This secret was replaced by a rotation and its grace period has ended. Use the new secret.'));
    ctx.principal = { kind: 'virtual', resolved };
    if (scope === 'admin') return;
    const allowed = resolved.allowedTenants;
    if (ctx.tenantId === undefined) {
      if (key.tenant_id) ctx.tenantId = key.tenant_id;
      else if (resolved.requireTenant) throw new GatewayError('tenant_required', 'This key must name a tenant: send the X-Tenant-Id header.', { param: 'X-Tenant-Id' });
    } else if (allowed && !allowed.has(ctx.tenantId)) {
      throw new GatewayError('tenant_not_allowed', `This key may not act for tenant "${ctx.tenantId}".`, { param: 'X-Tenant-Id' });
    }
    return resolveTenant(ctx);
  }

  function check(ctx: RequestContext, headers: IncomingHttpHeaders, scope: AuthScope): void | Promise<void> {
    const key = presentedKey(headers);
    if (key === undefined) {
      if (open) return scope === 'model' ? resolveTenant(ctx) : undefined;
      throw new GatewayError('missing_api_key', headers.authorization !== undefined
        ? 'The Authorization header must be "Bearer <key>".'
        : 'Missing API key. Send "Authorization: Bearer <key>" (or "x-api-key: <key>").');
    }
    if (!virtualKeys.has(key) && (masters.has(key) || (masterDigest && timingSafeEqual(digest(key), masterDigest)))) {
      if (masters.size < MAX_REMEMBERED) masters.add(key);
      ctx.principal = MASTER;
      return scope === 'model' ? resolveTenant(ctx) : undefined;
    }
    if (!KEY_CANDIDATE.test(key)) return unknownKey(ctx, scope);
    const resolved = directory.lookupKey(key);
    if (resolved instanceof Promise) {
      return resolved.then((r) => {
        if (r) rememberVirtual(key);
        return admitKey(ctx, r, scope);
      });
    }
    if (resolved) rememberVirtual(key);
    return admitKey(ctx, resolved, scope);
  }

  // The stage's mark on the timeline (the gateway.auth span) ends when the check does, refused or
  // not; only a lookup that has to wait for the store costs a closure.
  return function authenticate(ctx, headers, scope = 'model') {
    const mark = startStage(ctx.timeline, 'auth');
    let pending: void | Promise<void>;
    try {
      pending = check(ctx, headers, scope);
    } catch (err) {
      mark.end = performance.now();
      throw err;
    }
    if (!pending) {
      mark.end = performance.now();
      return;
    }
    return pending.finally(() => {
      mark.end = performance.now();
    });
  };
}

/** The admin API is for the master key and admin-role keys (and anyone in loopback open mode). */
export function isAdmin(principal: Principal): boolean {
  return principal.kind === 'master' || principal.kind === 'anonymous' || principal.resolved.key.role === 'admin';
}

/** The audit log's name for the caller. */
export function actorId(principal: Principal): string {
  return principal.kind === 'virtual' ? `key:${principal.resolved.key.key_id}` : principal.kind;
}
