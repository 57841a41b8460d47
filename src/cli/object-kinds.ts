// What differs between `tollgate teams`, `tenants` and `keys`: their flags, list columns, help
// text and which AdminService methods they call. Everything else is shared (admin-commands.ts).

import type { Actor, AdminService, Page } from '../admin/admin-service.ts';
import { CLEAR_FLAG, flag, flagHelp, helpWidth, LIMIT_FLAGS, METADATA_FLAG, MODELS_FLAG, REQUIRE_TENANT_FLAG, TARGET_FLAGS, type FieldFlag } from './admin-flags.ts';
import type { Column } from './print-table.ts';

type Input = Record<string, unknown>;

/** The five operations every kind has; records come back as plain objects for printing. */
export interface ObjectOps {
  create(input: Input, actor: Actor): Promise<object>;
  list(query: Input): Promise<Page<object>>;
  get(id: string): Promise<object>;
  update(id: string, patch: Input, actor: Actor): Promise<object>;
  remove(id: string, actor: Actor): Promise<void>;
}

export interface KindSpec {
  readonly name: 'teams' | 'tenants' | 'keys';
  /** Singular, for messages. */
  readonly noun: string;
  readonly idField: string;
  readonly createFlags: readonly FieldFlag[];
  /** Flags create must have (by flag name). */
  readonly requiredOnCreate: readonly string[];
  readonly updateFlags: readonly FieldFlag[];
  readonly listFlags: readonly FieldFlag[];
  /** Pairs of flags that may not be used together. */
  readonly exclusive: ReadonlyArray<readonly [string, string]>;
  readonly columns: readonly Column[];
  /** Fields printed first in the key: value block. */
  readonly leading: readonly string[];
  readonly usage: string;
  ops(service: AdminService): ObjectOps;
}

export const PAGE_FLAGS: readonly FieldFlag[] = [
  flag('limit', 'limit', 'int', 'page size (default 100)', 'N'),
  flag('after', 'after', 'string', 'the next page: the id printed after the previous one', 'ID'),
];

function usage(name: string, lines: string[], sections: Array<[string, readonly FieldFlag[]]>): string {
  const width = helpWidth(sections.flatMap(([, flags]) => flags));
  const body = sections.map(([title, flags]) => `${title}:\n${flagHelp(flags, width)}`).join('\n\n');
  return `Usage:\n${lines.map((l) => `  tollgate ${name} ${l}`).join('\n')}\n\n${body}`;
}

const teamFlags = [flag('alias', 'team_alias', 'string', 'display name', 'A'), MODELS_FLAG, REQUIRE_TENANT_FLAG, METADATA_FLAG, ...LIMIT_FLAGS];
const teamCreate = [flag('id', 'team_id', 'string', 'team id (default: generated)', 'ID'), ...teamFlags];

export const TEAMS: KindSpec = {
  name: 'teams',
  noun: 'team',
  idField: 'team_id',
  createFlags: teamCreate,
  requiredOnCreate: [],
  updateFlags: teamFlags,
  listFlags: PAGE_FLAGS,
  exclusive: [],
  columns: [{ field: 'team_id' }, { field: 'team_alias', header: 'ALIAS' }, { field: 'models' }, { field: 'require_tenant' }, { field: 'max_budget' }, { field: 'source' }],
  leading: ['team_id', 'team_alias'],
  usage: usage('teams', ['create [--id ID] [options]', 'list [--limit N] [--after ID]', 'info ID', 'update ID [options]', 'delete ID'], [['Options', teamCreate], ['Update', [CLEAR_FLAG]], ['Where', TARGET_FLAGS]]),
  ops: (s) => ({
    create: (input, actor) => s.createTeam(input, actor),
    list: (query) => s.listTeams(query),
    get: (id) => s.getTeam(id),
    update: (id, patch, actor) => s.updateTeam(id, patch, actor),
    remove: (id, actor) => s.deleteTeam(id, actor),
  }),
};

const tenantFlags = [flag('name', 'name', 'string', 'display name', 'N'), flag('plan', 'plan', 'string', 'a label such as free, pro, enterprise', 'P'), MODELS_FLAG, METADATA_FLAG, ...LIMIT_FLAGS];
const tenantCreate = [flag('id', 'tenant_id', 'string', 'tenant id, as sent in X-Tenant-Id (required)', 'ID'), ...tenantFlags];

