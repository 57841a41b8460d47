// The read side of identity, on the request path: presented secret → key (with its team), and
// tenant id → tenant policy. Everything is cached in memory, so an authenticated request does
// no database round trip once its key has been seen:
// - entries are invalidated by the change feed (every replica) and at once on this replica;
// - entries older than refreshMs are served while a background read refreshes them, and are
//   kept if the database is down, so known keys keep working through an outage;
// - a secret the store does not know is remembered briefly (negative cache), so repeating a
//   bad key cannot turn into a stream of queries;
// - concurrent misses for the same secret or tenant share one query;
// - a read that raced an invalidation of the same key, team or tenant is not cached.

import { GatewayError } from '../errors/gateway-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { IdentityStore, KeyMatch } from '../stores/identity-store.ts';
import type { DeclaredIdentity } from './declared.ts';
import { secretHash } from './key-secret.ts';
import { Lru } from './lru.ts';
import { modelAcl, type ModelAcl } from './model-acl.ts';
import type { ObjectKind, Team, Tenant, VirtualKey } from './records.ts';

export interface ResolvedKey {
  readonly key: VirtualKey;
  /** Undefined when the key's team no longer exists: such a key is refused (fail closed). */
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

interface Invalidation {
  generation: number;
  kind: ObjectKind | 'all';
  id: string;
}

const time = (iso: string | undefined): number => (iso ? Date.parse(iso) : Infinity);
/** After a failed background refresh, the next attempt for that entry waits this long. */
const REFRESH_RETRY_MS = 5_000;
/** Invalidations remembered for race checks; a read older than all of them counts as stale. */
const RECENT_INVALIDATIONS = 1_024;

export class KeyDirectory {
  private readonly options: KeyDirectoryOptions;
  private readonly now: () => number;
  private readonly keys: Lru<string, Cached<ResolvedKey>>;
  private readonly unknown = new Lru<string, number>(10_000);
  private readonly tenants: Lru<string, Cached<TenantPolicy | null>>;
  private readonly teams = new Map<string, Cached<Team | undefined>>();
  /** key id → its team and the secrets cached for it; team id → key ids. */
  private readonly byKey = new Map<string, { teamId: string; secrets: Set<string> }>();
  private readonly byTeam = new Map<string, Set<string>>();
  private readonly pendingKeys = new Map<string, Promise<ResolvedKey | null>>();
  private readonly pendingTenants = new Map<string, Promise<TenantPolicy | null>>();
  private generation = 0;
  private readonly recent: Invalidation[] = [];
  /** True from a failed refresh until the next successful read: one warning per outage. */
  private refreshFailing = false;

  constructor(options: KeyDirectoryOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.keys = new Lru(options.maxKeys, (secret, entry) => this.unindex(secret, entry.value.key));
    this.tenants = new Lru(Math.max(1_000, options.maxKeys));
  }

  /** The key for a presented secret: synchronous when cached, a promise on a miss; null = unknown. */
  lookupKey(secret: string): ResolvedKey | null | Promise<ResolvedKey | null> {
    const cached = this.keys.get(secret);
    if (cached) {
      if (!cached.refreshing && this.now() - cached.loadedAt > this.options.refreshMs) this.refreshKey(secret, cached);
      return cached.value;
    }
    const until = this.unknown.get(secret);
    if (until !== undefined && until > this.now()) return null;
    return this.shared(this.pendingKeys, secret, () => this.loadKey(secret), KEY_UNAVAILABLE);
  }

  /** Tenant policy for an X-Tenant-Id: synchronous when cached; null = no such tenant. */
  lookupTenant(id: string): TenantPolicy | null | Promise<TenantPolicy | null> {
    const cached = this.tenants.get(id);
    if (cached) {
      if (!cached.refreshing && this.now() - cached.loadedAt > this.options.refreshMs) {
        cached.refreshing = true;
        this.loadTenant(id).then(() => { cached.refreshing = false; }, () => this.postponeRefresh(cached));
      }
      return cached.value;
    }
    return this.shared(this.pendingTenants, id, () => this.loadTenant(id), `The key store is unreachable and tenant "${id}" is not cached on this replica. Retry shortly.`);
  }

  /** Drops everything cached about one object (called for local changes and for the change feed). */
  invalidate(kind: ObjectKind, id: string): void {
    this.remember(kind, id);
    if (kind === 'tenant') {
      this.tenants.delete(id);
      return;
    }
    if (kind === 'team') {
      this.teams.delete(id);
      for (const keyId of [...(this.byTeam.get(id) ?? [])]) this.dropKey(keyId);
      return;
    }
    this.dropKey(id);
    // A created or rotated key has a new secret that may have been remembered as unknown.
    this.unknown.clear();
  }

  invalidateAll(): void {
    this.remember('all', '');
    this.keys.clear();
    this.unknown.clear();
    this.tenants.clear();
    this.teams.clear();
    this.byKey.clear();
    this.byTeam.clear();
  }

  /** Entries in memory, for metrics and tests. */
  stats(): { keys: number; unknown: number; tenants: number; indexedKeys: number; indexedTeams: number } {
    return { keys: this.keys.size, unknown: this.unknown.size, tenants: this.tenants.size, indexedKeys: this.byKey.size, indexedTeams: this.byTeam.size };
  }

