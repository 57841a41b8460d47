// The admin service over an IdentityStore in this process: used by the admin HTTP API and the CLI.

import { randomBytes } from 'node:crypto';
import type { DeclaredIdentity } from '../identity/declared.ts';
import type { AuditQuery, Team, Tenant } from '../identity/records.ts';
import type { IdentityStore } from '../stores/identity-store.ts';
import { auditQuery, DEFAULT_PAGE, keyListQuery, listQuery, TEAM_DEFAULTS, teamCreate, teamPatch, TENANT_DEFAULTS, tenantCreate, tenantPatch } from './admin-schemas.ts';
import type { AdminService, ChangeNotifier } from './admin-service.ts';
import { createKeyAdmin } from './key-admin.ts';
import { conflict, createObjectAccess, storeCall } from './object-access.ts';
import { compact, createObjectCrud, type CreatableSpec } from './object-crud.ts';
import { parseInput } from './parse-input.ts';

export interface LocalAdminDeps {
  store: IdentityStore;
  declared: DeclaredIdentity;
  notify: ChangeNotifier;
  now?: () => Date;
  /** How long a rotated-out secret keeps working when rotate names no grace_period. */
  rotationGraceSeconds: number;
}

/** A new team id: "team_" plus 12 hex characters. */
export function newTeamId(): string {
  return `team_${randomBytes(6).toString('hex')}`;
}

const TEAMS: CreatableSpec<'team'> = {
  kind: 'team',
  create: teamCreate,
  patch: teamPatch,
  defaults: TEAM_DEFAULTS,
  build: ({ team_id, ...fields }, stamps) => compact({ team_id: (team_id as string | undefined) ?? newTeamId(), ...structuredClone(TEAM_DEFAULTS), ...fields, ...stamps }) as Team,
};

const TENANTS: CreatableSpec<'tenant'> = {
  kind: 'tenant',
  create: tenantCreate,
  patch: tenantPatch,
  defaults: TENANT_DEFAULTS,
  build: ({ tenant_id, ...fields }, stamps) => compact({ tenant_id, ...structuredClone(TENANT_DEFAULTS), ...fields, ...stamps }) as Tenant,
};

export function createLocalAdminService(options: LocalAdminDeps): AdminService {
  const deps = { ...options, now: options.now ?? (() => new Date()) };
  const access = createObjectAccess(deps);
  const crud = createObjectCrud(deps, access);
  const keys = createKeyAdmin(deps, access, crud);

  function page(query: unknown) {
    const { limit, after } = parseInput(listQuery, query ?? {}, 'list query');
    return { limit: limit ?? DEFAULT_PAGE, ...(after === undefined ? {} : { after }) };
  }

  function teamHasKeys(id: string, count: number) {
    const keys = count > 0 ? `${count} key${count === 1 ? '' : 's'}` : 'keys';
    return conflict(`The team "${id}" still has ${keys}. Delete them first (DELETE /admin/keys/{key_id}; list them with GET /admin/keys?team_id=${encodeURIComponent(id)}).`);
  }

  async function teamKeyCount(teamId: string): Promise<number> {
    const stored = await storeCall(() => deps.store.countKeys(teamId));
    const declared = [...deps.declared.keys.values()].filter((key) => key.team_id === teamId).length;
    return stored + declared;
  }

  return {
    createTeam: (input, actor) => crud.create(TEAMS, input, actor),
    listTeams: async (query) => access.list('team', page(query)),
    getTeam: (id) => access.get('team', id),
    updateTeam: (id, patch, actor) => crud.update(TEAMS, id, patch, actor),
    // The store refuses atomically ('in_use') a team that has stored keys when the delete runs;
    // the count beforehand covers keys declared in config (which the store does not hold) and
    // gives the usual message without a write attempt.
    deleteTeam: (id, actor) => crud.remove('team', id, actor, {
      guard: async () => {
        const count = await teamKeyCount(id);
        if (count > 0) throw teamHasKeys(id, count);
      },
      inUse: async () => teamHasKeys(id, await teamKeyCount(id).catch(() => 0)),
    }),

    createTenant: (input, actor) => crud.create(TENANTS, input, actor),
    listTenants: async (query) => access.list('tenant', page(query)),
    getTenant: (id) => access.get('tenant', id),
    updateTenant: (id, patch, actor) => crud.update(TENANTS, id, patch, actor),
    deleteTenant: (id, actor) => crud.remove('tenant', id, actor),

    generateKey: (input, actor) => keys.generate(input, actor),
    async listKeys(query) {
      const { limit, after, team_id, status } = parseInput(keyListQuery, query ?? {}, 'list query');
      return access.list('key', compact({ limit: limit ?? DEFAULT_PAGE, after, team_id, status }),
        (key) => (team_id === undefined || key.team_id === team_id) && (status === undefined || key.status === status));
    },
    getKey: (id) => access.get('key', id),
    updateKey: (id, patch, actor) => keys.update(id, patch, actor),
    rotateKey: (id, input, actor) => keys.rotate(id, input, actor),
    revokeKey: (id, actor) => keys.transition(id, 'revoke', actor),
    blockKey: (id, actor) => keys.transition(id, 'block', actor),
    unblockKey: (id, actor) => keys.transition(id, 'unblock', actor),
    deleteKey: (id, actor) => crud.remove('key', id, actor),

    async queryAudit(query) {
      const { since, until, limit, ...filters } = parseInput(auditQuery, query ?? {}, 'audit query');
      const request: AuditQuery = compact({
        ...filters,
        since: since === undefined ? undefined : new Date(since).toISOString(),
        until: until === undefined ? undefined : new Date(until).toISOString(),
        limit: limit ?? DEFAULT_PAGE,
      });
      const data = await storeCall(() => deps.store.queryAudit(request));
      const last = data[data.length - 1];
      return data.length === request.limit && last?.seq !== undefined ? { data, next: String(last.seq) } : { data };
    },
  };
}
