/**
 * Ledger sink throughput (BENCHMARK.md: "ledger sink to PostgreSQL ≥ 20,000 rows/s"). Writes
 * synthetic v1 events (docs/ledger.md's example, varied over 20 tenants, 6 models, 3 providers
 * and two days) in batches through each sink's write(), the way the ledger writer does, and
 * prints rows/s, and the CPU each row cost this process and (local server) the PostgreSQL
 * backends: on a shared machine the CPU per row is the steadier number. Event bodies are built
 * before the clock starts (each write gets fresh ids); migration is not timed. PostgreSQL runs
 * in its own schema, dropped at the end; SQLite and JSONL in a temp dir, removed at the end.
 * Afterwards it times a spend report and a page of requests over what was written.
 *
 * What the sink costs the gateway's event loop (the main thread), apart from throughput:
 * - main CPU per row: this thread's CPU (process.threadCpuUsage) during the run, less the bench's
 *   own building of the batches; "node" CPU per row is the whole process, worker threads included.
 * - write() call: how long write() runs before it returns its promise (p50 / max), the part of a
 *   batch a synchronous sink does inline.
 * - posts: for a sink with a worker thread, each Worker.postMessage() (the structured clone of
 *   a slice of a batch), timed by wrapping the method: the longest step the sink takes on the
 *   loop after write() returned.
 * - loop stall: the longest (and p99) event-loop delay during the run, sampled with
 *   perf_hooks.monitorEventLoopDelay every millisecond (the sample less that millisecond, so
 *   good to about ±0.5 ms): whatever held the loop, write() or anything it scheduled, a garbage
 *   collection, or (wall time) the thread waiting for a core on a busy machine. The bench
 *   builds its batches in slices of 100 events a turn of the loop apart, so its own work stays
 *   out of this figure. Queries report their loop stall too.
 * "sqlite-inline" is the SQLite database driven synchronously on the main thread (the old sink,
 * for comparison); "sqlite" is the sink, which does the same in its worker thread.
 *
 * Usage: node bench/ledger-bench.ts [--events 200000] [--batch 1000] [--concurrency 1,4]
 *          [--sinks postgres,sqlite,sqlite-inline,jsonl] [--chunk 500] [--pool 4]
 *        TOLLGATE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { LedgerEvent, LedgerStatus } from '../src/ledger/ledger-event.ts';
import type { LedgerReader, LedgerSink } from '../src/ledger/ledger-sink.ts';
import { JsonlFileSink } from '../src/ledger/sinks/jsonl-file-sink.ts';
import { SqliteLedgerDb } from '../src/ledger/sinks/sqlite-ledger-db.ts';
import { SqliteLedgerSink } from '../src/ledger/sinks/sqlite-ledger-sink.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '1,4' },
    sinks: { type: 'string', default: 'postgres,sqlite,sqlite-inline,jsonl' },
    chunk: { type: 'string', default: '500' },
    pool: { type: 'string', default: '4' },
  },
});
const EVENTS = Number(args.events);
const BATCH = Number(args.batch);
const CONCURRENCY = args.concurrency.split(',').map(Number);
const SINKS = args.sinks.split(',');
const PG_URL = process.env.TOLLGATE_BENCH_POSTGRES_URL || 'postgresql://postgres@127.0.0.1:5432/test';

const MODELS = [
  ['support-quality', 'gpt-4o', 'openai', 'openai-eu', 2.5e-6, 1e-5],
  ['support-fast', 'gpt-4o-mini', 'openai', 'openai-us', 1.5e-7, 6e-7],
  ['reasoning', 'o3-mini', 'openai', 'openai-eu', 1.1e-6, 4.4e-6],
  ['claude', 'claude-sonnet-4', 'anthropic', 'anthropic-1', 3e-6, 1.5e-5],
  ['haiku', 'claude-haiku', 'anthropic', 'anthropic-1', 8e-7, 4e-6],
  ['flash', 'gemini-2.0-flash', 'google', 'vertex-eu', 1e-7, 4e-7],
] as const;
const STATUSES: LedgerStatus[] = ['success', 'success', 'success', 'success', 'success', 'success', 'success', 'upstream_error', 'rate_limited', 'client_gone'];
const START = Date.parse('2026-12-02T00:00:00.000Z') - 12 * 3_600_000;
const pico = (usd: number) => Math.round(usd * 1e12) / 1e12;

/** The i-th synthetic event: the shape and size of a real one (about 1.3 KB of JSON). */
function syntheticEvent(i: number): LedgerEvent {
  const [alias, resolved, provider, deployment, inPrice, outPrice] = MODELS[i % MODELS.length];
  const input = 200 + ((i * 7919) % 6000);
  const output = (i * 104_729) % 1500;
  const cached = i % 3 === 0 ? Math.floor(input / 2) : 0;
  const status = STATUSES[i % STATUSES.length];
  const costIn = pico(input * inPrice);
  const costOut = pico(output * outPrice);
  return {
    schema_version: 1,
    event_id: randomUUID(),
    timestamp: new Date(START + Math.floor((i * 172_800_000) / EVENTS)).toISOString(),
    request_id: `req-${i}-${randomBytes(4).toString('hex')}`,
    trace_id: randomBytes(16).toString('hex'),
    endpoint: i % 10 === 0 ? 'messages' : 'chat.completions',
    stream: i % 2 === 0,
    key_id: `key_${(i % 50).toString(16).padStart(20, '0')}`,
    key_alias: `key-${i % 50}`,
    team_id: `team-${i % 8}`,
    tenant_id: `tenant-${i % 20}`,
    feature_id: `feature-${i % 12}`,
    user_id_hash: randomBytes(16).toString('hex'),
    tags: ['review:42', `batch:${i % 100}`],
    metadata: { workflow: 'refunds', ticket: `T-${i}` },
    prompt_version: 'v7',
    model_alias: alias,
    model_resolved: resolved,
    provider,
    deployment_id: deployment,
    region: 'eu-west',
    cache_hit: false,
    usage: { input, output, cached_input: cached, cache_write: 0, reasoning: 0, total: input + output, estimated: false },
    cost_usd: { input: costIn, output: costOut, total: pico(costIn + costOut), saved: 0, price_table_version: 'genai-prices@0.1.8+3f9a2c1d', price_missing: false },
    latency_ms: { gateway: 0.41, provider: 812.2, ttft: i % 2 === 0 ? 230.5 : null, total: 812.61 },
    outcome: {
      status,
      error_code: status === 'success' ? null : status,
      http_status: status === 'success' ? 200 : status === 'rate_limited' ? 429 : 502,
      vendor_request_id: `req_${randomBytes(6).toString('hex')}`,
      attempts: 1,
      fallback_chain: [`${alias}/${deployment}:ok`],
      fallback_used: false,
      rate_limit_tier: status === 'rate_limited' ? 'requests_per_minute:key' : null,
      guardrail_verdict: null,
      guardrail_detectors: [],
    },
  };
}

