// An in-process Prometheus registry: counters and gauges, rendered in the text exposition
// format 0.0.4 for GET /metrics. No dependency, because the gateway needs only these two kinds
// and every update sits on the request path.
//
// A series is keyed by its rendered label set (`{a="x",b="y"}`, names sorted, values escaped),
// so one string serves as the map key and as the text render() prints: an update costs one
// string build and one map lookup, with no JSON.stringify.
//
// Label values often come from requests (model names, key ids). The number of series per
// metric is capped so that a high-cardinality label cannot grow memory without bound; series
// beyond the cap are dropped and counted in tollgate_metrics_series_dropped_total{metric}.

export type Labels = Readonly<Record<string, string>>;

export interface Counter {
  /** Adds `by` (default 1; must be finite and ≥ 0: counters only go up). */
  inc(labels?: Labels, by?: number): void;
  /** The series' value, 0 when it has never been set. */
  get(labels?: Labels): number;
}

export interface Gauge {
  set(labels: Labels | undefined, value: number): void;
  get(labels?: Labels): number;
}

export interface MetricsOptions {
  /** Series kept per metric; new series beyond it are dropped and counted. Default 10 000. */
  readonly maxSeriesPerMetric?: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NEEDS_ESCAPE = /[\\"\n]/;
const ESCAPED_CHARS = /[\\"\n]/g;
const DROPPED_NAME = 'tollgate_metrics_series_dropped_total';
const DROPPED_HELP = 'Series not recorded because their metric already had the maximum number of series.';
/** Validated label names are remembered up to this many (label names come from code, not requests). */
const MAX_KNOWN_LABEL_NAMES = 1000;

type Kind = 'counter' | 'gauge';

/** One value per label set; the value lives in a box so an update is a single map lookup. */
interface Series {
  value: number;
}

function escapeLabelValue(value: string): string {
  const text = typeof value === 'string' ? value : String(value);
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(ESCAPED_CHARS, (ch) => (ch === '\n' ? '\\n' : `\\${ch}`));
}

function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (ch) => (ch === '\n' ? '\\n' : '\\\\'));
}

/** Integers print in full (no exponent), as Prometheus and people reading /metrics expect. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isInteger(value)) return Math.abs(value) < 1e21 ? String(value) : BigInt(value).toString();
  return String(value);
}

class LabelNames {
  private readonly known = new Set<string>();

  check(name: string): void {
    if (this.known.has(name)) return;
    if (!LABEL_NAME.test(name)) throw new Error(`invalid metric label name ${JSON.stringify(name)}: must match ${LABEL_NAME}`);
    if (this.known.size < MAX_KNOWN_LABEL_NAMES) this.known.add(name);
  }

  /** The series key, which is also its label text in the exposition format. */
  key(labels: Labels | undefined): string {
    if (labels === undefined) return '';
    const names = Object.keys(labels);
    if (names.length === 0) return '';
    if (names.length > 1) names.sort();
    let key = '{';
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      this.check(name);
      if (i > 0) key += ',';
      key += `${name}="${escapeLabelValue(labels[name])}"`;
    }
    return key + '}';
  }
}

class Metric {
  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  readonly series = new Map<string, Series>();
  private readonly labelNames: LabelNames;
  private readonly maxSeries: number;
  private readonly onDropped: (metric: string) => void;

  constructor(name: string, help: string, kind: Kind, labelNames: LabelNames, maxSeries: number, onDropped: (metric: string) => void) {
    this.name = name;
    this.help = help;
    this.kind = kind;
    this.labelNames = labelNames;
    this.maxSeries = maxSeries;
    this.onDropped = onDropped;
  }

  /** The series for `labels`, created if there is room; undefined when dropped at the cap. */
  protected seriesFor(labels: Labels | undefined): Series | undefined {
    const key = this.labelNames.key(labels);
    let found = this.series.get(key);
    if (found === undefined) {
      if (this.series.size >= this.maxSeries) {
        this.onDropped(this.name);
        return undefined;
      }
      found = { value: 0 };
      this.series.set(key, found);
    }
    return found;
  }

  get(labels?: Labels): number {
    return this.series.get(this.labelNames.key(labels))?.value ?? 0;
  }

  render(): string {
    let text = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.kind}\n`;
    for (const [key, s] of this.series) text += `${this.name}${key} ${formatValue(s.value)}\n`;
    return text;
  }
}

class CounterMetric extends Metric implements Counter {
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0) || by === Infinity) throw new RangeError(`counter ${this.name} can only increase by a finite amount ≥ 0, got ${by}`);
    const s = this.seriesFor(labels);
    if (s) s.value += by;
  }
}

class GaugeMetric extends Metric implements Gauge {
  set(labels: Labels | undefined, value: number): void {
    const s = this.seriesFor(labels);
    if (s) s.value = value;
  }
}

export class Metrics {
  private readonly metrics = new Map<string, Metric>();
  private readonly labelNames = new LabelNames();
  private readonly maxSeries: number;
  private dropped: CounterMetric | undefined;

  constructor(options: MetricsOptions = {}) {
    this.maxSeries = options.maxSeriesPerMetric ?? 10_000;
    if (!Number.isInteger(this.maxSeries) || this.maxSeries < 1) throw new RangeError(`maxSeriesPerMetric must be a positive integer, got ${this.maxSeries}`);
  }

  /** The counter named `name`; asking again returns the same one (with the same help, else it throws). */
  counter(name: string, help: string): Counter {
    return this.register(name, help, 'counter') as CounterMetric;
  }

  gauge(name: string, help: string): Gauge {
    return this.register(name, help, 'gauge') as GaugeMetric;
  }

  /** Prometheus text exposition format 0.0.4 of everything registered. */
  render(): string {
    let text = '';
    for (const metric of this.metrics.values()) text += metric.render();
    return text;
  }

  private register(name: string, help: string, kind: Kind): Metric {
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.kind !== kind) throw new Error(`metric ${name} is already registered as a ${existing.kind}`);
      if (existing.help !== help) throw new Error(`metric ${name} is already registered with different help text`);
      return existing;
    }
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}: must match ${METRIC_NAME}`);
    const onDropped = (metric: string) => this.countDropped(metric);
    const metric = kind === 'counter'
      ? new CounterMetric(name, help, kind, this.labelNames, this.maxSeries, onDropped)
      : new GaugeMetric(name, help, kind, this.labelNames, this.maxSeries, onDropped);
    this.metrics.set(name, metric);
    return metric;
  }

  /** Registered on the first drop, so a registry that never hits the cap does not show it. */
  private countDropped(metric: string): void {
    if (metric === DROPPED_NAME) return; // only if there are more metrics than the cap: nothing left to count with
    this.dropped ??= this.register(DROPPED_NAME, DROPPED_HELP, 'counter') as CounterMetric;
    this.dropped.inc({ metric });
  }
}
