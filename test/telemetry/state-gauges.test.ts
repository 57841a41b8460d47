// Gauges read from state at scrape time: deployment states and budget utilisation.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Team, Tenant, VirtualKey } from '../../src/identity/records.ts';
import type { BudgetState } from '../../src/limits/counter-store.ts';
import { DeploymentHealth } from '../../src/routing/deployment-health.ts';
import { budgetTargetsFromAdmin, registerBudgetUtilizationGauge, type BudgetTarget } from '../../src/telemetry/budget-utilization-gauge.ts';
import { registerDeploymentStateGauge } from '../../src/telemetry/deployment-state-gauge.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { deployment } from '../helpers/deployments.ts';
import { parseExposition, sampleValue } from './exposition.ts';

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);

test('tollgate_deployment_state: 1 for the current state of each deployment, 0 for the others', async () => {
  const clock = { now: T0 };
  const metrics = new Metrics();
  const health = new DeploymentHealth({ metrics, breaker: { enabled: true, allowedFails: 1, windowMs: 1000, cooldownMs: 500 }, now: () => clock.now });
  const deps = [deployment('a'), deployment('b'), deployment('c', { alias: 'embed' })];
  registerDeploymentStateGauge(metrics, { health, deployments: () => deps });
  const state = async (id: string) => {
    const families = parseExposition(await metrics.render());
    const alias = deps.find((d) => d.id === id)!.alias;
    const values = Object.fromEntries(['healthy', 'cooling', 'unhealthy'].map((s) => [s, sampleValue(families, 'tollgate_deployment_state', { alias, deployment: id, state: s })]));
    const current = Object.entries(values).filter(([, v]) => v === 1).map(([s]) => s);
    assert.equal(current.length, 1, `exactly one state of ${id} is 1: ${JSON.stringify(values)}`);
    assert.ok(Object.values(values).every((v) => v === 0 || v === 1));
    return current[0];
  };
  assert.equal(await state('a'), 'healthy');
  for (let i = 0; i < 2; i++) health.recordFailure('a', { class: 'server_error', code: 'upstream_server_error', message: 'boom' });
  health.recordCheck('b', { ok: false, at: clock.now, latencyMs: 5, error: 'refused' });
  assert.equal(await state('a'), 'cooling');
  assert.equal(await state('b'), 'unhealthy');
  assert.equal(await state('c'), 'healthy');
  clock.now += 600; // the cooldown is over: half-open, waiting for its probe
  assert.equal(health.breakerState('a'), 'half_open');
  assert.equal(await state('a'), 'cooling', 'half-open counts as cooling');
  health.recordSuccess('a', { latencyMs: 10 });
  health.recordCheck('b', { ok: true, at: clock.now, latencyMs: 5 });
  assert.equal(await state('a'), 'healthy');
  assert.equal(await state('b'), 'healthy');
});

/** A counter store that knows some budgets' spend, and records each read. */
function fakeStore(spent: Record<string, number>) {
  const reads: string[][] = [];
  return {
    reads,
    async budgets(ids: readonly string[]): Promise<BudgetState[]> {
      reads.push([...ids]);
      return ids.map((id) => {
        const key = Object.keys(spent).find((prefix) => id.startsWith(prefix));
        return { id, limit: 0, spent: key ? spent[key] : 0, reserved: 0 };
      });
    },
  };
}

test('tollgate_budget_utilization_ratio: settled spend over limit, per budget, in one store read per scrape', async () => {
  const metrics = new Metrics();
  const store = fakeStore({ 'usd:team:payments:': 40_000_000, 'tok:tenant:acme:': 250, 'tokd:tenant:acme:': 999, 'usd:global:global:': 1_000_000 });
  const targets: BudgetTarget[] = [
    { scope: 'team', id: 'payments', limits: { max_budget: 50, budget_duration: '30d' } },
    { scope: 'tenant', id: 'acme', limits: { token_budget: 1000, daily_token_cap: 1000, budget_duration: '1mo' } },
    { scope: 'key', id: 'key_1', limits: { rpm_limit: 10 } },
    { scope: 'global', id: 'global', limits: { max_budget: 100 } },
  ];
  registerBudgetUtilizationGauge(metrics, { store, targets: () => targets, now: () => T0 });
  const f = parseExposition(await metrics.render());
  assert.equal(sampleValue(f, 'tollgate_budget_utilization_ratio', { scope: 'team', id: 'payments', budget: 'usd' }), 0.8);
  assert.equal(sampleValue(f, 'tollgate_budget_utilization_ratio', { scope: 'tenant', id: 'acme', budget: 'tokens' }), 0.25);
  assert.equal(sampleValue(f, 'tollgate_budget_utilization_ratio', { scope: 'tenant', id: 'acme', budget: 'daily_tokens' }), 0.999);
  assert.equal(sampleValue(f, 'tollgate_budget_utilization_ratio', { scope: 'global', id: 'global', budget: 'usd' }), 0.01);
  assert.equal(f.get('tollgate_budget_utilization_ratio')!.samples.length, 4, 'a scope without a budget has no series');
  assert.equal(store.reads.length, 1);
  assert.equal(store.reads[0].length, 4);
  assert.ok(store.reads[0].some((id) => id.startsWith('tok:tenant:acme:2026-12')), 'the current period of a calendar-month budget');
});

