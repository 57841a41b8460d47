// The alert engine: rules with thresholds, evaluated in the gateway, sent to webhooks.
//
// - observe() (a CallObserver: once per finished call) only adds to in-memory sliding windows
//   and per-tenant counters: O(1), no I/O, never throws.
// - evaluate() runs on a timer (evaluate_interval_ms): the windowed rules (fallback rate, 429
//   rate, provider error rate, p95 latency, tenant spend spike) are checked over the window;
//   alert-episodes.ts decides which alerts are new (sent) and which have ended (resolved).
// - budgetCrossed() and deploymentCooling() take events from the limits and routing layers;
//   they are sent unless the same one was, less than a cooldown ago.
// - Tenants' 7-day spend averages are loaded from the ledger reader on another timer
//   (baseline_refresh_ms) and when the UTC day changes; see tenant-spend.ts.
//
// Every alert is logged (warn when firing, info when resolved) and posted to the rule's
// webhooks through one bounded queue (webhook-sender.ts). With a `claim` (the counter store's
// claimOnce), replicas agree on who sends a windowed alert: one per rule, subject and cooldown
// period across all of them. Budget alerts are claimed by limits/budget-alerts.ts already, and
// a cooldown is announced only by the replica whose breaker tripped.

import type { LedgerReader } from '../ledger/ledger-sink.ts';
import type { BudgetAlertRoute } from '../limits/budget-alerts.ts';
import type { Logger } from '../logging/logger.ts';
import type { CallObserver, FinishedCall } from '../telemetry/finished-call.ts';
import type { Alert, AlertRule } from './alert.ts';
import { AlertEpisodes } from './alert-episodes.ts';
import { alertBody } from './alert-payloads.ts';
import { alertKey, budgetAlert, cooldownAlert, firingAlerts, resolvedAlert, type BudgetCrossing, type DeploymentCooling } from './alert-rules.ts';
import type { AlertSettings } from './alert-settings.ts';
import { CallStats } from './call-stats.ts';
import { TenantSpend, utcDay } from './tenant-spend.ts';
import type { PostFn } from './webhook-post.ts';
import { WebhookSender, type DeliveryOutcome, type WebhookSenderOptions, type WebhookSenderStats } from './webhook-sender.ts';
import { WebhookTarget } from './webhook-target.ts';

export interface AlertEngineOptions {
  readonly settings: AlertSettings;
  readonly logger: Logger;
  /** Epoch ms; tests inject a clock to move windows and cooldowns without sleeping. */
  readonly now?: () => number;
  /** Answers the tenant spend averages (a SQL ledger sink); without one the tenant_spend_spike rule stays quiet. */
  readonly reader?: LedgerReader;
  /**
   * Cross-replica once: resolves true for exactly one caller per id until `expiresAt` (epoch ms),
   * as CounterStore.claimOnce does. Without it every replica sends its own windowed alerts.
   */
  readonly claim?: (id: string, expiresAt: number) => Promise<boolean>;
  /** Replaces the undici POST (tests). */
  readonly post?: PostFn;
  /** Queue, retry and concurrency tuning (tests); the timeout comes from the settings. */
  readonly delivery?: Omit<WebhookSenderOptions, 'post' | 'timeoutMs'>;
  /** Each alert sent (firing or resolved), after it is logged: for a metric by rule. */
  readonly onAlert?: (alert: Alert) => void;
  /** Each webhook delivery's outcome (sent, failed, dropped): for a metric by rule and outcome. */
  readonly onDelivery?: (rule: AlertRule, outcome: DeliveryOutcome) => void;
  /** How long close() waits for queued webhooks. Default 2000. */
  readonly closeGraceMs?: number;
}

export interface AlertEngineStats extends WebhookSenderStats {
  /** Alerts sent (logged and posted), firing ones. */
  readonly fired: number;
  readonly resolved: number;
  /** Alerts not sent because the same one was within its cooldown (or another replica sent it). */
  readonly suppressed: number;
  /** Windowed alerts open now. */
  readonly open: number;
  /** observe() calls that failed (a bug; they are logged once per evaluation). */
  readonly observeErrors: number;
  /** Providers or tenants not tracked because their cap was reached. */
  readonly untracked: number;
}

