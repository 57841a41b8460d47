// The limit policies in effect on one replica: declared ones win, stored ones load at startup and
// are re-read on change; a failed re-read keeps the old copy and is retried.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LimitPolicy } from '../../src/identity/records.ts';
import { LimitPolicies } from '../../src/limits/limit-policies.ts';
import type { Logger } from '../../src/logging/logger.ts';
import type { IdentityStore } from '../../src/stores/identity-store.ts';

const STAMP = { source: 'api' as const, created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' };
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, enabled: () => false, flush() {} };

function fakeStore(rows: Map<string, LimitPolicy>, failures: { left: number }): IdentityStore {
  return {
    async list() { return [...rows.values()]; },
    async get(_kind: string, id: string) {
      if (failures.left > 0) {
        failures.left--;
        throw new Error('database unavailable');
      }
      return rows.get(id);
    },
  } as unknown as IdentityStore;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 8_000;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail('condition never held');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('declared policies win; stored ones load, change on invalidate, and a failed re-read is retried', async () => {
  const rows = new Map<string, LimitPolicy>([['global', { scope: 'global', rpm_limit: 10, ...STAMP }], ['deployment:a', { scope: 'deployment:a', rpm_limit: 1, ...STAMP }]]);
  const failures = { left: 0 };
  const declared = new Map<string, LimitPolicy>([['deployment:a', { scope: 'deployment:a', rpm_limit: 99, ...STAMP, source: 'config' }]]);
  const policies = new LimitPolicies(fakeStore(rows, failures), declared, quiet);
  await policies.load();
  assert.equal(policies.get('global')!.rpm_limit, 10);
  assert.equal(policies.get('deployment:a')!.rpm_limit, 99, 'config wins');
  rows.set('global', { scope: 'global', rpm_limit: 20, ...STAMP });
  failures.left = 1;
  policies.invalidate('global');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(policies.get('global')!.rpm_limit, 10, 'the old copy stays while the store fails');
  await until(() => policies.get('global')!.rpm_limit === 20);
  rows.delete('global');
  policies.invalidate('global');
  await until(() => policies.get('global') === undefined);
  policies.close();
});
