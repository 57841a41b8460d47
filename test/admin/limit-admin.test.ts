// Global and deployment limit policies through the admin service: stored with an audit entry,
// validated against the configured deployments, read-only where the config file sets them.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { LimitPolicy } from '../../src/identity/records.ts';
import { ACTOR, rejects, startAdmin, type AdminHarness } from './admin-harness.ts';

let h: AdminHarness | undefined;
afterEach(() => h?.close());

test('create, get, list, update and delete a global policy; each change is audited and notified', async () => {
  h = await startAdmin();
  h.clock.now = new Date('2030-05-01T10:00:00Z');
  const created = await h.limits.create({ scope: 'global', rpm_limit: 1000, max_budget: 500, budget_duration: '1mo' }, ACTOR);
  assert.deepEqual(created, {
    scope: 'global', rpm_limit: 1000, max_budget: 500, budget_duration: '1mo', source: 'api',
    created_at: '2030-05-01T10:00:00.000Z', updated_at: '2030-05-01T10:00:00.000Z',
  });
  assert.deepEqual(await h.limits.get('global'), created);
  const updated = await h.limits.update('global', { rpm_limit: 2000, max_budget: null }, ACTOR);
  assert.equal(updated.rpm_limit, 2000);
  assert.equal(updated.max_budget, undefined);
  assert.deepEqual((await h.limits.list({})).data.map((p: LimitPolicy) => p.scope), ['global']);
  await h.limits.remove('global', ACTOR);
  await rejects(h.limits.get('global'), 'resource_not_found');
  assert.deepEqual(h.notified.filter(([kind]) => kind === 'limit'), [['limit', 'global'], ['limit', 'global'], ['limit', 'global']]);
  const audit = (await h.service.queryAudit({ object_type: 'limit' })).data.map((e) => e.action);
  assert.deepEqual(audit, ['limit.delete', 'limit.update', 'limit.create']);
});

test('a deployment scope must name a configured deployment (ids like alias#0 included) and takes rate limits only', async () => {
  h = await startAdmin();
  const policy = await h.limits.create({ scope: 'deployment:gpt-4o#0', rpm_limit: 60, max_parallel_requests: 4 }, ACTOR);
  assert.equal((await h.limits.get('deployment:gpt-4o#0')).rpm_limit, policy.rpm_limit);
  await rejects(h.limits.create({ scope: 'deployment:nope', rpm_limit: 1 }, ACTOR), 'invalid_request', 'scope');
  await rejects(h.limits.create({ scope: 'deployment:openai-main', max_budget: 5 }, ACTOR), 'invalid_request', 'max_budget');
  await rejects(h.limits.update('deployment:gpt-4o#0', { token_budget: 5 }, ACTOR), 'invalid_request', 'token_budget');
  await rejects(h.limits.create({ scope: 'team:x', rpm_limit: 1 }, ACTOR), 'invalid_request', 'scope');
  await rejects(h.limits.create({ scope: 'global', rpm_limit: 0 }, ACTOR), 'invalid_request', 'rpm_limit');
  await rejects(h.limits.create({ scope: 'deployment:gpt-4o#0', rpm_limit: 5 }, ACTOR), 'resource_conflict');
});

test('a scope the config file sets is read-only through the API', async () => {
  const stamp = { source: 'config' as const, created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' };
  const declared = { teams: new Map(), tenants: new Map(), keys: new Map(), keyHashes: new Map(), limits: new Map([['global', { scope: 'global', rpm_limit: 10, ...stamp }]]) };
  h = await startAdmin({ declared });
  assert.equal((await h.limits.get('global')).source, 'config');
  await rejects(h.limits.create({ scope: 'global', rpm_limit: 5 }, ACTOR), 'managed_by_config');
  await rejects(h.limits.update('global', { rpm_limit: 5 }, ACTOR), 'managed_by_config');
  await rejects(h.limits.remove('global', ACTOR), 'managed_by_config');
});
