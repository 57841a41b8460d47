/**
 * The measurement phases. Each runs several rounds; within a round every running path is
 * measured once, in an order rotated each round (A B C, B C A, …). Gateway figures are
 * paired with direct's figure from the same round, and the median over rounds is reported.
 */
import type { LoadDriver } from './load-driver.ts';
import type { PathId, PathState } from './paths.ts';
import type { BenchSettings } from './settings.ts';
import { median } from './stats.ts';

export type PerPath<T> = Partial<Record<PathId, T>>;
type Log = (line: string) => void;

export interface LatencyRound {
  p50: number;
  p99: number;
  mean: number;
  n: number;
  errors: number;
}

export interface LatencyFigures {
  rounds: LatencyRound[];
  p50Us: number;
  p99Us: number;
  /** Median over rounds of (path − direct) in the same round. */
  addedP50Us: number;
  addedP99Us: number;
  errors: number;
  firstError?: string;
}

export interface ThroughputStep {
  concurrency: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  completed: number;
  errors: number;
  qualifies: boolean;
  firstError?: string;
}

export interface ThroughputRound {
  steps: ThroughputStep[];
  /** Best RPS of a step with p99 within the limit and no errors; NaN if none. */
  bestRps: number;
  bestConcurrency: number;
}

export interface ThroughputFigures {
  rounds: ThroughputRound[];
  bestRps: number;
  bestConcurrency: number;
  /** Median over rounds of this path's best / direct's best in the same round. */
  vsDirect: number;
  /** The same against the peer (Portkey). */
  vsPeer: number;
}

export interface StreamRound {
  ttfbP50: number;
  ttfbP99: number;
  interChunkMean: number;
  totalP50: number;
  eventsP50: number;
  n: number;
  errors: number;
}

export interface StreamFigures {
  rounds: StreamRound[];
  ttfbP50Us: number;
  ttfbP99Us: number;
  interChunkUs: number;
  totalUs: number;
  eventsPerStream: number;
  addedTtfbUs: number;
  addedInterChunkUs: number;
  addedTotalUs: number;
  errors: number;
  firstError?: string;
}

