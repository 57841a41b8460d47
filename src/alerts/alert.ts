// What an alert is, once a rule has decided to send one. This is the engine's one shape: the
// Slack and generic webhook bodies, and the log line, are all made from it.

export const ALERT_RULES = [
  'budget',
  'deployment_cooldown',
  'fallback_rate',
  'rate_limited_rate',
  'provider_error_rate',
  'latency_p95',
  'tenant_spend_spike',
] as const;
export type AlertRule = (typeof ALERT_RULES)[number];

export type AlertSeverity = 'warning' | 'critical';

export interface Alert {
  readonly rule: AlertRule;
  /** firing: the condition started; resolved: it has been clear for the cooldown (windowed rules only). */
  readonly state: 'firing' | 'resolved';
  readonly severity: AlertSeverity;
  /** What the alert is about, as `kind:id`: `gateway`, `provider:openai`, `tenant:acme`, `deployment:gpt-4o#0`, `team:payments`. */
  readonly subject: string;
  /**
   * The measured value, in the rule's unit: a fraction for rates and budgets (0.12 = 12 %),
   * milliseconds for latency, US dollars for tenant spend, milliseconds of cooldown for
   * deployment cooldowns.
   */
  readonly value: number;
  /** Same unit as `value`; null when the alert is an event with no threshold (a cooldown). */
  readonly threshold: number | null;
  /** What `value` was measured over: `5m`, `today (UTC)`, a budget period id; null for events. */
  readonly window: string | null;
  /** One readable sentence, with no secrets (ids and numbers only). */
  readonly message: string;
  /** Epoch ms. */
  readonly at: number;
}
