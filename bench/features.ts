/**
 * The response cache's and the guardrails' own benchmarks, against an instant upstream, one
 * request in flight, paths alternated round by round (medians of per-round p50s):
 *
 *   cache hit, exact       a gateway with the cache on, asked the same request again and again
 *   cache hit, semantic    the same gateway, each request worded a little differently (whitespace,
 *                          case), so the exact lookup misses and the local embedder's lookup hits
 *                          — both against a direct call to the upstream (issue: ≤ 0.3 ms p50 added)
 *   input guard            a clean 2 KB prompt through a gateway whose guardrail policy scans input
 *                          (built-in detectors) against the same gateway config without guardrails
 *                          (issue: ≤ 0.3 ms p50 added)
 *   stream TTFB            time to the first byte of a stream with the output guard redacting
 *                          secrets and PII, against no guardrails (issue: ≤ 5 ms added)
 *
 *   npm run build && node bench/features.ts     (FEATURES_ROUNDS, FEATURES_REQUESTS, FEATURES_STREAMS)
 */
import { Pool } from 'undici';
import { forkModule, killChildrenOnExit, stopAll, waitForMessage, freePort } from './processes.ts';
import { summarize, median } from './stats.ts';
import { bareConfigYaml, MASTER_KEY, startTollgate } from './tollgate.ts';

killChildrenOnExit();
const root = new URL('..', import.meta.url).pathname;
const ROUNDS = Number(process.env.FEATURES_ROUNDS ?? 5);
const REQUESTS = Number(process.env.FEATURES_REQUESTS ?? 1000);
const WARMUP = 300;
/** A stream lasts about 100 ms (20 chunks 5 ms apart): fewer of them. */
const STREAMS = Number(process.env.FEATURES_STREAMS ?? 60);

const upstream = forkModule('upstream', new URL('./upstream.ts', import.meta.url).pathname, [JSON.stringify({ chunks: 20, paceMs: 5 })]);
const { port: upstreamPort } = await waitForMessage<{ type: string; port: number }>(upstream, 'listening', 10_000);

async function gateway(extra: string[]): Promise<string> {
  const port = await freePort();
  await startTollgate(root, port, () => bareConfigYaml(port, upstreamPort, 20, ['database: { url: "sqlite::memory:" }', 'ledger: { enabled: false }', ...extra]));
  return `http://127.0.0.1:${port}`;
}

const cached = await gateway(['cache: { enabled: true, semantic: { enabled: true, threshold: 0.95 } }']);
const guarded = await gateway([
  'guardrails:',
  '  enabled: true',
  '  default_policy: scan',
  '  policies:',
  '    scan: { input: { injection: block, pii: redact, secret: block }, output: { pii: redact, secret: redact, leak: off } }',
]);
const plain = await gateway([]);

const PROSE = 'Our quarterly planning review covers the roadmap for the storefront, the checkout latency work, the '
  + 'migration of the search cluster and the support backlog. Please summarise the main risks in three bullet points. ';
const CLEAN_2KB = PROSE.repeat(Math.ceil(2048 / PROSE.length)).slice(0, 2048);
const chat = (content: string, stream = false) => JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content }], max_tokens: 32, ...(stream ? { stream: true } : {}) });

interface Path {
  readonly label: string;
  readonly origin: string;
  readonly path: string;
  readonly auth: string;
  /** The body of the i-th request. */
  body(i: number): string;
  /** Measure the time to the first byte of the body instead of the whole exchange. */
  readonly ttfb?: boolean;
}

