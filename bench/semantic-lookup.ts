/**
 * Semantic cache lookup latency (issue: "lookup p99 ≤ 2 ms at 50,000 entries in a namespace").
 * Fills one namespace of a MemorySemanticStore with 50,000 synthetic prompts
 * (bench/semantic-prompts.ts) embedded by the lexical embedder, then times lookups of 5,000
 * queries, half near-duplicates of stored prompts and half new prompts (mostly misses):
 * - lookup: store.lookup() alone (the vector index and the payload), embedding excluded;
 * - embed + lookup: the lexical embedding of the query text and the lookup, as the gateway does;
 * - embed 2 KB: the embedder alone on 2 KB prompts.
 * Each call is timed in wall time (p50, p99, max), and each round in this thread's CPU time
 * (process.threadCpuUsage, whose clock ticks too coarsely to time one call): on a shared machine
 * the wall time includes waiting for a core, the mean CPU per call does not. Rounds
 * repeat the query set (the first warms up); the figures are the median over the others. It
 * also reports the hit rates and the recall against brute force on a sample of the queries. The
 * Redis store answers from the same index, plus one MGET round trip: --redis times that store
 * instead (under a key prefix of its own, deleted at the end).
 *
 * Usage: node bench/semantic-lookup.ts [--entries 50000] [--queries 5000] [--rounds 5] [--recall 500]
 *          [--redis redis://127.0.0.1:6379]
 */

import { parseArgs } from 'node:util';
import { createClient } from '@redis/client';
import type { SemanticCacheStore } from '../src/cache/cache-store.ts';
import { LexicalEmbedder } from '../src/cache/lexical-embedder.ts';
import { MemorySemanticStore } from '../src/cache/memory-semantic-store.ts';
import { RedisSemanticStore } from '../src/cache/redis-semantic-store.ts';
import { nearDuplicate, seededRandom, syntheticPrompt } from './semantic-prompts.ts';
import { median, summarize } from './stats.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '50000' }, queries: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '5' }, recall: { type: 'string', default: '500' }, redis: { type: 'string' } } });
const ENTRIES = Number(values.entries);
const QUERIES = Number(values.queries);
const ROUNDS = Number(values.rounds);
const RECALL_SAMPLE = Number(values.recall);
const THRESHOLD = 0.95;
const NS = { owner: 'tenant:bench', alias: 'gpt', version: '0 local-lexical-v1' };

const embedder = new LexicalEmbedder();
const bounds = { maxEntriesPerNamespace: ENTRIES, maxEntries: ENTRIES, maxBytes: 2 ** 31 };
const PREFIX = `tg-bench-${process.pid}:`;
const store: SemanticCacheStore & { size(): { bytes: number } } = values.redis
  ? new RedisSemanticStore({ url: values.redis, keyPrefix: PREFIX, streamMaxLength: ENTRIES, ...bounds })
  : new MemorySemanticStore(bounds);
const random = seededRandom(42);

// ── fill ──
const prompts: string[] = [];
const vectors: Float32Array[] = [];
const seen = new Set<string>();
let fillCpu = process.threadCpuUsage();
const pending: Promise<void>[] = [];
while (prompts.length < ENTRIES) {
  const prompt = syntheticPrompt(random);
  if (seen.has(prompt)) continue;
  seen.add(prompt);
  const vector = embedder.embedSync(prompt);
  prompts.push(prompt);
  vectors.push(vector);
  pending.push(store.store(NS, vector, `{"answer":${prompts.length}}`, 3_600_000, 0, '0.0'));
  if (pending.length === 200) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
fillCpu = process.threadCpuUsage(fillCpu);
const fillUs = (fillCpu.user + fillCpu.system) / ENTRIES;

// ── queries ──
const texts: string[] = [];
const targets: number[] = [];
for (let q = 0; q < QUERIES; q++) {
  const target = Math.floor(random() * ENTRIES);
  texts.push(q % 2 === 0 ? nearDuplicate(prompts[target], random) : syntheticPrompt(random));
  targets.push(q % 2 === 0 ? target : -1);
}
const queryVectors = texts.map((text) => embedder.embedSync(text));

interface Timing {
  /** µs per call. */
  wall: Float64Array;
  /** Mean CPU µs per call. */
  cpu: number;
}

async function timeEach(work: (q: number) => unknown, n: number): Promise<Timing> {
  const wall = new Float64Array(n);
  const c0 = process.threadCpuUsage();
  for (let q = 0; q < n; q++) {
    const t0 = performance.now();
    await work(q);
    wall[q] = (performance.now() - t0) * 1000;
  }
  const c = process.threadCpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / n };
}

