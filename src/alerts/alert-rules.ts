// The rules: pure functions from what was measured (and the settings) to alerts. The windowed
// rules return the alerts whose condition holds now; the engine decides which are new (and
// sent) and which have ended. Event rules (budget, deployment cooldown) turn one event into
// one alert. Each message is one sentence of ids and numbers: no request content, no URLs.

import type { Alert, AlertRule } from './alert.ts';
import type { AlertSettings } from './alert-settings.ts';
import type { CallStats } from './call-stats.ts';
import type { RateCounts } from './sliding-window.ts';
import type { TenantToday } from './tenant-spend.ts';

/** What tells one alert's episode from another's: the rule and its subject. */
export function alertKey(rule: AlertRule, subject: string): string {
  return `${rule}|${subject}`;
}

/** Whether a rate rule fires: enough calls, and a rate strictly above the threshold. */
export function rateFires(counts: RateCounts, threshold: number, minRequests: number): boolean {
  return counts.total >= minRequests && counts.total > 0 && counts.hits / counts.total > threshold;
}

/** The windowed rules' alerts whose condition holds at `now`. */
export function firingAlerts(settings: AlertSettings, stats: CallStats, tenants: Iterable<TenantToday>, now: number): Alert[] {
  const rules = settings.rules;
  const window = formatDuration(settings.windowMs);
  const out: Alert[] = [];
  const rate = (rule: 'fallback_rate' | 'rate_limited_rate' | 'provider_error_rate', subject: string, counts: RateCounts, text: (pct: string) => string) => {
    const s = rules[rule];
    if (!rateFires(counts, s.threshold, s.minRequests)) return;
    const value = counts.hits / counts.total;
    out.push({
      rule, state: 'firing', severity: 'warning', subject, value, threshold: s.threshold, window, at: now,
      message: `${text(formatPercent(value))} (${counts.hits} of ${counts.total} in the last ${window}), above ${formatPercent(s.threshold)}.`,
    });
  };
  if (rules.fallback_rate.enabled) {
    rate('fallback_rate', 'gateway', stats.fallbacks.counts(now), (pct) => `${pct} of calls were served by a fallback model`);
  }
  if (rules.rate_limited_rate.enabled) {
    rate('rate_limited_rate', 'gateway', stats.throttled.counts(now), (pct) => `${pct} of calls were refused by a rate limit or answered 429`);
  }
  if (rules.provider_error_rate.enabled) {
    for (const [provider, errors] of stats.providerErrors) {
      rate('provider_error_rate', `provider:${provider}`, errors.counts(now), (pct) => `Provider ${provider}: ${pct} of upstream calls failed`);
    }
  }
  if (rules.latency_p95.enabled) {
    const s = rules.latency_p95;
    for (const [provider, latency] of stats.providerLatency) {
      const { count, p95 } = latency.summary(now);
      if (count < s.minRequests || p95 === undefined || !(p95 > s.thresholdMs)) continue;
      out.push({
        rule: 'latency_p95', state: 'firing', severity: 'warning', subject: `provider:${provider}`, value: Math.round(p95), threshold: s.thresholdMs, window, at: now,
        message: `Provider ${provider}: p95 latency is ${formatMs(p95)} over ${count} calls in the last ${window}, above ${formatMs(s.thresholdMs)}.`,
      });
    }
  }
  if (rules.tenant_spend_spike.enabled) {
    const s = rules.tenant_spend_spike;
    for (const t of tenants) {
      const limit = s.ratio * t.averageUsd;
      if (t.activeDays < s.minActiveDays || t.todayUsd < s.minSpendUsd || !(t.todayUsd > limit)) continue;
      const ofAverage = t.averageUsd > 0 ? `${formatPercent(t.todayUsd / t.averageUsd)} of` : 'above';
      out.push({
        rule: 'tenant_spend_spike', state: 'firing', severity: 'warning', subject: `tenant:${t.tenant}`, value: roundUsd(t.todayUsd), threshold: roundUsd(limit),
        window: 'today (UTC)', at: now,
        message: `Tenant ${t.tenant} has spent ${formatUsd(t.todayUsd)} today (UTC), ${ofAverage} its 7-day average of ${formatUsd(t.averageUsd)} (alert above ${formatPercent(s.ratio)}).`,
      });
    }
  }
  return out;
}