interface Result {
  sink: string;
  concurrency: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  batchP50Ms: number;
  batchMaxMs: number;
  /** CPU time of this process, all threads (building rows, the driver, the file writes) per row. */
  nodeCpuUsPerRow: number;
  /** CPU time of the main thread (the gateway's event loop) per row, the bench's batch building excluded. */
  mainCpuUsPerRow: number;
  /** How long write() ran before returning its promise. */
  writeCallP50Ms: number;
  writeCallMaxMs: number;
  /** Event-loop delay during the run, less the sampling interval: the longest, and the 99th percentile. */
  loopStallMaxMs: number;
  loopStallP99Ms: number;
  /** Messages posted to worker threads, and how long each took (the structured clone). */
  posts: number;
  postP50Ms: number | undefined;
  postMaxMs: number | undefined;
  /** CPU time of the PostgreSQL backends per row (a local server only). */
  serverCpuUsPerRow: number | undefined;
}

/** Distinct event bodies, built before the clock starts; each write gets fresh ids and times. */
const TEMPLATES = Array.from({ length: Math.min(EVENTS, 10_000) }, (_, i) => syntheticEvent(i));

/** The i-th event of a run: a template with its own event_id, request_id and timestamp. */
function eventAt(i: number): LedgerEvent {
  return {
    ...TEMPLATES[i % TEMPLATES.length],
    event_id: randomUUID(),
    request_id: `req-${i}`,
    timestamp: new Date(START + Math.floor((i * 172_800_000) / EVENTS)).toISOString(),
  };
}

/** CPU seconds used so far by the PostgreSQL backends serving `applicationName` (local server only). */
async function backendCpuSeconds(admin: pg.Pool, applicationName: string): Promise<number | undefined> {
  const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
  let ticks = 0;
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      return undefined; // not a local server
    }
  }
  return ticks / 100;
}

const STALL_RESOLUTION_MS = 1;

/** What some work costs the main thread: its CPU, and the event-loop stalls while it runs. */
class MainThreadProbe {
  readonly #delay = monitorEventLoopDelay({ resolution: STALL_RESOLUTION_MS });
  #cpu = process.threadCpuUsage();
  #excludedUs = 0;

  async start(): Promise<void> {
    this.#excludedUs = 0;
    this.#delay.reset();
    this.#delay.enable();
    await sleep(3 * STALL_RESOLUTION_MS); // the monitor measures from its first sample on
    this.#cpu = process.threadCpuUsage();
    posts.length = 0;
  }

