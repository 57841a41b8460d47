// Limit policies through the admin API: the limits of the global scope and of one deployment,
// which have no object of their own. Stored like teams (audit entry and change row in one
// transaction), read-only where the config file sets them, and picked up by every replica
// through the change feed (src/limits/limit-policies.ts).

import { GatewayError } from '../errors/gateway-error.ts';
import { RATE_LIMIT_FIELDS, type LimitPolicy } from '../identity/records.ts';
import { DEFAULT_PAGE, limitCreate, limitPatch, listQuery } from './admin-schemas.ts';
import type { Actor, Page } from './admin-service.ts';
import { createObjectAccess, type AccessDeps } from './object-access.ts';
import { compact, createObjectCrud, type CreatableSpec, type Fields } from './object-crud.ts';
import { parseInput } from './parse-input.ts';

export interface LimitAdmin {
  create(input: unknown, actor: Actor): Promise<LimitPolicy>;
  list(query: unknown): Promise<Page<LimitPolicy>>;
  get(scope: string): Promise<LimitPolicy>;
  update(scope: string, patch: unknown, actor: Actor): Promise<LimitPolicy>;
  remove(scope: string, actor: Actor): Promise<void>;
}

export interface LimitAdminDeps extends AccessDeps {
  /** The deployments the config defines: a deployment scope must name one of them. */
  readonly deploymentIds: ReadonlySet<string>;
}

const RATE_ONLY: ReadonlySet<string> = new Set(RATE_LIMIT_FIELDS);

/** A deployment scope names a configured deployment and carries rate limits only. */
function checkScope(scope: string, fields: Fields, deploymentIds: ReadonlySet<string>): void {
  if (scope === 'global') return;
  const id = scope.slice('deployment:'.length);
  if (!deploymentIds.has(id)) {
    throw new GatewayError('invalid_request', `scope: no deployment "${id}" is configured. Deployment ids are listed by GET /v1/models (x-gateway-deployment) and in the config file.`, { param: 'scope' });
  }
  const other = Object.keys(fields).filter((field) => fields[field] !== null && fields[field] !== undefined && !RATE_ONLY.has(field));
  if (other.length > 0) {
    throw new GatewayError('invalid_request', `${other.join(', ')}: a deployment scope takes rate limits only (${RATE_LIMIT_FIELDS.join(', ')}); set budgets on the global scope, a team, a tenant or a key.`, { param: other[0]! });
  }
}

export function createLimitAdmin(deps: LimitAdminDeps): LimitAdmin {
  const access = createObjectAccess(deps);
  const crud = createObjectCrud(deps, access);
  const spec: CreatableSpec<'limit'> = {
    kind: 'limit',
    create: limitCreate,
    patch: limitPatch,
    defaults: {},
    build({ scope, ...fields }, stamps) {
      checkScope(scope as string, fields, deps.deploymentIds);
      return compact({ scope: scope as string, ...fields, ...stamps }) as LimitPolicy;
    },
    async prepare(given, before) {
      checkScope(before.scope, given, deps.deploymentIds);
      return given;
    },
  };
  return {
    create: (input, actor) => crud.create(spec, input, actor),
    async list(query) {
      const { limit, after } = parseInput(listQuery, query ?? {}, 'list query');
      return access.list('limit', { limit: limit ?? DEFAULT_PAGE, ...(after === undefined ? {} : { after }) });
    },
    get: (scope) => access.get('limit', scope),
    update: (scope, patch, actor) => crud.update(spec, scope, patch, actor),
    remove: (scope, actor) => crud.remove('limit', scope, actor),
  };
}
