// The dependency checks /health/ready runs (see readiness-checks.ts for what they mean), built
// from the gateway's runtimes. Each reads state the runtime already keeps, except the database
// check, which asks the identity store one cheap query.

import type { GatewayConfig } from '../config/gateway-config.ts';
import type { IdentityStore } from '../stores/identity-store.ts';
import type { LedgerWriterStats } from '../ledger/ledger-writer.ts';
import type { DeploymentHealth } from '../routing/deployment-health.ts';
import { cachedCheck, type DependencyCheck, type DependencyStatus } from './readiness-checks.ts';

/** The identity store answers its schema version; asked at most once a second. */
export function databaseCheck(config: GatewayConfig, store: IdentityStore): DependencyCheck {
  const backend = config.database.url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
  return cachedCheck({
    name: 'database',
    async check() {
      try {
        const version = await store.schemaVersion();
        return { status: 'ok', backend, schema_version: version };
      } catch (error) {
        // Readiness needs no key: the error's own text (hosts, users) stays out of the answer.
        const why = (error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error';
        return { status: 'down', backend, detail: `the database does not answer (${String(why)}); keys already cached keep working, admin changes and new keys fail` };
      }
    },
  }, 1000);
}

export function limitsCheck(config: GatewayConfig, degraded: () => string | undefined): DependencyCheck {
  return {
    name: 'limits',
    check(): DependencyStatus {
      const backend = config.limits.backend;
      const detail = degraded();
      return detail ? { status: 'degraded', backend, detail } : { status: 'ok', backend };
    },
  };
}

export function ledgerCheck(stats: (() => LedgerWriterStats) | undefined): DependencyCheck {
  return {
    name: 'ledger',
    check(): DependencyStatus {
      if (!stats) return { status: 'disabled' };
      const current = stats();
      const sinks: Record<string, unknown> = {};
      const down: string[] = [];
      for (const [name, sink] of Object.entries(current.sinks)) {
        sinks[name] = { status: sink.down ? 'down' : 'ok', queued: sink.queued, spooled: sink.spooled };
        if (sink.down) down.push(name);
      }
      if (current.dropped > 0) return { status: 'degraded', detail: `${current.dropped} ledger events were lost (the spool disk failed)`, sinks };
      if (down.length > 0) return { status: 'degraded', detail: `sink ${down.join(', ')} is failing: its events are spooled to local disk and replayed when it is back`, sinks };
      return { status: 'ok', sinks };
    },
  };
}

export function deploymentsCheck(config: GatewayConfig, health: DeploymentHealth): DependencyCheck {
  return {
    name: 'deployments',
    check(): DependencyStatus {
      let total = 0;
      const cooling: string[] = [];
      const unservable: string[] = [];
      for (const [alias, settings] of config.aliases) {
        let available = 0;
        for (const dep of settings.deployments) {
          total++;
          const availability = health.availability(dep.id);
          if (availability !== 'cooling') available++;
          if (availability !== 'available') cooling.push(dep.id);
        }
        if (available === 0 && settings.deployments.length > 0) unservable.push(alias);
      }
      if (unservable.length > 0) return { status: 'degraded', total, cooling, detail: `no deployment available for ${unservable.join(', ')} (fallbacks may still serve them)` };
      return cooling.length > 0 ? { status: 'ok', total, cooling } : { status: 'ok', total };
    },
  };
}
