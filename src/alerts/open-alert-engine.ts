// The gateway's alert engine from the parsed `alerts:` section: built, started, and handed back
// for wiring (see docs/alerts.md): add it to the call observers, route budget alerts to it
// (limits.alerts.route(engine.budgetRoute())), subscribe it to cooldowns
// (health.onCooldown((c) => engine.deploymentCooling(c))), and close it on shutdown.

import type { AlertsInput } from '../config/alerts-schema.ts';
import { AlertEngine, type AlertEngineOptions } from './alert-engine.ts';
import { alertSettings, type LegacyBudgetAlerts } from './alert-settings.ts';

export interface OpenAlertEngineOptions extends Omit<AlertEngineOptions, 'settings'> {
  /** The older limits.alerts settings (GatewayConfig.limits.alerts): folded into the budget rule. */
  readonly legacyBudgetAlerts?: LegacyBudgetAlerts;
}

/** Undefined when `alerts.enabled` is false. Throws when a webhook URL is invalid (without echoing it). */
export function openAlertEngine(input: AlertsInput, options: OpenAlertEngineOptions): AlertEngine | undefined {
  const { legacyBudgetAlerts, ...rest } = options;
  const settings = alertSettings(input, legacyBudgetAlerts);
  if (!settings.enabled) return undefined;
  const engine = new AlertEngine({ ...rest, settings });
  engine.start();
  return engine;
}
