// chooseDeployment over a real DeploymentHealth with an injected clock: cooling and avoided
// deployments are skipped, priority tiers, the single half-open probe, failed health checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoutingStrategy } from '../../src/config/routing-schema.ts';
import type { Deployment } from '../../src/providers/types.ts';
import { seededRandom } from '../../src/providers/simulator/simulator-text.ts';
import { chooseDeployment, type ChooseOptions } from '../../src/routing/choose-deployment.ts';
import { localCooldownSync, type CooldownSync } from '../../src/routing/cooldown-sync.ts';
import { DeploymentHealth } from '../../src/routing/deployment-health.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { aliasOf, deployment } from '../helpers/deployments.ts';

const T0 = 1_700_000_000_000;

function setup(sync?: CooldownSync) {
  const clock = { now: T0 };
  const health = new DeploymentHealth({ metrics: new Metrics(), breaker: { enabled: true, allowedFails: 1, windowMs: 1000, cooldownMs: 500 }, now: () => clock.now, ...(sync ? { sync } : {}) });
  const options = (extra: Partial<ChooseOptions> = {}): ChooseOptions => ({ health, random: seededRandom(3), latencyBuffer: 0.1, stream: false, ...extra });
  /** Cools `id` down: allowedFails + 1 timeouts. */
  const cool = (id: string) => {
    for (let i = 0; i < 2; i++) health.recordFailure(id, { class: 'timeout', code: 'timeout', message: 'slow' });
  };
  return { clock, health, options, cool };
}

async function ids(deployments: readonly Deployment[], options: ChooseOptions, strategy: RoutingStrategy = 'simple-shuffle', draws = 200): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < draws; i++) {
    const dep = await chooseDeployment(aliasOf(deployments, strategy), options);
    seen.add(dep?.id ?? 'none');
  }
  return [...seen].sort();
}

test('all available: the strategy chooses among them', async () => {
  const { options } = setup();
  const ds = [deployment('a'), deployment('b'), deployment('c')];
  assert.deepEqual(await ids(ds, options()), ['a', 'b', 'c']);
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'a');
});

test('cooling deployments are skipped', async () => {
  const { options, cool } = setup();
  cool('a');
  assert.deepEqual(await ids([deployment('a'), deployment('b'), deployment('c')], options()), ['b', 'c']);
  assert.equal((await chooseDeployment(aliasOf([deployment('a'), deployment('b')], 'ordered'), options()))?.id, 'b');
});

test('deployments in `avoid` are skipped', async () => {
  const { options } = setup();
  const ds = [deployment('a'), deployment('b'), deployment('c')];
  assert.deepEqual(await ids(ds, options({ avoid: new Set(['a', 'c']) })), ['b']);
  assert.equal(await chooseDeployment(aliasOf(ds), options({ avoid: new Set(['a', 'b', 'c']) })), undefined);
});

test('the lowest order tier is used first, whatever the strategy prefers', async () => {
  const { options } = setup();
  const ds = [deployment('backup', { order: 2, weight: 100 }), deployment('primary-1', { order: 1 }), deployment('primary-2', { order: 1 })];
  assert.deepEqual(await ids(ds, options()), ['primary-1', 'primary-2']);
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'primary-1');
});

test('a higher tier is used only when every lower one is cooling or avoided', async () => {
  const { options, cool } = setup();
  const ds = [deployment('p1', { order: 1 }), deployment('p2', { order: 1 }), deployment('s', { order: 2 }), deployment('t', { order: 3 })];
  cool('p1');
  assert.deepEqual(await ids(ds, options()), ['p2']);
  cool('p2');
  assert.deepEqual(await ids(ds, options()), ['s']);
  assert.deepEqual(await ids(ds, options({ avoid: new Set(['s']) })), ['t']);
});

test('returns undefined when every deployment is cooling', async () => {
  const { options, cool } = setup();
  cool('a');
  cool('b');
  assert.equal(await chooseDeployment(aliasOf([deployment('a'), deployment('b', { order: 2 })]), options()), undefined);
});

test('a half-open deployment is taken by one request only; the next skips it', async () => {
  const { options, cool, clock, health } = setup();
  const ds = [deployment('a'), deployment('b', { order: 2 })];
  cool('a');
  clock.now += 500;
  assert.equal(health.availability('a'), 'probe');
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'a');
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'b');
  assert.equal((await chooseDeployment(aliasOf([ds[0]!]), options())), undefined);
});

test('concurrent choosers: exactly one gets the half-open probe', async () => {
  const { options, cool, clock } = setup();
  cool('a');
  clock.now += 500;
  const only = aliasOf([deployment('a')]);
  const picks = await Promise.all(Array.from({ length: 5 }, () => chooseDeployment(only, options())));
  assert.deepEqual(picks.map((d) => d?.id ?? 'none').sort(), ['a', 'none', 'none', 'none', 'none']);
});

test('when the probe ends (success), the deployment is open to all again', async () => {
  const { options, cool, clock, health } = setup();
  cool('a');
  clock.now += 500;
  const only = aliasOf([deployment('a')]);
  assert.equal((await chooseDeployment(only, options()))?.id, 'a');
  health.recordSuccess('a', { latencyMs: 10 });
  assert.equal((await chooseDeployment(only, options()))?.id, 'a');
  assert.equal((await chooseDeployment(only, options()))?.id, 'a');
});

test('a probe whose lease passes without an answer is offered again', async () => {
  const { options, cool, clock } = setup();
  cool('a');
  clock.now += 500;
  const only = aliasOf([deployment('a', { timeoutMs: 1_000, streamTimeoutMs: 1_000 })]);
  assert.equal((await chooseDeployment(only, options()))?.id, 'a');
  clock.now += 999;
  assert.equal(await chooseDeployment(only, options()), undefined);
  clock.now += 1;
  assert.equal((await chooseDeployment(only, options()))?.id, 'a');
});

test('a failed health check skips the deployment until a check passes', async () => {
  const { options, clock, health } = setup();
  const ds = [deployment('a'), deployment('b', { order: 2 })];
  health.recordCheck('a', { ok: false, at: clock.now, latencyMs: 5, error: 'HTTP 503' });
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'b');
  clock.now += 120_000;
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'b');
  health.recordCheck('a', { ok: true, at: clock.now, latencyMs: 5 });
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'a');
});

test('the alias\'s strategy chooses within the tier, with live stats', async () => {
  const { options, health } = setup();
  const ds = [deployment('busy'), deployment('idle'), deployment('other-tier', { order: 2 })];
  health.begin('busy');
  health.begin('busy');
  health.begin('idle');
  assert.deepEqual(await ids(ds, options(), 'least-busy'), ['idle']);
});

test('a probe another replica holds is skipped for the next tier, and stays claimed here', async () => {
  const claims: Array<{ deployment: string; ttlMs: number }> = [];
  const elsewhere: CooldownSync = { ...localCooldownSync, claimProbe: async (deployment, ttlMs) => { claims.push({ deployment, ttlMs }); return false; } };
  const { options, cool, clock, health } = setup(elsewhere);
  const ds = [deployment('a', { timeoutMs: 700, streamTimeoutMs: 300 }), deployment('b', { order: 2 })];
  cool('a');
  clock.now += 500;
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'b');
  assert.deepEqual(claims, [{ deployment: 'a', ttlMs: 700 }]);
  assert.equal(health.availability('a'), 'cooling');
  assert.equal((await chooseDeployment(aliasOf(ds, 'ordered'), options()))?.id, 'b');
  assert.equal(claims.length, 1);
});
