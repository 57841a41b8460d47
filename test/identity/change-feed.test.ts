// The change feed between two processes' worth of stores on one SQLite file: a change written
// through one (as `tollgate keys revoke --config` does) reaches the other's invalidations.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { startChangeFeed } from '../../src/identity/change-feed.ts';
import type { ObjectKind } from '../../src/identity/records.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-feed-'));
const url = `sqlite:${path.join(dir, 'feed.db')}`;
const gateway = await openIdentityStore({ url });
const cli = await openIdentityStore({ url });
await gateway.migrate();
after(async () => {
  await gateway.close();
  await cli.close();
  rmSync(dir, { recursive: true, force: true });
});

const NOW = new Date().toISOString();

test('changes committed elsewhere are delivered once each, in order', async () => {
  const seen: Array<[ObjectKind, string]> = [];
  const feed = startChangeFeed({ store: gateway, invalidate: (kind, id) => seen.push([kind, id]), logger: createLogger({ level: 'error', write: () => {} }), pollMs: 60_000 });
  await feed.pollNow();
  assert.deepEqual(seen, [], 'nothing changed yet');
  const audit = (action: string, id: string) => ({ at: NOW, actor: 'cli:test', action, object_type: 'team' as const, object_id: id });
  await cli.create('team', { team_id: 'a', models: [], require_tenant: false, metadata: {}, source: 'api', created_at: NOW, updated_at: NOW }, audit('team.create', 'a'));
  await cli.create('tenant', { tenant_id: 'acme', models: [], metadata: {}, source: 'api', created_at: NOW, updated_at: NOW }, { ...audit('tenant.create', 'acme'), object_type: 'tenant' });
  await feed.pollNow();
  await feed.pollNow(); // the overlap re-reads the same rows: they are not delivered twice
  assert.deepEqual(seen, [['team', 'a'], ['tenant', 'acme']]);
  feed.stop();
});

test('a failing store is reported once and the feed recovers', async () => {
  let failing = true;
  const lines: string[] = [];
  const flaky = new Proxy(gateway, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== 'changesAfter' && name !== 'lastChangeSeq') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: number[]) => (failing ? Promise.reject(new Error('connect ECONNREFUSED')) : value.apply(target, args));
    },
  });
  const logger = createLogger({ level: 'info', write: (text) => lines.push(text), flushMs: 1 });
  const feed = startChangeFeed({ store: flaky, invalidate: () => {}, logger, pollMs: 60_000 });
  await feed.pollNow();
  await feed.pollNow();
  failing = false;
  await feed.pollNow();
  logger.flush();
  const text = lines.join('');
  assert.equal(text.match(/change feed unavailable/g)?.length, 1);
  assert.match(text, /change feed recovered/);
  feed.stop();
});

test('a seq that commits late (out of order) is still delivered; one that never commits is skipped after the gap timeout', async () => {
  let hidden = new Set<number>();
  const lagging = new Proxy(gateway, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== 'changesAfter') return typeof value === 'function' ? value.bind(target) : value;
      return async (after: number, limit: number) => (await target.changesAfter(after, limit)).filter((c) => !hidden.has(c.seq));
    },
  });
  let clock = 0;
  const seen: string[] = [];
  const feed = startChangeFeed({
    store: lagging, invalidate: (_kind, id) => seen.push(id), logger: createLogger({ level: 'error', write: () => {} }),
    pollMs: 60_000, gapTimeoutMs: 10_000, now: () => clock,
  });
  await feed.pollNow();
  seen.length = 0; // the feed replays recent history at start

  const audit = (id: string) => ({ at: NOW, actor: 'cli:test', action: 'tenant.create', object_type: 'tenant' as const, object_id: id });
  const tenant = (id: string) => ({ tenant_id: id, models: [], metadata: {}, source: 'api' as const, created_at: NOW, updated_at: NOW });
  const first = await cli.lastChangeSeq();
  for (const id of ['late', 'on-time', 'never']) await cli.create('tenant', tenant(id), audit(id));
  hidden = new Set([first + 1, first + 3]); // 'late' and 'never' have not committed yet
  await feed.pollNow();
  assert.deepEqual(seen, ['on-time']);
  hidden = new Set([first + 3]); // 'late' commits
  clock += 1_000;
  await feed.pollNow();
  assert.deepEqual(seen, ['on-time', 'late']);
  // 'never' stands for a rolled-back transaction: rows after it are delivered at once, and
  // after the gap timeout the cursor moves past it.
  await cli.create('tenant', tenant('after'), audit('after'));
  await feed.pollNow();
  assert.deepEqual(seen, ['on-time', 'late', 'after']);
  clock += 20_000;
  await feed.pollNow();
  await cli.create('tenant', tenant('last'), audit('last'));
  await feed.pollNow();
  assert.deepEqual(seen, ['on-time', 'late', 'after', 'last']);
  feed.stop();
});

test('at start the feed replays recent changes, so one still committing below the newest is not missed', async () => {
  const seen: string[] = [];
  const feed = startChangeFeed({ store: gateway, invalidate: (_k, id) => seen.push(id), logger: createLogger({ level: 'error', write: () => {} }), pollMs: 60_000 });
  await feed.pollNow();
  assert.ok(seen.includes('a') && seen.includes('acme'));
  feed.stop();
});

test('many missing seqs in a row (a sequence jump, or a pruned table) cost one gap timeout, not one each', async () => {
  let reads = 0;
  let lastAfter = -1;
  let clock = 0;
  const counting = new Proxy(gateway, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name === 'lastChangeSeq') return async () => 0; // as if prune had emptied the table
      // seqs 1-3 were pruned: the first rows the feed can read leave a gap of three below them
      if (name === 'changesAfter') return async (after: number, limit: number) => { reads++; lastAfter = after; return (await target.changesAfter(after, limit)).filter((c) => c.seq > 3); };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const seen: string[] = [];
  const feed = startChangeFeed({ store: counting, invalidate: (_k, id) => seen.push(id), logger: createLogger({ level: 'error', write: () => {} }), pollMs: 60_000, gapTimeoutMs: 10_000, now: () => clock });
  await feed.pollNow(); // everything so far is above a gap at seqs 1-3
  const firstPass = seen.length;
  assert.ok(firstPass > 3);
  reads = 0;
  await feed.pollNow();
  assert.equal(reads, 1);
  assert.equal(seen.length, firstPass, 'rows above the gap are re-read while it lasts, but not delivered twice');
  clock += 11_000;
  await feed.pollNow(); // one timeout later the cursor has jumped past every gap
  reads = 0;
  await cli.create('tenant', { tenant_id: 'jumped', models: [], metadata: {}, source: 'api', created_at: NOW, updated_at: NOW }, { at: NOW, actor: 'cli:test', action: 'tenant.create', object_type: 'tenant', object_id: 'jumped' });
  await feed.pollNow();
  assert.equal(seen.at(-1), 'jumped');
  assert.equal(seen.length, firstPass + 1, 'nothing delivered twice');
  assert.equal(reads, 1, 'one read of the one new row, not a re-read of the history');
  assert.equal(lastAfter, (await gateway.lastChangeSeq()) - 1, 'the cursor sits right below the new row: every gap was skipped at once');
  feed.stop();
});
