// Each routing strategy as a pure function of hand-made deployments and stats.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoutingStrategy } from '../../src/config/routing-schema.ts';
import type { Deployment } from '../../src/providers/types.ts';
import { seededRandom } from '../../src/providers/simulator/simulator-text.ts';
import type { DeploymentStats } from '../../src/routing/deployment-health.ts';
import { STRATEGIES, weighted, type StrategyInput } from '../../src/routing/strategies.ts';
import { deployment, statsFrom } from '../helpers/deployments.ts';

const DRAWS = 20_000;

function input(table: Record<string, Partial<DeploymentStats>> = {}, overrides: Partial<StrategyInput> = {}): StrategyInput {
  return { stats: statsFrom(table), random: seededRandom(7), latencyBuffer: 0.1, stream: false, ...overrides };
}

/** How often each deployment is picked over many draws with a seeded PRNG. */
function shares(strategy: RoutingStrategy, candidates: readonly Deployment[], given: StrategyInput): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < DRAWS; i++) {
    const id = STRATEGIES[strategy](candidates, given).id;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  for (const id of Object.keys(counts)) counts[id] = counts[id]! / DRAWS;
  return counts;
}

function near(actual: number | undefined, expected: number, tolerance = 0.02): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `share ${actual} not within ${tolerance} of ${expected}`);
}

test('weighted: the random point selects the deployment whose weight span holds it', () => {
  const ds = [deployment('a', { weight: 1 }), deployment('b', { weight: 3 })];
  assert.equal(weighted(ds, () => 0).id, 'a');
  assert.equal(weighted(ds, () => 0.2499).id, 'a');
  assert.equal(weighted(ds, () => 0.25).id, 'b');
  assert.equal(weighted(ds, () => 1 - Number.EPSILON).id, 'b');
});

test('weighted: a single candidate is returned without a draw', () => {
  const only = deployment('only');
  assert.equal(weighted([only], () => assert.fail('no draw needed')), only);
});

test('simple-shuffle spreads traffic by weight over many draws', () => {
  const ds = [deployment('a', { weight: 1 }), deployment('b', { weight: 3 }), deployment('c', { weight: 6 })];
  const got = shares('simple-shuffle', ds, input());
  near(got.a, 0.1);
  near(got.b, 0.3);
  near(got.c, 0.6);
});

test('ordered picks the first candidate whatever the weights and random', () => {
  const ds = [deployment('first', { weight: 1 }), deployment('second', { weight: 100 })];
  assert.deepEqual(shares('ordered', ds, input()), { first: 1 });
});

test('latency-based prefers the measured-fastest', () => {
  const ds = [deployment('slow'), deployment('fast'), deployment('slower')];
  const got = shares('latency-based', ds, input({ slow: { latencyMs: 300 }, fast: { latencyMs: 100 }, slower: { latencyMs: 900 } }));
  assert.deepEqual(got, { fast: 1 });
});

test('latency-based tries unmeasured deployments first (explore)', () => {
  const ds = [deployment('measured'), deployment('new')];
  assert.deepEqual(shares('latency-based', ds, input({ measured: { latencyMs: 1 } })), { new: 1 });
});

test('latency-based spreads by weight among those within (1 + buffer) · best', () => {
  const ds = [deployment('a'), deployment('b'), deployment('c')];
  const stats = { a: { latencyMs: 100 }, b: { latencyMs: 110 }, c: { latencyMs: 111 } };
  const got = shares('latency-based', ds, input(stats, { latencyBuffer: 0.1 }));
  assert.equal(got.c, undefined);
  near(got.a, 0.5);
  near(got.b, 0.5);
  // A wider buffer takes c in too.
  const wide = shares('latency-based', ds, input(stats, { latencyBuffer: 0.5 }));
  near(wide.c, 1 / 3);
  // Buffer 0: only the fastest.
  assert.deepEqual(shares('latency-based', ds, input(stats, { latencyBuffer: 0 })), { a: 1 });
});

test('latency-based judges streams by time to first token, whole calls by latency', () => {
  const ds = [deployment('quick-start'), deployment('quick-finish')];
  const stats = { 'quick-start': { latencyMs: 900, ttftMs: 50 }, 'quick-finish': { latencyMs: 300, ttftMs: 250 } };
  assert.deepEqual(shares('latency-based', ds, input(stats, { stream: true })), { 'quick-start': 1 });
  assert.deepEqual(shares('latency-based', ds, input(stats, { stream: false })), { 'quick-finish': 1 });
});

