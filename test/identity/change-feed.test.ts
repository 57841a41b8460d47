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
  assert.deepEqual(seen, [], 'history before start is not replayed');
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
      if (name !== 'changesSince') return typeof value === 'function' ? value.bind(target) : value;
      return (since: number) => (failing ? Promise.reject(new Error('connect ECONNREFUSED')) : value.call(target, since));
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
