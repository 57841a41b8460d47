/**
 * A quick A/B harness for one gateway path, for profiling a change without the whole bench:
 * starts the fake upstream and one Tollgate (bare or governed, as `npm run bench` configures
 * them), runs closed-loop load at fixed concurrencies, and prints per step the requests per
 * second, p50/p99 latency and the gateway's CPU per request (all threads, and the main thread,
 * from /proc; Linux only; the half-second warm-up of each step counts too). Run it twice,
 * changing one thing, and compare the later rounds (the first ones warm the JIT).
 *
 *   npm run build && node bench/ab.ts
 *   AB_KIND=governed AB_CONC=1,16 AB_ROUNDS=3 AB_MS=4000 AB_LABEL=after node bench/ab.ts
 *   BENCH_TOLLGATE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node bench/ab.ts
 *
 * The BENCH_LEDGER_* knobs of bench/settings.ts apply too.
 */
import { readFileSync } from 'node:fs';
import { LoadDriver } from './load-driver.ts';
import { forkModule, killChildrenOnExit, sleep, stopAll, waitForMessage } from './processes.ts';
import { startTollgateBare, startTollgateGoverned } from './tollgate.ts';

const CLOCK_TICK_US = 10_000; // /proc times are in clock ticks of 10 ms (USER_HZ 100)

/** User + system clock ticks of a process (or one of its threads) so far. */
function ticks(statFile: string): number {
  const fields = readFileSync(statFile, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function cpuOf(pid: number): { all: number; main: number } {
  return { all: ticks(`/proc/${pid}/stat`), main: ticks(`/proc/${pid}/task/${pid}/stat`) };
}

killChildrenOnExit();
const root = new URL('..', import.meta.url).pathname;
const upstream = forkModule('upstream', new URL('./upstream.ts', import.meta.url).pathname, [JSON.stringify({ chunks: 20, paceMs: 5 })]);
const { port } = await waitForMessage<{ type: string; port: number }>(upstream, 'listening', 10_000);
const driver = new LoadDriver();
const kind = process.env.AB_KIND === 'governed' ? 'governed' : 'bare';
const gateway = kind === 'governed' ? await startTollgateGoverned(root, port, 20) : await startTollgateBare(root, port, 20);
await sleep(500);
const label = process.env.AB_LABEL ?? '';
for (const concurrency of (process.env.AB_CONC ?? '16,64').split(',').map(Number)) {
  for (let round = 0; round < Number(process.env.AB_ROUNDS ?? 2); round++) {
    const before = cpuOf(gateway.process.pid);
    const res = await driver.run({ kind: 'throughput', target: gateway.target, concurrency, warmupMs: 500, durationMs: Number(process.env.AB_MS ?? 3000) });
    const after = cpuOf(gateway.process.pid);
    const perRequest = (from: number, to: number) => Math.round(((to - from) * CLOCK_TICK_US) / res.completed);
    console.log(`${label} ${kind} c=${concurrency} cpu/req all=${perRequest(before.all, after.all)}µs main=${perRequest(before.main, after.main)}µs rps=${Math.round(res.rps)} p50=${Math.round(res.latency.p50)}µs p99=${Math.round(res.latency.p99)}µs errors=${res.errors}`);
  }
}
await stopAll();
process.exit(0);