const FAQ = 'What are your opening hours on public holidays, and is the shop open on Sundays?';
const paths: Path[] = [
  { label: 'direct', origin: `http://127.0.0.1:${upstreamPort}`, path: '/v1/chat/completions', auth: 'Bearer sk-upstream-fake', body: () => chat(FAQ) },
  { label: 'cache hit, exact', origin: cached, path: '/v1/chat/completions', auth: `Bearer ${MASTER_KEY}`, body: () => chat(FAQ) },
  // Trailing spaces change the exact key, not the lexical vector.
  { label: 'cache hit, semantic', origin: cached, path: '/v1/chat/completions', auth: `Bearer ${MASTER_KEY}`, body: (i) => chat(`${FAQ}${' '.repeat(1 + (i % 500))}`) },
  { label: 'no guard, 2 KB', origin: plain, path: '/v1/chat/completions', auth: `Bearer ${MASTER_KEY}`, body: () => chat(CLEAN_2KB) },
  { label: 'input guard, 2 KB', origin: guarded, path: '/v1/chat/completions', auth: `Bearer ${MASTER_KEY}`, body: () => chat(CLEAN_2KB) },
  { label: 'stream TTFB, no guard', origin: plain, path: '/v1/chat/completions', auth: `Bearer ${MASTER_KEY}`, body: () => chat(FAQ, true), ttfb: true },
  { label: 'stream TTFB, output guard', origin: guarded, path: '/v1/chat/completions', auth: `Bearer ${MASTER_KEY}`, body: () => chat(FAQ, true), ttfb: true },
];

const pools = new Map<string, Pool>();
const poolOf = (origin: string) => pools.get(origin) ?? pools.set(origin, new Pool(origin, { connections: 1 })).get(origin)!;

async function once(p: Path, i: number): Promise<{ us: number; cache: string | undefined }> {
  const started = performance.now();
  const res = await poolOf(p.origin).request({ method: 'POST', path: p.path, headers: { 'content-type': 'application/json', authorization: p.auth }, body: p.body(i) });
  let us = 0;
  for await (const chunk of res.body) {
    if (us === 0 && p.ttfb && chunk.length > 0) us = (performance.now() - started) * 1000;
  }
  if (res.statusCode !== 200) throw new Error(`${p.label}: HTTP ${res.statusCode}`);
  const cache = res.headers['x-gateway-cache'];
  return { us: p.ttfb ? us : (performance.now() - started) * 1000, cache: typeof cache === 'string' ? cache : undefined };
}

// Store the FAQ answer once (a miss), so both cache paths hit from then on.
await once(paths[1]!, 0);
await new Promise((resolve) => setTimeout(resolve, 200));

const p50s = new Map<string, number[]>(paths.map((p) => [p.label, []]));
for (let round = 0; round < ROUNDS; round++) {
  const line: string[] = [];
  for (const p of round % 2 === 0 ? paths : [...paths].reverse()) {
    const n = p.ttfb ? STREAMS : REQUESTS;
    for (let i = 0; i < (p.ttfb ? 5 : WARMUP); i++) await once(p, i);
    const samples: number[] = [];
    let misses = 0;
    for (let i = 0; i < n; i++) {
      const r = await once(p, i);
      if (p.label.startsWith('cache') && r.cache !== 'hit') misses += 1;
      samples.push(r.us);
    }
    const s = summarize(samples);
    p50s.get(p.label)!.push(s.p50);
    line.push(`${p.label} p50 ${Math.round(s.p50)}µs p99 ${Math.round(s.p99)}µs${misses ? ` (${misses} not hits)` : ''}`);
  }
  console.log(`round ${round + 1}/${ROUNDS}: ${line.join(' · ')}`);
}

const paired = (a: string, b: string) => median(p50s.get(a)!.map((v, i) => v - p50s.get(b)![i]!));
const rows: [string, number, number][] = [
  ['cache hit (exact), added p50 over direct', paired('cache hit, exact', 'direct'), 300],
  ['cache hit (semantic, local embedder), added p50 over direct', paired('cache hit, semantic', 'direct'), 300],
  ['input guard on a clean 2 KB prompt, added p50', paired('input guard, 2 KB', 'no guard, 2 KB'), 300],
  ['stream time to first byte, added by the output guard', paired('stream TTFB, output guard', 'stream TTFB, no guard'), 5000],
];
console.log('\n| measure | µs | bar | met |\n|---|---|---|---|');
for (const [what, value, bar] of rows) console.log(`| ${what} | ${Math.round(value)} | ≤ ${bar} | ${value <= bar ? 'yes' : 'NO'} |`);
await Promise.all([...pools.values()].map((p) => p.close()));
await stopAll();
process.exit(0);