export const TENANTS: KindSpec = {
  name: 'tenants',
  noun: 'tenant',
  idField: 'tenant_id',
  createFlags: tenantCreate,
  requiredOnCreate: ['id'],
  updateFlags: tenantFlags,
  listFlags: PAGE_FLAGS,
  exclusive: [],
  columns: [{ field: 'tenant_id' }, { field: 'name' }, { field: 'plan' }, { field: 'models' }, { field: 'max_budget' }, { field: 'source' }],
  leading: ['tenant_id', 'name', 'plan'],
  usage: usage('tenants', ['create --id ID [options]', 'list [--limit N] [--after ID]', 'info ID', 'update ID [options]', 'delete ID'], [['Options', tenantCreate], ['Update', [CLEAR_FLAG]], ['Where', TARGET_FLAGS]]),
  ops: (s) => ({
    create: (input, actor) => s.createTenant(input, actor),
    list: (query) => s.listTenants(query),
    get: (id) => s.getTenant(id),
    update: (id, patch, actor) => s.updateTenant(id, patch, actor),
    remove: (id, actor) => s.deleteTenant(id, actor),
  }),
};

const keyFlags = [
  flag('alias', 'key_alias', 'string', 'display name', 'A'),
  MODELS_FLAG,
  flag('tenant', 'tenant_id', 'string', 'bind the key to one tenant', 'X'),
  flag('tenants', 'allowed_tenants', 'list', 'or: the tenants it may act for', 'a,b'),
  REQUIRE_TENANT_FLAG,
  flag('role', 'role', 'string', 'user (default) or admin (may call /admin)', 'R', ['user', 'admin']),
  flag('duration', 'duration', 'string', 'expires after this long, e.g. 30d, 12h', 'D'),
  flag('expires', 'expires_at', 'string', 'or: expires at this ISO-8601 time', 'ISO'),
  flag('env', 'environment', 'string', 'environment label, e.g. production', 'E'),
  flag('project', 'project', 'string', 'project label', 'P'),
  flag('tags', 'tags', 'list', 'tags for spend reports', 'a,b'),
  METADATA_FLAG,
  ...LIMIT_FLAGS,
];
const keyCreate = [flag('team', 'team_id', 'string', 'the team that owns the key (required on create)', 'T'), ...keyFlags];
const keyList = [flag('team', 'team_id', 'string', 'only this team\'s keys', 'T'), flag('status', 'status', 'string', 'active, blocked or revoked', 'S', ['active', 'blocked', 'revoked']), ...PAGE_FLAGS];
export const GRACE_FLAG = flag('grace', 'grace_period', 'string', 'how long the old secret keeps working, e.g. 24h, 0s (default from config)', 'D');

export const KEYS: KindSpec = {
  name: 'keys',
  noun: 'key',
  idField: 'key_id',
  createFlags: keyCreate,
  requiredOnCreate: ['team'],
  updateFlags: keyCreate,
  listFlags: keyList,
  exclusive: [['tenant', 'tenants'], ['duration', 'expires']],
  columns: [{ field: 'key_id' }, { field: 'key_alias', header: 'ALIAS' }, { field: 'key_name', header: 'KEY' }, { field: 'team_id', header: 'TEAM' }, { field: 'status' }, { field: 'role' }, { field: 'expires_at', header: 'EXPIRES' }],
  leading: ['key_id', 'key_alias', 'key_name', 'team_id', 'status'],
  usage: usage('keys', [
    'create --team T [options]      prints the new secret once',
    'list [--team T] [--status S] [--limit N] [--after ID]',
    'info ID',
    'update ID [options]',
    'rotate ID [--grace 24h]        prints the new secret once',
    'revoke ID | block ID | unblock ID | delete ID',
    'secret                         a random secret for a key declared in the config file',
  ], [['Options', keyCreate], ['Update', [CLEAR_FLAG]], ['List', keyList.slice(0, 2)], ['Rotate', [GRACE_FLAG]], ['Where', TARGET_FLAGS]]),
  ops: (s) => ({
    create: (input, actor) => s.generateKey(input, actor),
    list: (query) => s.listKeys(query),
    get: (id) => s.getKey(id),
    update: (id, patch, actor) => s.updateKey(id, patch, actor),
    remove: (id, actor) => s.deleteKey(id, actor),
  }),
};

export const KINDS: Readonly<Record<KindSpec['name'], KindSpec>> = { teams: TEAMS, tenants: TENANTS, keys: KEYS };
