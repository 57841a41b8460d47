// The gateway's Prometheus registry, on prom-client: it owns the exposition format, the
// histograms and the process metrics, so GET /metrics speaks what every scraper expects.
// In front of it sits the small API the rest of the code already uses: counter(name, help)
// and gauge(name, help) with inc/set/get and plain label objects (label names are learnt,
// so no call site had to change), plus histogram() and stateGauge(). How series are kept
// and handed to prom-client is in metric-families.ts.
//
// Cardinality. Label values often come from requests (model names, key ids). The number of
// series per metric is capped so that a high-cardinality label cannot grow memory without
// bound; series beyond the cap are dropped and counted in tollgate_metrics_series_dropped_total.

import { collectDefaultMetrics, Gauge as PromGauge, Registry } from 'prom-client';
import { checkLabelName, CounterFamily, GaugeFamily, HistogramFamily, type Family, type Host, type Kind } from './metric-families.ts';

export type Labels = Readonly<Record<string, string>>;

export interface Counter {
  /** Adds `by` (default 1; must be finite and ≥ 0: counters only go up). */
  inc(labels?: Labels, by?: number): void;
  /** The series' value, 0 when it has never been set. */
  get(labels?: Labels): number;
  /** One series, looked up once: for code that updates the same label set on every request. */
  bind(labels?: Labels): BoundCounter;
}

export interface BoundCounter {
  inc(by?: number): void;
}

export interface Gauge {
  set(labels: Labels | undefined, value: number): void;
  get(labels?: Labels): number;
}

export interface Histogram {
  /** Records `value` (finite; seconds for a duration) in the series of `labels`. */
  observe(labels: Labels | undefined, value: number): void;
  bind(labels?: Labels): BoundHistogram;
}

export interface BoundHistogram {
  observe(value: number): void;
}

/** Sets a state gauge's series at scrape time; series not set in this scrape disappear. */
export type GaugeReader = (set: (labels: Labels, value: number) => void) => void | Promise<void>;

export interface MetricsOptions {
  /** Series kept per metric; new series beyond it are dropped and counted. Default 10 000. */
  readonly maxSeriesPerMetric?: number;
  /**
   * prom-client's process and Node.js metrics (CPU, memory, heap, event-loop lag, GC, file
   * descriptors), under their standard names. Off by default: they cannot be switched off
   * once started, so only the process's one registry should turn them on.
   */
  readonly defaultMetrics?: boolean;
  /** A state gauge whose reader has not answered within this is left out of the scrape. Default 2 000 ms. */
  readonly collectTimeoutMs?: number;
  /** Told when a state gauge's reader fails or times out. */
  readonly onCollectError?: (metric: string, error: unknown) => void;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const DROPPED_NAME = 'tollgate_metrics_series_dropped_total';
const DROPPED_HELP = 'Series not recorded because their metric already had the maximum number of series.';
const COLLECT_FAILED_NAME = 'tollgate_metrics_collect_failures_total';
const COLLECT_FAILED_HELP = 'Scrapes in which a state gauge could not be read (error or timeout); its series were left out.';

export class Metrics {
  readonly #registry = new Registry();
  readonly #families = new Map<string, { readonly kind: Kind; readonly help: string; readonly family?: Family }>();
  readonly #host: Host;
  readonly #collectTimeoutMs: number;
  readonly #onCollectError: ((metric: string, error: unknown) => void) | undefined;
  readonly #dropped: CounterFamily;
  readonly #collectFailures: CounterFamily;

  constructor(options: MetricsOptions = {}) {
    const maxSeries = options.maxSeriesPerMetric ?? 10_000;
    if (!Number.isInteger(maxSeries) || maxSeries < 1) throw new RangeError(`maxSeriesPerMetric must be a positive integer, got ${maxSeries}`);
    this.#collectTimeoutMs = options.collectTimeoutMs ?? 2_000;
    this.#onCollectError = options.onCollectError;
    this.#host = {
      registry: this.#registry,
      maxSeries,
      dropped: (metric) => this.#dropped.inc({ metric }),
    };
    // One series per metric at most: they are not capped (a cap would hide which metric dropped).
    const uncapped: Host = { ...this.#host, maxSeries: Infinity };
    this.#dropped = this.#register(DROPPED_NAME, DROPPED_HELP, 'counter', undefined, () => new CounterFamily(DROPPED_NAME, DROPPED_HELP, uncapped, ['metric'])) as CounterFamily;
    this.#collectFailures = this.#register(COLLECT_FAILED_NAME, COLLECT_FAILED_HELP, 'counter', undefined, () => new CounterFamily(COLLECT_FAILED_NAME, COLLECT_FAILED_HELP, uncapped, ['metric'])) as CounterFamily;
    // Read at scrape time (and by a GC observer and the event-loop delay sampler): nothing here runs per request.
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.#registry });
  }

