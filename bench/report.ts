/** Turns the phase figures into the printed table and the results JSON. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CpuNoise } from './cpu-noise.ts';
import type { PathId, PathState } from './paths.ts';
import { PATH_IDS, PATH_LABELS } from './paths.ts';
import type { LatencyFigures, PerPath, StreamFigures, ThroughputFigures } from './phases.ts';
import type { Rss } from './processes.ts';
import type { BenchSettings } from './settings.ts';
import { TARGETS, describeTarget, verdict } from './targets.ts';
import type { Target } from './targets.ts';

export interface MachineInfo {
  os: string;
  cpuModel: string;
  cpuCount: number;
  memoryGb: number;
}

export interface PathSummary {
  label: string;
  status: 'measured' | 'unavailable';
  reason?: string;
  version?: string;
  idleRss?: Rss;
  afterLoadRss?: Rss;
}

export interface BenchResults {
  date: string;
  machine: MachineInfo;
  node: string;
  commit: string;
  mode: 'quick' | 'full';
  durationS: number;
  settings: Pick<BenchSettings, 'latency' | 'delayed' | 'throughput' | 'streaming'>;
  paths: Record<PathId, PathSummary>;
  latency: PerPath<LatencyFigures>;
  latencyDelayed: PerPath<LatencyFigures>;
  streaming: PerPath<StreamFigures>;
  throughput: PerPath<ThroughputFigures>;
  noise?: CpuNoise;
  table: TableRow[];
  notes: string[];
}

export interface TableRow {
  figure: string;
  cells: Record<PathId, string>;
  target: string;
  pass: string;
}

export function summarizePaths(paths: PathState[]): Record<PathId, PathSummary> {
  const out = {} as Record<PathId, PathSummary>;
  for (const id of PATH_IDS) {
    const p = paths.find((x) => x.id === id);
    out[id] = {
      label: PATH_LABELS[id],
      status: p && !p.unavailable ? 'measured' : 'unavailable',
      reason: p?.unavailable,
      version: p?.version,
      idleRss: p?.idleRss,
      afterLoadRss: p?.afterLoadRss,
    };
  }
  return out;
}

const NA = 'n/a';
/** Share of CPU used by other processes above which the notes warn that figures are unreliable. */
const NOISY_SHARE = 0.05;
const DASH = '—';

function num(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return NA;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function signed(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return NA;
  return `${v >= 0 ? '+' : '−'}${num(Math.abs(v))}`;
}

function ratio(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return NA;
  return `${num(v, v >= 10 ? 1 : 2)}×`;
}

type Cells = Record<PathId, string>;

function cells(fill: (id: PathId) => string, paths: Record<PathId, PathSummary>): Cells {
  const out = {} as Cells;
  for (const id of PATH_IDS) out[id] = paths[id].status === 'measured' ? fill(id) : NA;
  return out;
}

function row(figure: string, c: Cells, target?: Target, value?: number, targetText?: string): TableRow {
  return {
    figure,
    cells: c,
    target: targetText ?? (target ? describeTarget(target) : DASH),
    pass: target ? verdict(target, value) : DASH,
  };
}

export function buildTable(r: BenchResults): TableRow[] {
  const p = r.paths;
  const lat = r.latency;
  const slow = r.latencyDelayed;
  const tp = r.throughput;
  const st = r.streaming;
  const gatewayOr = (id: PathId, gateway: () => string, base: () => string): string => (id === 'direct' ? base() : gateway());

  const governedExtra = (l: typeof lat): number | undefined =>
    l.tollgate_governed && l.tollgate_bare ? l.tollgate_governed.addedP50Us - l.tollgate_bare.addedP50Us : undefined;
  const redisExtra = (l: typeof lat): number | undefined =>
    l.tollgate_redis && l.tollgate_governed ? l.tollgate_redis.addedP50Us - l.tollgate_governed.addedP50Us : undefined;
  const rows: TableRow[] = [];
  rows.push(
    row(
      'added latency p50, 1 in flight (µs)',
      cells((id) => gatewayOr(id, () => signed(lat[id]?.addedP50Us), () => `${num(lat.direct?.p50Us)} abs`), p),
      TARGETS.addedP50Bare,
      lat.tollgate_bare?.addedP50Us,
    ),
    row(
      'added latency p99, 1 in flight (µs)',
      cells((id) => gatewayOr(id, () => signed(lat[id]?.addedP99Us), () => `${num(lat.direct?.p99Us)} abs`), p),
      TARGETS.addedP99Bare,
      lat.tollgate_bare?.addedP99Us,
    ),
    row(
      'added latency p50, governed (µs)',
      cells((id) => (id === 'tollgate_governed' || id === 'tollgate_redis' ? signed(lat[id]?.addedP50Us) : DASH), p),
      TARGETS.addedP50Governed,
      lat.tollgate_governed?.addedP50Us,
    ),
    row(
      'redis minus memory limits, governed p50 (µs)',
      cells((id) => (id === 'tollgate_redis' ? signed(redisExtra(lat)) : DASH), p),
      TARGETS.redisOverMemoryP50,
      redisExtra(lat),
    ),
    row(
      'governed minus bare, p50 (µs)',
      cells((id) => (id === 'tollgate_governed' ? signed(governedExtra(lat)) : DASH), p),
      TARGETS.governedOverBareP50,
      governedExtra(lat),
    ),
    row(
      `added latency p50, ${r.settings.delayed.delayMs} ms upstream (µs)`,
      cells((id) => gatewayOr(id, () => signed(slow[id]?.addedP50Us), () => `${num(slow.direct?.p50Us)} abs`), p),
    ),
    row(
      'max throughput, p99 ≤ 10 ms, 0 errors (rps)',
      cells((id) => {
        const f = tp[id];
        return f && Number.isFinite(f.bestRps) ? `${num(f.bestRps)} @c${f.bestConcurrency}` : NA;
      }, p),
    ),
    row(
      'throughput vs direct',
      cells((id) => (id === 'direct' ? '1×' : ratio(tp[id]?.vsDirect)), p),
      TARGETS.throughputVsDirect,
      tp.tollgate_bare?.vsDirect,
    ),
    row(
      'throughput vs peer (portkey)',
      cells((id) => (id === 'portkey' ? '1×' : id === 'direct' ? ratio(tp.direct?.vsPeer) : ratio(tp[id]?.vsPeer)), p),
      TARGETS.throughputVsPeer,
      tp.tollgate_bare?.vsPeer,
    ),
    row(
      'streaming TTFB added (µs)',
      cells((id) => gatewayOr(id, () => signed(st[id]?.addedTtfbUs), () => `${num(st.direct?.ttfbP50Us)} abs`), p),
      TARGETS.streamingTtfbAdded,
      st.tollgate_bare?.addedTtfbUs,
    ),
    row(
      'streaming inter-chunk delay added (µs)',
      cells((id) => gatewayOr(id, () => signed(st[id]?.addedInterChunkUs), () => `${num(st.direct?.interChunkUs)} abs`), p),
    ),
    row(
      'streaming whole-stream time added (µs)',
      cells((id) => gatewayOr(id, () => signed(st[id]?.addedTotalUs), () => `${num(st.direct?.totalUs)} abs`), p),
    ),
    row(
      'idle RSS (MB)',
      cells((id) => (id === 'direct' ? DASH : num(p[id].idleRss?.rssMb, 1)), p),
      TARGETS.idleRss,
      p.tollgate_bare.idleRss?.rssMb,
    ),
  );

  const peerAfter = p.portkey.afterLoadRss?.rssMb;
  const bareAfter = p.tollgate_bare.afterLoadRss?.rssMb;
  const afterTarget = TARGETS.afterLoadRssVsPeer;
  rows.push(
    row(
      'RSS after load (MB)',
      cells((id) => (id === 'direct' ? DASH : num(p[id].afterLoadRss?.rssMb, 1)), p),
      afterTarget,
      peerAfter && bareAfter ? bareAfter / peerAfter : undefined,
      `${describeTarget(afterTarget)}${peerAfter ? ` (≤ ${num(peerAfter * afterTarget.limit, 1)} MB)` : ''}`,
    ),
  );
  return rows;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - [...text].length));
}

