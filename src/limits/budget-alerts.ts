// Budget alerts: a warning log line, a metric and an optional webhook when a budget's spend
// crosses a fraction of its limit (e.g. 80 %), once per budget, threshold and period across
// all replicas.
//
// observe() runs on the request path, so it only does arithmetic and, the first time a budget
// crosses a threshold in this process, one map write; the claim (a shared-store round trip that
// makes the alert fire on one replica only) and the webhook happen afterwards, off the request.
// A slow, failing or hanging webhook is bounded by a timeout and a cap on deliveries in flight,
// so it can never slow requests down or grow memory.
//
// The webhook URL is a secret (Slack's carries its token in the path), so only its origin is
// ever logged.
//
// With the alert engine (src/alerts/) wired, route() hands each claimed alert to it: the engine
// owns the thresholds and the one webhook path (its queue, retries, Slack and generic bodies).
// Without it, the older `limits.alerts.webhook_url` is posted through the same sender.

import type { BudgetCrossing } from '../alerts/alert-rules.ts';
import { WebhookSender, type DeliveryOutcome } from '../alerts/webhook-sender.ts';
import { WebhookTarget } from '../alerts/webhook-target.ts';
import type { Logger } from '../logging/logger.ts';
import type { Counter, Metrics } from '../telemetry/metrics.ts';

export interface BudgetObservation {
  /** Counter id incl. period, e.g. "usd:team:payments:2026-12" (unique per period). */
  readonly budgetId: string;
  readonly scope: 'key' | 'team' | 'tenant' | 'global';
  /** Key id, team id, tenant id, or "global". */
  readonly scopeId: string;
  readonly unit: 'usd' | 'tokens';
  /** Settled amount (micro-USD for usd, tokens for tokens), integer. */
  readonly spent: number;
  /** Same unit as `spent`. */
  readonly limit: number;
  readonly periodId: string;
  /** Epoch ms. */
  readonly periodEndsAt: number;
}

export interface BudgetAlertOptions {
  /** Fractions in (0,1], e.g. [0.8] or [0.5, 0.8, 0.95]. */
  readonly thresholds: readonly number[];
  /** A secret (may contain a token): never logged, only its origin is. */
  readonly webhookUrl?: string;
  /** Default 5000. */
  readonly webhookTimeoutMs?: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Cross-replica once: resolves true for exactly one caller per id until `expiresAt` (epoch ms). */
  readonly claim: (id: string, expiresAt: number) => Promise<boolean>;
  /** Sends the webhook; default: undici `request` POST with JSON body and the timeout. Tests inject or use a local http server. */
  readonly post?: (url: string, body: string) => Promise<void>;
  readonly now?: () => number;
}

/** Where route() sends alerts instead: the alert engine's budget rule (AlertEngine.budgetRoute()). */
export interface BudgetAlertRoute {
  /** Replace the configured thresholds. */
  readonly thresholds: readonly number[];
  /** Called once per budget, threshold and period across replicas (after the claim); must not throw. */
  notify(crossing: BudgetCrossing): void;
}

/** The threshold used when the config names none. */
export const DEFAULT_BUDGET_ALERT_THRESHOLDS: readonly number[] = [0.8];

/** Alerts being claimed or delivered at once; beyond it new ones wait for a later observation. */
const MAX_IN_FLIGHT = 100;
/** Budgets remembered as alerted; past it, expired periods go first, then the oldest. */
const MAX_TRACKED = 100_000;
/** A claim that takes longer than this is treated like a failed one (the alert fires here). */
const CLAIM_TIMEOUT_MS = 5_000;
const RETRY_BACKOFF_MS = 500;

/** Per budget (one period): thresholds up to `level` are handled in this process. */
interface Tracked {
  level: number;
  readonly expiresAt: number;
}

