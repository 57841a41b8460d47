import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Logger } from '../logging/logger.ts';
import type { TransportFor } from '../pipeline/dispatch.ts';
import type { Random } from '../pipeline/route.ts';
import type { Policy } from '../pipeline/policy.ts';
import type { TokenEstimator } from '../limits/token-estimate.ts';
import type { PriceTable } from '../ledger/pricing/price-table.ts';
import type { DeploymentHealth } from '../routing/deployment-health.ts';
import type { ReliableCall } from '../routing/reliable-call.ts';
import type { ResponseCache } from '../cache/response-cache.ts';
import type { Guardrails } from '../guardrails/guardrails.ts';

/** Everything the request path needs, injected by createApp (tests swap any of it). */
export interface AppDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly transportFor: TransportFor;
  readonly random: Random;
  /** Largest upstream success body the gateway will read (non-streaming). */
  readonly maxUpstreamBodyBytes: number;
  /** Policy stage: rate limits, concurrency, cost cap and budget reservation. */
  readonly policy: Policy;
  /** Token counts for limits (loaded on first use). */
  readonly tokens: TokenEstimator;
  /** What each deployment has answered: cooldowns, latency, calls in flight. */
  readonly health: DeploymentHealth;
  /** Prices per deployment (the ledger's table): x-gateway-cost-usd. */
  readonly prices: PriceTable;
  /** The response cache (src/cache/); undefined when cache.enabled is false. */
  readonly cache: ResponseCache | undefined;
  /** The guardrails (src/guardrails/); undefined when guardrails.enabled is false. */
  readonly guardrails: Guardrails | undefined;
  /** Route, policy and dispatch with retries and fallbacks: the routes' one way to call a provider. */
  readonly call: ReliableCall;
}
