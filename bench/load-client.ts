/**
 * The load generator, forked by bench/run.ts so that it has an event loop of its own.
 * It receives one command at a time over IPC (see load-protocol.ts), drives keep-alive undici
 * pools with process.hrtime.bigint() timing, and answers with summaries in microseconds.
 */
import { Pool } from 'undici';
import { summarize } from './stats.ts';
import type {
  LatencyCommand,
  LatencyResult,
  LoadCommand,
  RequestMessage,
  RequestSpec,
  ResponseMessage,
  StreamCommand,
  StreamResult,
  TargetSpec,
  ThroughputCommand,
  ThroughputResult,
} from './load-protocol.ts';

const MAX_CONNECTIONS = 256;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_ERRORS_PER_STEP = 1_000;

const pools = new Map<string, Pool>();

function poolFor(target: TargetSpec): Pool {
  let pool = pools.get(target.origin);
  if (!pool) {
    pool = new Pool(target.origin, {
      connections: MAX_CONNECTIONS,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    pools.set(target.origin, pool);
  }
  return pool;
}

function now(): bigint {
  return process.hrtime.bigint();
}

function micros(from: bigint, to: bigint): number {
  return Number(to - from) / 1000;
}

/** Failures are counted, not thrown, by the callers; this only turns them into text. */
function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Sends one request; resolves with the response body once the status is 200, else throws with a reason. */
async function post(pool: Pool, spec: RequestSpec) {
  const { statusCode, body } = await pool.request({ method: 'POST', path: spec.path, headers: spec.headers, body: spec.body });
  if (statusCode !== 200) {
    const text = await body.text();
    throw new Error(`HTTP ${statusCode}: ${text.slice(0, 300)}`);
  }
  return body;
}

/** One non-streaming request; returns its duration in µs or throws with a reason. */
async function timedRequest(pool: Pool, spec: RequestSpec): Promise<number> {
  const start = now();
  const body = await post(pool, spec);
  await body.arrayBuffer();
  return micros(start, now());
}

async function runLatency(cmd: LatencyCommand): Promise<LatencyResult> {
  const pool = poolFor(cmd.target);
  const spec = cmd.target[cmd.variant];
  const deadline = Date.now() + cmd.maxMs;
  let errors = 0;
  let firstError: string | undefined;
  // Warm-up failures (e.g. a keep-alive socket the server just closed) are not counted.
  let warmupErrors = 0;
  for (let i = 0; i < cmd.warmup && Date.now() < deadline && warmupErrors <= MAX_ERRORS_PER_STEP; i++) {
    await timedRequest(pool, spec).catch(() => warmupErrors++);
  }
  const samples = new Float64Array(cmd.count);
  let n = 0;
  for (let i = 0; i < cmd.count && Date.now() < deadline; i++) {
    try {
      const us = await timedRequest(pool, spec);
      samples[n++] = us;
    } catch (err) {
      errors++;
      firstError ??= describe(err);
      if (errors > MAX_ERRORS_PER_STEP) break;
    }
  }
  return { latency: summarize(samples.subarray(0, n)), errors, firstError };
}

interface StepTally {
  samples: number[];
  errors: number;
  firstError?: string;
}

async function closedLoop(pool: Pool, spec: RequestSpec, concurrency: number, durationMs: number, tally: StepTally | null): Promise<void> {
  const end = now() + BigInt(Math.round(durationMs * 1e6));
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (now() < end && errors <= MAX_ERRORS_PER_STEP) {
      try {
        const us = await timedRequest(pool, spec);
        tally?.samples.push(us);
      } catch (err) {
        errors++;
        if (tally) {
          tally.errors++;
          tally.firstError ??= describe(err);
        }
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < concurrency; i++) workers.push(worker());
  await Promise.all(workers);
}

async function runThroughput(cmd: ThroughputCommand): Promise<ThroughputResult> {
  const pool = poolFor(cmd.target);
  if (cmd.warmupMs > 0) await closedLoop(pool, cmd.target.plain, cmd.concurrency, cmd.warmupMs, null);
  const tally: StepTally = { samples: [], errors: 0 };
  const start = now();
  await closedLoop(pool, cmd.target.plain, cmd.concurrency, cmd.durationMs, tally);
  const elapsedMs = micros(start, now()) / 1000;
  const completed = tally.samples.length;
  return {
    concurrency: cmd.concurrency,
    completed,
    errors: tally.errors,
    elapsedMs,
    rps: completed / (elapsedMs / 1000),
    latency: summarize(tally.samples),
    firstError: tally.firstError,
  };
}

interface StreamTiming {
  ttfb: number;
  interChunk: number;
  total: number;
  events: number;
}

/** One streaming request: time to first body byte and mean gap between SSE events. */
async function timedStream(pool: Pool, spec: RequestSpec): Promise<StreamTiming> {
  const start = now();
  const body = await post(pool, spec);
  let firstByte = 0n;
  let firstEvent = 0n;
  let lastEvent = 0n;
  let events = 0;
  let prevEndsWithNewline = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const t = now();
    if (firstByte === 0n) firstByte = t;
    const text = chunk.toString('latin1');
    let completed = prevEndsWithNewline && text.charCodeAt(0) === 10 ? 1 : 0;
    for (let at = text.indexOf('\n\n'); at !== -1; at = text.indexOf('\n\n', at + 2)) completed++;
    prevEndsWithNewline = text.charCodeAt(text.length - 1) === 10;
    if (completed > 0) {
      if (firstEvent === 0n) firstEvent = t;
      lastEvent = t;
      events += completed;
    }
  }
  if (firstByte === 0n) throw new Error('stream ended without a body');
  return {
    ttfb: micros(start, firstByte),
    total: micros(start, now()),
    interChunk: events > 1 ? micros(firstEvent, lastEvent) / (events - 1) : NaN,
    events,
  };
}

async function runStream(cmd: StreamCommand): Promise<StreamResult> {
  const pool = poolFor(cmd.target);
  const deadline = Date.now() + cmd.maxMs;
  let errors = 0;
  let firstError: string | undefined;
  const ttfb: number[] = [];
  const interChunk: number[] = [];
  const total: number[] = [];
  const events: number[] = [];
  let warmupErrors = 0;
  for (let i = 0; i < cmd.warmup && Date.now() < deadline && warmupErrors <= MAX_ERRORS_PER_STEP; i++) {
    await timedStream(pool, cmd.target.stream).catch(() => warmupErrors++);
  }
  for (let i = 0; i < cmd.count && Date.now() < deadline; i++) {
    try {
      const timing = await timedStream(pool, cmd.target.stream);
      ttfb.push(timing.ttfb);
      if (Number.isFinite(timing.interChunk)) interChunk.push(timing.interChunk);
      total.push(timing.total);
      events.push(timing.events);
    } catch (err) {
      errors++;
      firstError ??= describe(err);
      if (errors > MAX_ERRORS_PER_STEP) break;
    }
  }
  return {
    ttfb: summarize(ttfb),
    interChunk: summarize(interChunk),
    total: summarize(total),
    events: summarize(events),
    errors,
    firstError,
  };
}

function execute(command: LoadCommand): Promise<unknown> {
  switch (command.kind) {
    case 'latency':
      return runLatency(command);
    case 'throughput':
      return runThroughput(command);
    case 'stream':
      return runStream(command);
  }
}

process.on('message', (message: RequestMessage) => {
  execute(message.command).then(
    (result) => process.send?.({ id: message.id, result } satisfies ResponseMessage),
    (err: unknown) => process.send?.({ id: message.id, error: describe(err) } satisfies ResponseMessage),
  );
});

process.on('disconnect', () => {
  for (const pool of pools.values()) void pool.destroy();
  process.exit(0);
});
