import type { AliasConfig } from '../../src/config/gateway-config.ts';
import type { RoutingStrategy } from '../../src/config/routing-schema.ts';
import type { Deployment } from '../../src/providers/types.ts';
import type { DeploymentStats } from '../../src/routing/deployment-health.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A hand-made deployment for routing tests (no config file, never called). */
export function deployment(id: string, overrides: Partial<Mutable<Deployment>> = {}): Deployment {
  return {
    id,
    alias: 'chat',
    provider: 'simulator',
    model: 'sim-1',
    headers: {},
    weight: 1,
    timeoutMs: 1_000,
    streamTimeoutMs: 2_000,
    connectTimeoutMs: 500,
    order: 1,
    healthCheck: true,
    dropParams: false,
    modelInfo: {},
    ...overrides,
  };
}

/** An alias over `deployments` with the given strategy; the rest of its routing is irrelevant here. */
export function aliasOf(deployments: readonly Deployment[], strategy: RoutingStrategy = 'ordered'): AliasConfig {
  return {
    name: 'chat',
    deployments,
    routing: {
      strategy,
      retries: { rate_limit: 0, timeout: 0, server_error: 0, connect_error: 0 },
      fallbacks: [],
      contextWindowFallbacks: [],
      contentPolicyFallbacks: [],
      timeoutMs: 60_000,
    },
  };
}

/** A stats lookup from a table; deployments not listed are idle and unmeasured. */
export function statsFrom(table: Readonly<Record<string, Partial<DeploymentStats>>>): (id: string) => DeploymentStats {
  return (id) => ({ inFlight: 0, minuteRequests: 0, minuteTokens: 0, ...table[id] });
}
