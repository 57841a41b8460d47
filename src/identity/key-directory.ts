// The read side of identity, on the request path: presented secret → key (with its team), and
// tenant id → tenant policy. Everything is cached in memory, so an authenticated request does
// no database round trip once its key has been seen:
// - entries are invalidated by the change feed (every replica) and at once on this replica;
// - entries older than refreshMs are served while a background read refreshes them, and are
//   kept if the database is down, so known keys keep working through an outage;
// - a secret the store does not know is remembered briefly (negative cache), so a flood of bad
//   keys cannot turn into a flood of queries;
// - concurrent misses for the same secret share one query.

import { GatewayError } from '../errors/gateway-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { IdentityStore } from '../stores/identity-store.ts';
import type { DeclaredIdentity } from './declared.ts';
import { secretHash } from './key-secret.ts';
import { Lru } from './lru.ts';
import { modelAcl, type ModelAcl } from './model-acl.ts';
import type { ObjectKind, Team, Tenant, VirtualKey } from './records.ts';

export interface ResolvedKey {
  readonly key: VirtualKey;
  readonly team: Team | undefined;
  /** The key's and its team's model lists, intersected. */
  readonly acl: ModelAcl;
  readonly requireTenant: boolean;
  readonly allowedTenants: ReadonlySet<string> | undefined;
  /** Epoch ms; Infinity when the key never expires. */
  readonly expiresAtMs: number;
  /** Epoch ms when this secret stops working (a rotated-out secret); Infinity for the current one. */
  readonly secretExpiresAtMs: number;
}

export interface TenantPolicy {
  readonly tenant: Tenant;
  readonly acl: ModelAcl;
}

export interface KeyDirectoryOptions {
  store: IdentityStore;
  declared: DeclaredIdentity;
  logger: Logger;
  /** Most keys held in memory. */
  maxKeys: number;
  /** Cached entries older than this are refreshed in the background. */
  refreshMs: number;
  /** How long an unknown secret is remembered as unknown. */
  negativeTtlMs: number;
  now?: () => number;
}

interface Cached<T> {
  value: T;
  loadedAt: number;
  refreshing?: boolean;
}

const time = (iso: string | undefined): number => (iso ? Date.parse(iso) : Infinity);
/** After a failed background refresh, the next attempt for that entry waits this long. */
const REFRESH_RETRY_MS = 5_000;

export class KeyDirectory {
  private readonly options: KeyDirectoryOptions;
  private readonly now: () => number;
  private readonly keys: Lru<string, Cached<ResolvedKey>>;
  private readonly unknown: Lru<string, number>;
  private readonly tenants: Lru<string, Cached<TenantPolicy | null>>;
  private readonly teams = new Map<string, Cached<Team | undefined>>();
  private readonly secretsByKey = new Map<string, Set<string>>();
  private readonly keysByTeam = new Map<string, Set<string>>();
  private readonly pending = new Map<string, Promise<ResolvedKey | null>>();
  /** Bumped by every invalidation: a lookup that started before one must not cache its result. */
  private generation = 0;
  /** True from a failed refresh until the next successful read: one warning per outage. */
  private refreshFailing = false;

  constructor(options: KeyDirectoryOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.keys = new Lru(options.maxKeys, (secret, entry) => this.unindex(secret, entry.value.key));
    this.unknown = new Lru(10_000);
    this.tenants = new Lru(Math.max(1_000, options.maxKeys));
  }

  /** The key for a presented secret: synchronous when cached, a promise on a miss; null = unknown. */
  lookupKey(secret: string): ResolvedKey | null | Promise<ResolvedKey | null> {
    const cached = this.keys.get(secret);
    if (cached) {
      if (this.now() - cached.loadedAt > this.options.refreshMs) this.refreshKey(secret, cached);
      return cached.value;
    }
    const until = this.unknown.get(secret);
    if (until !== undefined && until > this.now()) return null;
    return this.loadShared(secret);
  }

  /** Tenant policy for an X-Tenant-Id: synchronous when cached; null = no such tenant. */
  lookupTenant(id: string): TenantPolicy | null | Promise<TenantPolicy | null> {
    const cached = this.tenants.get(id);
    if (cached) {
      if (this.now() - cached.loadedAt > this.options.refreshMs && !cached.refreshing) {
        cached.refreshing = true;
        this.loadTenant(id, this.generation).catch(() => this.postponeRefresh(cached));
      }
      return cached.value;
    }
    return this.loadTenant(id, this.generation).catch((err) => { throw unavailable(err); });
  }

  /** Drops everything cached about one object (called for local changes and for the change feed). */
  invalidate(kind: ObjectKind, id: string): void {
    this.generation++;
    if (kind === 'tenant') {
      this.tenants.delete(id);
      return;
    }
    if (kind === 'team') {
      this.teams.delete(id);
      for (const keyId of this.keysByTeam.get(id) ?? []) this.dropKey(keyId);
      return;
    }
    this.dropKey(id);
    // A created or rotated key has a new secret that may have been remembered as unknown.
    this.unknown.clear();
  }

