import { GatewayError } from '../errors/gateway-error.ts';
import type { AliasConfig, GatewayConfig } from '../config/gateway-config.ts';
import type { RequestContext } from './request-context.ts';
import { resolveAlias } from './route.ts';

/** Why the caller may not use an alias, or undefined when it may. */
function refusal(ctx: RequestContext, alias: string): string | undefined {
  const principal = ctx.principal;
  if (principal.kind === 'virtual' && !principal.resolved.acl.allows(alias)) {
    const { key } = principal.resolved;
    return `This key (or its team "${key.team_id}") may not use the model "${alias}".`;
  }
  if (ctx.tenant && !ctx.tenant.acl.allows(alias)) return `Tenant "${ctx.tenantId}" may not use the model "${alias}".`;
  return undefined;
}

export function mayUseModel(ctx: RequestContext, alias: string): boolean {
  return refusal(ctx, alias) === undefined;
}

/** Policy stage: the model ACL of the key, its team and the tenant. */
export function authorizeModel(ctx: RequestContext, alias: string): void {
  const reason = refusal(ctx, alias);
  if (reason) throw new GatewayError('model_not_allowed', `${reason} GET /v1/models lists the models you may use.`, { param: 'model' });
}

/** The alias the client named, checked: it exists and the caller may use it (else model_not_found / model_not_allowed). */
export function authorizedAlias(config: GatewayConfig, ctx: RequestContext, model: string): AliasConfig {
  const alias = resolveAlias(config, model, (name) => mayUseModel(ctx, name));
  authorizeModel(ctx, alias.name);
  return alias;
}

/** True when no ACL restricts the caller, so the unfiltered model list applies. */
export function unrestricted(ctx: RequestContext): boolean {
  return (ctx.principal.kind !== 'virtual' || ctx.principal.resolved.acl.open) && (!ctx.tenant || ctx.tenant.acl.open);
}
