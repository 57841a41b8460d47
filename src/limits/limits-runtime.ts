// Opens what limits and budgets need at run time, from the config: the counter store (memory,
// or Redis behind the fail-open/closed policy), budget alerts, the price table dollar limits
// are counted by, and the policy stage.

import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Limits } from '../identity/records.ts';
import { createPriceTable, type PriceTable } from '../ledger/pricing/price-table.ts';
import type { Logger } from '../logging/logger.ts';
import type { LimitPolicySource } from './limit-policies.ts';
import { createPolicy, type Policy } from '../pipeline/policy.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { BudgetAlerts } from './budget-alerts.ts';
import type { CounterStore } from './counter-store.ts';
import { FailoverCounterStore } from './failover-counter-store.ts';
import { MemoryCounterStore } from './memory-counter-store.ts';

export interface LimitsRuntime {
  readonly store: CounterStore;
  readonly policy: Policy;
  readonly alerts: BudgetAlerts;
  /** Prices of the config's deployments, resolved at startup: budgets use it, and so should the ledger (one price_table_version). */
  readonly prices: PriceTable;
  /** The global scope's limits in effect. */
  global(): Readonly<Limits>;
  /** The clock budgets are counted by (epoch ms). */
  readonly now: () => number;
  /** Why limits are degraded (shared store down), for /health/ready; undefined when healthy. */
  degraded(): string | undefined;
  close(): Promise<void>;
}

export interface LimitsRuntimeOptions {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Epoch ms; tests inject a clock to cross budget periods. */
  readonly now?: () => number;
  /** Replaces the configured store (tests). */
  readonly store?: CounterStore;
  /** Global and deployment limits set through the admin API (and config). */
  readonly policies?: LimitPolicySource;
  /** Replaces the price table built from the config's deployments. */
  readonly prices?: PriceTable;
}

/** Loads the Redis client only when the Redis backend is configured (it is not small). */
export async function openLimitsRuntime(options: LimitsRuntimeOptions): Promise<LimitsRuntime> {
  const { config, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const limits = config.limits;
  let store: CounterStore;
  let failover: FailoverCounterStore | undefined;
  if (options.store) store = options.store;
  else if (limits.backend === 'redis' && config.redis) {
    const { RedisCounterStore } = await import('./redis-counter-store.ts');
    const redis = new RedisCounterStore({ url: config.redis.url, keyPrefix: `${config.redis.keyPrefix}limits:` });
    store = failover = new FailoverCounterStore({ primary: redis, mode: limits.onStoreFailure, logger, metrics });
  } else store = new MemoryCounterStore();
  const alerts = new BudgetAlerts({
    thresholds: limits.alerts.thresholds,
    ...(limits.alerts.webhookUrl ? { webhookUrl: limits.alerts.webhookUrl } : {}),
    webhookTimeoutMs: limits.alerts.webhookTimeoutMs,
    logger,
    metrics,
    claim: (id, expiresAt) => store.claimOnce(id, now(), expiresAt),
    now,
  });
  const prices = options.prices ?? createPriceTable([...config.aliases.values()].flatMap((alias) => alias.deployments), { now, logger });
  const policy = createPolicy({ store, global: limits.global, ...(options.policies ? { policies: options.policies } : {}), trackSpend: limits.trackSpend, logger, alerts, prices, now });
  return {
    store,
    policy,
    alerts,
    prices,
    now,
    global: () => options.policies?.get('global') ?? limits.global,
    degraded: () => failover?.degraded(),
    async close() {
      // Alerts still being delivered get a moment; a hanging webhook never holds up shutdown.
      await Promise.race([alerts.idle(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      await store.close();
    },
  };
}
