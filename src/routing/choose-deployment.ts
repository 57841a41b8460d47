// Picks the deployment for one attempt: drops cooling and unhealthy deployments (and those
// this request must avoid), keeps the best priority tier (`order`), and lets the alias's
// strategy choose. A half-open deployment is taken only as the probe (one request at a time).

import type { AliasConfig } from '../config/gateway-config.ts';
import type { Deployment } from '../providers/types.ts';
import type { DeploymentHealth } from './deployment-health.ts';
import { STRATEGIES } from './strategies.ts';

export interface ChooseOptions {
  readonly health: DeploymentHealth;
  readonly random: () => number;
  readonly latencyBuffer: number;
  readonly stream: boolean;
  /** Deployments this request must not use (refused by their own limits, or failed already). */
  readonly avoid?: ReadonlySet<string>;
  /** Receives the ids of half-open deployments this request claimed as their probe. */
  readonly probes?: Set<string>;
  /** cost-based: a deployment's input plus output price per token. */
  readonly unitPrice?: (dep: Deployment) => number | undefined;
}

export async function chooseDeployment(alias: AliasConfig, options: ChooseOptions): Promise<Deployment | undefined> {
  const { health, avoid } = options;
  const only = alias.deployments.length === 1 ? alias.deployments[0]! : undefined;
  // The common case, one deployment that is up: no filtering, no strategy.
  if (only && !avoid?.has(only.id) && health.availability(only.id) === 'available') return only;
  let open = alias.deployments.filter((d) => !avoid?.has(d.id) && health.availability(d.id) !== 'cooling');
  const strategy = STRATEGIES[alias.routing.strategy];
  const input = { stats: (id: string) => health.stats(id), random: options.random, latencyBuffer: options.latencyBuffer, stream: options.stream, ...(options.unitPrice ? { unitPrice: options.unitPrice } : {}) };
  while (open.length > 0) {
    let order = Infinity;
    for (const d of open) order = Math.min(order, d.order);
    const tier = open.filter((d) => d.order === order);
    const dep = strategy(tier, input);
    if (health.availability(dep.id) === 'available') return dep;
    if (await health.claimProbe(dep)) {
      options.probes?.add(dep.id);
      return dep;
    }
    open = open.filter((d) => d !== dep);
  }
  return undefined;
}
