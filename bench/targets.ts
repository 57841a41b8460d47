/**
 * Targets the table checks. `limit` is the accepted bar (the target); `goal` is the
 * stricter figure from shared/docs/BENCHMARK.md where it differs. `pass?` is judged on `limit`.
 */
export interface Target {
  /** 'max': value must be ≤ limit; 'min': value must be ≥ limit. */
  direction: 'max' | 'min';
  limit: number;
  goal?: number;
  unit: string;
}

export const TARGETS = {
  addedP50Bare: { direction: 'max', limit: 300, goal: 250, unit: 'µs' },
  addedP99Bare: { direction: 'max', limit: 1500, goal: 1000, unit: 'µs' },
  addedP50Governed: { direction: 'max', limit: 400, unit: 'µs' },
  /** Issue 3: a cached virtual key costs at most 0.1 ms over the master key. */
  governedOverBareP50: { direction: 'max', limit: 100, unit: 'µs' },
  /** Issue 4: Redis-backed limits and budgets add at most 0.3 ms over the in-memory governed path. */
  redisOverMemoryP50: { direction: 'max', limit: 300, unit: 'µs' },
  throughputVsPeer: { direction: 'min', limit: 5, goal: 10, unit: '×' },
  throughputVsDirect: { direction: 'min', limit: 0.25, unit: '×' },
  streamingTtfbAdded: { direction: 'max', limit: 1000, unit: 'µs' },
  idleRss: { direction: 'max', limit: 80, unit: 'MB' },
  /** Ratio of the gateway's RSS after load to the peer's. */
  afterLoadRssVsPeer: { direction: 'max', limit: 0.5, unit: '× peer' },
} satisfies Record<string, Target>;

export function meets(target: Target, value: number, bar: number = target.limit): boolean {
  return target.direction === 'max' ? value <= bar : value >= bar;
}

export function describeTarget(target: Target): string {
  const op = target.direction === 'max' ? '≤' : '≥';
  const fmt = (n: number): string => (target.unit.startsWith('×') ? `${n}${target.unit}` : `${n} ${target.unit}`);
  return target.goal === undefined ? `${op} ${fmt(target.limit)}` : `${op} ${fmt(target.limit)} (goal ${fmt(target.goal)})`;
}

/** 'yes', 'yes, goal met', 'NO', or 'n/a' when there is no value. */
export function verdict(target: Target, value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (!meets(target, value)) return 'NO';
  if (target.goal !== undefined && meets(target, value, target.goal)) return 'yes, goal met';
  return 'yes';
}
