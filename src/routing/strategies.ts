// Routing strategies: given the deployments a request may go to now (healthy, in the best
// priority tier), pick one. Pure functions of the candidates and what DeploymentHealth has
// measured, so each is tested without any I/O.

import type { RoutingStrategy } from '../config/routing-schema.ts';
import type { Deployment } from '../providers/types.ts';
import type { DeploymentStats } from './deployment-health.ts';

export interface StrategyInput {
  readonly stats: (id: string) => DeploymentStats;
  readonly random: () => number;
  /** latency-based: deployments within this fraction of the fastest share the traffic. */
  readonly latencyBuffer: number;
  /** Streams are judged by time to first token, whole calls by latency. */
  readonly stream: boolean;
  /** cost-based: input plus output price per token (undefined: no price known). */
  readonly unitPrice?: (dep: Deployment) => number | undefined;
}

export type Strategy = (candidates: readonly Deployment[], input: StrategyInput) => Deployment;

/** Weighted random choice. */
export function weighted(candidates: readonly Deployment[], random: () => number): Deployment {
  if (candidates.length === 1) return candidates[0]!;
  let total = 0;
  for (const d of candidates) total += d.weight;
  let point = random() * total;
  for (const d of candidates) {
    point -= d.weight;
    if (point < 0) return d;
  }
  return candidates[candidates.length - 1]!;
}

/** The candidates with the lowest score (ties all kept). */
function lowest(candidates: readonly Deployment[], score: (d: Deployment) => number): Deployment[] {
  let best = Infinity;
  let out: Deployment[] = [];
  for (const d of candidates) {
    const s = score(d);
    if (s < best) {
      best = s;
      out = [d];
    } else if (s === best) out.push(d);
  }
  return out.length > 0 ? out : [...candidates];
}

const simpleShuffle: Strategy = (candidates, { random }) => weighted(candidates, random);

/** The first in config order (candidates arrive sorted by priority, then position). */
const ordered: Strategy = (candidates) => candidates[0]!;

/**
 * Fastest by moving average (time to first token for streams, falling back to whole-call
 * latency). Deployments never measured count as fastest, so each gets tried. All within
 * latencyBuffer of the fastest share the traffic by weight, so it does not stampede to one.
 */
const latencyBased: Strategy = (candidates, { stats, random, latencyBuffer, stream }) => {
  const latency = (d: Deployment) => {
    const s = stats(d.id);
    return (stream ? s.ttftMs ?? s.latencyMs : s.latencyMs) ?? 0;
  };
  let best = Infinity;
  for (const d of candidates) best = Math.min(best, latency(d));
  const limit = best * (1 + latencyBuffer);
  return weighted(candidates.filter((d) => latency(d) <= limit), random);
};

/** Fewest calls in flight. */
const leastBusy: Strategy = (candidates, { stats, random }) => weighted(lowest(candidates, (d) => stats(d.id).inFlight), random);

/** The config's own prices, when no price table is given. */
function configPrice(d: Deployment): number | undefined {
  return d.inputCostPerToken === undefined || d.outputCostPerToken === undefined ? undefined : d.inputCostPerToken + d.outputCostPerToken;
}

/** Cheapest per token (input plus output price, from the price table); unpriced deployments come last. */
const costBased: Strategy = (candidates, { random, unitPrice = configPrice }) => weighted(lowest(candidates, (d) => unitPrice(d) ?? Infinity), random);

/**
 * Provisioned capacity first: deployments with an rpm or tpm (reserved or committed quota) are
 * used while they have headroom this minute, the emptiest first; then pay-as-you-go ones (no
 * rpm/tpm) take the burst. When everything is full, the least-full provisioned one is chosen
 * (the policy stage enforces the hard caps).
 */
const usageBased: Strategy = (candidates, { stats, random }) => {
  const headroom = (d: Deployment) => {
    const s = stats(d.id);
    let room = 1;
    if (d.rpm) room = Math.min(room, 1 - s.minuteRequests / d.rpm);
    if (d.tpm) room = Math.min(room, 1 - s.minuteTokens / d.tpm);
    return room;
  };
  const provisioned = candidates.filter((d) => d.rpm !== undefined || d.tpm !== undefined);
  const open = provisioned.filter((d) => headroom(d) > 0);
  if (open.length > 0) return weighted(lowest(open, (d) => -headroom(d)), random);
  const payAsYouGo = candidates.filter((d) => d.rpm === undefined && d.tpm === undefined);
  if (payAsYouGo.length > 0) return weighted(payAsYouGo, random);
  return weighted(lowest(provisioned, (d) => -headroom(d)), random);
};

export const STRATEGIES: Readonly<Record<RoutingStrategy, Strategy>> = {
  'simple-shuffle': simpleShuffle,
  ordered,
  'latency-based': latencyBased,
  'least-busy': leastBusy,
  'cost-based': costBased,
  'usage-based': usageBased,
};
