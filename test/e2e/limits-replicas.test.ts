// Three gateway processes sharing Redis with a global limit of 100 RPM: across them, 100 ± 1
// requests are accepted in the minute. Each replica is a real `tollgate serve` child process
// started from one config file (simulator upstream, in-memory SQLite each), and 300 requests go
// out at once, round-robin across the three. Counting per process would accept 300; one shared
// count accepts 100 (101 at most when the burst straddles a minute boundary, where the sliding
// window's weighting of the previous minute can free one more). Every refusal is a complete
// 429 rate_limited, and no process logs an error. The machine's Redis
// (TOLLGATE_TEST_REDIS_URL, default redis://127.0.0.1:6379) is used under a key prefix of this
// run's own, deleted at the end. Unreachable Redis: skipped with the reason, or a failure when
// CI is set.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { redisUnreachable } from '../helpers/test-redis.ts';
import { jsonOrText } from '../helpers/admin-request.ts';

const REDIS_URL = process.env.TOLLGATE_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const KEY_PREFIX = `tg-test-rpm-${process.pid}-${randomBytes(4).toString('hex')}:`;
const MASTER_KEY = 'sk-master-limits-replicas-e2e-0123456789';
const REPLICAS = 3;
const REQUESTS = 300;
const RPM = 100;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const NODE = process.execPath;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

const noRedis = await redisUnreachable(REDIS_URL);
if (noRedis && process.env.CI) test(`limits across replicas: ${noRedis}`, () => assert.fail(`CI is set but ${noRedis}`));

const CONFIG = `
server: { log_level: info }
database: { url: "sqlite::memory:" }
redis: { url: "${REDIS_URL}", key_prefix: "${KEY_PREFIX}" }
limits:
  global: { rpm_limit: ${RPM} }
models:
  chat: { deployments: [{ provider: simulator, model: sim-chat, simulator: { output_tokens: 4 } }] }
`;

interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url: string;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON log lines (a line that is not JSON is kept as its text). */
  lines(): Array<Record<string, any>>;
}

function spawnReplica(name: string, configFile: string): Replica {
  const child = spawn(NODE, [MAIN, 'serve', '--config', configFile, '--host', '127.0.0.1', '--port', '0'], {
    env: { ...process.env, TOLLGATE_MASTER_KEY: MASTER_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const replica: Replica = {
    name,
    child,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    }),
    url: '',
    stdout: '',
    stderr: '',
    lines() {
      return replica.stdout.split('\n').filter(Boolean).map((line) => {
        try {
          return JSON.parse(line) as Record<string, any>;
        } catch {
          return { level: 'unparsed', text: line };
        }
      });
    },
  };
  child.stdout!.setEncoding('utf8').on('data', (text: string) => { replica.stdout += text; });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => { replica.stderr += text; });
  return replica;
}

/** Resolves once the replica logs "tollgate listening" (its URL), or fails with its output. */
async function listening(replica: Replica): Promise<void> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void replica.exited.then((e) => { exit = e; });
  for (;;) {
    const line = replica.lines().find((l) => l.msg === 'tollgate listening');
    if (line) {
      replica.url = String(line.url);
      return;
    }
    if (exit) assert.fail(`${replica.name} exited during startup (code ${exit.code}, signal ${exit.signal})\nstdout:\n${replica.stdout}\nstderr:\n${replica.stderr}`);
    if (performance.now() > deadline) assert.fail(`${replica.name} did not log "tollgate listening" within ${START_TIMEOUT_MS} ms\nstdout:\n${replica.stdout}\nstderr:\n${replica.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS. */
async function stop(replica: Replica): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
  if (replica.child.exitCode !== null || replica.child.signalCode !== null) return { ...(await replica.exited), killed: false };
  replica.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS, 'late'); });
  const first = await Promise.race([replica.exited, late]);
  clearTimeout(timer);
  if (first !== 'late') return { ...first, killed: false };
  replica.child.kill('SIGKILL');
  return { ...(await replica.exited), killed: true };
}

interface Answer {
  replica: string;
  status: number;
  headers: Headers;
  body: any;
}

async function chat(replica: Replica, i: number): Promise<Answer> {
  const res = await fetch(`${replica.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `request ${i}` }], max_tokens: 4 }),
  });
  const body = await jsonOrText(res);
  return { replica: replica.name, status: res.status, headers: res.headers, body };
}

