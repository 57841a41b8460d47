// /health/ready's report: each dependency's state, degraded when one is down, checks bounded in time.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ledgerCheck, limitsCheck } from '../../src/health/dependency-checks.ts';
import { cachedCheck, createReadiness, type DependencyCheck } from '../../src/health/readiness-checks.ts';
import type { LedgerWriterStats } from '../../src/ledger/ledger-writer.ts';
import type { GatewayConfig } from '../../src/config/gateway-config.ts';

const ok = (name: string): DependencyCheck => ({ name, check: () => ({ status: 'ok' }) });

test('ready when every check is ok; degraded when one is degraded or down; a throwing check counts as down', async () => {
  assert.deepEqual(await createReadiness({ checks: [ok('a'), ok('b')] })(), { status: 'ready', checks: { a: { status: 'ok' }, b: { status: 'ok' } } });
  const degraded = await createReadiness({ checks: [ok('a'), { name: 'b', check: () => ({ status: 'degraded', detail: 'failing over' }) }] })();
  assert.equal(degraded.status, 'degraded');
  const thrown = await createReadiness({ checks: [ok('a'), { name: 'db', check: async () => { throw new Error('connection refused'); } }] })();
  assert.deepEqual(thrown.checks.db, { status: 'down', detail: 'connection refused' });
  assert.equal(thrown.status, 'degraded');
  const disabled = await createReadiness({ checks: [ok('a'), { name: 'ledger', check: () => ({ status: 'disabled' }) }] })();
  assert.equal(disabled.status, 'ready', 'a disabled dependency is not a problem');
});

test('a check that hangs counts as down after timeoutMs; the others still answer', async () => {
  const report = await createReadiness({ timeoutMs: 50, checks: [ok('a'), { name: 'db', check: () => new Promise(() => {}) }] })();
  assert.deepEqual(report.checks.db, { status: 'down', detail: 'no answer within 50 ms' });
  assert.deepEqual(report.checks.a, { status: 'ok' });
});

test('cachedCheck asks its check at most once per period', async () => {
  let calls = 0;
  const check = cachedCheck({ name: 'db', check: async () => ({ status: 'ok', n: ++calls }) }, 60_000);
  const ready = createReadiness({ checks: [check] });
  await ready();
  await ready();
  assert.equal(calls, 1);
});

function stats(sinks: Record<string, { down: boolean; queued?: number; spooled?: number }>, dropped = 0): LedgerWriterStats {
  return {
    recorded: 10, dropped, writeAhead: undefined,
    sinks: Object.fromEntries(Object.entries(sinks).map(([name, s]) => [name, { queued: s.queued ?? 0, inFlight: 0, spooled: s.spooled ?? 0, written: 10, failures: 0, rejected: 0, down: s.down, overflowing: false }])),
  };
}

test('ledger: ok while its sinks take writes; degraded (with each sink\'s queue and spool) when one fails or events were lost', () => {
  assert.deepEqual(ledgerCheck(undefined).check(), { status: 'disabled' });
  assert.deepEqual(ledgerCheck(() => stats({ sqlite: { down: false } })).check(), { status: 'ok', sinks: { sqlite: { status: 'ok', queued: 0, spooled: 0 } } });
  const down = ledgerCheck(() => stats({ sqlite: { down: false }, postgres: { down: true, spooled: 1200 } })).check() as { status: string; detail: string; sinks: Record<string, unknown> };
  assert.equal(down.status, 'degraded');
  assert.match(down.detail, /sink postgres is failing: its events are spooled/);
  assert.deepEqual(down.sinks.postgres, { status: 'down', queued: 0, spooled: 1200 });
  const lost = ledgerCheck(() => stats({ sqlite: { down: false } }, 3)).check() as { status: string; detail: string };
  assert.match(lost.detail, /3 ledger events were lost/);
});

test('limits: the shared store\'s failover state', () => {
  const config = { limits: { backend: 'redis' } } as unknown as GatewayConfig;
  assert.deepEqual(limitsCheck(config, () => undefined).check(), { status: 'ok', backend: 'redis' });
  assert.deepEqual(limitsCheck(config, () => 'redis down').check(), { status: 'degraded', backend: 'redis', detail: 'redis down' });
});
