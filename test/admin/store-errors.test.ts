import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { StoreConflict, StoreUnavailable } from '../../src/stores/identity-store.ts';
import { ACTOR, rejects, startAdmin, type AdminHarness } from './admin-harness.ts';

let h: AdminHarness;
beforeEach(async () => {
  h = await startAdmin();
  await h.service.createTeam({ team_id: 't' }, ACTOR);
});
afterEach(() => h.close().catch(() => {}));

test('StoreUnavailable from any store call is a 503 store_unavailable', async () => {
  h.store.get = async () => {
    throw new StoreUnavailable('connection refused');
  };
  const err = await rejects(h.service.getTeam('t'), 'store_unavailable');
  assert.equal(err.status, 503);
  assert.match(err.message, /connection refused/);
  await rejects(h.service.updateTeam('t', {}, ACTOR), 'store_unavailable');
});

test('a closed SQLite store is store_unavailable, not a 500', async () => {
  await h.store.close();
  await rejects(h.service.listTeams({}), 'store_unavailable');
  await rejects(h.service.createTeam({ team_id: 'u' }, ACTOR), 'store_unavailable');
});

test('a StoreConflict maps by reason: missing → resource_not_found, changed and exists → resource_conflict', async () => {
  h.store.update = async () => {
    throw new StoreConflict('gone', 'missing');
  };
  await rejects(h.service.updateTeam('t', { team_alias: 'x' }, ACTOR), 'resource_not_found');
  h.store.update = async () => {
    throw new StoreConflict('someone else wrote first', 'changed');
  };
  const changed = await rejects(h.service.updateTeam('t', { team_alias: 'x' }, ACTOR), 'resource_conflict');
  assert.equal(changed.status, 409);
  assert.equal(changed.message, 'The team "t" was changed by another request while this one was running; read it again and retry.');
  h.store.create = async () => {
    throw new StoreConflict('taken', 'exists');
  };
  assert.match((await rejects(h.service.createTeam({ team_id: 'v' }, ACTOR), 'resource_conflict')).message, /already exists/);
  h.store.remove = async () => {
    throw new StoreConflict('gone', 'missing');
  };
  await rejects(h.service.deleteTenant('t', ACTOR), 'resource_not_found');
  assert.deepEqual(h.notified, [['team', 't']], 'nothing is notified for a failed write');
});

test("the store's in_use decides a team delete even when the count beforehand saw no keys", async () => {
  let counts = 0;
  const realCount = h.store.countKeys.bind(h.store);
  // The pre-check sees 0 (a key created right after it), the store refuses atomically.
  h.store.countKeys = async (teamId) => (++counts === 1 ? 0 : realCount(teamId));
  await h.service.generateKey({ team_id: 't' }, ACTOR);
  const err = await rejects(h.service.deleteTeam('t', ACTOR), 'resource_conflict');
  assert.match(err.message, /^The team "t" still has 1 key\. Delete them first/);
  assert.equal((await h.service.getTeam('t')).team_id, 't');
  assert.equal(counts, 2, 'counted again for the message');
});

test('status transitions re-read and decide again when the key changed meanwhile; after the last attempt it is a 409', async () => {
  const key = await h.service.generateKey({ team_id: 't' }, ACTOR);
  const update = h.store.update.bind(h.store);
  let failures = 2;
  h.store.update = async (kind, object, audit) => {
    if (failures-- > 0) throw new StoreConflict('changed meanwhile', 'changed');
    return update(kind, object, audit);
  };
  assert.equal((await h.service.revokeKey(key.key_id, ACTOR)).status, 'revoked');
  h.store.update = async () => {
    throw new StoreConflict('changed meanwhile', 'changed');
  };
  const other = await h.service.generateKey({ team_id: 't' }, ACTOR);
  const err = await rejects(h.service.blockKey(other.key_id, ACTOR), 'resource_conflict');
  assert.match(err.message, /^The key "key_[0-9a-f]+" was changed by another request while this one was running; read it again and retry\.$/);
  let rotations = 0;
  h.store.rotateKey = async () => {
    rotations++;
    throw new StoreConflict('changed meanwhile', 'changed');
  };
  assert.match((await rejects(h.service.rotateKey(other.key_id, {}, ACTOR), 'resource_conflict')).message, /was changed by another request/);
  assert.equal(rotations, 1, 'a rotation is not retried: the caller decides again');
});

test('any other store error propagates unchanged', async () => {
  const boom = new TypeError('bug');
  h.store.countKeys = async () => {
    throw boom;
  };
  await assert.rejects(h.service.deleteTeam('t', ACTOR), (err) => err === boom);
});