export class BudgetAlerts {
  private thresholds: readonly number[];
  private readonly logger: Logger;
  private readonly claim: (id: string, expiresAt: number) => Promise<boolean>;
  private readonly now: () => number;
  private readonly webhook: { readonly target: WebhookTarget; readonly sender: WebhookSender } | undefined;
  private routed: BudgetAlertRoute | undefined;
  private readonly alerts: Counter;
  private readonly failures: Counter;
  private readonly tracked = new Map<string, Tracked>();
  private nextExpiry = Infinity;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: BudgetAlertOptions) {
    this.thresholds = checkedThresholds(options.thresholds);
    this.logger = options.logger;
    this.claim = options.claim;
    this.now = options.now ?? Date.now;
    const timeoutMs = options.webhookTimeoutMs ?? 5_000;
    // One retry after a short backoff, for network errors, 429 and 5xx; never after a timeout.
    this.webhook = options.webhookUrl === undefined ? undefined : {
      target: new WebhookTarget(options.webhookUrl),
      sender: new WebhookSender({ timeoutMs, retries: 1, backoffMs: RETRY_BACKOFF_MS, concurrency: MAX_IN_FLIGHT, maxQueued: MAX_IN_FLIGHT, ...(options.post ? { post: options.post } : {}) }),
    };
    this.alerts = options.metrics.counter('tollgate_budget_alerts_total', 'Budget alerts fired, by scope, unit and threshold crossed.');
    this.failures = options.metrics.counter('tollgate_budget_alert_failures_total', 'Budget alert webhooks not delivered (timeout, http_status, network) or not started (backlog).');
  }

  /**
   * From now on, alerts go to `route` (the alert engine) at its thresholds, and this class's own
   * webhook and log line are not used (the engine logs and posts them). Call it at startup.
   */
  route(route: BudgetAlertRoute): void {
    this.thresholds = checkedThresholds(route.thresholds);
    this.routed = route;
    // Levels remembered so far index the old thresholds.
    this.tracked.clear();
    this.nextExpiry = Infinity;
  }

  /** Called on the request path after a budget is read; must be synchronous, cheap, never throw, never await I/O. */
  observe(o: BudgetObservation): void {
    try {
      if (!(o.limit > 0)) return;
      const ratio = o.spent / o.limit;
      let level = this.thresholds.length - 1;
      while (level >= 0 && !(ratio >= this.thresholds[level])) level--;
      if (level < 0) return;
      const seen = this.tracked.get(o.budgetId);
      if (seen !== undefined && seen.level >= level) return;
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        // Not marked handled: a later observation tries again once deliveries have drained.
        this.failures.inc({ reason: 'backlog' });
        return;
      }
      if (seen !== undefined) seen.level = level;
      else this.track(o.budgetId, { level, expiresAt: o.periodEndsAt });
      const delivery = this.deliver(o, this.thresholds[level]);
      this.inFlight.add(delivery);
      void delivery.finally(() => this.inFlight.delete(delivery));
    } catch (err) {
      this.logger.error('budget alert: observe failed', { budget: o?.budgetId, error: (err as Error)?.message });
    }
  }

  /** Resolves when every alert started so far has been delivered or has failed (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private track(budgetId: string, entry: Tracked): void {
    if (this.tracked.size >= MAX_TRACKED || this.now() >= this.nextExpiry) this.sweep();
    if (this.tracked.size >= MAX_TRACKED) {
      const oldest = this.tracked.keys().next().value;
      if (oldest !== undefined) this.tracked.delete(oldest);
    }
    this.tracked.set(budgetId, entry);
    if (entry.expiresAt < this.nextExpiry) this.nextExpiry = entry.expiresAt;
  }

  /** Forgets budgets whose period has ended; runs about once per period boundary. */
  private sweep(): void {
    const now = this.now();
    let next = Infinity;
    for (const [id, entry] of this.tracked) {
      if (entry.expiresAt <= now) this.tracked.delete(id);
      else if (entry.expiresAt < next) next = entry.expiresAt;
    }
    this.nextExpiry = next;
  }

  /** Never rejects. */
  private async deliver(o: BudgetObservation, threshold: number): Promise<void> {
    try {
      if (!(await this.claimOnce(o, threshold))) return;
      this.alerts.inc({ scope: o.scope, unit: o.unit, threshold: String(threshold) });
      if (this.routed) {
        this.routed.notify(crossing(o, threshold));
        return;
      }
      const alert = describe(o, threshold, this.now());
      this.logger.warn('budget alert', { ...alert.fields, ...(this.webhook ? { webhook: this.webhook.target.origin } : {}) });
      if (this.webhook) await this.send(alert, o.budgetId);
    } catch (err) {
      this.logger.error('budget alert failed', { budget: o.budgetId, error: (err as Error)?.message });
    }
  }

  /** Whether this replica fires the alert. When the store cannot answer, better a duplicate than a missed alert. */
  private async claimOnce(o: BudgetObservation, threshold: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CLAIM_TIMEOUT_MS} ms`)), CLAIM_TIMEOUT_MS);
      });
      return await Promise.race([this.claim(`alert:${o.budgetId}:${threshold}`, o.periodEndsAt), timeout]);
    } catch (err) {
      this.logger.debug('budget alert claim failed; alerting from this replica', { budget: o.budgetId, threshold, error: (err as Error)?.message });
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Through the shared webhook sender (one retry for network errors, 429 and 5xx; none after a timeout). */
  private async send(alert: Alert, budgetId: string): Promise<void> {
    const { target, sender } = this.webhook!;
    const body = JSON.stringify(target.format === 'slack' ? { text: alert.text } : alert.payload);
    const result: DeliveryOutcome = await sender.send(target, body);
    if (result.outcome === 'sent') {
      this.logger.debug('budget alert webhook delivered', { budget: budgetId, webhook: target.origin, attempt: result.attempts });
      return;
    }
    const reason = result.reason === 'queue_full' || result.reason === 'closed' ? 'backlog' : result.reason ?? 'network';
    this.failures.inc({ reason });
    this.logger.warn('budget alert webhook failed', { budget: budgetId, webhook: target.origin, reason, ...(result.error ? { error: result.error } : {}) });
  }
}

function checkedThresholds(thresholds: readonly number[]): readonly number[] {
  for (const t of thresholds) {
    if (!(t > 0 && t <= 1)) throw new RangeError(`budget alert thresholds must be fractions in (0, 1], got ${t}`);
  }
  return [...new Set(thresholds)].sort((a, b) => a - b);
}

/** What the alert engine gets: amounts in dollars (usd) or tokens. */
function crossing(o: BudgetObservation, threshold: number): BudgetCrossing {
  const usd = o.unit === 'usd';
  return {
    budgetId: o.budgetId, scope: o.scope, scopeId: o.scopeId, unit: o.unit,
    spent: usd ? o.spent / 1e6 : o.spent, limit: usd ? o.limit / 1e6 : o.limit,
    threshold, periodId: o.periodId, periodEndsAt: o.periodEndsAt,
  };
}

interface Alert {
  /** For the log line. */
  readonly fields: Record<string, unknown>;
  /** The generic webhook body. */
  readonly payload: Record<string, unknown>;
  /** One readable line (Slack). */
  readonly text: string;
}

function describe(o: BudgetObservation, threshold: number, now: number): Alert {
  const usd = o.unit === 'usd';
  const spent = usd ? o.spent / 1e6 : o.spent;
  const limit = usd ? o.limit / 1e6 : o.limit;
  // spent × 1000 is exact for integer amounts, so a whole percentage is never floored to one below.
  const percent = Math.floor((o.spent * 1000) / o.limit) / 10;
  const endsAt = new Date(o.periodEndsAt).toISOString();
  const fields = {
    budget: o.budgetId, scope: o.scope, scope_id: o.scopeId, unit: o.unit, spent, limit, threshold, percent,
    period: o.periodId, period_ends_at: endsAt,
  };
  const amount = (n: number) => (usd ? `$${n.toFixed(2)}` : `${n.toLocaleString('en-US')} tokens`);
  const who = o.scope === 'global' ? 'The global budget' : `The budget of ${o.scope} ${o.scopeId}`;
  const text = `Tollgate budget alert: ${who} has used ${amount(spent)} of ${amount(limit)} (${percent}%, alert at ${Math.round(threshold * 1000) / 10}%) in period ${o.periodId}, which ends ${endsAt}.`;
  return { fields, payload: { type: 'budget_alert', ...fields, at: new Date(now).toISOString() }, text };
}
