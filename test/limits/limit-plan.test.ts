// buildPlan, planNeeds and costCap: which counters one request touches, what each costs, and
// when the policy stage has to estimate tokens at all. Pure functions, an injected `now`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIFETIME, periodAt } from '../../src/limits/budget-period.ts';
import { buildPlan, costCap, planNeeds, UNLIMITED, type Amounts, type LimitScope, type PlanOptions, type ScopeLimits } from '../../src/limits/limit-plan.ts';

const NOW = Date.UTC(2026, 11, 15, 12, 30);
const AMOUNTS: Amounts = { tokens: 1_500, microUsd: 42_000 };
const NONE: ReadonlySet<LimitScope> = new Set();

function options(over: Partial<PlanOptions> = {}): PlanOptions {
  return { now: NOW, leaseId: 'lease-1', holdMs: 120_000, trackSpend: NONE, ...over };
}

const ALL_SCOPES: ReadonlyArray<[LimitScope, string]> = [
  ['key', 'key_ab12'], ['team', 'payments'], ['tenant', 'acme'], ['tenant_model', 'acme|chat'], ['deployment', 'openai-eu'], ['global', 'global'],
];

test('every scope: rpm, tpm and concurrency ids, costs and meta', () => {
  const scopes: ScopeLimits[] = ALL_SCOPES.map(([scope, id]) => ({ scope, id, limits: { rpm_limit: 10, tpm_limit: 5_000, max_parallel_requests: 3 } }));
  const plan = buildPlan(scopes, AMOUNTS, options())!;
  assert.ok(plan);
  assert.equal(plan.request.leaseId, 'lease-1');
  assert.equal(plan.request.now, NOW);
  assert.deepEqual(plan.request.budgets, []);
  const expectedWindows = ALL_SCOPES.flatMap(([scope, id]) => [
    { id: `rpm:${scope}:${id}`, limit: 10, windowMs: 60_000, cost: 1 },
    { id: `tpm:${scope}:${id}`, limit: 5_000, windowMs: 60_000, cost: AMOUNTS.tokens, correctable: true },
  ]);
  assert.deepEqual(plan.request.windows, expectedWindows);
  assert.deepEqual(plan.request.concurrency, ALL_SCOPES.map(([scope, id]) => ({ id: `cc:${scope}:${id}`, limit: 3, leaseMs: 120_000 })));
  for (const [scope, id] of ALL_SCOPES) {
    assert.deepEqual(plan.meta.get(`rpm:${scope}:${id}`), { kind: 'window', scope, scopeId: id, unit: 'requests', enforced: true });
    assert.deepEqual(plan.meta.get(`tpm:${scope}:${id}`), { kind: 'window', scope, scopeId: id, unit: 'tokens', enforced: true });
    assert.deepEqual(plan.meta.get(`cc:${scope}:${id}`), { kind: 'concurrency', scope, scopeId: id, unit: 'requests', enforced: true });
  }
  assert.equal(plan.meta.size, ALL_SCOPES.length * 3);
});

test('every scope with budgets: usd, tok and tokd ids carry their period and its end', () => {
  const scopes: ScopeLimits[] = ALL_SCOPES.map(([scope, id]) => ({ scope, id, limits: { max_budget: 25, budget_duration: '1d', token_budget: 1_000_000, daily_token_cap: 200_000 } }));
  const plan = buildPlan(scopes, AMOUNTS, options())!;
  const day = periodAt('1d', NOW);
  assert.equal(day.endsAt, Date.UTC(2026, 11, 16));
  const expected = ALL_SCOPES.flatMap(([scope, id]) => [
    { id: `usd:${scope}:${id}:${day.id}`, limit: 25_000_000, amount: AMOUNTS.microUsd, periodEndsAt: day.endsAt, reservationTtlMs: 120_000 },
    { id: `tok:${scope}:${id}:${day.id}`, limit: 1_000_000, amount: AMOUNTS.tokens, periodEndsAt: day.endsAt, reservationTtlMs: 120_000 },
    { id: `tokd:${scope}:${id}:${day.id}`, limit: 200_000, amount: AMOUNTS.tokens, periodEndsAt: day.endsAt, reservationTtlMs: 120_000 },
  ]);
  assert.deepEqual(plan.request.budgets, expected);
  assert.deepEqual(plan.request.windows, []);
  assert.deepEqual(plan.request.concurrency, []);
  for (const [scope, id] of ALL_SCOPES) {
    assert.deepEqual(plan.meta.get(`usd:${scope}:${id}:${day.id}`), { kind: 'budget', scope, scopeId: id, unit: 'usd', period: day, enforced: true });
    assert.deepEqual(plan.meta.get(`tok:${scope}:${id}:${day.id}`), { kind: 'budget', scope, scopeId: id, unit: 'tokens', period: day, enforced: true });
    assert.deepEqual(plan.meta.get(`tokd:${scope}:${id}:${day.id}`), { kind: 'budget', scope, scopeId: id, unit: 'tokens', period: day, enforced: true });
  }
});

