import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ACTOR, rejects, startAdmin, type AdminHarness } from './admin-harness.ts';

let h: AdminHarness;
beforeEach(async () => {
  h = await startAdmin();
});
afterEach(() => h.close());

describe('teams', () => {
  test('create with defaults: generated id, empty models and metadata, source api, stamps', async () => {
    h.clock.now = new Date('2030-05-01T10:00:00Z');
    const team = await h.service.createTeam({}, ACTOR);
    assert.match(team.team_id, /^team_[0-9a-f]{12}$/);
    assert.deepEqual(team, {
      team_id: team.team_id, models: [], require_tenant: false, metadata: {}, source: 'api',
      created_at: '2030-05-01T10:00:00.000Z', updated_at: '2030-05-01T10:00:00.000Z',
    });
    assert.deepEqual(await h.service.getTeam(team.team_id), team);
  });

  test('create with every field, LiteLLM names', async () => {
    const input = {
      team_id: 'search', team_alias: 'Search squad', models: ['gpt-4o*', 'claude'], require_tenant: true, metadata: { cost_center: 42 },
      rpm_limit: 100, tpm_limit: 50_000, max_parallel_requests: 4, max_budget: 12.5, budget_duration: '1mo', daily_token_cap: 1_000_000,
    };
    const team = await h.service.createTeam(input, ACTOR);
    assert.deepEqual({ ...team, created_at: undefined, updated_at: undefined }, { ...input, source: 'api', created_at: undefined, updated_at: undefined });
  });

  test('create with a taken id is resource_conflict', async () => {
    await h.service.createTeam({ team_id: 'search' }, ACTOR);
    const err = await rejects(h.service.createTeam({ team_id: 'search' }, ACTOR), 'resource_conflict');
    assert.match(err.message, /"search" already exists/);
  });

  test('get and update of a missing team are resource_not_found naming it', async () => {
    assert.match((await rejects(h.service.getTeam('nope'), 'resource_not_found')).message, /"nope"/);
    await rejects(h.service.updateTeam('nope', { team_alias: 'x' }, ACTOR), 'resource_not_found');
    await rejects(h.service.deleteTeam('nope', ACTOR), 'resource_not_found');
  });

  test('update: absent fields stay, values set, null clears optional fields and resets defaulted ones', async () => {
    await h.service.createTeam({ team_id: 't', team_alias: 'A', models: ['m'], require_tenant: true, metadata: { a: 1 }, rpm_limit: 5 }, ACTOR);
    h.clock.now = new Date(Date.now() + 60_000);
    const updated = await h.service.updateTeam('t', { team_alias: null, models: null, require_tenant: null, metadata: null, rpm_limit: 10, tpm_limit: 7 }, ACTOR);
    assert.equal('team_alias' in updated, false);
    assert.deepEqual(updated.models, []);
    assert.equal(updated.require_tenant, false);
    assert.deepEqual(updated.metadata, {});
    assert.equal(updated.rpm_limit, 10);
    assert.equal(updated.tpm_limit, 7);
    assert.equal(updated.updated_at, h.clock.now.toISOString());
    assert.notEqual(updated.created_at, updated.updated_at);
    assert.deepEqual(await h.service.getTeam('t'), updated);
  });

  test('the id cannot be patched', async () => {
    await h.service.createTeam({ team_id: 't' }, ACTOR);
    await rejects(h.service.updateTeam('t', { team_id: 'u' }, ACTOR), 'invalid_request', 'team_id');
  });

  test('delete refuses while keys remain, naming the count; succeeds once they are gone', async () => {
    await h.service.createTeam({ team_id: 't' }, ACTOR);
    const a = await h.service.generateKey({ team_id: 't' }, ACTOR);
    const b = await h.service.generateKey({ team_id: 't' }, ACTOR);
    const err = await rejects(h.service.deleteTeam('t', ACTOR), 'resource_conflict');
    assert.match(err.message, /still has 2 keys/);
    await h.service.revokeKey(a.key_id, ACTOR);
    await rejects(h.service.deleteTeam('t', ACTOR), 'resource_conflict');
    await h.service.deleteKey(a.key_id, ACTOR);
    await h.service.deleteKey(b.key_id, ACTOR);
    await h.service.deleteTeam('t', ACTOR);
    await rejects(h.service.getTeam('t'), 'resource_not_found');
  });

  test('list pages by id with after/limit and next on full pages', async () => {
    for (const id of ['d', 'a', 'c', 'b', 'e']) await h.service.createTeam({ team_id: id }, ACTOR);
    const first = await h.service.listTeams({ limit: 2 });
    assert.deepEqual(first.data.map((t) => t.team_id), ['a', 'b']);
    assert.equal(first.next, 'b');
    const second = await h.service.listTeams({ limit: 2, after: first.next });
    assert.deepEqual(second.data.map((t) => t.team_id), ['c', 'd']);
    const third = await h.service.listTeams({ limit: 2, after: second.next });
    assert.deepEqual(third.data.map((t) => t.team_id), ['e']);
    assert.equal(third.next, undefined);
    assert.equal((await h.service.listTeams({})).data.length, 5);
  });

  test('list limits: strings are coerced (query strings), out-of-range values are 400', async () => {
    await h.service.createTeam({ team_id: 'a' }, ACTOR);
    assert.equal((await h.service.listTeams({ limit: '1' as never })).next, 'a');
    await rejects(h.service.listTeams({ limit: 0 }), 'invalid_request', 'limit');
    await rejects(h.service.listTeams({ limit: 1001 }), 'invalid_request', 'limit');
    await rejects(h.service.listTeams({ limit: 'ten' as never }), 'invalid_request', 'limit');
    await rejects(h.service.listTeams({ limit: 2.5 }), 'invalid_request', 'limit');
    const err = await rejects(h.service.listTeams({ limt: 5 } as never), 'invalid_request', 'limt');
    assert.match(err.message, /Did you mean "limit"\?/);
  });
});

describe('tenants', () => {
  test('create, get, update, list, delete', async () => {
    const tenant = await h.service.createTenant({ tenant_id: 'acme', name: 'ACME Corp', plan: 'enterprise', models: ['*'], rpm_limit: 60 }, ACTOR);
    assert.equal(tenant.source, 'api');
    assert.deepEqual(tenant.metadata, {});
    assert.deepEqual(await h.service.getTenant('acme'), tenant);
    const updated = await h.service.updateTenant('acme', { plan: 'pro', name: null }, ACTOR);
    assert.equal(updated.plan, 'pro');
    assert.equal('name' in updated, false);
    await h.service.createTenant({ tenant_id: 'globex' }, ACTOR);
    assert.deepEqual((await h.service.listTenants({})).data.map((t) => t.tenant_id), ['acme', 'globex']);
    await h.service.deleteTenant('acme', ACTOR);
    await rejects(h.service.getTenant('acme'), 'resource_not_found');
  });

  test('tenant_id is required and must be an object id', async () => {
    const missing = await rejects(h.service.createTenant({ name: 'x' }, ACTOR), 'invalid_request', 'tenant_id');
    assert.match(missing.message, /tenant_id: is required/);
    await rejects(h.service.createTenant({ tenant_id: 'has space' }, ACTOR), 'invalid_request', 'tenant_id');
    await rejects(h.service.createTenant({ tenant_id: 'a', plan: 'not a label' }, ACTOR), 'invalid_request', 'plan');
  });

  test('a taken tenant id is resource_conflict', async () => {
    await h.service.createTenant({ tenant_id: 'acme' }, ACTOR);
    await rejects(h.service.createTenant({ tenant_id: 'acme' }, ACTOR), 'resource_conflict');
  });
});
