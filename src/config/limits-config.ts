// The `limits:` section → GatewayConfig.limits, with the checks that need the whole file:
// a Redis backend needs `redis:`, and dollar limits need deployment prices to mean anything.

import { pickLimits, type Limits } from '../identity/records.ts';
import type { AliasConfig, GatewayConfig } from './gateway-config.ts';
import type { ParsedConfig } from './schema.ts';


function hasDollarLimit(source: Limits): boolean {
  return source.max_budget !== undefined || source.max_cost_per_request !== undefined;
}

export function buildLimits(parsed: ParsedConfig, aliases: ReadonlyMap<string, AliasConfig>, problems: string[], warnings: string[]): GatewayConfig['limits'] {
  const section = parsed.limits;
  const backend = section.backend ?? (parsed.redis ? 'redis' : 'memory');
  if (backend === 'redis' && !parsed.redis) problems.push('limits.backend: redis needs a `redis:` section with its url (or use backend: memory for a single instance).');
  const global = pickLimits(section.global);
  const declaredDollars = [global, ...Object.values(parsed.teams), ...Object.values(parsed.tenants), ...Object.values(parsed.keys)].some(hasDollarLimit);
  if (declaredDollars) {
    const unpriced = [...aliases.values()].flatMap((a) => a.deployments)
      .filter((d) => d.inputCostPerToken === undefined || d.outputCostPerToken === undefined)
      .map((d) => d.id);
    if (unpriced.length > 0) {
      warnings.push(`models: deployment${unpriced.length === 1 ? '' : 's'} ${unpriced.join(', ')} ${unpriced.length === 1 ? 'has' : 'have'} no input_cost_per_token/output_cost_per_token, so ${unpriced.length === 1 ? 'its' : 'their'} calls count as $0 against dollar budgets and cost caps. Set both prices.`);
    }
  }
  const alerts = section.alerts;
  return Object.freeze({
    backend,
    onStoreFailure: section.on_store_failure,
    trackSpend: section.track_spend,
    global: Object.freeze(global),
    alerts: Object.freeze({
      thresholds: Object.freeze([...new Set(alerts.thresholds)].sort((a, b) => a - b)),
      ...(alerts.webhook_url ? { webhookUrl: alerts.webhook_url } : {}),
      webhookTimeoutMs: alerts.webhook_timeout_ms,
    }),
  });
}
