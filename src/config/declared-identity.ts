// Teams, tenants and keys declared in the config file → the in-memory DeclaredIdentity that
// overlays the store. Declared keys must belong to declared teams, so a config file is
// complete and reviewable on its own.

import type { DeclaredIdentity } from '../identity/declared.ts';
import { secretHash, secretPreview } from '../identity/key-secret.ts';
import { deploymentRateLimits, pickLimits, type Limits, type LimitPolicy, type Team, type Tenant, type VirtualKey } from '../identity/records.ts';
import type { Deployment } from '../providers/types.ts';
import type { ParsedConfig } from './schema.ts';


function optional<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function buildDeclaredIdentity(parsed: ParsedConfig, masterKey: string | undefined, problems: string[], warnings: string[], loadedAt = new Date()): DeclaredIdentity {
  const stamp = { source: 'config' as const, created_at: loadedAt.toISOString(), updated_at: loadedAt.toISOString() };
  const teams = new Map<string, Team>();
  for (const [team_id, t] of Object.entries(parsed.teams)) {
    teams.set(team_id, Object.freeze({
      team_id, ...optional({ team_alias: t.team_alias }), models: t.models, require_tenant: t.require_tenant, metadata: t.metadata, ...pickLimits(t), ...stamp,
    }));
  }
  const tenants = new Map<string, Tenant>();
  for (const [tenant_id, t] of Object.entries(parsed.tenants)) {
    tenants.set(tenant_id, Object.freeze({
      tenant_id, ...optional({ name: t.name, plan: t.plan, model_limits: t.model_limits }), models: t.models, metadata: t.metadata, ...pickLimits(t), ...stamp,
    }));
  }
  const keys = new Map<string, VirtualKey>();
  const keyHashes = new Map<string, string>();
  for (const [key_id, k] of Object.entries(parsed.keys)) {
    const where = `keys.${key_id}`;
    if (!teams.has(k.team_id)) problems.push(`${where}.team_id: team "${k.team_id}" is not declared under teams:. Keys in the config file belong to teams in the config file.`);
    const hash = secretHash(k.key);
    if (keyHashes.has(hash)) problems.push(`${where}.key: the same secret is used by key "${keyHashes.get(hash)}"; every key needs its own secret.`);
    if (masterKey !== undefined && k.key === masterKey) problems.push(`${where}.key: must differ from the master key.`);
    keyHashes.set(hash, key_id);
    keys.set(key_id, Object.freeze({
      key_id,
      key_name: secretPreview(k.key),
      team_id: k.team_id,
      ...optional({
        key_alias: k.key_alias, project: k.project, environment: k.environment, tenant_id: k.tenant_id,
        allowed_tenants: k.allowed_tenants, require_tenant: k.require_tenant, expires_at: k.expires_at,
      }),
      models: k.models,
      role: k.role,
      status: 'active' as const,
      tags: k.tags,
      metadata: k.metadata,
      created_by: 'config',
      ...pickLimits(k),
      ...stamp,
    }));
  }
  return Object.freeze({ teams, tenants, keys, limits: new Map(), keyHashes });
}

/**
 * Limit policies the config file sets: `limits.global` (scope "global") and each deployment's
 * rpm, tpm and max_parallel_requests (scope "deployment:<id>"). Like declared teams, they win
 * over stored ones and are read-only through the API.
 */
export function declaredLimitPolicies(global: Readonly<Limits>, deployments: Iterable<Deployment>, loadedAt = new Date()): ReadonlyMap<string, LimitPolicy> {
  const stamp = { source: 'config' as const, created_at: loadedAt.toISOString(), updated_at: loadedAt.toISOString() };
  const out = new Map<string, LimitPolicy>();
  if (Object.keys(global).length > 0) out.set('global', Object.freeze({ scope: 'global', ...global, ...stamp }));
  for (const dep of deployments) {
    const limits = deploymentRateLimits(dep);
    if (Object.keys(limits).length > 0) out.set(`deployment:${dep.id}`, Object.freeze({ scope: `deployment:${dep.id}`, ...limits, ...stamp }));
  }
  return out;
}
