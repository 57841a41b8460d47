// Prometheus metrics of every finished model call, read from its ledger event: requests by
// outcome, latency histograms, tokens, cost, cache use, limit refusals and (opt-in) per-tenant
// requests and cost. It is a CallObserver: the gateway hands it each call once, after the
// response has ended.
//
// observe() runs once per request on the event loop, so it is kept to a few µs: the series a
// call updates are looked up once per distinct (alias, provider, deployment, status class,
// error code) and kept, bound, in a map (bounded; label sets beyond it are looked up each
// time); then each update is one prom-client call. Zero token counts and zero costs are not
// recorded at all.
//
// Cardinality. Histograms carry only alias and provider (each series is ~20 buckets). Alias,
// provider and deployment are config names; a model name the gateway does not serve (the
// client's text, on a model_not_found refusal) is recorded as "unknown". Error codes come from
// the error registry. Tenants are the exception: their ids come from clients, so per-tenant
// series are off by default and, when on, capped at `max` tenants, later ones counted as
// "other" (a tenant really named "other" shares that series).

import type { LedgerEvent } from '../ledger/ledger-event.ts';
import { priceMissingCounter } from '../ledger/pricing/price-table.ts';
import { BoundedLabel } from './bounded-label.ts';
import type { CallObserver, FinishedCall } from './finished-call.ts';
import type { BoundCounter, BoundHistogram, Counter, Histogram, Metrics } from './metrics.ts';