test('no budgets: no store read at all', async () => {
  const metrics = new Metrics();
  const store = fakeStore({});
  registerBudgetUtilizationGauge(metrics, { store, targets: () => [{ scope: 'team', id: 't', limits: {} }] });
  assert.deepEqual(parseExposition(await metrics.render()).get('tollgate_budget_utilization_ratio')!.samples, []);
  assert.equal(store.reads.length, 0);
});

test('a store that fails leaves the ratio out of the scrape (no stale values)', async () => {
  const metrics = new Metrics();
  let down = false;
  const store = {
    async budgets(ids: readonly string[]): Promise<BudgetState[]> {
      if (down) throw new Error('redis down');
      return ids.map((id) => ({ id, limit: 0, spent: 5_000_000, reserved: 0 }));
    },
  };
  registerBudgetUtilizationGauge(metrics, { store, targets: () => [{ scope: 'team', id: 't', limits: { max_budget: 10 } }] });
  assert.equal(sampleValue(parseExposition(await metrics.render()), 'tollgate_budget_utilization_ratio', { scope: 'team', id: 't', budget: 'usd' }), 0.5);
  down = true;
  const text = await metrics.render();
  assert.deepEqual(parseExposition(text).get('tollgate_budget_utilization_ratio')!.samples, []);
});

function page<T>(rows: T[], size: number, after: string | undefined): { data: T[]; next?: string } {
  const start = after === undefined ? 0 : Number(after);
  const data = rows.slice(start, start + size);
  return start + size < rows.length ? { data, next: String(start + size) } : { data };
}

test('budgetTargetsFromAdmin: teams and tenants with a budget, pages followed, cached between refreshes, capped', async () => {
  const teams = Array.from({ length: 5 }, (_, i) => ({ team_id: `team-${i}`, ...(i % 2 === 0 ? { max_budget: 10 } : {}) }) as unknown as Team);
  const tenants = [{ tenant_id: 'acme', daily_token_cap: 100 }, { tenant_id: 'free', rpm_limit: 5 }] as unknown as Tenant[];
  const keys = [{ key_id: 'key_1', token_budget: 10 }] as unknown as VirtualKey[];
  const calls: string[] = [];
  const admin = {
    async listTeams(q: { after?: string }) {
      calls.push(`teams:${q.after ?? ''}`);
      return page(teams, 2, q.after);
    },
    async listTenants(q: { after?: string }) {
      calls.push(`tenants:${q.after ?? ''}`);
      return page(tenants, 2, q.after);
    },
    async listKeys(q: { after?: string; status?: string }) {
      calls.push(`keys:${q.status}`);
      return page(keys, 2, q.after);
    },
  };
  const clock = { now: T0 };
  const list = budgetTargetsFromAdmin(admin, { now: () => clock.now, refreshMs: 1000, global: () => ({ max_budget: 1 }) });
  const ids = (targets: BudgetTarget[]) => targets.map((t) => `${t.scope}:${t.id}`);
  // The admin pages hold 2 rows here; the real lister asks for the largest page.
  assert.deepEqual(ids(await list()), ['global:global', 'team:team-0', 'team:team-2', 'team:team-4', 'tenant:acme']);
  assert.deepEqual(calls, ['teams:', 'teams:2', 'teams:4', 'tenants:']);
  await list();
  assert.equal(calls.length, 4, 'cached');
  clock.now += 1001;
  await Promise.all([list(), list()]);
  assert.equal(calls.length, 8, 'refreshed once, however many scrapes wait');
  const capped = budgetTargetsFromAdmin(admin, { scopes: ['key', 'team'], maxTargets: 2 });
  assert.deepEqual(ids(await capped()), ['key:key_1', 'team:team-0']);
  assert.ok(calls.includes('keys:active'), 'only active keys');
});