test('daily_token_cap is always the UTC day, whatever budget_duration says', () => {
  const plan = buildPlan([{ scope: 'team', id: 'payments', limits: { token_budget: 10, budget_duration: '1mo', daily_token_cap: 5 } }], AMOUNTS, options())!;
  const [tok, tokd] = plan.request.budgets;
  assert.equal(tok.id, 'tok:team:payments:2026-12');
  assert.equal(tok.periodEndsAt, Date.UTC(2027, 0, 1));
  assert.equal(tokd.id, `tokd:team:payments:${periodAt('1d', NOW).id}`);
  assert.equal(tokd.periodEndsAt, Date.UTC(2026, 11, 16));
  // The next UTC day is a new counter.
  const next = buildPlan([{ scope: 'team', id: 'payments', limits: { daily_token_cap: 5 } }], AMOUNTS, options({ now: Date.UTC(2026, 11, 16) }))!;
  assert.notEqual(next.request.budgets[0].id, tokd.id);
});

test('1mo budgets are named by the calendar month in UTC', () => {
  const lastMs = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
  const dec = buildPlan([{ scope: 'key', id: 'k1', limits: { max_budget: 10, budget_duration: '1mo' } }], AMOUNTS, options({ now: lastMs }))!;
  assert.equal(dec.request.budgets[0].id, 'usd:key:k1:2026-12');
  assert.equal(dec.request.budgets[0].periodEndsAt, Date.UTC(2027, 0, 1));
  const jan = buildPlan([{ scope: 'key', id: 'k1', limits: { max_budget: 10, budget_duration: '1mo' } }], AMOUNTS, options({ now: lastMs + 1 }))!;
  assert.equal(jan.request.budgets[0].id, 'usd:key:k1:2027-01');
  assert.equal(jan.request.budgets[0].periodEndsAt, Date.UTC(2027, 1, 1));
});

test('a budget without budget_duration is a lifetime budget: period "all"', () => {
  const plan = buildPlan([{ scope: 'tenant', id: 'acme', limits: { max_budget: 5, token_budget: 100 } }], AMOUNTS, options())!;
  assert.deepEqual(plan.request.budgets.map((b) => [b.id, b.periodEndsAt]), [
    ['usd:tenant:acme:all', LIFETIME.endsAt],
    ['tok:tenant:acme:all', LIFETIME.endsAt],
  ]);
  assert.equal(plan.meta.get('usd:tenant:acme:all')!.period, LIFETIME);
});

test('max_budget dollars become micro-dollars, rounded down', () => {
  const limitOf = (max_budget: number) => buildPlan([{ scope: 'key', id: 'k', limits: { max_budget } }], AMOUNTS, options())!.request.budgets[0].limit;
  assert.equal(limitOf(100), 100_000_000);
  assert.equal(limitOf(0.3), 300_000);
  assert.equal(limitOf(0.1 + 0.2), 300_000, 'float noise is not a micro-dollar');
  assert.equal(limitOf(1.9999999), 1_999_999, 'a fraction of a micro-dollar is dropped, never rounded up');
  assert.equal(limitOf(0.0000019), 1);
  assert.equal(limitOf(0), 0);
});

test('trackSpend: scopes without max_budget get a tracking-only usd budget (UNLIMITED, not enforced)', () => {
  const scopes: ScopeLimits[] = [
    { scope: 'key', id: 'k1', limits: {} },
    { scope: 'team', id: 'payments', limits: { max_budget: 50, budget_duration: '1mo' } },
    { scope: 'tenant', id: 'acme', limits: { budget_duration: '7d' } },
    { scope: 'global', id: 'global', limits: {} },
  ];
  const plan = buildPlan(scopes, AMOUNTS, options({ trackSpend: new Set<LimitScope>(['key', 'team', 'tenant']) }))!;
  const week = periodAt('7d', NOW);
  assert.deepEqual(plan.request.budgets, [
    { id: 'usd:key:k1:all', limit: UNLIMITED, amount: AMOUNTS.microUsd, periodEndsAt: LIFETIME.endsAt, reservationTtlMs: 120_000 },
    { id: 'usd:team:payments:2026-12', limit: 50_000_000, amount: AMOUNTS.microUsd, periodEndsAt: Date.UTC(2027, 0, 1), reservationTtlMs: 120_000 },
    { id: `usd:tenant:acme:${week.id}`, limit: UNLIMITED, amount: AMOUNTS.microUsd, periodEndsAt: week.endsAt, reservationTtlMs: 120_000 },
  ], 'the global scope is not tracked (not in trackSpend)');
  assert.equal(plan.meta.get('usd:key:k1:all')!.enforced, false);
  assert.equal(plan.meta.get('usd:team:payments:2026-12')!.enforced, true);
  assert.equal(plan.meta.get(`usd:tenant:acme:${week.id}`)!.enforced, false);
  assert.ok(Number.isSafeInteger(UNLIMITED));
});