function rotate<T>(items: T[], by: number): T[] {
  const k = items.length ? by % items.length : 0;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** A gateway that died mid-run is marked unavailable and skipped from then on. */
function stillRunning(path: PathState, phase: string, log: Log): boolean {
  if (!path.target) return false;
  if (path.process?.hasExited()) {
    const tail = path.process.outputTail().trim().split('\n').slice(-4).join(' | ');
    path.unavailable = `exited during ${phase}: ${tail}`;
    path.target = undefined;
    log(`${path.label} ${path.unavailable}`);
    return false;
  }
  return true;
}

function pairedMedian<R>(rounds: (R | undefined)[], base: (R | undefined)[], pick: (r: R) => number, combine: (a: number, b: number) => number): number {
  const values: number[] = [];
  rounds.forEach((r, i) => {
    const b = base[i];
    if (r && b) values.push(combine(pick(r), pick(b)));
  });
  return median(values);
}

const minus = (a: number, b: number): number => a - b;
const ratio = (a: number, b: number): number => a / b;
const us = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)}µs` : 'n/a');

export async function latencyPhase(
  driver: LoadDriver,
  paths: PathState[],
  cfg: BenchSettings['latency'] | BenchSettings['delayed'],
  variant: 'plain' | 'delayed',
  log: Log,
): Promise<PerPath<LatencyFigures>> {
  const rounds: PerPath<(LatencyRound | undefined)[]> = {};
  const errors: PerPath<{ count: number; first?: string }> = {};
  for (let r = 0; r < cfg.rounds; r++) {
    const line: string[] = [];
    for (const path of rotate(paths, r)) {
      if (!stillRunning(path, `${variant} latency`, log)) continue;
      const res = await driver.run({ kind: 'latency', target: path.target!, variant, warmup: cfg.warmup, count: cfg.requests, maxMs: cfg.maxMs });
      const list = (rounds[path.id] ??= []);
      list[r] = { p50: res.latency.p50, p99: res.latency.p99, mean: res.latency.mean, n: res.latency.n, errors: res.errors };
      const e = (errors[path.id] ??= { count: 0 });
      e.count += res.errors;
      e.first ??= res.firstError;
      line.push(`${path.label} p50 ${us(res.latency.p50)} p99 ${us(res.latency.p99)}${res.errors ? ` (${res.errors} errors)` : ''}`);
    }
    log(`${variant} latency round ${r + 1}/${cfg.rounds}: ${line.join(' · ')}`);
  }
  const direct = rounds.direct ?? [];
  const out: PerPath<LatencyFigures> = {};
  for (const [id, list] of Object.entries(rounds) as [PathId, (LatencyRound | undefined)[]][]) {
    const present = list.filter((x): x is LatencyRound => x !== undefined && x.n > 0);
    out[id] = {
      rounds: present,
      p50Us: median(present.map((x) => x.p50)),
      p99Us: median(present.map((x) => x.p99)),
      addedP50Us: pairedMedian(list, direct, (x) => x.p50, minus),
      addedP99Us: pairedMedian(list, direct, (x) => x.p99, minus),
      errors: errors[id]?.count ?? 0,
      firstError: errors[id]?.first,
    };
  }
  return out;
}

export async function throughputPhase(
  driver: LoadDriver,
  paths: PathState[],
  cfg: BenchSettings['throughput'],
  log: Log,
): Promise<PerPath<ThroughputFigures>> {
  const rounds: PerPath<(ThroughputRound | undefined)[]> = {};
  for (let r = 0; r < cfg.rounds; r++) {
    for (const path of rotate(paths, r)) {
      const steps: ThroughputStep[] = [];
      for (const concurrency of cfg.concurrency) {
        if (!stillRunning(path, 'throughput', log)) break;
        const res = await driver.run({ kind: 'throughput', target: path.target!, concurrency, warmupMs: cfg.warmupMs, durationMs: cfg.stepMs });
        const qualifies = res.errors === 0 && res.completed > 0 && res.latency.p99 <= cfg.p99LimitUs;
        steps.push({
          concurrency,
          rps: res.rps,
          p50Us: res.latency.p50,
          p99Us: res.latency.p99,
          completed: res.completed,
          errors: res.errors,
          qualifies,
          firstError: res.firstError,
        });
        // Past the first step over the p99 limit (or with errors) latency only grows: stop the sweep.
        if (!qualifies) break;
      }
      if (steps.length === 0) continue;
      const best = steps.filter((s) => s.qualifies).sort((a, b) => b.rps - a.rps)[0];
      (rounds[path.id] ??= [])[r] = { steps, bestRps: best?.rps ?? NaN, bestConcurrency: best?.concurrency ?? NaN };
      const trail = steps.map((s) => `c${s.concurrency}:${Math.round(s.rps)}${s.qualifies ? '' : s.errors ? '✗err' : '✗p99'}`).join(' ');
      log(`throughput round ${r + 1}/${cfg.rounds} ${path.label}: best ${Number.isFinite(best?.rps) ? Math.round(best!.rps) : 'n/a'} rps  [${trail}]`);
    }
  }
  const direct = rounds.direct ?? [];
  const peer = rounds.portkey ?? [];
  const out: PerPath<ThroughputFigures> = {};
  for (const [id, list] of Object.entries(rounds) as [PathId, (ThroughputRound | undefined)[]][]) {
    const present = list.filter((x): x is ThroughputRound => x !== undefined);
    const bests = present.map((x) => x.bestRps);
    const bestRps = median(bests);
    const closest = present.filter((x) => Number.isFinite(x.bestRps)).sort((a, b) => Math.abs(a.bestRps - bestRps) - Math.abs(b.bestRps - bestRps))[0];
    out[id] = {
      rounds: present,
      bestRps,
      bestConcurrency: closest?.bestConcurrency ?? NaN,
      vsDirect: pairedMedian(list, direct, (x) => x.bestRps, ratio),
      vsPeer: pairedMedian(list, peer, (x) => x.bestRps, ratio),
    };
  }
  return out;
}

export async function streamingPhase(
  driver: LoadDriver,
  paths: PathState[],
  cfg: BenchSettings['streaming'],
  log: Log,
): Promise<PerPath<StreamFigures>> {
  const rounds: PerPath<(StreamRound | undefined)[]> = {};
  const errors: PerPath<{ count: number; first?: string }> = {};
  for (let r = 0; r < cfg.rounds; r++) {
    const line: string[] = [];
    for (const path of rotate(paths, r)) {
      if (!stillRunning(path, 'streaming', log)) continue;
      const res = await driver.run({ kind: 'stream', target: path.target!, warmup: cfg.warmup, count: cfg.requests, maxMs: cfg.maxMs });
      (rounds[path.id] ??= [])[r] = {
        ttfbP50: res.ttfb.p50,
        ttfbP99: res.ttfb.p99,
        interChunkMean: res.interChunk.mean,
        totalP50: res.total.p50,
        eventsP50: res.events.p50,
        n: res.ttfb.n,
        errors: res.errors,
      };
      const e = (errors[path.id] ??= { count: 0 });
      e.count += res.errors;
      e.first ??= res.firstError;
      line.push(`${path.label} ttfb ${us(res.ttfb.p50)} gap ${us(res.interChunk.mean)} events ${res.events.p50}${res.errors ? ` (${res.errors} errors)` : ''}`);
    }
    log(`streaming round ${r + 1}/${cfg.rounds}: ${line.join(' · ')}`);
  }
  const direct = rounds.direct ?? [];
  const out: PerPath<StreamFigures> = {};
  for (const [id, list] of Object.entries(rounds) as [PathId, (StreamRound | undefined)[]][]) {
    const present = list.filter((x): x is StreamRound => x !== undefined && x.n > 0);
    out[id] = {
      rounds: present,
      ttfbP50Us: median(present.map((x) => x.ttfbP50)),
      ttfbP99Us: median(present.map((x) => x.ttfbP99)),
      interChunkUs: median(present.map((x) => x.interChunkMean)),
      totalUs: median(present.map((x) => x.totalP50)),
      eventsPerStream: median(present.map((x) => x.eventsP50)),
      addedTtfbUs: pairedMedian(list, direct, (x) => x.ttfbP50, minus),
      addedInterChunkUs: pairedMedian(list, direct, (x) => x.interChunkMean, minus),
      addedTotalUs: pairedMedian(list, direct, (x) => x.totalP50, minus),
      errors: errors[id]?.count ?? 0,
      firstError: errors[id]?.first,
    };
  }
  return out;
}
