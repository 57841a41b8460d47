import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { ACTOR, declaredIdentity, rejects, startAdmin, type AdminHarness } from './admin-harness.ts';

let h: AdminHarness;
beforeEach(async () => {
  h = await startAdmin({
    declared: declaredIdentity({ teams: ['b', 'd', 'shadow'], tenants: ['acme'], keys: [{ key_id: 'key_config', team_id: 'cfg-team' }] }),
  });
});
afterEach(() => h.close());

test('get returns the declared object, source config', async () => {
  assert.equal((await h.service.getTeam('b')).source, 'config');
  assert.equal((await h.service.getTenant('acme')).source, 'config');
  assert.equal((await h.service.getKey('key_config')).source, 'config');
});

test('declared objects win over a stored object with the same id', async () => {
  const audit = { at: new Date().toISOString(), actor: 'test', action: 'team.create', object_type: 'team' as const, object_id: 'shadow' };
  await h.store.create('team', { team_id: 'shadow', team_alias: 'stored', models: [], require_tenant: false, metadata: {}, source: 'api', created_at: audit.at, updated_at: audit.at }, audit);
  const team = await h.service.getTeam('shadow');
  assert.equal(team.source, 'config');
  assert.equal(team.team_alias, undefined);
  const listed = (await h.service.listTeams({})).data.filter((t) => t.team_id === 'shadow');
  assert.deepEqual(listed.map((t) => t.source), ['config']);
});

test('every change to a declared object is managed_by_config, pointing at the config file', async () => {
  const attempts = [
    h.service.createTeam({ team_id: 'b' }, ACTOR),
    h.service.updateTeam('b', { team_alias: 'x' }, ACTOR),
    h.service.deleteTeam('b', ACTOR),
    h.service.createTenant({ tenant_id: 'acme' }, ACTOR),
    h.service.updateTenant('acme', {}, ACTOR),
    h.service.deleteTenant('acme', ACTOR),
    h.service.updateKey('key_config', { key_alias: 'x' }, ACTOR),
    h.service.rotateKey('key_config', {}, ACTOR),
    h.service.revokeKey('key_config', ACTOR),
    h.service.blockKey('key_config', ACTOR),
    h.service.unblockKey('key_config', ACTOR),
    h.service.deleteKey('key_config', ACTOR),
  ];
  for (const attempt of attempts) {
    assert.match((await rejects(attempt, 'managed_by_config')).message, /config file/);
  }
  assert.deepEqual(h.notified, []);
  assert.deepEqual((await h.service.queryAudit({})).data, []);
});

test('a key may be generated for a declared team, and moved to one', async () => {
  const key = await h.service.generateKey({ team_id: 'b' }, ACTOR);
  assert.equal((await h.service.updateKey(key.key_id, { team_id: 'd' }, ACTOR)).team_id, 'd');
});

test('list merges declared and stored objects by id across pages', async () => {
  for (const id of ['a', 'c', 'e', 'f']) await h.service.createTeam({ team_id: id }, ACTOR);
  const seen: string[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 10; pages++) {
    const page = await h.service.listTeams({ limit: 2, ...(after ? { after } : {}) });
    seen.push(...page.data.map((t) => `${t.team_id}:${t.source}`));
    if (!page.next) break;
    after = page.next;
  }
  assert.deepEqual(seen, ['a:api', 'b:config', 'c:api', 'd:config', 'e:api', 'f:api', 'shadow:config']);
});

test('list with keys filters declared keys too', async () => {
  assert.deepEqual((await h.service.listKeys({ team_id: 'cfg-team' })).data.map((k) => k.key_id), ['key_config']);
  assert.deepEqual((await h.service.listKeys({ team_id: 'other' })).data, []);
  assert.deepEqual((await h.service.listKeys({ status: 'blocked' })).data, []);
});

test('a stored team referenced by a declared key cannot be deleted', async () => {
  await h.service.createTeam({ team_id: 'cfg-team' }, ACTOR);
  const err = await rejects(h.service.deleteTeam('cfg-team', ACTOR), 'resource_conflict');
  assert.match(err.message, /1 key\b/);
});
