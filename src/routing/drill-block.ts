import { GatewayError } from '../errors/gateway-error.ts';
import { isAdmin } from '../pipeline/auth.ts';
import type { RequestContext } from '../pipeline/request-context.ts';

/** Deployments a fallback drill blocks for this one request (admins only): `tollgate drill`. */
export const DRILL_HEADER = 'x-gateway-drill-block';

/** The deployment ids the header names; only the master key or an admin key may send it. */
export function drillBlock(ctx: RequestContext, value: string | undefined): string[] {
  if (value === undefined) return [];
  if (!isAdmin(ctx.principal)) throw new GatewayError('admin_required', `${DRILL_HEADER} (a fallback drill) needs the master key or a key with role "admin".`);
  return value.split(',').map((id) => id.trim()).filter(Boolean);
}