let hits = 0;
let nearHits = 0;
const lookups: Timing[] = [];
const combined: Timing[] = [];
for (let round = 0; round < ROUNDS; round++) {
  hits = nearHits = 0;
  lookups.push(await timeEach(async (q) => {
    const { hit } = await store.lookup(NS, queryVectors[q], THRESHOLD, 1);
    if (hit) {
      hits++;
      if (targets[q] >= 0) nearHits++;
    }
  }, QUERIES));
  combined.push(await timeEach(async (q) => store.lookup(NS, embedder.embedSync(texts[q]), THRESHOLD, 1), QUERIES));
}

// ── the embedder alone on 2 KB texts ──
const long: string[] = [];
while (long.length < 1000) {
  let text = '';
  while (text.length < 2048) text += `${syntheticPrompt(random)} `;
  long.push(text.slice(0, 2048));
}
const embeds: Timing[] = [];
for (let round = 0; round < ROUNDS; round++) embeds.push(await timeEach((i) => embedder.embedSync(long[i]), long.length));

// ── recall against brute force ──
let truthHits = 0;
let indexHits = 0;
for (let q = 0; q < Math.min(RECALL_SAMPLE, QUERIES); q++) {
  let best = -1;
  for (let i = 0; i < ENTRIES; i++) if (dot(queryVectors[q], vectors[i]) >= THRESHOLD) best = i;
  if (best < 0) continue;
  truthHits++;
  if ((await store.lookup(NS, queryVectors[q], THRESHOLD, 1)).hit) indexHits++;
}

// ── report ──
const measured = (runs: Timing[]) => runs.slice(ROUNDS > 1 ? 1 : 0);
const wall = (runs: Timing[], p: 'p50' | 'p99' | 'max') => median(measured(runs).map((run) => summarize(run.wall)[p]));
const row = (name: string, runs: Timing[]) =>
  `${name.padEnd(16)} wall p50 ${fmt(wall(runs, 'p50'))}  p99 ${fmt(wall(runs, 'p99'))}  max ${fmt(wall(runs, 'max'))}   CPU mean ${fmt(median(measured(runs).map((run) => run.cpu)))}`;
const size = store.size();
console.log(`semantic lookup (${values.redis ? 'Redis store' : 'memory store'}): ${ENTRIES} entries in one namespace, ${QUERIES} queries (half near-duplicates), threshold ${THRESHOLD}, ${ROUNDS} rounds (median of rounds 2..${ROUNDS}; µs)`);
console.log(row('lookup', lookups));
console.log(row('embed + lookup', combined));
console.log(row('embed 2 KB', embeds));
console.log(`fill: ${fmt(fillUs)} µs CPU per store (embedding included); index ${(size.bytes / 2 ** 20).toFixed(0)} MiB estimated (${((size.bytes / ENTRIES) | 0)} B/entry); heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB, array buffers ${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(0)} MiB`);
console.log(`hits: ${hits} of ${QUERIES} (${nearHits} of ${QUERIES / 2} near-duplicates; the rest of the near-duplicates score < ${THRESHOLD}, e.g. a typo in a short prompt)`);
console.log(`recall vs brute force on ${Math.min(RECALL_SAMPLE, QUERIES)} queries: ${indexHits} of ${truthHits} with an entry ≥ ${THRESHOLD} found (${((100 * indexHits) / Math.max(1, truthHits)).toFixed(2)}%)`);
await store.close();
if (values.redis) {
  const admin = createClient({ url: values.redis });
  await admin.connect();
  for await (const keys of admin.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) if (keys.length > 0) await admin.del(keys);
  await admin.close();
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function fmt(us: number): string {
  return us < 10 ? us.toFixed(1) : us.toFixed(0);
}
