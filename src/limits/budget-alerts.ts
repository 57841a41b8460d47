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

import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
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

type FailureReason = 'timeout' | 'http_status' | 'network' | 'backlog';

class WebhookStatusError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`HTTP ${status}`);
    this.name = 'WebhookStatusError';
    this.status = status;
  }
}

class WebhookTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'WebhookTimeout';
  }
}

export class BudgetAlerts {
  private readonly thresholds: readonly number[];
  private readonly logger: Logger;
  private readonly claim: (id: string, expiresAt: number) => Promise<boolean>;
  private readonly now: () => number;
  private readonly webhook: Webhook | undefined;
  private readonly alerts: Counter;
  private readonly failures: Counter;
  private readonly tracked = new Map<string, Tracked>();
  private nextExpiry = Infinity;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: BudgetAlertOptions) {
    for (const t of options.thresholds) {
      if (!(t > 0 && t <= 1)) throw new RangeError(`budget alert thresholds must be fractions in (0, 1], got ${t}`);
    }
    this.thresholds = [...new Set(options.thresholds)].sort((a, b) => a - b);
    this.logger = options.logger;
    this.claim = options.claim;
    this.now = options.now ?? Date.now;
    const timeoutMs = options.webhookTimeoutMs ?? 5_000;
    this.webhook = options.webhookUrl === undefined
      ? undefined
      : new Webhook(options.webhookUrl, timeoutMs, options.post ?? undiciPost(timeoutMs));
    this.alerts = options.metrics.counter('tollgate_budget_alerts_total', 'Budget alerts fired, by scope, unit and threshold crossed.');
    this.failures = options.metrics.counter('tollgate_budget_alert_failures_total', 'Budget alert webhooks not delivered (timeout, http_status, network) or not started (backlog).');
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
      const alert = describe(o, threshold, this.now());
      this.logger.warn('budget alert', { ...alert.fields, ...(this.webhook ? { webhook: this.webhook.origin } : {}) });
      this.alerts.inc({ scope: o.scope, unit: o.unit, threshold: String(threshold) });
      if (this.webhook) await this.send(this.webhook, alert, o.budgetId);
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

  /** One retry after a short backoff for network errors, 429 and 5xx; never after a timeout. */
  private async send(webhook: Webhook, alert: Alert, budgetId: string): Promise<void> {
    const body = JSON.stringify(webhook.slack ? { text: alert.text } : alert.payload);
    let failure: unknown;
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await webhook.post(body);
        this.logger.debug('budget alert webhook delivered', { budget: budgetId, webhook: webhook.origin, attempt });
        return;
      } catch (err) {
        failure = err;
        const retryable = !(err instanceof WebhookTimeout)
          && !(err instanceof WebhookStatusError && err.status < 500 && err.status !== 429);
        if (!retryable || attempt === 2) break;
        await sleep(RETRY_BACKOFF_MS);
      }
    }
    const reason: FailureReason = failure instanceof WebhookTimeout ? 'timeout' : failure instanceof WebhookStatusError ? 'http_status' : 'network';
    this.failures.inc({ reason });
    this.logger.warn('budget alert webhook failed', { budget: budgetId, webhook: webhook.origin, reason, error: webhook.redact(failure) });
  }
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

/** The configured webhook: posting with a deadline, and what of its URL may be shown. */
class Webhook {
  readonly url: string;
  readonly origin: string;
  readonly slack: boolean;
  private readonly secrets: string[];
  private readonly timeoutMs: number;
  private readonly postFn: (url: string, body: string) => Promise<void>;

  constructor(url: string, timeoutMs: number, post: (url: string, body: string) => Promise<void>) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error('the budget alert webhook URL is not a valid URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`the budget alert webhook URL must be http(s), got ${parsed.protocol}`);
    this.url = url;
    this.origin = parsed.origin;
    this.slack = parsed.hostname === 'hooks.slack.com';
    const pathAndQuery = parsed.pathname + parsed.search;
    this.secrets = [url, parsed.href, pathAndQuery === '/' ? '' : pathAndQuery, parsed.username, parsed.password, decode(parsed.username), decode(parsed.password)]
      .filter((s) => s.length > 0)
      .sort((a, b) => b.length - a.length);
    this.timeoutMs = timeoutMs;
    this.postFn = post;
  }

  /** Rejects with WebhookTimeout when the deadline passes first (whatever `post` does). */
  async post(body: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WebhookTimeout(this.timeoutMs)), this.timeoutMs);
    });
    try {
      await Promise.race([this.postFn(this.url, body), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** An error's message with every part of the URL that may carry a secret replaced by the origin. */
  redact(err: unknown): string {
    let text = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}` : String(err);
    for (const secret of this.secrets) text = text.split(secret).join('[webhook]');
    return text;
  }
}

// Only undici's Agent and its request API are loaded, and only once a webhook is sent: undici's
// index pulls in much more (see providers/shared/http-transport.ts, which pins the same paths).
const require = createRequire(import.meta.url);

function undiciPost(timeoutMs: number): (url: string, body: string) => Promise<void> {
  let client: { agent: UndiciAgent; request: UndiciRequest } | undefined;
  return async (url, body) => {
    if (!client) {
      const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
      const request = require('undici/lib/api/api-request.js') as UndiciRequest;
      const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 10_000 });
      client = { agent, request };
    }
    const target = new URL(url);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (target.username || target.password) {
      headers.authorization = `Basic ${Buffer.from(`${decode(target.username)}:${decode(target.password)}`).toString('base64')}`;
    }
    const res = await client.request.call(client.agent, {
      origin: target.origin,
      path: target.pathname + target.search,
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new WebhookStatusError(res.statusCode);
  };
}

type UndiciRequest = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

/** URL userinfo as typed (percent-decoding), or as is when it is not valid percent-encoding. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