/** A claim that takes longer than this counts as failed: the alert is sent from here. */
const CLAIM_TIMEOUT_MS = 5_000;
/** After a failed load, the day-change reload waits at least this long before trying again. */
const RELOAD_RETRY_MS = 60_000;

export class AlertEngine implements CallObserver {
  readonly name = 'alerts';
  readonly #settings: AlertSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #reader: LedgerReader | undefined;
  readonly #claim: AlertEngineOptions['claim'];
  readonly #onAlert: AlertEngineOptions['onAlert'];
  readonly #onDelivery: AlertEngineOptions['onDelivery'];
  readonly #closeGraceMs: number;
  readonly #targets = new Map<AlertRule, readonly WebhookTarget[]>();
  readonly #sender: WebhookSender;
  readonly #stats: CallStats;
  readonly #spend = new TenantSpend();
  readonly #episodes: AlertEpisodes;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #timers: NodeJS.Timeout[] = [];
  #loading: Promise<void> | undefined;
  #lastLoadAttempt = -Infinity;
  #fired = 0;
  #resolved = 0;
  #suppressed = 0;
  #observeErrors = 0;
  #observeErrorsLogged = 0;
  #closed = false;

  /** Throws when a webhook URL is not an http(s) URL (the message never contains the URL). */
  constructor(options: AlertEngineOptions) {
    this.#settings = options.settings;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#reader = options.reader;
    this.#claim = options.claim;
    this.#onAlert = options.onAlert;
    this.#onDelivery = options.onDelivery;
    this.#closeGraceMs = options.closeGraceMs ?? 2_000;
    const shared = new Map<string, WebhookTarget>();
    for (const [rule, s] of Object.entries(this.#settings.rules) as Array<[AlertRule, AlertSettings['rules'][AlertRule]]>) {
      this.#targets.set(rule, s.webhooks.map((hook) => {
        const id = `${hook.format ?? ''} ${hook.url}`;
        let target = shared.get(id);
        if (!target) shared.set(id, target = new WebhookTarget(hook.url, hook.format));
        return target;
      }));
    }
    this.#sender = new WebhookSender({ ...options.delivery, timeoutMs: this.#settings.webhookTimeoutMs, ...(options.post ? { post: options.post } : {}) });
    this.#stats = new CallStats(this.#settings.windowMs, [this.#settings.rules.latency_p95.thresholdMs]);
    this.#episodes = new AlertEpisodes(this.#settings.cooldownMs);
  }

  /** A finished call: counted into the windows. O(1), no I/O, never throws. */
  observe(call: FinishedCall): void {
    if (!this.#settings.enabled || this.#closed) return;
    try {
      const now = this.#now();
      this.#stats.record(call, now);
      const event = call.event;
      if (event.tenant_id !== null && this.#reader !== undefined && this.#settings.rules.tenant_spend_spike.enabled) this.#spend.add(event.tenant_id, event.cost_usd.total, now);
    } catch {
      this.#observeErrors += 1;
    }
  }

  /** Checks the windowed rules now (the timer calls it; so do tests). Never throws. */
  evaluate(): void {
    if (!this.#settings.enabled || this.#closed) return;
    try {
      const now = this.#now();
      const spendRule = this.#settings.rules.tenant_spend_spike.enabled && this.#reader !== undefined;
      if (spendRule && this.#spend.loadedDay() !== utcDay(now) && now - this.#lastLoadAttempt >= RELOAD_RETRY_MS) void this.refreshBaselines();
      const firing = firingAlerts(this.#settings, this.#stats, spendRule ? this.#spend.today(now) : [], now);
      const { opened, ended } = this.#episodes.update(firing, now);
      for (const alert of opened) this.#open(alert, now);
      for (const { alert, sent } of ended) {
        if (sent && this.#settings.sendResolved) this.#send(resolvedAlert(alert, this.#settings.cooldownMs, now));
      }
      this.#episodes.sweep(now);
      if (this.#observeErrors > this.#observeErrorsLogged) {
        this.#logger.error('alerts: observe failed for some calls', { calls: this.#observeErrors - this.#observeErrorsLogged });
        this.#observeErrorsLogged = this.#observeErrors;
      }
    } catch (err) {
      this.#logger.error('alerts: evaluation failed', { error: (err as Error)?.message });
    }
  }

  /** Reloads tenants' 7-day averages from the ledger (the timer calls it; so do tests). Never rejects. */
  refreshBaselines(): Promise<void> {
    const reader = this.#reader;
    if (!reader || this.#closed) return Promise.resolve();
    this.#loading ??= (async () => {
      this.#lastLoadAttempt = this.#now();
      try {
        await this.#spend.load(reader, this.#now());
      } catch (err) {
        this.#logger.warn('alerts: could not load tenant spend averages from the ledger; the spend spike rule uses the last ones', { error: (err as Error)?.message });
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  /** A budget crossed a threshold (limits/budget-alerts.ts, after its cross-replica claim). Never throws. */
  budgetCrossed(crossing: BudgetCrossing): void {
    const rule = this.#settings.rules.budget;
    if (!this.#settings.enabled || !rule.enabled || this.#closed) return;
    try {
      const now = this.#now();
      const alert = budgetAlert(crossing, now);
      this.#event(alert, `${alertKey('budget', alert.subject)}|${crossing.periodId}|${crossing.threshold}`, now);
    } catch (err) {
      this.#logger.error('alerts: budget alert failed', { budget: crossing?.budgetId, error: (err as Error)?.message });
    }
  }

  /** What to hand BudgetAlerts.route(): this engine's budget thresholds, and where crossings go. */
  budgetRoute(): BudgetAlertRoute {
    return { thresholds: this.#settings.rules.budget.thresholds, notify: (crossing) => this.budgetCrossed(crossing) };
  }

  /** A deployment entered cooldown (DeploymentHealth.onCooldown). Never throws. */
  deploymentCooling(cooling: DeploymentCooling): void {
    if (!this.#settings.enabled || !this.#settings.rules.deployment_cooldown.enabled || this.#closed) return;
    if (cooling.local === false) return; // the replica whose breaker tripped announces it
    try {
      const now = this.#now();
      const alert = cooldownAlert(cooling, now);
      this.#event(alert, alertKey(alert.rule, alert.subject), now);
    } catch (err) {
      this.#logger.error('alerts: cooldown alert failed', { deployment: cooling?.deployment, error: (err as Error)?.message });
    }
  }

  /** Starts the evaluation and baseline timers (unref'd: they never keep the process up). */
  start(): void {
    if (!this.#settings.enabled || this.#closed || this.#timers.length > 0) return;
    this.#timers.push(setInterval(() => this.evaluate(), this.#settings.evaluateIntervalMs).unref());
    if (this.#settings.rules.tenant_spend_spike.enabled) {
      if (this.#reader) {
        void this.refreshBaselines();
        this.#timers.push(setInterval(() => void this.refreshBaselines(), this.#settings.baselineRefreshMs).unref());
      } else {
        this.#logger.info('alerts: the tenant_spend_spike rule needs a queryable ledger (a SQLite or PostgreSQL sink); it is off');
      }
    }
  }

  stats(): AlertEngineStats {
    return {
      ...this.#sender.stats(),
      fired: this.#fired,
      resolved: this.#resolved,
      suppressed: this.#suppressed,
      open: this.#episodes.openCount(),
      observeErrors: this.#observeErrors,
      untracked: this.#stats.untracked + this.#spend.untracked,
    };
  }

  /** Resolves when every load, claim and delivery started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    if (this.#loading) await this.#loading;
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await this.#sender.idle();
  }

  /** Stops the timers and gives queued webhooks up to closeGraceMs (2 s); the rest are dropped. Never rejects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    // Claims still pending see #closed and send nothing; the sender bounds the deliveries.
    await this.#sender.close(this.#closeGraceMs);
  }

  /** An event alert: sent unless the same key was within the cooldown. */
  #event(alert: Alert, key: string, now: number): void {
    if (!this.#episodes.allowEvent(key, now)) {
      this.#suppressed += 1;
      this.#logger.debug('alert suppressed: sent less than a cooldown ago', { rule: alert.rule, subject: alert.subject });
      return;
    }
    this.#send(alert);
  }

  /** A windowed alert that opened an episode: claimed across replicas when there is a claim, then sent. */
  #open(alert: Alert, now: number): void {
    const claim = this.#claim;
    if (!claim) {
      this.#episodes.markSent(alert);
      this.#send(alert);
      return;
    }
    const period = Math.max(this.#settings.cooldownMs, 60_000);
    const slot = Math.floor(now / period);
    const work = this.#claimOnce(claim, `alerts:${alert.rule}:${alert.subject}:${slot}`, (slot + 1) * period).then((mine) => {
      if (this.#closed) return;
      if (!mine) {
        this.#suppressed += 1;
        this.#logger.debug('alert sent by another replica', { rule: alert.rule, subject: alert.subject });
        return;
      }
      this.#episodes.markSent(alert);
      this.#send(alert);
    });
    this.#track(work);
  }

  /** Whether this replica sends. When the store cannot answer, better a duplicate than a missed alert. */
  async #claimOnce(claim: NonNullable<AlertEngineOptions['claim']>, id: string, expiresAt: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CLAIM_TIMEOUT_MS} ms`)), CLAIM_TIMEOUT_MS);
      });
      return await Promise.race([Promise.resolve().then(() => claim(id, expiresAt)), timeout]);
    } catch (err) {
      this.#logger.debug('alert claim failed; sending from this replica', { id, error: (err as Error)?.message });
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Logs the alert and posts it to its rule's webhooks (queued; never waits). */
  #send(alert: Alert): void {
    if (alert.state === 'firing') this.#fired += 1;
    else this.#resolved += 1;
    const targets = this.#targets.get(alert.rule) ?? [];
    const fields = {
      rule: alert.rule, state: alert.state, severity: alert.severity, subject: alert.subject, value: alert.value,
      threshold: alert.threshold, window: alert.window, message: alert.message, webhooks: targets.map((t) => t.origin),
    };
    if (alert.state === 'firing') this.#logger.warn('alert', fields);
    else this.#logger.info('alert resolved', fields);
    try {
      this.#onAlert?.(alert);
    } catch (err) {
      this.#logger.error('alerts: onAlert callback failed', { error: (err as Error)?.message });
    }
    const bodies = new Map<string, string>();
    for (const target of targets) {
      let body = bodies.get(target.format);
      if (body === undefined) bodies.set(target.format, body = alertBody(alert, target.format));
      this.#track(this.#sender.send(target, body).then((outcome) => this.#delivered(alert, outcome)));
    }
  }

  #delivered(alert: Alert, outcome: DeliveryOutcome): void {
    if (outcome.outcome === 'failed') {
      this.#logger.warn('alert webhook failed', { rule: alert.rule, subject: alert.subject, webhook: outcome.webhook, reason: outcome.reason, attempts: outcome.attempts, error: outcome.error });
    } else if (outcome.outcome === 'dropped') {
      this.#logger.warn('alert webhook dropped', { rule: alert.rule, subject: alert.subject, webhook: outcome.webhook, reason: outcome.reason });
    } else {
      this.#logger.debug('alert webhook delivered', { rule: alert.rule, subject: alert.subject, webhook: outcome.webhook, attempts: outcome.attempts });
    }
    try {
      this.#onDelivery?.(alert.rule, outcome);
    } catch (err) {
      this.#logger.error('alerts: onDelivery callback failed', { error: (err as Error)?.message });
    }
  }

  #track(work: Promise<unknown>): void {
    const guarded = work.catch((err) => this.#logger.error('alerts: delivery failed', { error: (err as Error)?.message }));
    this.#pending.add(guarded);
    void guarded.finally(() => this.#pending.delete(guarded));
  }
}