test('no plan when nothing applies', () => {
  assert.equal(buildPlan([], AMOUNTS, options()), undefined);
  const scopes: ScopeLimits[] = [
    { scope: 'key', id: 'k1', limits: {} },
    // Settings that make no counter by themselves.
    { scope: 'team', id: 't1', limits: { budget_duration: '1d', max_cost_per_request: 0.5 } },
    { scope: 'deployment', id: 'd1', limits: { rpm_limit: undefined } },
  ];
  assert.equal(buildPlan(scopes, AMOUNTS, options()), undefined);
  assert.equal(buildPlan(scopes, AMOUNTS, options({ trackSpend: new Set<LimitScope>(['global']) })), undefined);
});

test('limit 0 still makes a counter (it refuses everything)', () => {
  const plan = buildPlan([{ scope: 'key', id: 'k', limits: { rpm_limit: 0, max_parallel_requests: 0, max_budget: 0 } }], AMOUNTS, options())!;
  assert.equal(plan.request.windows[0].limit, 0);
  assert.equal(plan.request.concurrency[0].limit, 0);
  assert.equal(plan.request.budgets[0].limit, 0);
});

test('planNeeds: tokens only for tpm, token budgets and dollar limits; cost only for dollar limits', () => {
  const needs = (limits: ScopeLimits['limits']) => planNeeds([{ scope: 'key', id: 'k', limits }]);
  assert.deepEqual(planNeeds([]), { tokens: false, cost: false });
  assert.deepEqual(needs({}), { tokens: false, cost: false });
  assert.deepEqual(needs({ rpm_limit: 5, max_parallel_requests: 2, budget_duration: '1d' }), { tokens: false, cost: false });
  assert.deepEqual(needs({ tpm_limit: 5 }), { tokens: true, cost: false });
  assert.deepEqual(needs({ token_budget: 5 }), { tokens: true, cost: false });
  assert.deepEqual(needs({ daily_token_cap: 5 }), { tokens: true, cost: false });
  assert.deepEqual(needs({ max_budget: 5 }), { tokens: true, cost: true });
  assert.deepEqual(needs({ max_cost_per_request: 0.01 }), { tokens: true, cost: true });
  // Any scope asking is enough.
  assert.deepEqual(planNeeds([
    { scope: 'key', id: 'k', limits: { rpm_limit: 1 } },
    { scope: 'deployment', id: 'd', limits: { tpm_limit: 100 } },
  ]), { tokens: true, cost: false });
});

test('costCap: the smallest cap wins, with its scope; none without caps', () => {
  assert.equal(costCap([]), undefined);
  assert.equal(costCap([{ scope: 'key', id: 'k', limits: { max_budget: 1 } }]), undefined);
  const scopes: ScopeLimits[] = [
    { scope: 'key', id: 'k', limits: { max_cost_per_request: 0.5 } },
    { scope: 'team', id: 't', limits: { max_cost_per_request: 0.05 } },
    { scope: 'tenant', id: 'acme', limits: { rpm_limit: 3 } },
    { scope: 'global', id: 'global', limits: { max_cost_per_request: 0.1 } },
  ];
  assert.deepEqual(costCap(scopes), { microUsd: 50_000, scope: 'team', scopeId: 't' });
  assert.deepEqual(costCap([{ scope: 'tenant', id: 'acme', limits: { max_cost_per_request: 0.1 + 0.2 } }]), { microUsd: 300_000, scope: 'tenant', scopeId: 'acme' });
  assert.deepEqual(costCap([{ scope: 'global', id: 'global', limits: { max_cost_per_request: 0 } }]), { microUsd: 0, scope: 'global', scopeId: 'global' });
});