  invalidateAll(): void {
    this.generation++;
    this.keys.clear();
    this.unknown.clear();
    this.tenants.clear();
    this.teams.clear();
    this.secretsByKey.clear();
    this.keysByTeam.clear();
  }

  /** Entries in memory, for metrics and tests. */
  stats(): { keys: number; unknown: number; tenants: number } {
    return { keys: this.keys.size, unknown: this.unknown.size, tenants: this.tenants.size };
  }

  private dropKey(keyId: string): void {
    for (const secret of this.secretsByKey.get(keyId) ?? []) this.keys.delete(secret);
    this.secretsByKey.delete(keyId);
  }

  private loadShared(secret: string): Promise<ResolvedKey | null> {
    let pending = this.pending.get(secret);
    if (!pending) {
      pending = this.loadKey(secret, this.generation)
        .catch((err) => { throw unavailable(err); })
        .finally(() => this.pending.delete(secret));
      this.pending.set(secret, pending);
    }
    return pending;
  }

  private refreshKey(secret: string, cached: Cached<ResolvedKey>): void {
    if (cached.refreshing) return;
    cached.refreshing = true;
    this.loadKey(secret, this.generation).catch((err) => {
      this.postponeRefresh(cached);
      if (!this.refreshFailing) this.options.logger.warn('key refresh failed; serving cached keys until the store answers', { key_id: cached.value.key.key_id, error: describe(err) });
      this.refreshFailing = true;
    });
  }

  /** Keeps a stale entry after a failed refresh, and tries again only after REFRESH_RETRY_MS. */
  private postponeRefresh(cached: Cached<unknown>): void {
    cached.refreshing = false;
    cached.loadedAt = this.now() - this.options.refreshMs + REFRESH_RETRY_MS;
  }

  private async loadKey(secret: string, generation: number): Promise<ResolvedKey | null> {
    const hash = secretHash(secret);
    const { declared, store } = this.options;
    const declaredId = declared.keyHashes.get(hash);
    const match = declaredId ? { key: declared.keys.get(declaredId)! } : await store.findKeyBySecretHash(hash);
    if (!match) {
      if (generation === this.generation) {
        this.unknown.set(secret, this.now() + this.options.negativeTtlMs);
        this.keys.delete(secret);
      }
      return null;
    }
    const team = await this.team(match.key.team_id);
    this.refreshFailing = false;
    const key = match.key;
    const resolved: ResolvedKey = Object.freeze({
      key,
      team,
      acl: modelAcl(key.models, team?.models),
      requireTenant: key.require_tenant ?? team?.require_tenant ?? false,
      allowedTenants: key.tenant_id ? new Set([key.tenant_id]) : key.allowed_tenants?.length ? new Set(key.allowed_tenants) : undefined,
      expiresAtMs: time(key.expires_at),
      secretExpiresAtMs: time('secret_expires_at' in match ? match.secret_expires_at : undefined),
    });
    if (generation === this.generation) {
      this.keys.set(secret, { value: resolved, loadedAt: this.now() });
      this.index(secret, key);
    }
    return resolved;
  }

  private async team(id: string): Promise<Team | undefined> {
    const declared = this.options.declared.teams.get(id);
    if (declared) return declared;
    const cached = this.teams.get(id);
    if (cached && this.now() - cached.loadedAt <= this.options.refreshMs) return cached.value;
    const generation = this.generation;
    const team = await this.options.store.get('team', id);
    if (generation === this.generation) this.teams.set(id, { value: team, loadedAt: this.now() });
    return team;
  }

  private async loadTenant(id: string, generation: number): Promise<TenantPolicy | null> {
    const tenant = this.options.declared.tenants.get(id) ?? await this.options.store.get('tenant', id);
    const policy = tenant ? Object.freeze({ tenant, acl: modelAcl(tenant.models) }) : null;
    if (generation === this.generation) this.tenants.set(id, { value: policy, loadedAt: this.now() });
    return policy;
  }

  private index(secret: string, key: VirtualKey): void {
    let secrets = this.secretsByKey.get(key.key_id);
    if (!secrets) this.secretsByKey.set(key.key_id, (secrets = new Set()));
    secrets.add(secret);
    let keyIds = this.keysByTeam.get(key.team_id);
    if (!keyIds) this.keysByTeam.set(key.team_id, (keyIds = new Set()));
    keyIds.add(key.key_id);
  }

  private unindex(secret: string, key: VirtualKey): void {
    const secrets = this.secretsByKey.get(key.key_id);
    secrets?.delete(secret);
    if (secrets?.size === 0) {
      this.secretsByKey.delete(key.key_id);
      const keyIds = this.keysByTeam.get(key.team_id);
      keyIds?.delete(key.key_id);
      if (keyIds?.size === 0) this.keysByTeam.delete(key.team_id);
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function unavailable(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('auth_unavailable', 'The key store is unreachable and this key is not cached on this replica. Retry shortly.', { cause: err, retryAfterSeconds: 1 });
}
