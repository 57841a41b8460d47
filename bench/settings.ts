/**
 * Run sizes and knobs, from the environment:
 *   BENCH_QUICK=1           short run (~1 min) instead of the full one (~4–5 min on 2 cores)
 *   BENCH_ROUNDS=N          rounds of the A B A B alternation for latency (default 5, quick 3)
 *   BENCH_SKIP_PORTKEY=1    do not install or run the peer
 *   BENCH_SKIP_TOLLGATE=1   do not start Tollgate (rig self-test)
 *   BENCH_PORTKEY_DIR=dir   where the peer is installed and cached (default <tmpdir>/tollgate-bench-portkey)
 *   BENCH_OUT=file          results JSON (default bench/results/latest.json)
 *   BENCH_PORTKEY_VERSION=x peer version to install (bench/portkey.ts)
 *   BENCH_TOLLGATE_NODE_ARGS="--cpu-prof …"  extra Node flags for the gateway (bench/tollgate.ts)
 *   BENCH_LEDGER_SINK=jsonl  the gateways' ledger sink instead of the default SQLite file
 *   BENCH_LEDGER_WAL=0       the ledger without its write-ahead log; BENCH_LEDGER_OFF=1: no ledger
 */
import os from 'node:os';
import path from 'node:path';

export interface BenchSettings {
  quick: boolean;
  latency: { rounds: number; warmup: number; requests: number; maxMs: number };
  delayed: { rounds: number; delayMs: number; warmup: number; requests: number; maxMs: number };
  throughput: { rounds: number; concurrency: number[]; warmupMs: number; stepMs: number; p99LimitUs: number };
  streaming: { rounds: number; chunks: number; paceMs: number; warmup: number; requests: number; maxMs: number };
  skipPortkey: boolean;
  skipTollgate: boolean;
  portkeyDir: string;
  outFile: string;
  repoRoot: string;
}

function flag(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function int(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

export function loadSettings(): BenchSettings {
  const quick = flag('BENCH_QUICK');
  const repoRoot = path.resolve(import.meta.dirname, '..');
  return {
    quick,
    latency: quick
      ? { rounds: int('BENCH_ROUNDS', 3), warmup: 300, requests: 500, maxMs: 20_000 }
      : { rounds: int('BENCH_ROUNDS', 5), warmup: 1000, requests: 2000, maxMs: 40_000 },
    delayed: quick
      ? { rounds: 2, delayMs: 20, warmup: 5, requests: 30, maxMs: 10_000 }
      : { rounds: 3, delayMs: 20, warmup: 10, requests: 100, maxMs: 20_000 },
    throughput: quick
      ? { rounds: 2, concurrency: [1, 4, 8, 16, 64], warmupMs: 300, stepMs: 1200, p99LimitUs: 10_000 }
      : { rounds: 3, concurrency: [1, 2, 4, 8, 16, 32, 64, 128], warmupMs: 500, stepMs: 2000, p99LimitUs: 10_000 },
    streaming: quick
      ? { rounds: 2, chunks: 20, paceMs: 5, warmup: 2, requests: 10, maxMs: 20_000 }
      : { rounds: 3, chunks: 20, paceMs: 5, warmup: 3, requests: 40, maxMs: 30_000 },
    skipPortkey: flag('BENCH_SKIP_PORTKEY'),
    skipTollgate: flag('BENCH_SKIP_TOLLGATE'),
    portkeyDir: process.env.BENCH_PORTKEY_DIR || path.join(os.tmpdir(), 'tollgate-bench-portkey'),
    outFile: process.env.BENCH_OUT || path.join(repoRoot, 'bench', 'results', 'latest.json'),
    repoRoot,
  };
}
