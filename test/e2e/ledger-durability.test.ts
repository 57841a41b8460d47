// The cost ledger end to end, durability: a gateway process stopped with SIGTERM writes every
// queued event before it exits (a SQLite file, read back afterwards with openLedgerSink), and a
// PostgreSQL sink that goes away does not fail a single call: its events spool to disk and are
// replayed exactly once when the database comes back.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { startThrowawayPostgres, throwawayPostgresUnavailable, type ThrowawayPostgres } from '../helpers/throwaway-postgres.ts';
import { openLedgerSink, isLedgerReader } from '../../src/ledger/open-ledger-sink.ts';
import { allEvents, eventually, sleep, waitForEvents } from './ledger-helpers.ts';

const MASTER_KEY = 'sk-master-ledger-durability-0123456789';
const NODE = process.execPath;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Every file under `dir`, recursively (relative paths). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

describe('ledger durability', () => {
  test('SIGTERM: every event of the calls made is in the SQLite ledger file after the process exits', async () => {
    const N = 40;
    const dir = tempDir('tollgate-ledger-sigterm-');
    const ledgerFile = join(dir, 'ledger.db');
    const configFile = join(dir, 'tollgate.yaml');
    // A long flush interval: the events are still queued when SIGTERM arrives, so only the
    // shutdown flush can write them.
    writeFileSync(configFile, `
server: { log_level: info }
database: { url: "sqlite::memory:" }
ledger:
  sinks: ["sqlite:${ledgerFile}"]
  spool_dir: ${join(dir, 'spool')}
  flush_interval_ms: 10000
models:
  chat: { deployments: [{ id: sim-1, provider: simulator, model: sim-chat, simulator: { output_tokens: 4 }, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }] }
`);
    const child = spawn(NODE, [MAIN, 'serve', '--config', configFile, '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, TOLLGATE_MASTER_KEY: MASTER_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (t: string) => { stdout += t; });
    child.stderr!.setEncoding('utf8').on('data', (t: string) => { stderr += t; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      const url = await eventually('"tollgate listening" in the child\'s log', async () => {
        if (child.exitCode !== null) assert.fail(`the gateway exited during startup\nstdout:\n${stdout}\nstderr:\n${stderr}`);
        for (const line of stdout.split('\n')) {
          if (!line.startsWith('{')) continue;
          const parsed = JSON.parse(line);
          if (parsed.msg === 'tollgate listening') return String(parsed.url);
        }
        return undefined;
      }, 30_000, 20);

      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000 });
      const ids = Array.from({ length: N }, (_, i) => `ledger-sigterm-${i}`);
      await Promise.all(ids.map((id) => client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': id } })));

      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const exit = await exited;
      clearTimeout(timer);
      assert.deepEqual(exit, { code: 0, signal: null }, `exit\nstdout tail:\n${stdout.slice(-2000)}\nstderr:\n${stderr}`);

      const sink = await openLedgerSink(`sqlite:${ledgerFile}`);
      try {
        assert.ok(isLedgerReader(sink));
        const events = await sink.requests({ filters: {}, limit: 1000 });
        const recorded = events.map((e) => e.request_id).sort();
        assert.deepEqual(recorded, [...ids].sort(), `all ${N} events, once each (spool: ${JSON.stringify(filesUnder(join(dir, 'spool')))})`);
        assert.ok(events.every((e) => e.outcome.status === 'success' && e.usage.total > 0 && e.cost_usd.total > 0));
      } finally {
        await sink.close();
      }
    } finally {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  const noPostgres = throwawayPostgresUnavailable();
  test('PostgreSQL outage: calls still succeed, their events spool, and appear exactly once after the database is back', { skip: noPostgres && !process.env.CI ? noPostgres : false }, async () => {
    if (noPostgres) assert.fail(`CI is set but ${noPostgres}`);
    let pg: ThrowawayPostgres | undefined;
    let gw: TestGateway | undefined;
    try {
      pg = await startThrowawayPostgres();
      const spoolRoot = tempDir('tollgate-ledger-pg-spool-');
      gw = await startTestGateway(`
general_settings:
  master_key: ${MASTER_KEY}
ledger:
  sinks: ["${pg.url()}"]
  spool_dir: ${spoolRoot}
  flush_interval_ms: 50
models:
  chat: { deployments: [{ id: sim-1, provider: simulator, model: sim-chat, simulator: { output_tokens: 4 }, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }] }
`);
      const client = new OpenAI({ baseURL: gw.baseURL, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000 });
      const call = (id: string) => client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': id } });

      // Before the outage: written straight through.
      const before = ['ledger-pg-before-0', 'ledger-pg-before-1'];
      for (const id of before) await call(id);
      await waitForEvents(gw.url, MASTER_KEY, before.length);

      await pg.stop('immediate');
      const during = Array.from({ length: 10 }, (_, i) => `ledger-pg-during-${i}`);
      for (const id of during) {
        const completion = await call(id);
        assert.ok(completion.choices.length > 0, `${id} succeeds while the ledger database is down`);
      }
      // The events go to this process's spool folder.
      const spool = join(spoolRoot, `pid-${process.pid}`);
      await eventually(`spooled batches under ${spool}`, async () => (filesUnder(spool).some((f) => !f.endsWith('.lock')) ? true : undefined), 10_000);
      const spooled = filesUnder(spool);

      await pg.start();
      const expected = [...before, ...during].sort();
      const events = await eventually('every event after the replay', async () => {
        const all = await allEvents(gw!.url, MASTER_KEY);
        return all.length >= expected.length ? all : undefined;
      }, 15_000, 100);
      // Give a second replay (or a retried batch) the time to show up, if there is one.
      await sleep(1_000);
      const settled = await allEvents(gw.url, MASTER_KEY);
      assert.deepEqual(settled.map((e) => e.request_id).sort(), expected, `exactly once each (spool had ${JSON.stringify(spooled)})`);
      assert.equal(settled.length, events.length);
      assert.equal(new Set(settled.map((e) => e.event_id)).size, settled.length);
      const spend = await adminRequest(gw.url, MASTER_KEY, 'GET', '/admin/spend');
      assert.equal(spend.json.totals.requests, expected.length);
    } finally {
      await gw?.shutdown().catch(() => {});
      await pg?.destroy();
    }
  });
});
