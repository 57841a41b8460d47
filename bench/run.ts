/**
 * `npm run bench`: direct vs Tollgate vs the Portkey peer against a fake upstream, side by side
 * in one run. Method and targets: shared/docs/BENCHMARK.md; how to read it: docs/benchmarks.md.
 * Knobs: see bench/settings.ts (BENCH_QUICK=1 for a ~1 minute run).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startCpuNoise } from './cpu-noise.ts';
import { LoadDriver } from './load-driver.ts';
import { startPaths } from './paths.ts';
import { cleanupBenchRedis } from './tollgate.ts';
import type { PathState } from './paths.ts';
import { latencyPhase, streamingPhase, throughputPhase } from './phases.ts';
import { forkModule, killChildrenOnExit, readRss, sleep, stopAll, stopProcess, waitForMessage } from './processes.ts';
import { buildNotes, buildTable, renderTable, summarizePaths, writeResults } from './report.ts';
import type { BenchResults, MachineInfo } from './report.ts';
import { loadSettings } from './settings.ts';

const startedAt = Date.now();

function log(line: string): void {
  const t = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  console.log(`[${t}s] ${line}`);
}

function gitCommit(repoRoot: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'unknown';
  }
}

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** A few requests of each kind; a path that cannot answer them is dropped with the reason. */
async function checkPaths(driver: LoadDriver, paths: PathState[], chunks: number): Promise<void> {
  for (const p of paths) {
    if (!p.target) continue;
    const plain = await driver.run({ kind: 'latency', target: p.target, variant: 'plain', warmup: 0, count: 3, maxMs: 10_000 });
    const stream = await driver.run({ kind: 'stream', target: p.target, warmup: 0, count: 1, maxMs: 10_000 });
    const problem =
      plain.errors > 0
        ? `chat completion failed: ${plain.firstError}`
        : stream.errors > 0
          ? `streaming failed: ${stream.firstError}`
          : stream.events.p50 < chunks
            ? `stream had ${stream.events.p50} events, expected at least ${chunks}`
            : undefined;
    if (problem) {
      log(`${p.label} dropped: ${problem}`);
      p.unavailable = problem;
      p.target = undefined;
      if (p.process) await stopProcess(p.process);
    }
  }
}

function recordRss(paths: PathState[], key: 'idleRss' | 'afterLoadRss'): void {
  for (const p of paths) if (p.target && p.process) p[key] = readRss(p.process.pid);
}

async function main(): Promise<void> {
  killChildrenOnExit();
  const settings = loadSettings();
  const machine = machineInfo();
  const commit = gitCommit(settings.repoRoot);
  log(`Tollgate bench (${settings.quick ? 'quick' : 'full'}) · ${machine.cpuModel} × ${machine.cpuCount} · node ${process.version} · commit ${commit}`);

  const upstream = forkModule('upstream', new URL('./upstream.ts', import.meta.url).pathname, [
    JSON.stringify({ chunks: settings.streaming.chunks, paceMs: settings.streaming.paceMs }),
  ]);
  const { port: upstreamPort } = await waitForMessage<{ type: string; port: number }>(upstream, 'listening', 10_000);
  log(`upstream on 127.0.0.1:${upstreamPort} (pid ${upstream.pid})`);

  const driver = new LoadDriver();
  const paths = await startPaths(settings, upstreamPort, log);
  await sleep(1000);
  recordRss(paths, 'idleRss');
  await checkPaths(driver, paths, settings.streaming.chunks);
  const running = (): PathState[] => paths.filter((p) => p.target);
  log(`measuring: ${running().map((p) => p.label).join(', ')}`);

  const pids = [upstream.pid, driver.child.pid, ...paths.flatMap((p) => (p.process && p.target ? [p.process.pid] : []))];
  const stopNoise = startCpuNoise(pids);
  const latency = await latencyPhase(driver, running(), settings.latency, 'plain', log);
  const latencyDelayed = await latencyPhase(driver, running(), settings.delayed, 'delayed', log);
  const streaming = await streamingPhase(driver, running(), settings.streaming, log);
  const throughput = await throughputPhase(driver, running(), settings.throughput, log);
  recordRss(paths, 'afterLoadRss');
  const noise = stopNoise();

  const results: BenchResults = {
    date: new Date().toISOString(),
    machine,
    node: process.version,
    commit,
    mode: settings.quick ? 'quick' : 'full',
    durationS: Math.round((Date.now() - startedAt) / 1000),
    settings: { latency: settings.latency, delayed: settings.delayed, throughput: settings.throughput, streaming: settings.streaming },
    paths: summarizePaths(paths),
    latency,
    latencyDelayed,
    streaming,
    throughput,
    noise,
    table: [],
    notes: [],
  };
  results.table = buildTable(results);
  results.notes = buildNotes(results);
  results.notes.push(await traceExportsNote(upstreamPort));
  writeResults(settings.outFile, results);

  console.log('');
  console.log(`Tollgate bench — ${results.date} — ${machine.cpuModel} × ${machine.cpuCount} — node ${results.node} — commit ${commit} — ${results.mode} run, ${results.durationS}s`);
  console.log('Medians over rounds; gateway figures are paired with direct in the same round.');
  console.log('');
  console.log(renderTable(results.table));
  console.log('');
  for (const note of results.notes) console.log(`- ${note}`);
  console.log(`\nresults: ${path.relative(process.cwd(), settings.outFile) || settings.outFile}`);
}

/** The governed gateways send their traces to the fake upstream's collector: how many exports arrived. */
async function traceExportsNote(upstreamPort: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${upstreamPort}/v1/traces/count`);
    const { exports } = (await res.json()) as { exports: number };
    return `tracing: the governed paths exported ${exports} OTLP trace batches to the fake collector during the run`;
  } catch (err) {
    return `tracing: the fake collector's count could not be read (${(err as Error).message})`;
  }
}

main()
  .catch((err: unknown) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    await cleanupBenchRedis();
  });
