// The `alerts:` config section: alert rules evaluated in the gateway and sent to webhooks.
// Every rule is on by default with the thresholds below; with no webhook configured, alerts
// are still logged (warn). A webhook URL may be a secret (reference it as os.environ/NAME):
// only its origin is ever logged.
//
// alerts:
//   webhooks: [os.environ/SLACK_ALERTS_URL]          # hooks.slack.com gets Slack's { text, blocks }
//   rules:
//     latency_p95: { threshold_ms: 8000 }
//     tenant_spend_spike: { webhooks: [{ url: https://ops.example/hook, format: json }] }

import { z } from 'zod';
import { fromEnv } from './identity-schema.ts';

const HTTP_URL = 'must be an http:// or https:// URL';
const webhookUrl = z.string().refine((text) => /^https?:\/\//i.test(text) && URL.canParse(text), { error: HTTP_URL });

/** A URL, or { url, format } to force a body shape (format slack suits Slack-compatible receivers such as Mattermost). */
const webhook = z.union([
  webhookUrl,
  z.strictObject({
    url: webhookUrl,
    /** Default: slack for hooks.slack.com, json otherwise. */
    format: z.enum(['slack', 'json']).optional(),
  }),
]);
const webhooks = z.array(webhook).max(10, { error: 'at most 10 webhooks' });

const int = (min: number, max: number, rule: string) => fromEnv(z.number().int({ error: rule }).min(min, { error: rule }).max(max, { error: rule }));
const fraction = fromEnv(z.number().gt(0, { error: 'must be a fraction above 0 (0.05 = 5%)' }).lt(1, { error: 'must be a fraction below 1 (0.05 = 5%)' }));
const minRequests = int(1, 1_000_000, 'must be a whole number of requests, 1 to 1000000');
const budgetThreshold = fromEnv(z.number().gt(0, { error: 'must be a fraction above 0' }).max(1, { error: 'must be at most 1 (100%)' }));

/** Every rule: on/off, and webhooks that replace the section's list for this rule. */
const common = {
  enabled: fromEnv(z.boolean()).default(true),
  webhooks: webhooks.optional(),
};

export const alertsSchema = z.strictObject({
  /** false: no rule is evaluated and nothing is sent (budget alerts fall back to limits.alerts). */
  enabled: fromEnv(z.boolean()).default(true),
  /** Every alert goes to each of these, unless its rule lists its own. */
  webhooks: webhooks.default([]),
  /** How often the windowed rules are evaluated. */
  evaluate_interval_ms: int(1_000, 600_000, 'must be 1000 to 600000 ms').default(10_000),
  /** The sliding window rates and the p95 are measured over. */
  window_ms: int(10_000, 86_400_000, 'must be 10000 ms (10 s) to 86400000 ms (1 day)').default(300_000),
  /**
   * Per rule and subject (provider, tenant, deployment…): after an alert, the same one is not
   * sent again for this long; a windowed rule's alert ends (resolved) once its condition has
   * been clear this long.
   */
  cooldown_ms: int(0, 604_800_000, 'must be 0 to 604800000 ms (7 days)').default(900_000),
  /** Send a "resolved" message when a windowed rule's alert ends. */
  send_resolved: fromEnv(z.boolean()).default(true),
  webhook_timeout_ms: int(100, 60_000, 'must be 100 to 60000 ms').default(5_000),
  /** How often tenants' 7-day spend averages are reloaded from the ledger. */
  baseline_refresh_ms: int(60_000, 86_400_000, 'must be 60000 ms (1 min) to 86400000 ms (1 day)').default(600_000),
  rules: z.strictObject({
    /** A budget's spend reached a fraction of its limit; once per budget, threshold and period. */
    budget: z.strictObject({
      ...common,
      thresholds: z.array(budgetThreshold).min(1).max(10).default([0.8, 1]),
    }).prefault({}),
    /** A deployment's circuit breaker opened (it entered cooldown). */
    deployment_cooldown: z.strictObject({ ...common }).prefault({}),
    /** Share of calls served by a fallback alias. */
    fallback_rate: z.strictObject({
      ...common,
      threshold: fraction.default(0.1),
      min_requests: minRequests.default(20),
    }).prefault({}),
    /** Share of calls refused by a limit or answered 429. */
    rate_limited_rate: z.strictObject({
      ...common,
      threshold: fraction.default(0.05),
      min_requests: minRequests.default(20),
    }).prefault({}),
    /** Per provider: share of upstream attempts that failed by the provider's fault. */
    provider_error_rate: z.strictObject({
      ...common,
      threshold: fraction.default(0.01),
      min_requests: minRequests.default(100),
    }).prefault({}),
    /** Per provider: p95 latency (whole call; time to first token for streams). */
    latency_p95: z.strictObject({
      ...common,
      threshold_ms: int(1, 3_600_000, 'must be 1 to 3600000 ms').default(5_000),
      min_requests: minRequests.default(20),
    }).prefault({}),
    /** Per tenant: today's spend (UTC) above `ratio` × its average over the 7 days before. */
    tenant_spend_spike: z.strictObject({
      ...common,
      ratio: fromEnv(z.number().gt(0, { error: 'must be above 0 (1.2 = 120% of the average)' }).max(1_000)).default(1.2),
      /** Today's spend must be at least this (US dollars), so small tenants do not page anyone. */
      min_spend_usd: fromEnv(z.number().min(0)).default(1),
      /** Days of the 7 with spend, so a tenant a day old has no "spike". */
      min_active_days: int(1, 7, 'must be 1 to 7 days').default(3),
    }).prefault({}),
  }).prefault({}),
}).prefault({});

export type AlertsInput = z.output<typeof alertsSchema>;
export type AlertWebhookInput = z.output<typeof webhook>;
