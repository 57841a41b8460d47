// The `limits:` section → GatewayConfig.limits, with the checks that need the whole file:
// a Redis backend needs `redis:`, and dollar limits need deployment prices to mean anything.

import { pickLimits, type Limits } from '../identity/records.ts';
import { createPriceTable } from '../ledger/pricing/price-table.ts';
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
    // Priced: the price table (@pydantic/genai-prices, then config overrides) prices both input
    // and output for it. Config alone with one of the two prices leaves the other side at $0.
    const deployments = [...aliases.values()].flatMap((a) => a.deployments);
    const prices = createPriceTable(deployments);
    const unpriced = deployments.filter((d) => {
      const price = prices.priceOf(d);
      return price === undefined || (price.packageModel === undefined && (d.inputCostPerToken === undefined || d.outputCostPerToken === undefined));
    }).map((d) => d.id);
    if (unpriced.length > 0) {
      const one = unpriced.length === 1;
      warnings.push(`models: deployment${one ? '' : 's'} ${unpriced.join(', ')} ${one ? 'has' : 'have'} no input_cost_per_token/output_cost_per_token and ${prices.version.split('+')[0]} has no list price for ${one ? 'its' : 'their'} provider and model, so ${one ? 'its' : 'their'} calls count as $0 against dollar budgets and cost caps (with one of the two prices, the other side counts as $0). Set both prices, or model_info.base_model to the model ${one ? 'it serves' : 'each serves'}.`);
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
