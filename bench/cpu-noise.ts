/**
 * How much of the machine's CPU went to processes other than the bench while it measured.
 * The machines are small and shared: a busy neighbour (a test run, an npm install) skews the
 * figures, so the report states it instead of leaving it to be guessed. Linux /proc only.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  /** All CPUs, in clock ticks. */
  total: number;
  busy: number;
  /** CPU time of the bench's own processes, in clock ticks. */
  ours: number;
}

export interface CpuNoise {
  /** Share of the machine's CPU capacity used by other processes, 0–1. */
  foreignShare: number;
  /** Share used by the bench's processes (orchestrator, upstream, load client, gateways), 0–1. */
  benchShare: number;
  loadAverage: number[];
}

function machineTicks(): { total: number; busy: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = fields[3] + (fields[4] ?? 0);
  return { total, busy: total - idle };
}

function processTicks(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

function snapshot(pids: number[]): Snapshot {
  const { total, busy } = machineTicks();
  const ours = processTicks('self') + pids.reduce((sum, pid) => sum + processTicks(pid), 0);
  return { total, busy, ours };
}

/** Start measuring; call the returned function with the same pids to get the figure. */
export function startCpuNoise(pids: number[]): () => CpuNoise | undefined {
  let before: Snapshot;
  try {
    before = snapshot(pids);
  } catch {
    return () => undefined;
  }
  return () => {
    const after = snapshot(pids);
    const total = after.total - before.total;
    if (total <= 0) return undefined;
    const ours = after.ours - before.ours;
    const busy = after.busy - before.busy;
    return {
      foreignShare: Math.max(0, (busy - ours) / total),
      benchShare: ours / total,
      loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
    };
  };
}