  private remember(kind: Invalidation['kind'], id: string): void {
    this.generation++;
    this.recent.push({ generation: this.generation, kind, id });
    if (this.recent.length > RECENT_INVALIDATIONS) this.recent.shift();
    // Lookups already under way may have read the old state: later callers must not join them.
    this.pendingKeys.clear();
    this.pendingTenants.clear();
  }

  /** Whether an invalidation since `start` touched what a read found (so its result is stale). */
  private invalidatedSince(start: number, touches: (i: Invalidation) => boolean): boolean {
    if (start === this.generation) return false;
    const oldest = this.recent[0];
    if (!oldest || oldest.generation > start + 1) return true;
    return this.recent.some((i) => i.generation > start && (i.kind === 'all' || touches(i)));
  }

  private shared<T>(pending: Map<string, Promise<T>>, id: string, load: () => Promise<T>, whenUnavailable: string): Promise<T> {
    let promise = pending.get(id);
    if (!promise) {
      promise = load().catch((err) => { throw unavailable(err, whenUnavailable); });
      const current = promise;
      pending.set(id, current);
      void current.finally(() => { if (pending.get(id) === current) pending.delete(id); }).catch(() => {});
    }
    return promise;
  }

  private refreshKey(secret: string, cached: Cached<ResolvedKey>): void {
    cached.refreshing = true;
    this.loadKey(secret).then(() => { cached.refreshing = false; }, (err) => {
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

  private async findKey(secret: string): Promise<KeyMatch | undefined> {
    const hash = secretHash(secret);
    const { declared, store } = this.options;
    const declaredId = declared.keyHashes.get(hash);
    if (declaredId) return { key: declared.keys.get(declaredId)! };
    const match = await store.findKeyBySecretHash(hash);
    // A stored key whose id is declared in config is shadowed by the declared one: config wins.
    return match && !declared.keys.has(match.key.key_id) ? match : undefined;
  }

  private async loadKey(secret: string): Promise<ResolvedKey | null> {
    const start = this.generation;
    const match = await this.findKey(secret);
    if (!match) {
      if (!this.invalidatedSince(start, (i) => i.kind === 'key')) {
        this.forget(secret);
        this.unknown.set(secret, this.now() + this.options.negativeTtlMs);
      }
      return null;
    }
    const { key } = match;
    const team = await this.team(key.team_id);
    this.refreshFailing = false;
    const resolved: ResolvedKey = Object.freeze({
      key,
      team,
      acl: modelAcl(key.models, team?.models),
      requireTenant: key.require_tenant ?? team?.require_tenant ?? false,
      allowedTenants: key.tenant_id ? new Set([key.tenant_id]) : key.allowed_tenants?.length ? new Set(key.allowed_tenants) : undefined,
      expiresAtMs: time(key.expires_at),
      secretExpiresAtMs: time(match.secret_expires_at),
    });
    const stale = this.invalidatedSince(start, (i) => (i.kind === 'key' && i.id === key.key_id) || (i.kind === 'team' && i.id === key.team_id));
    if (!stale) {
      this.forget(secret);
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
    const start = this.generation;
    const team = await this.options.store.get('team', id);
    if (!this.invalidatedSince(start, (i) => i.kind === 'team' && i.id === id)) this.teams.set(id, { value: team, loadedAt: this.now() });
    return team;
  }

  private async loadTenant(id: string): Promise<TenantPolicy | null> {
    const start = this.generation;
    const tenant = this.options.declared.tenants.get(id) ?? await this.options.store.get('tenant', id);
    const policy = tenant ? Object.freeze({ tenant, acl: modelAcl(tenant.models) }) : null;
    if (!this.invalidatedSince(start, (i) => i.kind === 'tenant' && i.id === id)) this.tenants.set(id, { value: policy, loadedAt: this.now() });
    return policy;
  }

  private dropKey(keyId: string): void {
    for (const secret of [...(this.byKey.get(keyId)?.secrets ?? [])]) this.forget(secret);
  }

  /** Removes one cached secret and its index entries. */
  private forget(secret: string): void {
    const entry = this.keys.get(secret);
    if (!entry) return;
    this.keys.delete(secret);
    this.unindex(secret, entry.value.key);
  }

  private index(secret: string, key: VirtualKey): void {
    let entry = this.byKey.get(key.key_id);
    if (!entry) this.byKey.set(key.key_id, (entry = { teamId: key.team_id, secrets: new Set() }));
    entry.secrets.add(secret);
    let keyIds = this.byTeam.get(key.team_id);
    if (!keyIds) this.byTeam.set(key.team_id, (keyIds = new Set()));
    keyIds.add(key.key_id);
  }

  private unindex(secret: string, key: VirtualKey): void {
    const entry = this.byKey.get(key.key_id);
    if (!entry) return;
    entry.secrets.delete(secret);
    if (entry.secrets.size > 0) return;
    this.byKey.delete(key.key_id);
    const keyIds = this.byTeam.get(entry.teamId);
    keyIds?.delete(key.key_id);
    if (keyIds?.size === 0) this.byTeam.delete(entry.teamId);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const KEY_UNAVAILABLE = 'The key store is unreachable and this key is not cached on this replica. Retry shortly.';

function unavailable(err: unknown, message: string): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('auth_unavailable', message, { cause: err, retryAfterSeconds: 1 });
}
