// Webhook bodies for an alert. Pure: an Alert in, a JSON string out.
//
// Generic JSON (any URL but Slack's; docs/alerts.md documents it):
//   { "alert": "fallback_rate", "state": "firing" | "resolved", "severity": "warning" | "critical",
//     "subject": "gateway" | "provider:openai" | "tenant:acme" | "deployment:gpt-4o#0" | "team:payments" | …,
//     "value": 0.125, "threshold": 0.1, "window": "5m", "message": "…", "at": "2026-…Z" }
// Slack (hooks.slack.com, or format: slack): { "text", "blocks" }: `text` is the notification
// line (and what clients without blocks show), `blocks` a section and a context line.
//
// Nothing secret is in either: the alert holds rule names, ids and numbers only.

import type { Alert, AlertRule } from './alert.ts';
import type { WebhookFormat } from './webhook-target.ts';

const TITLES: Readonly<Record<AlertRule, string>> = {
  budget: 'Budget threshold crossed',
  deployment_cooldown: 'Deployment entered cooldown',
  fallback_rate: 'Fallback rate high',
  rate_limited_rate: '429 rate high',
  provider_error_rate: 'Provider error rate high',
  latency_p95: 'p95 latency high',
  tenant_spend_spike: 'Tenant spend spike',
};

export interface GenericAlertBody {
  readonly alert: AlertRule;
  readonly state: Alert['state'];
  readonly severity: Alert['severity'];
  readonly subject: string;
  readonly value: number;
  readonly threshold: number | null;
  readonly window: string | null;
  readonly message: string;
  /** ISO 8601. */
  readonly at: string;
}

export function genericBody(alert: Alert): GenericAlertBody {
  return {
    alert: alert.rule,
    state: alert.state,
    severity: alert.severity,
    subject: alert.subject,
    value: alert.value,
    threshold: alert.threshold,
    window: alert.window,
    message: alert.message,
    at: new Date(alert.at).toISOString(),
  };
}

export interface SlackBody {
  readonly text: string;
  readonly blocks: readonly unknown[];
}

export function slackBody(alert: Alert): SlackBody {
  const resolved = alert.state === 'resolved';
  const icon = resolved ? ':white_check_mark:' : alert.severity === 'critical' ? ':rotating_light:' : ':warning:';
  const title = `${resolved ? 'Resolved: ' : ''}${TITLES[alert.rule]}`;
  const message = escapeMrkdwn(alert.message);
  const context = [
    `\`${alert.rule}\``,
    escapeMrkdwn(alert.subject),
    alert.severity,
    ...(alert.window !== null ? [`window ${escapeMrkdwn(alert.window)}`] : []),
    new Date(alert.at).toISOString(),
  ].join(' · ');
  return {
    text: `${icon} Tollgate: ${message}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${icon} *${title}*\n${message}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: context }] },
    ],
  };
}

export function alertBody(alert: Alert, format: WebhookFormat): string {
  return JSON.stringify(format === 'slack' ? slackBody(alert) : genericBody(alert));
}

/** Slack reads &, < and > as markup (links, mentions): they must be escaped in text. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (ch) => (ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : '&gt;'));
}
