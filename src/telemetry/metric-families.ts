// The metric families behind Metrics (src/telemetry/metrics.ts): each holds its series and
// the prom-client metric that exposes them.
//
// Counters and gauges are written here and handed to prom-client when it is scraped. Their
// series live in a Map keyed by label text: an update is one key build, one map lookup and a
// number added (bind() skips the first two), and each series changed since the last scrape
// is given to prom-client once, by the metric's collect() hook. That keeps prom-client's own
// per-update work (hashing and checking every label, ~0.3 µs) off the request path, where
// call metrics make a dozen updates per request. The Map also serves what prom-client cannot:
// knowing a series is new before creating it (the cardinality cap), a synchronous get() (the
// tests use it) and rebuilding a metric that learns a label name. Histograms are prom-client's
// own, updated as observed (a few per request; their buckets would be a second copy here).
//
// Label names. prom-client needs a metric's label names before its first update; our call
// sites only ever pass label objects. A family may be given them and otherwise learns them
// from its updates: a name not seen before widens it once, which rebuilds the prom-client
// metric from the series kept here (once per label name in a process's life, never per
// request). Histograms must declare theirs, since their buckets are not kept here.

import { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, type Registry } from 'prom-client';
import type { BoundCounter, BoundHistogram, Counter, Gauge, Histogram, Labels } from './metrics.ts';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NEEDS_ESCAPE = /[\\"\n]/;
const ESCAPED_CHARS = /[\\"\n]/g;

export type Kind = 'counter' | 'gauge' | 'histogram' | 'state';

/** What a metric family needs from its registry. */
export interface Host {
  readonly registry: Registry;
  readonly maxSeries: number;
  dropped(metric: string): void;
}

/** One label set: its normalised labels (names sorted, values strings) and, for counters and gauges, its value. */
interface Series {
  readonly labels: Labels;
  value: number;
  /** Counters: the part of `value` prom-client has been given. */
  synced: number;
  /** Changed since prom-client was last given it. */
  dirty: boolean;
}

function escapeLabelValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPED_CHARS, (ch) => (ch === '\n' ? '\\n' : `\\${ch}`));
}

/** The series key: its label text in the exposition format, one string per distinct label set. */
function seriesKey(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const names = Object.keys(labels);
  if (names.length === 0) return '';
  if (names.length > 1) names.sort();
  let key = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (i > 0) key += ',';
    key += `${name}="${escapeLabelValue(String(labels[name]))}"`;
  }
  return key + '}';
}

export function checkLabelName(name: string): void {
  if (!LABEL_NAME.test(name)) throw new Error(`invalid metric label name ${JSON.stringify(name)}: must match ${LABEL_NAME}`);
}

export abstract class Family {
  readonly series = new Map<string, Series>();
  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  protected readonly host: Host;
  protected readonly labelNames: string[];
  /** Series changed since the last scrape (each once), for counters and gauges. */
  protected readonly pending: Series[] = [];
  readonly #known: Set<string>;

  constructor(name: string, help: string, kind: Kind, host: Host, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.kind = kind;
    this.host = host;
    for (const n of labelNames) checkLabelName(n);
    this.labelNames = [...new Set(labelNames)];
    this.#known = new Set(this.labelNames);
  }