  /** Runs `work` and leaves its CPU out of the total (the bench's own work). */
  exclude<T>(work: () => T): T {
    const before = process.threadCpuUsage();
    try {
      return work();
    } finally {
      const used = process.threadCpuUsage(before);
      this.#excludedUs += used.user + used.system;
    }
  }

  /** Main-thread CPU (µs, less exclude()d work); the longest loop stall and the p99 (ms); the posts to worker threads (ms each, sorted). */
  stop(): { cpuUs: number; stallMaxMs: number; stallP99Ms: number; postMs: number[] } {
    const used = process.threadCpuUsage(this.#cpu);
    this.#delay.disable();
    const stall = (ns: number) => round(Math.max(0, ns / 1e6 - STALL_RESOLUTION_MS), 2);
    return {
      cpuUs: used.user + used.system - this.#excludedUs,
      stallMaxMs: stall(this.#delay.max),
      stallP99Ms: stall(this.#delay.percentile(99)),
      postMs: posts.splice(0).sort((a, b) => a - b),
    };
  }
}

/**
 * How long each Worker.postMessage() takes (the structured clone of what a sink sends its worker
 * thread, on the main thread): timed by wrapping the method, for the bench only.
 */
const posts: number[] = [];
const workerPost = Worker.prototype.postMessage;
Worker.prototype.postMessage = function timedPost(this: Worker, ...args: Parameters<Worker['postMessage']>) {
  const t = performance.now();
  try {
    return workerPost.apply(this, args);
  } finally {
    posts.push(performance.now() - t);
  }
};

/** Builds events [from, to) in slices of 100, a turn of the event loop apart (off the probe's CPU). */
async function buildBatch(from: number, to: number, probe: MainThreadProbe): Promise<LedgerEvent[]> {
  const batch: LedgerEvent[] = [];
  for (let start = from; start < to; start += 100) {
    if (start > from) await nextTurn();
    probe.exclude(() => {
      for (let i = start; i < Math.min(to, start + 100); i++) batch.push(eventAt(i));
    });
  }
  return batch;
}

/** Writes EVENTS events in BATCH-sized batches from `concurrency` writers at once. */
async function run(name: string, sink: LedgerSink, concurrency: number, pgCpu?: () => Promise<number | undefined>): Promise<Result> {
  let next = 0;
  const batchMs: number[] = [];
  const callMs: number[] = [];
  const probe = new MainThreadProbe();
  const pgBefore = await pgCpu?.();
  const cpuBefore = process.cpuUsage();
  await probe.start();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < EVENTS) {
        const from = next;
        next = Math.min(EVENTS, next + BATCH);
        const batch = await buildBatch(from, next, probe);
        const t = performance.now();
        const written = sink.write(batch);
        callMs.push(performance.now() - t);
        await written;
        batchMs.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await sleep(3 * STALL_RESOLUTION_MS); // the delay monitor's last sample
  const main = probe.stop();
  const cpu = process.cpuUsage(cpuBefore);
  const pgAfter = await pgCpu?.();
  batchMs.sort((a, b) => a - b);
  callMs.sort((a, b) => a - b);
  return {
    sink: name,
    concurrency,
    rows: EVENTS,
    seconds: round(seconds, 2),
    rowsPerSecond: Math.round(EVENTS / seconds),
    batchP50Ms: round(batchMs[Math.floor(batchMs.length / 2)], 1),
    batchMaxMs: round(batchMs[batchMs.length - 1], 1),
    nodeCpuUsPerRow: round((cpu.user + cpu.system) / EVENTS, 1),
    mainCpuUsPerRow: round(main.cpuUs / EVENTS, 2),
    writeCallP50Ms: round(callMs[Math.floor(callMs.length / 2)], 2),
    writeCallMaxMs: round(callMs[callMs.length - 1], 2),
    loopStallMaxMs: main.stallMaxMs,
    loopStallP99Ms: main.stallP99Ms,
    posts: main.postMs.length,
    postP50Ms: main.postMs.length ? round(main.postMs[Math.floor(main.postMs.length / 2)], 2) : undefined,
    postMaxMs: main.postMs.length ? round(main.postMs[main.postMs.length - 1], 2) : undefined,
    serverCpuUsPerRow: pgBefore !== undefined && pgAfter !== undefined ? round(((pgAfter - pgBefore) * 1e6) / EVENTS, 1) : undefined,
  };
}

async function timeQueries(reader: LedgerReader): Promise<Record<string, number>> {
  const time = async (work: () => Promise<unknown>) => {
    const t = performance.now();
    await work();
    const ms = round(performance.now() - t, 1);
    await sleep(3 * STALL_RESOLUTION_MS); // lets the delay monitor sample the loop (a synchronous query never yields)
    return ms;
  };
  const probe = new MainThreadProbe();
  await probe.start();
  const times = {
    spendByTenantDayMs: await time(() => reader.spend({ groupBy: ['tenant', 'day'], filters: {} })),
    spendOneTenantByModelMs: await time(() => reader.spend({ groupBy: ['model'], filters: { tenant: 'tenant-3' }, from: '2026-12-02T00:00:00Z', to: '2026-12-03T00:00:00Z' })),
    requestsPageMs: await time(() => reader.requests({ filters: { tenant: 'tenant-3' }, limit: 100 })),
    requestsFullPageMs: await time(() => reader.requests({ filters: {}, limit: 1000 })),
    requestByIdMs: await time(() => reader.request('req-12345')),
  };
  const main = probe.stop();
  return { ...times, loopStallMaxMs: main.stallMaxMs };
}

/** The SQLite database driven on the main thread, as the sink did before its worker thread. */
function inlineSqlite(db: SqliteLedgerDb): LedgerSink & LedgerReader {
  return {
    name: 'sqlite-inline',
    write: async (events) => db.write(events),
    spend: async (query) => db.spend(query),
    requests: async (query) => db.requestsJson(query).map((text) => JSON.parse(text) as LedgerEvent),
    request: async (requestId) => {
      const text = db.requestJson(requestId);
      return text === undefined ? undefined : (JSON.parse(text) as LedgerEvent);
    },
    guardrailEvents: async (query) => db.guardrailEventsJson(query).map((text) => JSON.parse(text)),
    close: async () => db.close(),
  };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ledger-bench-'));
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const schemas: string[] = [];
  const results: Result[] = [];
  const queries: Record<string, Record<string, number>> = {};
  console.log(
    `ledger bench: ${EVENTS} events, batches of ${BATCH}, writers ${CONCURRENCY.join(' and ')}, node ${process.version}, ` +
      `${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(2)} at start`,
  );
  try {
    for (const concurrency of CONCURRENCY) {
      for (const name of SINKS) {
        let sink: LedgerSink & Partial<LedgerReader>;
        let pgCpu: (() => Promise<number | undefined>) | undefined;
        if (name === 'postgres') {
          const schema = `tg_ledger_bench_${process.pid}_${schemas.length + 1}`;
          schemas.push(schema);
          const applicationName = `ledger-bench-${process.pid}-${schemas.length}`;
          const { PostgresLedgerSink } = await import('../src/ledger/sinks/postgres-ledger-sink.ts'); // only when asked for
          const pgSink = new PostgresLedgerSink({ connectionString: PG_URL, schema, poolSize: Number(args.pool), chunkSize: Number(args.chunk), applicationName });
          await pgSink.migrate();
          pgCpu = () => backendCpuSeconds(admin, applicationName);
          sink = pgSink;
        } else if (name === 'sqlite') {
          const sqlite = new SqliteLedgerSink({ path: join(dir, `ledger-${concurrency}.db`) });
          await sqlite.migrate();
          sink = sqlite;
        } else if (name === 'sqlite-inline') {
          const db = new SqliteLedgerDb({ path: join(dir, `ledger-inline-${concurrency}.db`) });
          db.migrate();
          sink = inlineSqlite(db);
        } else if (name === 'jsonl') {
          sink = new JsonlFileSink({ directory: join(dir, `jsonl-${concurrency}`) });
        } else {
          throw new Error(`unknown sink ${name}`);
        }
        try {
          const result = await run(name, sink, concurrency, pgCpu);
          results.push(result);
          console.log(
            `${name.padEnd(13)} writers=${concurrency}  ${String(result.rowsPerSecond).padStart(7)} rows/s  (${result.rows} rows in ${result.seconds}s; batch p50 ${result.batchP50Ms} ms, max ${result.batchMaxMs} ms; ` +
              `CPU per row: node ${result.nodeCpuUsPerRow} µs, main thread ${result.mainCpuUsPerRow} µs${result.serverCpuUsPerRow === undefined ? '' : `, server ${result.serverCpuUsPerRow} µs`})\n` +
              `${' '.repeat(14)}main thread: write() call p50 ${result.writeCallP50Ms} ms, max ${result.writeCallMaxMs} ms; loop stall max ${result.loopStallMaxMs} ms, p99 ${result.loopStallP99Ms} ms` +
              (result.posts ? `; ${result.posts} posts to the worker, p50 ${result.postP50Ms} ms, max ${result.postMaxMs} ms` : ''),
          );
          if (sink.spend && sink.requests && sink.request && concurrency === CONCURRENCY[0]) {
            queries[name] = await timeQueries(sink as LedgerSink & LedgerReader);
            console.log(`${' '.repeat(14)}queries over ${EVENTS} rows: ${JSON.stringify(queries[name])}`);
          }
        } finally {
          await sink.close();
        }
      }
    }
  } finally {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`load average ${loadavg()[0].toFixed(2)} at the end`);
  console.log(JSON.stringify({ events: EVENTS, batch: BATCH, results, queries }));
}

await main();