  /**
   * The counter named `name`; asking again returns the same one (with the same help, else it
   * throws). `labelNames` is optional: without it the names are learnt from the updates.
   */
  counter(name: string, help: string, labelNames?: readonly string[]): Counter {
    return this.#register(name, help, 'counter', labelNames, () => new CounterFamily(name, help, this.#host, labelNames)) as CounterFamily;
  }

  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge {
    return this.#register(name, help, 'gauge', labelNames, () => new GaugeFamily(name, help, this.#host, labelNames)) as GaugeFamily;
  }

  /** A histogram with the given upper bounds (+Inf is implied) and label names (declared up front). */
  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    const family = this.#register(name, help, 'histogram', undefined, () => new HistogramFamily(name, help, this.#host, buckets, labelNames)) as HistogramFamily;
    if (family.buckets.length !== buckets.length || family.buckets.some((b, i) => b !== buckets[i])) throw new Error(`histogram ${name} is already registered with other buckets`);
    family.declare(labelNames);
    return family;
  }

  /**
   * A gauge whose series are read from state that lives elsewhere (breaker states, budgets),
   * when /metrics is scraped: nothing is updated per request. `read` may be async; a read that
   * fails or takes longer than collectTimeoutMs leaves the gauge out of that scrape and counts
   * in tollgate_metrics_collect_failures_total. Registering a name twice throws.
   */
  stateGauge(name: string, help: string, labelNames: readonly string[], read: GaugeReader): void {
    this.#checkName(name);
    if (this.#families.has(name)) throw new Error(`metric ${name} is already registered`);
    for (const n of labelNames) checkLabelName(n);
    const known = new Set(labelNames);
    const collect = (prom: PromGauge): void | Promise<void> => {
      // Series are gathered, then applied at once: a slow read never shows half a scrape, and a
      // read still running when a second scrape starts cannot mix its values into it.
      const gathered: { labels: Labels; value: number }[] = [];
      let open = true;
      const set = (labels: Labels, value: number): void => {
        if (!open) return;
        for (const n of Object.keys(labels)) if (!known.has(n)) throw new Error(`state gauge ${name} has no label ${JSON.stringify(n)}`);
        if (typeof value !== 'number') throw new TypeError(`state gauge ${name}: value must be a number, got ${typeof value}`);
        if (gathered.length >= this.#host.maxSeries) this.#host.dropped(name);
        else gathered.push({ labels: { ...labels }, value });
      };
      const apply = (): void => {
        open = false;
        prom.reset();
        for (const s of gathered) prom.set(s.labels, s.value);
      };
      const failed = (error: unknown): void => {
        open = false;
        prom.reset();
        this.#collectFailures.inc({ metric: name });
        try {
          this.#onCollectError?.(name, error);
        } catch {
          // a failing logger must not fail the scrape
        }
      };
      let pending: void | Promise<void>;
      try {
        pending = read(set);
      } catch (error) {
        return failed(error);
      }
      if (!(pending instanceof Promise)) return apply();
      return withDeadline(pending, this.#collectTimeoutMs, name).then(apply, failed);
    };
    new PromGauge({ name, help, labelNames: [...labelNames], registers: [this.#registry], collect() { return collect(this); } });
    this.#families.set(name, { kind: 'state', help });
  }

  /** The text exposition of everything registered (prom-client reads state gauges as it goes). */
  render(): Promise<string> {
    return this.#registry.metrics();
  }

  /** The content type of render()'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.#registry.contentType;
  }

  #checkName(name: string): void {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}: must match ${METRIC_NAME}`);
  }

  #register(name: string, help: string, kind: Kind, labelNames: readonly string[] | undefined, create: () => Family): Family {
    const existing = this.#families.get(name);
    if (existing) {
      if (existing.kind !== kind) throw new Error(`metric ${name} is already registered as a ${existing.kind === 'state' ? 'state gauge' : existing.kind}`);
      if (existing.help !== help) throw new Error(`metric ${name} is already registered with different help text`);
      if (labelNames) existing.family!.declare(labelNames);
      return existing.family!;
    }
    this.#checkName(name);
    const family = create();
    this.#families.set(name, { kind, help, family });
    return family;
  }
}

function withDeadline(work: Promise<void>, ms: number, metric: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`state gauge ${metric} was not read within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