  /**
   * The series for `labels`, created if there is room; undefined when dropped at the cap
   * (counted as a drop, except for bind(): it is the updates of a bound series that are lost).
   */
  protected seriesFor(labels: Labels | undefined, countDrop = true): Series | undefined {
    const key = seriesKey(labels);
    const found = this.series.get(key);
    if (found !== undefined) return found;
    const names = labels === undefined ? [] : Object.keys(labels).sort();
    for (const n of names) checkLabelName(n);
    if (this.series.size >= this.host.maxSeries) {
      if (countDrop) this.host.dropped(this.name);
      return undefined;
    }
    const unknown = names.filter((n) => !this.#known.has(n));
    if (unknown.length > 0) this.widen(unknown);
    const normalised: Record<string, string> = {};
    for (const n of names) normalised[n] = String(labels![n]);
    const created: Series = { labels: Object.freeze(normalised), value: 0, synced: 0, dirty: false };
    this.series.set(key, created);
    return created;
  }

  /** Label names declared after the metric was registered (counter() asked again with more). */
  declare(labelNames: readonly string[]): void {
    for (const n of labelNames) checkLabelName(n);
    const unknown = labelNames.filter((n) => !this.#known.has(n));
    if (unknown.length > 0) this.widen(unknown);
  }

  protected widen(names: readonly string[]): void {
    for (const n of names) {
      this.#known.add(n);
      this.labelNames.push(n);
    }
    this.host.registry.removeSingleMetric(this.name);
    this.rebuild();
  }

  get(labels?: Labels): number {
    return this.series.get(seriesKey(labels))?.value ?? 0;
  }

  protected touch(s: Series): void {
    s.dirty = true;
    this.pending.push(s);
  }

  /** After a rebuild: every series goes to the new prom-client metric whole. */
  protected resync(): void {
    for (const s of this.series.values()) {
      s.synced = 0;
      if (!s.dirty) this.touch(s);
    }
  }

  /** Creates (and registers) the prom-client metric for the current label names, with the series kept here. */
  protected abstract rebuild(): void;
}

export class CounterFamily extends Family implements Counter {
  #prom!: PromCounter;

  constructor(name: string, help: string, host: Host, labelNames: readonly string[] | undefined) {
    super(name, help, 'counter', host, labelNames ?? []);
    this.rebuild();
    // Undeclared label names: no unlabelled `name 0` series until one is really recorded.
    if (labelNames === undefined) this.#prom.remove({});
  }

  protected rebuild(): void {
    this.#prom = new PromCounter({ name: this.name, help: this.help, labelNames: this.labelNames, registers: [this.host.registry], collect: () => this.#flush() });
    this.resync();
  }

  /** At scrape time: prom-client gets what each changed series gained since the last scrape. */
  #flush(): void {
    const prom = this.#prom;
    for (const s of this.pending) {
      prom.inc(s.labels, s.value - s.synced);
      s.synced = s.value;
      s.dirty = false;
    }
    this.pending.length = 0;
  }

  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0) || by === Infinity) throw new RangeError(`counter ${this.name} can only increase by a finite amount ≥ 0, got ${by}`);
    const s = this.seriesFor(labels);
    if (s === undefined) return;
    s.value += by;
    if (!s.dirty) this.touch(s);
  }

  bind(labels?: Labels): BoundCounter {
    const s = this.seriesFor(labels, false);
    if (s === undefined) return { inc: () => this.host.dropped(this.name) };
    // A counter that exists reads 0 before its first event, so rate() sees the first one.
    if (!s.dirty) this.touch(s);
    return {
      inc: (by = 1) => {
        if (!(by >= 0) || by === Infinity) throw new RangeError(`counter ${this.name} can only increase by a finite amount ≥ 0, got ${by}`);
        s.value += by;
        if (!s.dirty) this.touch(s);
      },
    };
  }
}

export class GaugeFamily extends Family implements Gauge {
  #prom!: PromGauge;

  constructor(name: string, help: string, host: Host, labelNames: readonly string[] | undefined) {
    super(name, help, 'gauge', host, labelNames ?? []);
    this.rebuild();
    if (labelNames === undefined) this.#prom.remove({});
  }

  protected rebuild(): void {
    this.#prom = new PromGauge({ name: this.name, help: this.help, labelNames: this.labelNames, registers: [this.host.registry], collect: () => this.#flush() });
    this.resync();
  }

  /** At scrape time: prom-client gets the last value of each changed series. */
  #flush(): void {
    const prom = this.#prom;
    for (const s of this.pending) {
      prom.set(s.labels, s.value);
      s.dirty = false;
    }
    this.pending.length = 0;
  }

  set(labels: Labels | undefined, value: number): void {
    const s = this.seriesFor(labels);
    if (s === undefined) return;
    s.value = value;
    if (!s.dirty) this.touch(s);
  }
}

export class HistogramFamily extends Family implements Histogram {
  readonly buckets: readonly number[];
  #prom!: PromHistogram;

  constructor(name: string, help: string, host: Host, buckets: readonly number[], labelNames: readonly string[]) {
    super(name, help, 'histogram', host, labelNames);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]))) {
      throw new RangeError(`histogram ${name}: buckets must be finite and strictly increasing, got ${JSON.stringify(buckets)}`);
    }
    if (this.labelNames.includes('le')) throw new Error(`histogram ${name}: "le" is reserved for buckets`);
    this.buckets = Object.freeze([...buckets]);
    this.rebuild();
  }

  protected rebuild(): void {
    this.#prom = new PromHistogram({ name: this.name, help: this.help, labelNames: this.labelNames, buckets: [...this.buckets], registers: [this.host.registry] });
  }

  protected override widen(names: readonly string[]): void {
    throw new Error(`histogram ${this.name} has no label ${names.map((n) => JSON.stringify(n)).join(', ')}: declare its label names in histogram(name, help, buckets, labelNames)`);
  }

  observe(labels: Labels | undefined, value: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`histogram ${this.name} observes finite values, got ${value}`);
    const s = this.seriesFor(labels);
    if (s !== undefined) this.#prom.observe(s.labels, value);
  }

  bind(labels?: Labels): BoundHistogram {
    const s = this.seriesFor(labels, false);
    if (s === undefined) return { observe: () => this.host.dropped(this.name) };
    return {
      observe: (value) => {
        if (!Number.isFinite(value)) throw new RangeError(`histogram ${this.name} observes finite values, got ${value}`);
        this.#prom.observe(s.labels, value);
      },
    };
  }
}