const TITLES: Readonly<Record<AlertRule, string>> = {
  budget: 'Budget',
  deployment_cooldown: 'Deployment cooldown',
  fallback_rate: 'Fallback rate',
  rate_limited_rate: '429 rate',
  provider_error_rate: 'Error rate',
  latency_p95: 'p95 latency',
  tenant_spend_spike: 'Spend spike',
};

/** A windowed alert that has ended: its last firing alert, resolved at `now`. */
export function resolvedAlert(last: Alert, calmMs: number, now: number): Alert {
  const subject = last.subject === 'gateway' ? '' : ` for ${last.subject.replace(':', ' ')}`;
  return {
    ...last, state: 'resolved', at: now,
    message: `Resolved: ${TITLES[last.rule]}${subject} has been back within its threshold for ${formatDuration(calmMs)}.`,
  };
}

/** What the limits layer says when a budget crosses a threshold (see limits/budget-alerts.ts). */
export interface BudgetCrossing {
  readonly budgetId: string;
  readonly scope: 'key' | 'team' | 'tenant' | 'global';
  readonly scopeId: string;
  readonly unit: 'usd' | 'tokens';
  /** Dollars for usd, tokens for tokens. */
  readonly spent: number;
  readonly limit: number;
  /** The fraction crossed, e.g. 0.8 or 1. */
  readonly threshold: number;
  readonly periodId: string;
  /** Epoch ms. */
  readonly periodEndsAt: number;
}

export function budgetAlert(b: BudgetCrossing, now: number): Alert {
  const usd = b.unit === 'usd';
  const amount = (n: number) => (usd ? formatUsd(n) : `${Math.round(n).toLocaleString('en-US')} tokens`);
  const who = b.scope === 'global' ? 'The global budget' : `The budget of ${b.scope} ${b.scopeId}`;
  const ratio = b.limit > 0 ? b.spent / b.limit : 0;
  return {
    rule: 'budget', state: 'firing', severity: b.threshold >= 1 ? 'critical' : 'warning',
    subject: b.scope === 'global' ? 'global' : `${b.scope}:${b.scopeId}`,
    value: Math.round(ratio * 10_000) / 10_000, threshold: b.threshold, window: b.periodId, at: now,
    message: `${who} has used ${amount(b.spent)} of ${amount(b.limit)} (${formatPercent(ratio)}, alert at ${formatPercent(b.threshold)}) in period ${b.periodId}, which ends ${new Date(b.periodEndsAt).toISOString()}.`,
  };
}

/** A deployment whose circuit breaker opened (see routing/deployment-health.ts). */
export interface DeploymentCooling {
  readonly deployment: string;
  /** Epoch ms the cooldown ends. */
  readonly until: number;
  /** The error code that tripped it (or "health_check_failed", "another replica"…). */
  readonly reason: string;
  /** false: another replica's cooldown applied here; that replica sends the alert. */
  readonly local?: boolean;
}

export function cooldownAlert(c: DeploymentCooling, now: number): Alert {
  const ms = Math.max(0, c.until - now);
  return {
    rule: 'deployment_cooldown', state: 'firing', severity: 'warning', subject: `deployment:${c.deployment}`,
    value: ms, threshold: null, window: null, at: now,
    message: `Deployment ${c.deployment} entered cooldown for ${formatDuration(ms)} (until ${new Date(c.until).toISOString()}) after ${c.reason}.`,
  };
}

/** 0.125 → "12.5%"; one decimal, none when whole. */
export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`;
}

export function formatUsd(usd: number): string {
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function formatMs(ms: number): string {
  return `${Math.round(ms).toLocaleString('en-US')} ms`;
}

function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/** 300000 → "5m", 90000 → "1m30s", 5400000 → "1h30m", 1500 → "1.5s". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}
