// Records and audit entries for the identity store contract suite.

import type { AuditEntry, IdentityObject, LimitPolicy, ObjectKind, Team, Tenant, VirtualKey } from '../../src/identity/records.ts';
import { secretHash } from '../../src/identity/key-secret.ts';

export const T0 = '2025-01-02T03:04:05.678Z';
export const HOUR_MS = 3_600_000;

export function isoFromNow(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

export function team(team_id: string, extra: Partial<Team> = {}): Team {
  return {
    team_id,
    team_alias: `alias of ${team_id}`,
    models: ['gpt-*', 'claude-sonnet'],
    require_tenant: false,
    metadata: { cost_center: 42, nested: { list: [1, 'two', null, true], ratio: 0.1 + 0.2 }, note: 'ünïcödé 团队 🚀' },
    rpm_limit: 600,
    max_budget: 12.5,
    budget_duration: '30d',
    source: 'api',
    created_at: T0,
    updated_at: T0,
    ...extra,
  };
}

export function limitPolicy(scope: string, extra: Partial<LimitPolicy> = {}): LimitPolicy {
  return { scope, rpm_limit: 6000, max_parallel_requests: 32, source: 'api', created_at: T0, updated_at: T0, ...extra };
}

export function tenant(tenant_id: string, extra: Partial<Tenant> = {}): Tenant {
  return { tenant_id, name: `Tenant ${tenant_id}`, plan: 'pro', models: [], metadata: {}, source: 'api', created_at: T0, updated_at: T0, ...extra };
}

export function key(key_id: string, team_id: string, extra: Partial<VirtualKey> = {}): VirtualKey {
  return {
    key_id,
    key_alias: `alias ${key_id}`,
    key_name: 'sk-tg-…x7Qa',
    team_id,
    models: [],
    allowed_tenants: ['acme', 'globex'],
    role: 'user',
    status: 'active',
    tags: ['env:test'],
    metadata: { owner: 'ops' },
    created_by: 'master',
    source: 'api',
    created_at: T0,
    updated_at: T0,
    ...extra,
  };
}

export function audit(action: string, object_type: ObjectKind, object_id: string, extra: Partial<AuditEntry> = {}): AuditEntry {
  return { at: T0, actor: 'master', action, object_type, object_id, ...extra };
}

/** A distinct SHA-256 hex per label. */
export function hashOf(label: string): string {
  return secretHash(`sk-tg-${label}`);
}

/** Ids that would break string-built SQL, LIKE patterns, placeholders or a naive encoder. */
export const HOSTILE_IDS = [
  "o'brien",
  'say "hi"',
  "'; DROP TABLE teams; --",
  'x"); DROP TABLE keys; --',
  "1' OR '1'='1",
  'back\\slash\\',
  '%_wildcards_%',
  '$1',
  '?',
  ':name',
  'ünïcödé-团队-🚀',
  'tab\tnew\nline',
  ' spaces ',
  'a'.repeat(300),
];

/** Byte order of the UTF-8 encoding: how both backends sort ids (JS's UTF-16 order differs). */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** An audit entry for a compare-and-swap write (update, rotateKey): `before` is the version read. */
export function auditBefore<T extends IdentityObject>(action: string, object_type: ObjectKind, object_id: string, before: T, extra: Partial<AuditEntry> = {}): AuditEntry & { before: T } {
  return { ...audit(action, object_type, object_id, extra), before };
}
