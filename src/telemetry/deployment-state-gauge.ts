// tollgate_deployment_state{alias, deployment, state}: 1 for each deployment's current state
// (healthy, cooling, unhealthy), 0 for the other two, so a dashboard can both count
// deployments per state and draw one deployment's state over time. It is read from
// DeploymentHealth when /metrics is scraped: the request path never updates it, and a
// deployment's state is the same one /health/providers shows at that moment.

import type { Deployment } from '../providers/types.ts';
import type { DeploymentReport } from '../routing/deployment-health.ts';
import type { Metrics } from './metrics.ts';

export const DEPLOYMENT_STATES = ['healthy', 'cooling', 'unhealthy'] as const;

export interface DeploymentStateGaugeOptions {
  /** DeploymentHealth (only report() is read). */
  readonly health: { report(dep: Deployment): Pick<DeploymentReport, 'state'> };
  /** The deployments to show, read at each scrape (e.g. every alias's deployments in the config). */
  readonly deployments: () => Iterable<Deployment>;
}

/** Half-open (cooldown over, a probe request pending) counts as cooling: it takes no traffic but the probe. */
function stateOf(report: Pick<DeploymentReport, 'state'>): (typeof DEPLOYMENT_STATES)[number] {
  return report.state === 'half_open' ? 'cooling' : report.state;
}

export function registerDeploymentStateGauge(metrics: Metrics, options: DeploymentStateGaugeOptions): void {
  metrics.stateGauge(
    'tollgate_deployment_state',
    'Deployment state at scrape time: 1 for the current one of healthy, cooling (cooldown or half-open) and unhealthy (failed health check), else 0.',
    ['alias', 'deployment', 'state'],
    (set) => {
      for (const dep of options.deployments()) {
        const current = stateOf(options.health.report(dep));
        for (const state of DEPLOYMENT_STATES) set({ alias: dep.alias, deployment: dep.id, state }, state === current ? 1 : 0);
      }
    },
  );
}
