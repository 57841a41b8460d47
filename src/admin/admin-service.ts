// The admin service: every run-time change to teams, tenants and keys goes through here, from
// the admin HTTP API and from the CLI alike. It validates input, refuses changes to objects
// declared in config, writes the audit entry in the same transaction as the change, and tells
// the caches (this replica's at once, the others' through the change feed) what changed.

import type { AuditEntry, KeyStatus, ObjectKind, Team, Tenant, VirtualKey } from '../identity/records.ts';

/** Who is acting: "master", "key:<key_id>", "cli:<os user>". */
export interface Actor {
  readonly id: string;
  readonly requestId?: string;
}

export interface Page<T> {
  data: T[];
  /** Pass as `after` (or `before_seq` for audit) to get the next page; absent on the last page. */
  next?: string;
}

export interface KeyListQuery {
  limit?: number;
  after?: string;
  team_id?: string;
  status?: KeyStatus;
}

/** A key record plus its secret: returned only by generate and rotate, exactly once. */
export type KeyWithSecret = VirtualKey & { key: string };

export interface AdminService {
  createTeam(input: unknown, actor: Actor): Promise<Team>;
  listTeams(query: { limit?: number; after?: string }): Promise<Page<Team>>;
  getTeam(id: string): Promise<Team>;
  updateTeam(id: string, patch: unknown, actor: Actor): Promise<Team>;
  deleteTeam(id: string, actor: Actor): Promise<void>;

  createTenant(input: unknown, actor: Actor): Promise<Tenant>;
  listTenants(query: { limit?: number; after?: string }): Promise<Page<Tenant>>;
  getTenant(id: string): Promise<Tenant>;
  updateTenant(id: string, patch: unknown, actor: Actor): Promise<Tenant>;
  deleteTenant(id: string, actor: Actor): Promise<void>;

  generateKey(input: unknown, actor: Actor): Promise<KeyWithSecret>;
  listKeys(query: KeyListQuery): Promise<Page<VirtualKey>>;
  getKey(id: string): Promise<VirtualKey>;
  updateKey(id: string, patch: unknown, actor: Actor): Promise<VirtualKey>;
  /** New secret; the old one stays valid for `grace_period` (e.g. "24h"; default from config). */
  rotateKey(id: string, input: unknown, actor: Actor): Promise<KeyWithSecret>;
  revokeKey(id: string, actor: Actor): Promise<VirtualKey>;
  blockKey(id: string, actor: Actor): Promise<VirtualKey>;
  unblockKey(id: string, actor: Actor): Promise<VirtualKey>;
  deleteKey(id: string, actor: Actor): Promise<void>;

  /** Filters: actor, action, object_type, object_id, since, until, limit, before_seq. */
  queryAudit(query: Record<string, unknown>): Promise<Page<AuditEntry>>;
}

/** Called after every committed change, to drop cached copies on this replica and tell the others. */
export type ChangeNotifier = (kind: ObjectKind, id: string) => void;
