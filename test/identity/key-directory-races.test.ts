// Races and edge cases of the key directory found in review, against the real SQLite store.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { DeclaredIdentity } from '../../src/identity/declared.ts';
import { NO_DECLARED_IDENTITY } from '../../src/identity/declared.ts';
import { KeyDirectory } from '../../src/identity/key-directory.ts';
import { secretHash } from '../../src/identity/key-secret.ts';
import type { AuditEntry, Team, VirtualKey } from '../../src/identity/records.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { storedKey } from '../helpers/stored-keys.ts';

const store = await openIdentityStore({ url: 'sqlite::memory:' });
await store.migrate();
after(() => store.close());

const NOW = '2026-12-01T00:00:00.000Z';
const audit = (action: string, id: string, before: unknown = null) => ({ at: NOW, actor: 'test', action, object_type: 'key', object_id: id, before }) as AuditEntry & { before: any };
const team: Team = { team_id: 'races', models: [], require_tenant: false, metadata: {}, source: 'api', created_at: NOW, updated_at: NOW };
await store.create('team', team, { ...audit('team.create', 'races'), object_type: 'team' });

const newKey = (fields: Partial<VirtualKey> = {}) => storedKey(store, 'races', fields);

let clock = 1_000_000;
function directory(declared: DeclaredIdentity = NO_DECLARED_IDENTITY): KeyDirectory {
  return new KeyDirectory({
    store, declared, logger: createLogger({ level: 'error', write: () => {} }),
    maxKeys: 100, refreshMs: 60_000, negativeTtlMs: 5_000, now: () => clock,
  });
}

test('a lookup arriving after an invalidation does not join a lookup that started before it', async () => {
  const dir = directory();
  const { key, secret } = await newKey();
  const early = dir.lookupKey(secret) as Promise<unknown>;
  await store.update('key', { ...key, status: 'revoked', updated_at: '2026-12-01T00:00:01.000Z' }, audit('key.revoke', key.key_id, key));
  dir.invalidate('key', key.key_id);
  const late = dir.lookupKey(secret);
  assert.notEqual(late, early, 'a new read was started');
  assert.equal((await late)!.key.status, 'revoked');
  await early;
});

test('an unrelated invalidation does not stop a read from being cached, nor a refresh from running again', async () => {
  let finds = 0;
  const counting = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name === 'findKeyBySecretHash') return (hash: string) => { finds++; return target.findKeyBySecretHash(hash); };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const dir = new KeyDirectory({ store: counting, declared: NO_DECLARED_IDENTITY, logger: createLogger({ level: 'error', write: () => {} }), maxKeys: 10, refreshMs: 60_000, negativeTtlMs: 5_000, now: () => clock });
  const { secret } = await newKey();
  const pending = dir.lookupKey(secret);
  dir.invalidate('key', 'key_somebody_else');
  dir.invalidate('team', 'another-team');
  await pending;
  assert.ok(!(dir.lookupKey(secret) instanceof Promise), 'cached despite unrelated invalidations');
  assert.equal(finds, 1);
  clock += 120_000;
  dir.lookupKey(secret); // starts a refresh; an unrelated change lands while it runs
  dir.invalidate('tenant', 'x');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(finds, 2);
  clock += 120_000;
  dir.lookupKey(secret); // the next refresh is not blocked by a stuck flag
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(finds, 3);
});

test('a stored key shadowed by a key declared with the same id does not authenticate', async () => {
  const { key, secret } = await newKey();
  const declaredSecret = 'sk-tg-declared-shadow-secret-0123456789abcdefgh';
  const declared: DeclaredIdentity = {
    teams: new Map(), tenants: new Map(),
    keys: new Map([[key.key_id, { ...key, source: 'config' as const }]]),
    limits: new Map(), keyHashes: new Map([[secretHash(declaredSecret), key.key_id]]),
  };
  const dir = directory(declared);
  assert.equal(await dir.lookupKey(secret), null, 'the stored secret of a declared id is ignored');
  assert.equal((await dir.lookupKey(declaredSecret))!.key.source, 'config');
});

test('a key whose team is gone resolves without a team (auth refuses it)', async () => {
  const { key, secret } = await newKey({ team_id: 'vanished' });
  const resolved = await directory().lookupKey(secret);
  assert.equal(resolved!.key.key_id, key.key_id);
  assert.equal(resolved!.team, undefined);
});

test('indexes shrink when keys are invalidated, evicted or deleted', async () => {
  const dir = new KeyDirectory({ store, declared: NO_DECLARED_IDENTITY, logger: createLogger({ level: 'error', write: () => {} }), maxKeys: 2, refreshMs: 60_000, negativeTtlMs: 5_000, now: () => clock });
  const made = [await newKey(), await newKey(), await newKey()];
  for (const { secret } of made) await dir.lookupKey(secret);
  assert.deepEqual({ keys: dir.stats().keys, indexed: dir.stats().indexedKeys }, { keys: 2, indexed: 2 });
  dir.invalidate('key', made[2]!.key.key_id);
  dir.invalidate('team', 'races');
  assert.deepEqual({ keys: dir.stats().keys, indexed: dir.stats().indexedKeys, teams: dir.stats().indexedTeams }, { keys: 0, indexed: 0, teams: 0 });
  await dir.lookupKey(made[0]!.secret);
  await store.remove('key', made[0]!.key.key_id, audit('key.delete', made[0]!.key.key_id));
  clock += 120_000;
  dir.lookupKey(made[0]!.secret); // the refresh finds it gone
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual({ keys: dir.stats().keys, indexed: dir.stats().indexedKeys }, { keys: 0, indexed: 0 });
});

test('concurrent tenant misses share one query', async () => {
  let queries = 0;
  const counting = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name === 'get') return (...args: [any, string]) => { queries++; return target.get(...args); };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const dir = new KeyDirectory({ store: counting, declared: NO_DECLARED_IDENTITY, logger: createLogger({ level: 'error', write: () => {} }), maxKeys: 10, refreshMs: 60_000, negativeTtlMs: 5_000 });
  await Promise.all(Array.from({ length: 10 }, () => dir.lookupTenant('nobody')));
  assert.equal(queries, 1);
});
