// The key directory against the real SQLite store. Store calls are counted through a Proxy
// (the store itself is real); an outage is simulated by making calls reject while `down`.

import assert from 'node:assert/strict';
import { after, beforeEach, test } from 'node:test';
import { NO_DECLARED_IDENTITY } from '../../src/identity/declared.ts';
import { KeyDirectory } from '../../src/identity/key-directory.ts';
import type { AuditEntry, Team, VirtualKey } from '../../src/identity/records.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { IdentityStore } from '../../src/stores/identity-store.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { storedKey } from '../helpers/stored-keys.ts';

const real = await openIdentityStore({ url: 'sqlite::memory:' });
await real.migrate();
const calls: string[] = [];
let down = false;
const store = new Proxy(real, {
  get(target, name, receiver) {
    const value = Reflect.get(target, name, receiver);
    if (typeof value !== 'function') return value;
    return (...args: unknown[]) => {
      calls.push(String(name));
      if (down) return Promise.reject(new Error('connect ECONNREFUSED'));
      return value.apply(target, args);
    };
  },
}) as IdentityStore;

const NOW = '2026-12-01T00:00:00.000Z';
const audit = (action: string, id: string): AuditEntry => ({ at: NOW, actor: 'test', action, object_type: 'key', object_id: id });
const team: Team = { team_id: 't1', models: ['chat*'], require_tenant: false, metadata: {}, source: 'api', created_at: NOW, updated_at: NOW };
await real.create('team', team, { ...audit('team.create', 't1'), object_type: 'team' });

const newKey = (fields: Partial<VirtualKey> = {}) => storedKey(real, 't1', fields);

let clock = 1_000_000;
function directory(): KeyDirectory {
  return new KeyDirectory({
    store, declared: NO_DECLARED_IDENTITY, logger: createLogger({ level: 'error', write: () => {} }),
    maxKeys: 3, refreshMs: 60_000, negativeTtlMs: 5_000, now: () => clock,
  });
}

beforeEach(() => {
  calls.length = 0;
  down = false;
});
after(() => real.close());

test('a miss reads the store once; later lookups are synchronous and do no I/O', async () => {
  const dir = directory();
  const { key, secret } = await newKey();
  const first = dir.lookupKey(secret);
  assert.ok(first instanceof Promise);
  const resolved = await first;
  assert.equal(resolved!.key.key_id, key.key_id);
  assert.equal(resolved!.team!.team_id, 't1');
  assert.equal(resolved!.acl.allows('chat-a'), true);
  assert.equal(resolved!.acl.allows('embed'), false);
  const before = calls.length;
  for (let i = 0; i < 100; i++) {
    const again = dir.lookupKey(secret);
    assert.ok(!(again instanceof Promise));
    assert.equal(again!.key.key_id, key.key_id);
  }
  assert.equal(calls.length, before, 'no store call for cached keys');
});

test('concurrent misses for one secret share a single query', async () => {
  const dir = directory();
  const { secret } = await newKey();
  const results = await Promise.all(Array.from({ length: 20 }, () => dir.lookupKey(secret)));
  assert.ok(results.every((r) => r?.key));
  assert.equal(calls.filter((c) => c === 'findKeyBySecretHash').length, 1);
});

test('unknown secrets are remembered for the negative TTL, then asked again', async () => {
  const dir = directory();
  assert.equal(await dir.lookupKey('sk-tg-unknown'), null);
  assert.equal(dir.lookupKey('sk-tg-unknown'), null);
  assert.equal(calls.filter((c) => c === 'findKeyBySecretHash').length, 1);
  clock += 6_000;
  assert.ok(dir.lookupKey('sk-tg-unknown') instanceof Promise);
});

test('invalidating a key drops its cached copies; invalidating a team drops its keys', async () => {
  const dir = directory();
  const { key, secret } = await newKey();
  await dir.lookupKey(secret);
  await real.update('key', { ...key, status: 'revoked' }, { ...audit('key.revoke', key.key_id), before: key });
  assert.equal((dir.lookupKey(secret) as { key: VirtualKey }).key.status, 'active', 'stale until told');
  dir.invalidate('key', key.key_id);
  assert.equal((await dir.lookupKey(secret))!.key.status, 'revoked');
  dir.invalidate('team', 't1');
  assert.ok(dir.lookupKey(secret) instanceof Promise);
});

test('a lookup that started before an invalidation does not cache its stale result', async () => {
  const dir = directory();
  const { key, secret } = await newKey();
  const pending = dir.lookupKey(secret);
  dir.invalidate('key', key.key_id);
  await pending;
  assert.ok(dir.lookupKey(secret) instanceof Promise, 'the racing result was not cached');
});

test('the cache is bounded (LRU) and its indexes shrink with it', async () => {
  const dir = directory();
  const secrets = [];
  for (let i = 0; i < 5; i++) {
    const { secret } = await newKey();
    secrets.push(secret);
    await dir.lookupKey(secret);
  }
  assert.equal(dir.stats().keys, 3);
  assert.ok(dir.lookupKey(secrets[0]!) instanceof Promise, 'the oldest was evicted');
});

test('database down: cached keys keep working, unknown keys fail with auth_unavailable, stale entries survive refresh failures', async () => {
  const dir = directory();
  const { secret } = await newKey();
  const { secret: other } = await newKey();
  await dir.lookupKey(secret);
  down = true;
  assert.ok(dir.lookupKey(secret));
  await assert.rejects(Promise.resolve(dir.lookupKey(other)), (err: any) => err.code === 'auth_unavailable' && err.status === 503);
  await assert.rejects(Promise.resolve(dir.lookupTenant('uncached')), (err: any) => err.code === 'auth_unavailable' && /tenant "uncached" is not cached/.test(err.message));
  clock += 120_000; // past refreshMs: served from cache while a background refresh fails
  assert.ok(!(dir.lookupKey(secret) instanceof Promise));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(dir.lookupKey(secret), 'still served after the failed refresh');
  down = false;
  assert.ok((await dir.lookupKey(other))!.key);
});

test('tenants: cached policies, unknown tenants remembered as null, invalidation on change', async () => {
  const dir = directory();
  assert.equal(await dir.lookupTenant('acme'), null);
  await real.create('tenant', { tenant_id: 'acme', models: ['chat-a'], metadata: {}, source: 'api', created_at: NOW, updated_at: NOW }, { ...audit('tenant.create', 'acme'), object_type: 'tenant' });
  assert.equal(dir.lookupTenant('acme'), null, 'cached as unknown');
  dir.invalidate('tenant', 'acme');
  const policy = await dir.lookupTenant('acme');
  assert.equal(policy!.acl.allows('chat-a'), true);
  assert.equal(policy!.acl.allows('chat-b'), false);
});