/** Markdown table, padded so that it also reads well in a terminal. */
export function renderTable(rows: TableRow[]): string {
  const header = ['figure', ...PATH_IDS.map((id) => PATH_LABELS[id]), 'target', 'pass? (tollgate)'];
  const body = rows.map((r) => [r.figure, ...PATH_IDS.map((id) => r.cells[id]), r.target, r.pass]);
  const widths = header.map((h, i) => Math.max([...h].length, ...body.map((b) => [...b[i]].length)));
  const line = (cols: string[]): string => `| ${cols.map((c, i) => pad(c, widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** Lines under the table: unavailable paths, errors, stream shape differences. */
export function buildNotes(r: BenchResults): string[] {
  const notes: string[] = [];
  for (const id of PATH_IDS) {
    const s = r.paths[id];
    if (s.status === 'unavailable') notes.push(`${s.label}: ${s.reason}`);
    else if (s.version) notes.push(`${s.label}: version ${s.version}`);
  }
  for (const [phase, figures] of [
    ['latency', r.latency],
    ['latency (delayed upstream)', r.latencyDelayed],
    ['streaming', r.streaming],
  ] as const) {
    for (const [id, f] of Object.entries(figures) as [PathId, LatencyFigures | StreamFigures][]) {
      if (f.errors > 0) notes.push(`${PATH_LABELS[id]}: ${f.errors} errors during ${phase}; first: ${f.firstError}`);
    }
  }
  for (const [id, f] of Object.entries(r.throughput) as [PathId, ThroughputFigures][]) {
    const failed = f.rounds.flatMap((round) => round.steps).find((s) => s.errors > 0);
    if (failed) notes.push(`${PATH_LABELS[id]}: errors at throughput c${failed.concurrency}; first: ${failed.firstError}`);
  }
  if (r.noise) {
    const pct = (v: number): string => `${Math.round(v * 100)}%`;
    const busy = r.noise.foreignShare > NOISY_SHARE;
    notes.push(
      `${busy ? 'NOISY MACHINE: ' : ''}other processes used ${pct(r.noise.foreignShare)} of the machine's CPU while the bench measured ` +
        `(the bench itself ${pct(r.noise.benchShare)}; load average ${r.noise.loadAverage.join(' ')})` +
        (busy ? '; treat these figures with care and rerun on a quiet machine' : ''),
    );
  }
  const directEvents = r.streaming.direct?.eventsPerStream;
  for (const [id, f] of Object.entries(r.streaming) as [PathId, StreamFigures][]) {
    if (id !== 'direct' && Number.isFinite(directEvents) && f.eventsPerStream !== directEvents) {
      notes.push(`${PATH_LABELS[id]}: ${f.eventsPerStream} SSE events per stream, direct ${directEvents}`);
    }
  }
  return notes;
}

export function writeResults(file: string, results: BenchResults): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // Fewer digits than the noise of any figure here (3 decimals below 10, else 1); NaN becomes null.
  const rounded = (_key: string, v: unknown): unknown => {
    if (typeof v !== 'number' || Number.isInteger(v)) return v;
    const scale = Math.abs(v) < 10 ? 1000 : 10;
    return Math.round(v * scale) / scale;
  };
  writeFileSync(file, `${JSON.stringify(results, rounded, 2)}\n`);
}
