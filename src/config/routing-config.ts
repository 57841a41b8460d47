// `router:` and each alias's `routing:` → AliasConfig.routing and GatewayConfig.router, with
// the checks that need the whole file: fallbacks name aliases that exist, and no chain loops.

import { hint } from './did-you-mean.ts';
import type { AliasConfig, AliasRouting, FallbackTarget, GatewayConfig } from './gateway-config.ts';
import { RETRY_CLASSES, type AliasRoutingInput, type FallbackInput, type RetryClass } from './routing-schema.ts';
import type { ParsedConfig } from './schema.ts';

/** Placeholder while aliases are built; buildRouting replaces it for every alias. */
export const PENDING_ROUTING: AliasRouting = Object.freeze({
  strategy: 'simple-shuffle',
  retries: Object.freeze({ rate_limit: 0, timeout: 0, server_error: 0, connect_error: 0 }),
  fallbacks: Object.freeze([]),
  contextWindowFallbacks: Object.freeze([]),
  contentPolicyFallbacks: Object.freeze([]),
  timeoutMs: 600_000,
});

type Lists = 'fallbacks' | 'context_window_fallbacks' | 'content_policy_fallbacks';

function targets(list: readonly FallbackInput[] | undefined): FallbackTarget[] {
  return (list ?? []).map((t) => (typeof t === 'string' ? { alias: t, openToAll: false } : { alias: t.model, openToAll: t.open_to_all }));
}

/**
 * Sets each alias's routing in `aliases` (replacing its entry) and returns the router section.
 * A chain is exactly the list configured for the alias (or default_fallbacks): a fallback's own
 * fallbacks are not followed, so a → b and b → a give a: [a, b] and b: [b, a], and no chain
 * can loop. An alias listed in its own chain, or twice, is a config problem.
 */
export function buildRouting(
  parsed: ParsedConfig, aliases: Map<string, AliasConfig>, disabled: ReadonlyMap<string, readonly string[]>, problems: string[], warnings: string[],
): GatewayConfig['router'] {
  const router = parsed.router;
  const routingOf = (name: string): AliasRoutingInput | undefined => parsed.models[name]?.routing;
  const known = (name: string) => aliases.has(name) || disabled.has(name);

  const checkTargets = (where: string, list: readonly FallbackTarget[], self?: string) => {
    const seen = new Set<string>();
    for (const target of list) {
      if (target.alias === self) problems.push(`${where}: "${self}" falls back to itself; a chain may not loop.`);
      else if (seen.has(target.alias)) problems.push(`${where}: "${target.alias}" is listed twice; a chain may not loop.`);
      else if (!known(target.alias)) problems.push(`${where}: "${target.alias}" is not a model alias.${hint(target.alias, aliases.keys())}`);
      seen.add(target.alias);
    }
  };
  checkTargets('router.default_fallbacks', targets(router.default_fallbacks));
  const lists: Lists[] = ['fallbacks', 'context_window_fallbacks', 'content_policy_fallbacks'];
  for (const name of aliases.keys()) {
    for (const list of lists) checkTargets(`models.${name}.routing.${list}`, targets(routingOf(name)?.[list]), name);
  }
  if (router.max_timeout_ms < router.request_timeout_ms) {
    warnings.push(`router.request_timeout_ms (${router.request_timeout_ms}) is above router.max_timeout_ms (${router.max_timeout_ms}); requests get at most ${router.max_timeout_ms} ms.`);
  }
  if (router.backoff.max_ms < router.backoff.initial_ms) problems.push('router.backoff.max_ms: must be at least backoff.initial_ms.');

  const defaults = targets(router.default_fallbacks);
  const ownOrDefault = (name: string): FallbackTarget[] => {
    const own = routingOf(name)?.fallbacks;
    return own === undefined ? defaults.filter((t) => t.alias !== name) : targets(own);
  };
  for (const [name, alias] of aliases) {
    const input = routingOf(name) ?? {};
    const retries = {} as Record<RetryClass, number>;
    // The alias's own settings beat the router's; within each, a class's retry_policy beats num_retries.
    for (const cls of RETRY_CLASSES) retries[cls] = input.retry_policy?.[cls] ?? input.num_retries ?? router.retry_policy[cls] ?? router.num_retries;
    const routing: AliasRouting = Object.freeze({
      strategy: input.strategy ?? router.routing_strategy,
      retries: Object.freeze(retries),
      fallbacks: Object.freeze(ownOrDefault(name)),
      contextWindowFallbacks: Object.freeze(targets(input.context_window_fallbacks)),
      contentPolicyFallbacks: Object.freeze(targets(input.content_policy_fallbacks)),
      timeoutMs: Math.min(input.timeout_ms ?? router.request_timeout_ms, router.max_timeout_ms),
    });
    aliases.set(name, Object.freeze({ ...alias, routing }));
  }
  const checks = router.health_checks;
  return Object.freeze({
    backoff: Object.freeze({ initialMs: router.backoff.initial_ms, maxMs: router.backoff.max_ms }),
    allowedFails: router.allowed_fails,
    allowedFailsWindowMs: router.allowed_fails_window_ms,
    cooldownMs: router.cooldown_ms,
    cooldowns: !router.disable_cooldowns,
    maxTimeoutMs: router.max_timeout_ms,
    latencyBuffer: router.latency_buffer,
    healthChecks: Object.freeze({ enabled: checks.enabled, intervalMs: checks.interval_ms, timeoutMs: checks.timeout_ms }),
  });
}