test('latency-based: a stream falls back to latency where no ttft is measured', () => {
  const ds = [deployment('no-ttft'), deployment('ttft')];
  const stats = { 'no-ttft': { latencyMs: 80 }, ttft: { latencyMs: 50, ttftMs: 200 } };
  assert.deepEqual(shares('latency-based', ds, input(stats, { stream: true })), { 'no-ttft': 1 });
});

test('least-busy picks the fewest in flight; ties share by weight', () => {
  const ds = [deployment('a'), deployment('b'), deployment('c')];
  assert.deepEqual(shares('least-busy', ds, input({ a: { inFlight: 3 }, b: { inFlight: 1 }, c: { inFlight: 2 } })), { b: 1 });
  const tied = shares('least-busy', ds, input({ a: { inFlight: 2 }, b: { inFlight: 2 }, c: { inFlight: 5 } }));
  assert.equal(tied.c, undefined);
  near(tied.a, 0.5);
});

test('cost-based picks the cheapest input + output price', () => {
  const ds = [
    deployment('pricey', { inputCostPerToken: 3e-6, outputCostPerToken: 15e-6 }),
    deployment('cheap', { inputCostPerToken: 1e-6, outputCostPerToken: 2e-6 }),
    deployment('cheap-in-only', { inputCostPerToken: 0.1e-6, outputCostPerToken: 10e-6 }),
  ];
  assert.deepEqual(shares('cost-based', ds, input()), { cheap: 1 });
});

test('cost-based puts unpriced (or half-priced) deployments last', () => {
  const ds = [deployment('unpriced'), deployment('input-only', { inputCostPerToken: 0 }), deployment('priced', { inputCostPerToken: 5e-6, outputCostPerToken: 5e-6 })];
  assert.deepEqual(shares('cost-based', ds, input()), { priced: 1 });
  // With nothing priced, all share by weight.
  const got = shares('cost-based', [deployment('x', { weight: 1 }), deployment('y', { weight: 3 })], input());
  near(got.x, 0.25);
});

test('usage-based: provisioned with headroom first, the emptiest', () => {
  const ds = [deployment('payg'), deployment('half', { rpm: 100 }), deployment('light', { rpm: 100 })];
  const got = shares('usage-based', ds, input({ half: { minuteRequests: 50 }, light: { minuteRequests: 10 } }));
  assert.deepEqual(got, { light: 1 });
});

test('usage-based: headroom is the tighter of rpm and tpm', () => {
  const ds = [deployment('tokens-tight', { rpm: 100, tpm: 1_000 }), deployment('requests-mid', { rpm: 10 })];
  // tokens-tight: rpm room 0.99, tpm room 0.1; requests-mid: room 0.5.
  const got = shares('usage-based', ds, input({ 'tokens-tight': { minuteRequests: 1, minuteTokens: 900 }, 'requests-mid': { minuteRequests: 5 } }));
  assert.deepEqual(got, { 'requests-mid': 1 });
});

test('usage-based: pay-as-you-go takes the burst when provisioned ones are full', () => {
  const ds = [deployment('p1', { rpm: 10 }), deployment('g1'), deployment('p2', { tpm: 100 }), deployment('g2', { weight: 3 })];
  const got = shares('usage-based', ds, input({ p1: { minuteRequests: 10 }, p2: { minuteTokens: 150 } }));
  assert.deepEqual(Object.keys(got).sort(), ['g1', 'g2']);
  near(got.g1, 0.25);
});

test('usage-based: everything full and no pay-as-you-go → the least-full provisioned', () => {
  const ds = [deployment('over', { rpm: 100 }), deployment('just-full', { rpm: 100 }), deployment('way-over', { tpm: 100 })];
  const got = shares('usage-based', ds, input({ over: { minuteRequests: 150 }, 'just-full': { minuteRequests: 100 }, 'way-over': { minuteTokens: 500 } }));
  assert.deepEqual(got, { 'just-full': 1 });
});

test('usage-based: only pay-as-you-go deployments share by weight', () => {
  const got = shares('usage-based', [deployment('a', { weight: 1 }), deployment('b', { weight: 1 })], input());
  near(got.a, 0.5);
});

test('every strategy returns one of the candidates', () => {
  const ds = [deployment('a', { rpm: 5 }), deployment('b', { inputCostPerToken: 1, outputCostPerToken: 1 })];
  for (const strategy of Object.keys(STRATEGIES) as RoutingStrategy[]) {
    for (let i = 0; i < 100; i++) assert.ok(ds.includes(STRATEGIES[strategy](ds, input())), strategy);
  }
});
