import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AliasConfig, GatewayConfig } from '../../config/gateway-config.ts';
import { hint } from '../../config/did-you-mean.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { RequestContext } from '../../pipeline/request-context.ts';
import type { DeploymentHealth } from '../../routing/deployment-health.ts';
import { baseHeaders, sendJson } from '../respond.ts';

/**
 * GET /health/providers: one row per deployment of every alias (aliases in config order, then
 * each alias's deployments in config order) with its breaker state, cooldown, last error,
 * latency averages, calls in flight and last health check; plus whether background checks run.
 * `?alias=NAME` keeps one alias (an unknown one is model_not_found, 404).
 */
export function providerHealthRoute(config: GatewayConfig, health: DeploymentHealth) {
  const checks = { enabled: config.router.healthChecks.enabled, interval_ms: config.router.healthChecks.intervalMs };
  return async function providerHealth(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const wanted = query.get('alias');
    const aliases: readonly AliasConfig[] = wanted === null ? [...config.aliases.values()] : [aliasNamed(config, wanted)];
    const deployments = aliases.flatMap((alias) => alias.deployments.map((dep) => health.report(dep)));
    sendJson(res, 200, JSON.stringify({ deployments, checks }), baseHeaders(ctx));
  };
}

function aliasNamed(config: GatewayConfig, name: string): AliasConfig {
  const alias = config.aliases.get(name);
  if (alias) return alias;
  const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
  const missing = config.disabledAliases.get(name);
  if (missing) {
    throw new GatewayError('model_not_found', `The alias "${shown}" is configured but disabled because ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set on the gateway, so it has no deployments to report.`, { param: 'alias' });
  }
  throw new GatewayError('model_not_found', `The alias "${shown}" does not exist on this gateway.${hint(name, config.aliases.keys())} GET /v1/models lists the aliases.`, { param: 'alias' });
}
