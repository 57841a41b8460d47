/**
 * The paths measured side by side. Each is either running (with a target the load client can
 * hit) or unavailable with a reason that the report prints in its column.
 * Governed: virtual key, team and tenant ACLs, limits and budgets on every scope (in memory, and
 * again with Redis-backed counters); the ledger as it arrives.
 */
import { directTarget } from './chat-requests.ts';
import type { TargetSpec } from './load-protocol.ts';
import { ensurePortkey, startPortkey } from './portkey.ts';
import type { Rss, Tracked } from './processes.ts';
import type { BenchSettings } from './settings.ts';
import { startNodeFloor } from './node-floor-process.ts';
import { benchRedisReachable, startTollgateBare, startTollgateGoverned } from './tollgate.ts';
import type { GatewayHandle } from './tollgate.ts';

export type PathId = 'direct' | 'node_floor' | 'tollgate_bare' | 'tollgate_governed' | 'tollgate_redis' | 'portkey';

export const PATH_IDS: PathId[] = ['direct', 'node_floor', 'tollgate_bare', 'tollgate_governed', 'tollgate_redis', 'portkey'];

export const PATH_LABELS: Record<PathId, string> = {
  direct: 'direct',
  node_floor: 'node floor',
  tollgate_bare: 'tollgate bare',
  tollgate_governed: 'tollgate governed',
  tollgate_redis: 'governed + redis',
  portkey: 'portkey',
};

export interface PathState {
  id: PathId;
  label: string;
  /** Set when the path is running. */
  target?: TargetSpec;
  /** The gateway process (none for direct). */
  process?: Tracked;
  /** Why the path is not measured. */
  unavailable?: string;
  version?: string;
  idleRss?: Rss;
  afterLoadRss?: Rss;
}

type Log = (line: string) => void;

/** First line(s) of an error, enough to say why a path is missing. */
function reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(0, 6).join(' | ').slice(0, 600);
}

async function startGateway(id: PathId, start: () => Promise<GatewayHandle>, log: Log): Promise<PathState> {
  const label = PATH_LABELS[id];
  log(`starting ${label} …`);
  try {
    const handle = await start();
    log(`${label} ready on ${handle.target.origin} (pid ${handle.process.pid})`);
    return { id, label, target: handle.target, process: handle.process };
  } catch (err) {
    const why = reason(err);
    log(`${label} unavailable: ${why}`);
    return { id, label, unavailable: `did not start: ${why}` };
  }
}

export async function startPaths(settings: BenchSettings, upstreamPort: number, log: Log): Promise<PathState[]> {
  const delayMs = settings.delayed.delayMs;
  const paths: PathState[] = [{ id: 'direct', label: PATH_LABELS.direct, target: directTarget(upstreamPort, delayMs) }];

  // The floor: what a bare node:http + undici proxy adds on this machine, in this run.
  paths.push(await startGateway('node_floor', () => startNodeFloor(settings.repoRoot, upstreamPort, delayMs), log));

  if (settings.skipTollgate) {
    paths.push({ id: 'tollgate_bare', label: PATH_LABELS.tollgate_bare, unavailable: 'skipped (BENCH_SKIP_TOLLGATE)' });
  } else {
    paths.push(await startGateway('tollgate_bare', () => startTollgateBare(settings.repoRoot, upstreamPort, delayMs), log));
  }

  if (settings.skipTollgate) {
    paths.push({ id: 'tollgate_governed', label: PATH_LABELS.tollgate_governed, unavailable: 'skipped (BENCH_SKIP_TOLLGATE)' });
  } else {
    paths.push(await startGateway('tollgate_governed', () => startTollgateGoverned(settings.repoRoot, upstreamPort, delayMs), log));
  }

  const noRedis = settings.skipTollgate ? 'skipped (BENCH_SKIP_TOLLGATE)' : await benchRedisReachable();
  if (noRedis) paths.push({ id: 'tollgate_redis', label: PATH_LABELS.tollgate_redis, unavailable: noRedis });
  else paths.push(await startGateway('tollgate_redis', () => startTollgateGoverned(settings.repoRoot, upstreamPort, delayMs, true), log));

  if (settings.skipPortkey) {
    paths.push({ id: 'portkey', label: PATH_LABELS.portkey, unavailable: 'skipped (BENCH_SKIP_PORTKEY)' });
  } else {
    let version: string | undefined;
    try {
      version = await ensurePortkey(settings.portkeyDir, log);
    } catch (err) {
      const why = reason(err);
      log(`portkey could not be installed, continuing without the peer: ${why}`);
      paths.push({ id: 'portkey', label: PATH_LABELS.portkey, unavailable: `not installed: ${why}` });
    }
    if (version) {
      const state = await startGateway('portkey', () => startPortkey(settings.portkeyDir, upstreamPort, delayMs), log);
      state.version = version;
      paths.push(state);
    }
  }
  return paths;
}
