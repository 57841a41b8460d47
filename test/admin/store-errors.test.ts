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

test('a StoreConflict on update (the object vanished meanwhile) is resource_not_found; on create resource_conflict', async () => {
  h.store.update = async () => {
    throw new StoreConflict('gone');
  };
  await rejects(h.service.updateTeam('t', { team_alias: 'x' }, ACTOR), 'resource_not_found');
  h.store.create = async () => {
    throw new StoreConflict('taken');
  };
  await rejects(h.service.createTeam({ team_id: 'v' }, ACTOR), 'resource_conflict');
  assert.deepEqual(h.notified, [['team', 't']], 'nothing is notified for a failed write');
});

test('any other store error propagates unchanged', async () => {
  const boom = new TypeError('bug');
  h.store.countKeys = async () => {
    throw boom;
  };
  await assert.rejects(h.service.deleteTeam('t', ACTOR), (err) => err === boom);
});
