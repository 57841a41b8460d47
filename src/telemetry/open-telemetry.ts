// Opens the gateway's telemetry from its config: the observers every finished model call goes to
// (Prometheus call metrics, OpenTelemetry traces, Langfuse, alert rules), the gauges read when
// /metrics is scraped (deployment states, budget utilisation), and the counters that say what
// telemetry was exported, dropped or failed. None of it is on a request's path: observers queue
// and return, exporters send in batches from timers, and a receiver that is down, slow or
// refusing only shows in tollgate_telemetry_* counters and throttled log lines.

import type { GatewayConfig } from '../config/gateway-config.ts';
import type { IdentityRuntime } from '../identity/identity-runtime.ts';
import type { LedgerRuntime } from '../ledger/ledger-runtime.ts';
import type { LimitsRuntime } from '../limits/limits-runtime.ts';
import type { Logger } from '../logging/logger.ts';
import type { DeploymentHealth } from '../routing/deployment-health.ts';
import { openAlertEngine } from '../alerts/open-alert-engine.ts';
import { budgetTargetsFromAdmin, registerBudgetUtilizationGauge } from './budget-utilization-gauge.ts';
import { CallMetrics } from './call-metrics.ts';
import { registerDeploymentStateGauge } from './deployment-state-gauge.ts';
import type { CallObserver } from './finished-call.ts';
import { openLangfuseExporter } from './langfuse/open-langfuse-exporter.ts';
import type { Metrics } from './metrics.ts';
import { openTracingObserver } from './tracing/open-tracing-observer.ts';

/**
 * How long shutdown gives each exporter to send what it holds (they close in parallel, after the
 * ledger): a collector or Langfuse that is down must not hold a deploy up for long.
 */
const CLOSE_TIMEOUT_MS = 3_000;

export interface TelemetryDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly health: DeploymentHealth;
  readonly limits: LimitsRuntime;
  readonly identity: IdentityRuntime;
  readonly ledger: LedgerRuntime;
}

export interface Telemetry {
  readonly observers: readonly CallObserver[];
  /** Sends what the exporters hold (each within its own deadline) and stops them. Never rejects. */
  close(): Promise<void>;
}

export async function openTelemetry(deps: TelemetryDeps): Promise<Telemetry> {
  const { config, logger, metrics, health, limits, identity, ledger } = deps;
  const exported = metrics.counter('tollgate_telemetry_exported_total', 'Telemetry items a receiver accepted: spans (otlp), events (langfuse), alerts (alerts).', ['exporter']);
  const dropped = metrics.counter('tollgate_telemetry_dropped_total', 'Telemetry items dropped (full buffer, receiver failing, shutdown), by exporter and reason. Requests are never held for telemetry.', ['exporter', 'reason']);
  const failed = metrics.counter('tollgate_telemetry_export_failures_total', 'Exports a receiver refused or did not answer, by exporter and reason.', ['exporter', 'reason']);
  const observers: CallObserver[] = [];

  if (config.metrics.enabled) {
    observers.push(new CallMetrics(metrics, {
      tenantLabels: config.metrics.tenantLabels,
      cacheEnabled: config.cache.enabled,
      isAlias: (name) => config.aliases.has(name) || config.disabledAliases.has(name),
    }));
    registerDeploymentStateGauge(metrics, { health, deployments: () => [...config.aliases.values()].flatMap((alias) => alias.deployments) });
    registerBudgetUtilizationGauge(metrics, { store: limits.store, now: limits.now, targets: budgetTargetsFromAdmin(identity.admin, { global: limits.global }) });
  }

  const tracing = await openTracingObserver(config.tracing, {
    logger,
    closeTimeoutMs: CLOSE_TIMEOUT_MS,
    maxTextChars: config.ledger.promptLogging.maxChars,
    hooks: {
      onExported: (spans) => exported.inc({ exporter: 'otlp' }, spans),
      onDropped: (spans, reason) => dropped.inc({ exporter: 'otlp', reason }, spans),
      onExportFailed: (reason) => failed.inc({ exporter: 'otlp', reason }),
    },
  });
  if (tracing) observers.push(tracing);

  const langfuse = openLangfuseExporter(config.langfuse, {
    logger,
    closeTimeoutMs: CLOSE_TIMEOUT_MS,
    onCount: (outcome, reason, events) => {
      if (outcome === 'sent') exported.inc({ exporter: 'langfuse' }, events);
      else if (outcome === 'dropped') dropped.inc({ exporter: 'langfuse', reason }, events);
      else failed.inc({ exporter: 'langfuse', reason }, events);
    },
  });
  if (langfuse) observers.push(langfuse);

  const alerts = openAlertEngine(config.alerts, {
    logger,
    legacyBudgetAlerts: config.limits.alerts,
    ...(ledger.reader ? { reader: ledger.reader } : {}),
    claim: (id, expiresAt) => limits.store.claimOnce(id, limits.now(), expiresAt),
    onDelivery: (_rule, delivery) => {
      if (delivery.outcome === 'sent') exported.inc({ exporter: 'alerts' });
      else if (delivery.outcome === 'dropped') dropped.inc({ exporter: 'alerts', reason: delivery.reason ?? 'dropped' });
      else failed.inc({ exporter: 'alerts', reason: delivery.reason ?? 'failed' });
    },
  });
  let stopCooldownAlerts: (() => void) | undefined;
  if (alerts) {
    limits.alerts.route(alerts.budgetRoute());
    stopCooldownAlerts = health.onCooldown((entered) => alerts.deploymentCooling(entered));
    observers.push(alerts);
  }

  return {
    observers,
    async close() {
      stopCooldownAlerts?.();
      await Promise.all(observers.map((observer) => observer.close().catch(() => undefined)));
    },
  };
}
