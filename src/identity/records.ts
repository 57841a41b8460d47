// The identity model: teams, tenants, virtual keys and the audit trail of admin actions.
// Records are plain JSON-shaped objects in snake_case; the admin API, the stores and the CLI
// all speak them as they are. No record ever holds a key secret or its hash.

/** Where an object is defined. Objects declared in the config file are read-only at run time. */
export type Source = 'config' | 'api';

/** Rate and concurrency limits (also per alias, for a tenant's model_limits). */
export interface RateLimits {
  /** Requests per minute (sliding window). */
  rpm_limit?: number;
  /** Tokens per minute, input plus output (sliding window). */
  tpm_limit?: number;
  /** Requests in flight at once. */
  max_parallel_requests?: number;
}

/**
 * Limits and budgets attached to a key, team or tenant, enforced by src/limits/. Field names
 * follow LiteLLM's /key/generate and /team/new where LiteLLM has one.
 */
export interface Limits extends RateLimits {
  /** US dollars per budget_duration (no duration: a lifetime budget, as in LiteLLM). */
  max_budget?: number;
  /** 1d, 24h, 7d, 30d, 1mo (calendar month, UTC) ... */
  budget_duration?: string;
  /** Tokens (input plus output) per budget_duration. */
  token_budget?: number;
  /** Tokens (input plus output) per UTC day. */
  daily_token_cap?: number;
  /** Largest worst-case cost in US dollars one request may have (checked before the call). */
  max_cost_per_request?: number;
}

export const RATE_LIMIT_FIELDS = ['rpm_limit', 'tpm_limit', 'max_parallel_requests'] as const;
export const LIMIT_FIELDS = [...RATE_LIMIT_FIELDS, 'max_budget', 'budget_duration', 'token_budget', 'daily_token_cap', 'max_cost_per_request'] as const;

/** A deployment's own rate limits (rpm, tpm, max_parallel_requests), with the unset ones left out. */
export function deploymentRateLimits(dep: { readonly rpm?: number; readonly tpm?: number; readonly maxParallelRequests?: number }): RateLimits {
  const out: RateLimits = {};
  if (dep.rpm !== undefined) out.rpm_limit = dep.rpm;
  if (dep.tpm !== undefined) out.tpm_limit = dep.tpm;
  if (dep.maxParallelRequests !== undefined) out.max_parallel_requests = dep.maxParallelRequests;
  return out;
}

/** The limit fields set on `source` (config sections carry other fields too). */
export function pickLimits(source: Readonly<Record<string, unknown>> | Limits): Limits {
  const out: Record<string, unknown> = {};
  for (const field of LIMIT_FIELDS) if ((source as Record<string, unknown>)[field] !== undefined) out[field] = (source as Record<string, unknown>)[field];
  return out as Limits;
}

interface Stamped {
  source: Source;
  /** ISO-8601 UTC. */
  created_at: string;
  updated_at: string;
}

/** A billing and ownership unit: a squad, a product. */
export interface Team extends Stamped, Limits {
  team_id: string;
  team_alias?: string;
  /** Alias patterns the team's keys may call ("*" and "prefix-*" wildcards); empty = every alias. */
  models: string[];
  /** Calls with the team's keys must send X-Tenant-Id (unless the key is bound to one tenant). */
  require_tenant: boolean;
  metadata: Record<string, unknown>;
}

/** An end customer or business unit, named by the X-Tenant-Id header. */
export interface Tenant extends Stamped, Limits {
  tenant_id: string;
  name?: string;
  /** A free label such as free, pro, enterprise. */
  plan?: string;
  /** Alias patterns callers acting for this tenant may use; empty = every alias. */
  models: string[];
  /** Rate limits for this tenant on one alias (tenant × alias scope), by alias name. */
  model_limits?: Record<string, RateLimits>;
  metadata: Record<string, unknown>;
}

export type KeyStatus = 'active' | 'blocked' | 'revoked';
export type KeyRole = 'user' | 'admin';

/** A gateway-issued credential. The secret itself is never stored: only its SHA-256. */
export interface VirtualKey extends Stamped, Limits {
  key_id: string;
  key_alias?: string;
  /** A masked preview of the current secret, e.g. "sk-tg-…x7Qa". */
  key_name: string;
  team_id: string;
  project?: string;
  environment?: string;
  /** Alias patterns this key may call; empty = whatever its team may call. */
  models: string[];
  /** Bound to one tenant: calls act for it, and any other X-Tenant-Id is refused. */
  tenant_id?: string;
  /** Or: the set of tenants the key may act for (X-Tenant-Id must name one of them). */
  allowed_tenants?: string[];
  /** Overrides the team's require_tenant when set. */
  require_tenant?: boolean;
  role: KeyRole;
  status: KeyStatus;
  /** ISO-8601 UTC; absent = never expires. */
  expires_at?: string;
  tags: string[];
  metadata: Record<string, unknown>;
  created_by: string;
  rotated_at?: string;
  /** Seconds the previous secret stayed valid after the last rotation. */
  rotation_grace_seconds?: number;
}

/**
 * Limits of a scope that has no object of its own: the whole gateway (scope "global") or one
 * deployment (scope "deployment:<deployment id>", rate limits only). Set in config
 * (`limits.global`, a deployment's rpm/tpm/max_parallel_requests) or through /admin/limits.
 */
export interface LimitPolicy extends Stamped, Limits {
  scope: string;
}

export type ObjectKind = 'team' | 'tenant' | 'key' | 'limit';

export const OBJECT_KINDS: readonly ObjectKind[] = ['team', 'tenant', 'key', 'limit'];

export interface ObjectTypes {
  team: Team;
  tenant: Tenant;
  key: VirtualKey;
  limit: LimitPolicy;
}

export type IdentityObject = ObjectTypes[ObjectKind];

/** One admin action: who did what to which object, with the object before and after (never secrets). */
export interface AuditEntry {
  /** Assigned by the store, increasing. */
  seq?: number;
  at: string;
  /** "master", "key:<key_id>", "cli:<os user>", "config". */
  actor: string;
  /** e.g. team.create, key.rotate, tenant.delete */
  action: string;
  object_type: ObjectKind;
  object_id: string;
  request_id?: string;
  before?: IdentityObject | null;
  after?: IdentityObject | null;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  object_type?: ObjectKind;
  object_id?: string;
  /** ISO-8601, inclusive. */
  since?: string;
  /** ISO-8601, exclusive. */
  until?: string;
  /** Entries with seq below this (paging newest first). */
  before_seq?: number;
  limit: number;
}

/** What changed, for cache invalidation on every replica. */
export interface Change {
  seq: number;
  kind: ObjectKind;
  id: string;
}
