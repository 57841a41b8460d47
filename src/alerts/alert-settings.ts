// The parsed `alerts:` section → the engine's frozen settings. Rules are keyed by their alert
// name (the `alert` field of the webhook body), with each rule's webhooks resolved: its own
// list when it has one, else the section's.
//
// The older budget-alert settings (limits.alerts) keep working: their thresholds are added to
// the budget rule's, and their webhook_url is added to the budget rule's webhooks, so a config
// written before this section existed alerts exactly as before (plus the new 100% threshold).

import { alertsSchema, type AlertsInput, type AlertWebhookInput } from '../config/alerts-schema.ts';
import type { WebhookFormat } from './webhook-target.ts';

export interface WebhookSetting {
  readonly url: string;
  /** Undefined: decided by the URL (slack for hooks.slack.com). */
  readonly format?: WebhookFormat;
}

interface RuleBase {
  readonly enabled: boolean;
  readonly webhooks: readonly WebhookSetting[];
}

export interface RateRuleSettings extends RuleBase {
  /** A fraction: the rule fires when the window's rate is above it. */
  readonly threshold: number;
  /** Calls in the window below which the rule does not fire (one failure in three calls is not a 33% error rate). */
  readonly minRequests: number;
}

export interface AlertRuleSettings {
  readonly budget: RuleBase & { readonly thresholds: readonly number[] };
  readonly deployment_cooldown: RuleBase;
  readonly fallback_rate: RateRuleSettings;
  readonly rate_limited_rate: RateRuleSettings;
  readonly provider_error_rate: RateRuleSettings;
  readonly latency_p95: RuleBase & { readonly thresholdMs: number; readonly minRequests: number };
  readonly tenant_spend_spike: RuleBase & { readonly ratio: number; readonly minSpendUsd: number; readonly minActiveDays: number };
}

export interface AlertSettings {
  readonly enabled: boolean;
  readonly evaluateIntervalMs: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly sendResolved: boolean;
  readonly webhookTimeoutMs: number;
  readonly baselineRefreshMs: number;
  readonly rules: AlertRuleSettings;
}

/** The older `limits.alerts` settings, as GatewayConfig holds them. */
export interface LegacyBudgetAlerts {
  readonly thresholds?: readonly number[];
  readonly webhookUrl?: string;
}

export function alertSettings(input: AlertsInput, legacy: LegacyBudgetAlerts = {}): AlertSettings {
  const global = input.webhooks.map(webhookSetting);
  const hooks = (own: readonly AlertWebhookInput[] | undefined): readonly WebhookSetting[] => Object.freeze(own ? own.map(webhookSetting) : global);
  const r = input.rules;
  const budgetHooks = [...hooks(r.budget.webhooks)];
  if (legacy.webhookUrl && !budgetHooks.some((h) => h.url === legacy.webhookUrl)) budgetHooks.push({ url: legacy.webhookUrl });
  const rules: AlertRuleSettings = {
    budget: {
      enabled: r.budget.enabled,
      webhooks: Object.freeze(budgetHooks),
      thresholds: Object.freeze([...new Set([...r.budget.thresholds, ...(legacy.thresholds ?? [])])].sort((a, b) => a - b)),
    },
    deployment_cooldown: { enabled: r.deployment_cooldown.enabled, webhooks: hooks(r.deployment_cooldown.webhooks) },
    fallback_rate: rateRule(r.fallback_rate, hooks),
    rate_limited_rate: rateRule(r.rate_limited_rate, hooks),
    provider_error_rate: rateRule(r.provider_error_rate, hooks),
    latency_p95: {
      enabled: r.latency_p95.enabled,
      webhooks: hooks(r.latency_p95.webhooks),
      thresholdMs: r.latency_p95.threshold_ms,
      minRequests: r.latency_p95.min_requests,
    },
    tenant_spend_spike: {
      enabled: r.tenant_spend_spike.enabled,
      webhooks: hooks(r.tenant_spend_spike.webhooks),
      ratio: r.tenant_spend_spike.ratio,
      minSpendUsd: r.tenant_spend_spike.min_spend_usd,
      minActiveDays: r.tenant_spend_spike.min_active_days,
    },
  };
  for (const rule of Object.values(rules)) Object.freeze(rule);
  return Object.freeze({
    enabled: input.enabled,
    evaluateIntervalMs: input.evaluate_interval_ms,
    windowMs: input.window_ms,
    cooldownMs: input.cooldown_ms,
    sendResolved: input.send_resolved,
    webhookTimeoutMs: input.webhook_timeout_ms,
    baselineRefreshMs: input.baseline_refresh_ms,
    rules: Object.freeze(rules),
  });
}

/** Settings from a raw `alerts:` value (as in YAML); throws zod's error when it is invalid. For tests and tools. */
export function parseAlertSettings(raw: unknown = {}, legacy?: LegacyBudgetAlerts): AlertSettings {
  return alertSettings(alertsSchema.parse(raw), legacy);
}

function rateRule(
  input: { enabled: boolean; webhooks?: AlertWebhookInput[] | undefined; threshold: number; min_requests: number },
  hooks: (own: readonly AlertWebhookInput[] | undefined) => readonly WebhookSetting[],
): RateRuleSettings {
  return { enabled: input.enabled, webhooks: hooks(input.webhooks), threshold: input.threshold, minRequests: input.min_requests };
}

function webhookSetting(input: AlertWebhookInput): WebhookSetting {
  if (typeof input === 'string') return Object.freeze({ url: input });
  return Object.freeze(input.format ? { url: input.url, format: input.format } : { url: input.url });
}