describe('global rate limit shared by three gateway processes through Redis', { skip: noRedis ? `skipped: ${noRedis}` : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-limits-replicas-'));
  const configFile = join(dir, 'tollgate.yaml');
  const replicas: Replica[] = [];
  const redis = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  redis.on('error', () => {});
  // A test process that dies without its hooks still takes its replicas down.
  const killAll = () => {
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  };

  before(async () => {
    process.once('exit', killAll);
    await redis.connect();
    writeFileSync(configFile, CONFIG);
    for (let i = 1; i <= REPLICAS; i++) replicas.push(spawnReplica(`replica ${i}`, configFile));
    await Promise.all(replicas.map(listening));
  });

  after(async () => {
    try {
      await Promise.all(replicas.map(stop));
    } finally {
      process.off('exit', killAll);
      rmSync(dir, { recursive: true, force: true });
      if (redis.isOpen) {
        let removed = 0;
        for await (const keys of redis.scanIterator({ MATCH: `${KEY_PREFIX}*`, COUNT: 1000 })) {
          if (keys.length > 0) removed += await redis.del(keys);
        }
        let left = 0;
        for await (const keys of redis.scanIterator({ MATCH: `${KEY_PREFIX}*`, COUNT: 1000 })) left += keys.length;
        await redis.close();
        assert.equal(left, 0, `Redis keys left under ${KEY_PREFIX} after removing ${removed}`);
      }
    }
  });

  test(`${REQUESTS} concurrent requests round-robin across ${REPLICAS} processes: ${RPM} ± 1 accepted, every refusal a complete 429 rate_limited`, async () => {
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => chat(replicas[i % REPLICAS]!, i)));
    const burstMs = Math.round(performance.now() - started);

    const accepted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    const perReplica = replicas.map((r) => `${r.name}: ${accepted.filter((a) => a.replica === r.name).length}`).join(', ');
    console.log(`${accepted.length} of ${REQUESTS} accepted in ${burstMs} ms (${perReplica})`);
    assert.ok(Math.abs(accepted.length - RPM) <= 1, `expected ${RPM} ± 1 accepted across the replicas, got ${accepted.length} (${perReplica})`);
    assert.equal(refused.length, REQUESTS - accepted.length);

    for (const a of accepted) {
      assert.equal(a.body?.object, 'chat.completion', `${a.replica}: a 200 is a chat completion: ${JSON.stringify(a.body)}`);
      assert.equal(a.headers.get('x-ratelimit-limit-requests'), String(RPM), `${a.replica}: x-ratelimit-limit-requests on a success`);
      const remaining = Number(a.headers.get('x-ratelimit-remaining-requests'));
      assert.ok(Number.isInteger(remaining) && remaining >= 0 && remaining < RPM, `${a.replica}: x-ratelimit-remaining-requests ${a.headers.get('x-ratelimit-remaining-requests')}`);
    }

    for (const r of refused) {
      const where = `${r.replica}: ${r.status} ${JSON.stringify(r.body)}`;
      assert.equal(r.status, 429, where);
      assert.equal(r.body?.error?.code, 'rate_limited', where);
      assert.equal(r.body.error.type, 'rate_limit_error', where);
      assert.equal(r.body.error.limit?.scope, 'global', where);
      assert.equal(r.body.error.limit.type, 'requests_per_minute', where);
      assert.equal(r.body.error.limit.limit, RPM, where);
      const retryAfter = r.headers.get('retry-after');
      assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter) && Number(retryAfter) >= 1, `${where}: Retry-After ${retryAfter}`);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), String(RPM), `${where}: x-ratelimit-limit-requests on a 429`);
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0', `${where}: x-ratelimit-remaining-requests on a 429`);
    }

    // The shared counters hold exactly the accepted requests (one hash per minute window).
    let counted = 0;
    for await (const keys of redis.scanIterator({ MATCH: `${KEY_PREFIX}limits:w:rpm:global:global:*`, COUNT: 1000 })) {
      for (const key of keys) counted += Number(await redis.hGet(key, 'n') ?? 0);
    }
    assert.equal(counted, accepted.length, 'the Redis window counters add up to the accepted requests');
  });

  test('every process shuts down cleanly on SIGTERM and logged nothing at level error', async () => {
    const exits = await Promise.all(replicas.map(stop));
    for (const [i, replica] of replicas.entries()) {
      const lines = replica.lines();
      const errors = lines.filter((l) => l.level === 'error' || l.level === 'unparsed');
      assert.deepEqual(errors, [], `${replica.name} logged errors (or non-JSON lines)`);
      assert.equal(replica.stderr, '', `${replica.name} wrote to stderr`);
      assert.deepEqual(exits[i], { code: 0, signal: null, killed: false }, `${replica.name} exit\nstdout tail:\n${replica.stdout.slice(-2000)}`);
      assert.ok(lines.some((l) => l.msg === 'stopped'), `${replica.name} logged "stopped"`);
      assert.equal(lines.filter((l) => l.msg === 'request').length, REQUESTS / REPLICAS, `${replica.name} access-logged each of its requests`);
    }
  });
});
