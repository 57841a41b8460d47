// The admin service over a real in-memory SQLite identity store, with a settable clock, a
// recorded change notifier and helpers to build config-declared objects.

import assert from 'node:assert/strict';
import type { Actor, AdminService } from '../../src/admin/admin-service.ts';
import { createLocalAdminService } from '../../src/admin/local-admin-service.ts';
import type { ErrorCode } from '../../src/errors/codes.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { NO_DECLARED_IDENTITY, type DeclaredIdentity } from '../../src/identity/declared.ts';
import { secretHash } from '../../src/identity/key-secret.ts';
import type { ObjectKind, Team, Tenant, VirtualKey } from '../../src/identity/records.ts';
import type { IdentityStore } from '../../src/stores/identity-store.ts';
import { openIdentityStore } from '../../src/stores/open-identity-store.ts';
import { createLimitAdmin, type LimitAdmin } from '../../src/admin/limit-admin.ts';

export const ACTOR: Actor = { id: 'master', requestId: 'req-test-1' };

export interface AdminHarness {
  service: AdminService;
  /** Global and deployment limits, over the same store (deployments openai-main and gpt-4o#0 exist). */
  limits: LimitAdmin;
  store: IdentityStore;
  /** Every (kind, id) passed to notify, in order. */
  notified: Array<[ObjectKind, string]>;
  /** What the service's clock reads; tests move it. */
  clock: { now: Date };
  close(): Promise<void>;
}

export async function startAdmin(options: { declared?: DeclaredIdentity; rotationGraceSeconds?: number } = {}): Promise<AdminHarness> {
  const store = await openIdentityStore({ url: 'sqlite::memory:' });
  await store.migrate();
  const notified: Array<[ObjectKind, string]> = [];
  const clock = { now: new Date() };
  const service = createLocalAdminService({
    store,
    declared: options.declared ?? NO_DECLARED_IDENTITY,
    notify: (kind, id) => notified.push([kind, id]),
    now: () => clock.now,
    rotationGraceSeconds: options.rotationGraceSeconds ?? 3600,
  });
  const limits = createLimitAdmin({
    store,
    declared: options.declared ?? NO_DECLARED_IDENTITY,
    notify: (kind, id) => notified.push([kind, id]),
    now: () => clock.now,
    deploymentIds: new Set(['openai-main', 'gpt-4o#0']),
  });
  return { service, limits, store, notified, clock, close: () => store.close() };
}

const STAMPS = { source: 'config' as const, created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' };

/** A DeclaredIdentity holding config teams, tenants and keys with these ids. */
export function declaredIdentity(ids: { teams?: string[]; tenants?: string[]; keys?: Array<{ key_id: string; team_id: string }> }): DeclaredIdentity {
  const teams = new Map<string, Team>((ids.teams ?? []).map((team_id) => [team_id, { team_id, models: [], require_tenant: false, metadata: {}, ...STAMPS }]));
  const tenants = new Map<string, Tenant>((ids.tenants ?? []).map((tenant_id) => [tenant_id, { tenant_id, models: [], metadata: {}, ...STAMPS }]));
  const keys = new Map<string, VirtualKey>((ids.keys ?? []).map(({ key_id, team_id }) => [key_id, {
    key_id, team_id, key_name: 'sk-tg-…0000', models: [], role: 'user', status: 'active', tags: [], metadata: {}, created_by: 'config', ...STAMPS,
  }]));
  return { teams, tenants, keys, limits: new Map(), keyHashes: new Map() };
}

/** Awaits a rejection with a GatewayError of this code (and param, when given); returns it. */
export async function rejects(promise: Promise<unknown>, code: ErrorCode, param?: string | null): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (param !== undefined) assert.equal(err.param, param, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** Fails if any value, serialised, contains one of the secrets or their SHA-256 hashes. */
export function assertNoSecrets(values: unknown[], secrets: string[]): void {
  const forbidden = secrets.flatMap((secret) => [secret, secretHash(secret)]);
  for (const value of values) {
    const text = JSON.stringify(value) ?? '';
    for (const needle of forbidden) assert.ok(!text.includes(needle), `a secret or its hash leaked into ${text.slice(0, 200)}`);
  }
}