/** Seconds: 1 ms to 5 min. Whole calls, provider time and time to first token (long generations run minutes). */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300]);
/** Seconds: 0.1 ms to 10 s. The gateway's own time is usually well under a millisecond; retry waits push it to seconds. */
export const OVERHEAD_BUCKETS: readonly number[] = Object.freeze([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

export const TOKEN_KINDS = ['input', 'output', 'cached_input', 'cache_write', 'reasoning'] as const;

export interface TenantLabelOptions {
  readonly enabled: boolean;
  /** Tenants with their own series; later ones are counted as "other". */
  readonly max: number;
}

export interface CallMetricsOptions {
  /** Per-tenant requests and cost (off by default). */
  readonly tenantLabels?: TenantLabelOptions;
  /**
   * The response cache is on: calls that got past the limits and were not served from it count
   * as misses. Without a cache, only hits (none) are counted, so no dashboard shows a 0 % hit rate.
   */
  readonly cacheEnabled?: boolean;
  /**
   * Count tollgate_ledger_price_missing_total{deployment} here, for every call. Leave off while
   * the ledger's recorder counts it (src/ledger/ledger-runtime.ts), or calls count twice.
   */
  readonly countPriceMissing?: boolean;
  /** Whether a name is a configured alias (e.g. `(n) => config.aliases.has(n)`); others are "unknown". */
  readonly isAlias?: (name: string) => boolean;
  /** Distinct label sets whose series are kept bound (default 4 096). */
  readonly maxCachedLabelSets?: number;
}

/**
 * The series a call with one (alias, provider) updates. Token and cost counters are bound on
 * their first non-zero amount, so an alias that never reports reasoning tokens has no
 * reasoning series (and refused calls, which use no tokens, create none).
 */
class RouteSeries {
  readonly duration: BoundHistogram;
  readonly upstream: BoundHistogram;
  readonly overhead: BoundHistogram;
  readonly ttft: BoundHistogram;
  readonly #labels: { readonly alias: string; readonly provider: string };
  readonly #tokenCounter: Counter;
  readonly #costCounter: Counter;
  readonly #tokens: (BoundCounter | undefined)[] = TOKEN_KINDS.map(() => undefined);
  #cost: BoundCounter | undefined;

  constructor(labels: { alias: string; provider: string }, h: { duration: Histogram; upstream: Histogram; overhead: Histogram; ttft: Histogram }, tokens: Counter, cost: Counter) {
    this.#labels = labels;
    this.duration = h.duration.bind(labels);
    this.upstream = h.upstream.bind(labels);
    this.overhead = h.overhead.bind(labels);
    this.ttft = h.ttft.bind(labels);
    this.#tokenCounter = tokens;
    this.#costCounter = cost;
  }

  /** Tokens of TOKEN_KINDS[kind]. */
  tokens(kind: number, amount: number): void {
    (this.#tokens[kind] ??= this.#tokenCounter.bind({ ...this.#labels, kind: TOKEN_KINDS[kind] })).inc(amount);
  }

  cost(usd: number): void {
    (this.#cost ??= this.#costCounter.bind(this.#labels)).inc(usd);
  }
}

/** The series of one (alias, provider, deployment, status class, code). */
interface OutcomeSeries {
  readonly requests: BoundCounter;
  readonly route: RouteSeries;
}

/** Separates label values in cache keys; never part of a config name or an error code. */
const SEP = '\u0001';
const STATUS_CLASSES = ['', '1xx', '2xx', '3xx', '4xx', '5xx'];
/** Outcomes that got past auth and limits, so the cache was asked. */
const CACHE_ASKED: ReadonlySet<LedgerEvent['outcome']['status']> = new Set(['success', 'upstream_error', 'client_gone']);

export function statusClass(httpStatus: number): string {
  return httpStatus >= 100 && httpStatus < 600 ? STATUS_CLASSES[Math.trunc(httpStatus / 100)] : 'other';
}

function seconds(ms: number): number {
  return ms > 0 ? ms / 1000 : 0;
}

/** A Map that stops growing at `max`: lookups past it miss and the caller builds the value each time. */
class BoundedCache<V> {
  readonly #map = new Map<string, V>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get(key: string): V | undefined {
    return this.#map.get(key);
  }
  keep(key: string, value: V): V {
    if (this.#map.size < this.#max) this.#map.set(key, value);
    return value;
  }
}

export class CallMetrics implements CallObserver {
  readonly name = 'metrics';
  readonly #requests: Counter;
  readonly #duration: Histogram;
  readonly #upstream: Histogram;
  readonly #overhead: Histogram;
  readonly #ttft: Histogram;
  readonly #tokens: Counter;
  readonly #cost: Counter;
  readonly #cacheHits: BoundCounter;
  readonly #cacheMisses: BoundCounter | undefined;
  readonly #cacheSaved: BoundCounter;
  readonly #limited: Counter;
  readonly #priceMissing: Counter | undefined;
  readonly #isAlias: ((name: string) => boolean) | undefined;
  readonly #outcomes: BoundedCache<OutcomeSeries>;
  readonly #routes: BoundedCache<RouteSeries>;
  readonly #limitSeries = new BoundedCache<BoundCounter>(256);
  readonly #tenants: { readonly label: BoundedLabel; readonly requests: Counter; readonly cost: Counter; readonly series: BoundedCache<BoundCounter> } | undefined;

  constructor(metrics: Metrics, options: CallMetricsOptions = {}) {
    const route = ['alias', 'provider'];
    this.#requests = metrics.counter('tollgate_requests_total', 'Model calls, by alias, provider and deployment that served (or answered last), HTTP status class and error code ("" on success).',
      ['alias', 'provider', 'deployment', 'status_class', 'code']);
    this.#duration = metrics.histogram('tollgate_request_duration_seconds', 'Model calls from arrival to the end of the response, seconds.', LATENCY_BUCKETS, route);
    this.#upstream = metrics.histogram('tollgate_upstream_duration_seconds', 'Time the serving provider took (until its last byte), seconds; calls that reached no provider are not counted.', LATENCY_BUCKETS, route);
    this.#overhead = metrics.histogram('tollgate_gateway_overhead_seconds', "The gateway's own time per call (total minus provider, retry waits and failed attempts included), seconds.", OVERHEAD_BUCKETS, route);
    this.#ttft = metrics.histogram('tollgate_time_to_first_token_seconds', "Streams: from sending to the provider's first event, seconds.", LATENCY_BUCKETS, route);
    this.#tokens = metrics.counter('tollgate_tokens_total', 'Tokens, by alias, provider and kind: input (cached included), output (reasoning included), cached_input, cache_write, reasoning.', [...route, 'kind']);
    this.#cost = metrics.counter('tollgate_cost_usd_total', 'Cost of model calls in US dollars (price table), by alias and provider.', route);
    const cache = metrics.counter('tollgate_cache_requests_total', 'Response cache lookups, by result: hit or miss.', ['result']);
    this.#cacheHits = cache.bind({ result: 'hit' });
    this.#cacheMisses = options.cacheEnabled ? cache.bind({ result: 'miss' }) : undefined;
    this.#cacheSaved = metrics.counter('tollgate_cache_saved_usd_total', 'What calls served from the response cache would have cost, US dollars.', []).bind();
    this.#limited = metrics.counter('tollgate_rate_limited_total', 'Calls refused by a gateway limit, by limit type (requests_per_minute, tokens_per_minute, concurrency, budget_usd, budget_tokens, cost_cap) and scope (key, team, tenant, tenant_model, deployment, global).',
      ['type', 'scope']);
    this.#priceMissing = options.countPriceMissing ? priceMissingCounter(metrics) : undefined;
    this.#isAlias = options.isAlias;
    const cached = options.maxCachedLabelSets ?? 4096;
    this.#outcomes = new BoundedCache(cached);
    this.#routes = new BoundedCache(cached);
    const tenants = options.tenantLabels;
    if (tenants?.enabled) {
      this.#tenants = {
        label: new BoundedLabel(tenants.max),
        requests: metrics.counter('tollgate_tenant_requests_total', `Model calls per tenant and HTTP status class (the first ${tenants.max} tenants seen; later ones as "other").`, ['tenant', 'status_class']),
        cost: metrics.counter('tollgate_tenant_cost_usd_total', `Cost of model calls per tenant, US dollars (the first ${tenants.max} tenants seen; later ones as "other").`, ['tenant']),
        // At most (max + 1) tenants × (status classes + 1 cost series).
        series: new BoundedCache((tenants.max + 1) * 8),
      };
    }
  }

  observe(call: FinishedCall): void {
    try {
      this.record(call.event);
    } catch {
      // Metrics must never break the call path; a bad event only loses its own counts.
    }
  }

  async close(): Promise<void> {}

  /** Records one call's ledger event. */
  record(e: LedgerEvent): void {
    const outcome = e.outcome;
    const cls = statusClass(outcome.http_status);
    const alias = this.#aliasLabel(e);
    const provider = e.provider ?? '';
    const code = outcome.error_code ?? '';
    const key = alias + SEP + provider + SEP + (e.deployment_id ?? '') + SEP + cls + SEP + code;
    const series = this.#outcomes.get(key) ?? this.#outcomes.keep(key, this.#outcomeSeries(alias, provider, e.deployment_id ?? '', cls, code));
    series.requests.inc();

    const r = series.route;
    const latency = e.latency_ms;
    r.duration.observe(seconds(latency.total));
    r.overhead.observe(seconds(latency.gateway));
    if (latency.provider !== null) r.upstream.observe(seconds(latency.provider));
    if (e.stream && latency.ttft !== null) r.ttft.observe(seconds(latency.ttft));

    // A cache hit's usage is the stored answer's: no provider spent those tokens now.
    const u = e.usage;
    if (!e.cache_hit) {
      if (u.input > 0) r.tokens(0, u.input);
      if (u.output > 0) r.tokens(1, u.output);
      if (u.cached_input > 0) r.tokens(2, u.cached_input);
      if (u.cache_write > 0) r.tokens(3, u.cache_write);
      if (u.reasoning > 0) r.tokens(4, u.reasoning);
    }

    const cost = e.cost_usd;
    if (cost.total > 0) r.cost(cost.total);
    if (e.cache_hit) {
      this.#cacheHits.inc();
      if (cost.saved > 0) this.#cacheSaved.inc(cost.saved);
    } else if (this.#cacheMisses && CACHE_ASKED.has(outcome.status)) this.#cacheMisses.inc();
    if (this.#priceMissing && cost.price_missing && e.deployment_id !== null) this.#priceMissing.inc({ deployment: e.deployment_id });

    const tier = outcome.rate_limit_tier;
    if (tier !== null) (this.#limitSeries.get(tier) ?? this.#limitSeries.keep(tier, this.#limitSeriesOf(tier))).inc();

    const tenants = this.#tenants;
    if (tenants && e.tenant_id !== null) {
      const tenant = tenants.label.of(e.tenant_id);
      const requestsKey = tenant + SEP + cls;
      (tenants.series.get(requestsKey) ?? tenants.series.keep(requestsKey, tenants.requests.bind({ tenant, status_class: cls }))).inc();
      if (cost.total > 0) (tenants.series.get(tenant) ?? tenants.series.keep(tenant, tenants.cost.bind({ tenant }))).inc(cost.total);
    }
  }

  #aliasLabel(e: LedgerEvent): string {
    const alias = e.model_alias;
    if (alias === null) return '';
    if (this.#isAlias) return this.#isAlias(alias) ? alias : 'unknown';
    // Without the alias list: the client's name for a model the gateway does not serve.
    return e.outcome.error_code === 'model_not_found' ? 'unknown' : alias;
  }

  #outcomeSeries(alias: string, provider: string, deployment: string, cls: string, code: string): OutcomeSeries {
    const routeKey = alias + SEP + provider;
    const route = this.#routes.get(routeKey) ?? this.#routes.keep(routeKey, this.#routeSeries({ alias, provider }));
    return { requests: this.#requests.bind({ alias, provider, deployment, status_class: cls, code }), route };
  }

  #routeSeries(labels: { alias: string; provider: string }): RouteSeries {
    return new RouteSeries(labels, { duration: this.#duration, upstream: this.#upstream, overhead: this.#overhead, ttft: this.#ttft }, this.#tokens, this.#cost);
  }

  /** `type:scope`, e.g. requests_per_minute:key. */
  #limitSeriesOf(tier: string): BoundCounter {
    const colon = tier.indexOf(':');
    const type = colon === -1 ? tier : tier.slice(0, colon);
    const scope = colon === -1 ? '' : tier.slice(colon + 1);
    return this.#limited.bind({ type, scope });
  }
}
