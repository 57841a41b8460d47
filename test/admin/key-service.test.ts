import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { KEY_SHAPE, secretHash, secretPreview } from '../../src/identity/key-secret.ts';
import { StoreConflict } from '../../src/stores/identity-store.ts';
import { ACTOR, rejects, startAdmin, type AdminHarness } from './admin-harness.ts';

let h: AdminHarness;
beforeEach(async () => {
  h = await startAdmin({ rotationGraceSeconds: 3600 });
  await h.service.createTeam({ team_id: 'search' }, ACTOR);
  await h.service.createTeam({ team_id: 'ads' }, ACTOR);
});
afterEach(() => h.close());

describe('generate', () => {
  test('returns the record plus the secret once; only the hash is stored', async () => {
    const key = await h.service.generateKey({ team_id: 'search', key_alias: 'ci', project: 'rag', environment: 'prod', tags: ['a', 'b'], rpm_limit: 10 }, ACTOR);
    assert.match(key.key, KEY_SHAPE);
    assert.match(key.key_id, /^key_[0-9a-f]{20}$/);
    assert.equal(key.key_name, secretPreview(key.key));
    assert.equal(key.status, 'active');
    assert.equal(key.role, 'user');
    assert.equal(key.source, 'api');
    assert.equal(key.created_by, 'master');
    assert.deepEqual(key.models, []);
    assert.deepEqual(key.tags, ['a', 'b']);
    const { key: secret, ...record } = key;
    assert.deepEqual(await h.service.getKey(key.key_id), record);
    assert.deepEqual((await h.store.findKeyBySecretHash(secretHash(secret)))?.key, record);
    assert.equal('key' in (await h.service.getKey(key.key_id)), false);
  });

  test('the team must exist', async () => {
    const err = await rejects(h.service.generateKey({ team_id: 'ghost' }, ACTOR), 'resource_not_found', 'team_id');
    assert.match(err.message, /"ghost"/);
  });

  test('duration sets expires_at from now; expires_at is normalised to UTC', async () => {
    h.clock.now = new Date('2031-01-01T00:00:00Z');
    const a = await h.service.generateKey({ team_id: 'search', duration: '30d' }, ACTOR);
    assert.equal(a.expires_at, '2031-01-31T00:00:00.000Z');
    const b = await h.service.generateKey({ team_id: 'search', expires_at: '2031-06-01T02:00:00+02:00' }, ACTOR);
    assert.equal(b.expires_at, '2031-06-01T00:00:00.000Z');
  });

  test('tenant binding: tenant_id or allowed_tenants', async () => {
    const bound = await h.service.generateKey({ team_id: 'search', tenant_id: 'acme', require_tenant: true, role: 'admin' }, ACTOR);
    assert.equal(bound.tenant_id, 'acme');
    assert.equal(bound.role, 'admin');
    const set = await h.service.generateKey({ team_id: 'search', allowed_tenants: ['acme', 'globex'] }, ACTOR);
    assert.deepEqual(set.allowed_tenants, ['acme', 'globex']);
  });
});

describe('update', () => {
  test('patches fields, moves to an existing team, refuses a missing team', async () => {
    const key = await h.service.generateKey({ team_id: 'search', key_alias: 'old', tags: ['x'] }, ACTOR);
    const moved = await h.service.updateKey(key.key_id, { team_id: 'ads', key_alias: 'new', tags: null, role: 'admin' }, ACTOR);
    assert.equal(moved.team_id, 'ads');
    assert.equal(moved.key_alias, 'new');
    assert.deepEqual(moved.tags, []);
    assert.equal(moved.role, 'admin');
    assert.equal(moved.key_name, key.key_name);
    await rejects(h.service.updateKey(key.key_id, { team_id: 'ghost' }, ACTOR), 'resource_not_found', 'team_id');
    await rejects(h.service.updateKey(key.key_id, { team_id: null }, ACTOR), 'invalid_request', 'team_id');
  });

  test('status is not patchable; expiry can be set by duration and cleared by null', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    await rejects(h.service.updateKey(key.key_id, { status: 'revoked' }, ACTOR), 'invalid_request', 'status');
    h.clock.now = new Date('2032-01-01T00:00:00Z');
    assert.equal((await h.service.updateKey(key.key_id, { duration: '1h' }, ACTOR)).expires_at, '2032-01-01T01:00:00.000Z');
    assert.equal('expires_at' in (await h.service.updateKey(key.key_id, { expires_at: null }, ACTOR)), false);
  });

  test('tenant_id and allowed_tenants stay exclusive across a patch', async () => {
    const key = await h.service.generateKey({ team_id: 'search', allowed_tenants: ['acme'] }, ACTOR);
    const err = await rejects(h.service.updateKey(key.key_id, { tenant_id: 'acme' }, ACTOR), 'invalid_request', 'tenant_id');
    assert.match(err.message, /null/);
    const rebound = await h.service.updateKey(key.key_id, { tenant_id: 'acme', allowed_tenants: null }, ACTOR);
    assert.equal(rebound.tenant_id, 'acme');
    assert.equal('allowed_tenants' in rebound, false);
  });

  test('missing key is resource_not_found', async () => {
    await rejects(h.service.updateKey('key_missing', { key_alias: 'x' }, ACTOR), 'resource_not_found');
    await rejects(h.service.getKey('key_missing'), 'resource_not_found');
    await rejects(h.service.deleteKey('key_missing', ACTOR), 'resource_not_found');
  });
});

describe('status transitions', () => {
  test('block, block again (no-op), unblock, unblock again (no-op), revoke', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    assert.equal((await h.service.blockKey(key.key_id, ACTOR)).status, 'blocked');
    const notes = h.notified.length;
    assert.equal((await h.service.blockKey(key.key_id, ACTOR)).status, 'blocked');
    assert.equal(h.notified.length, notes, 'a no-op writes nothing');
    assert.equal((await h.service.unblockKey(key.key_id, ACTOR)).status, 'active');
    assert.equal((await h.service.unblockKey(key.key_id, ACTOR)).status, 'active');
    assert.equal((await h.service.revokeKey(key.key_id, ACTOR)).status, 'revoked');
    assert.equal((await h.service.getKey(key.key_id)).status, 'revoked');
  });

  test('a revoked key cannot be updated, rotated, blocked or unblocked; revoke again is a no-op; delete works', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    await h.service.revokeKey(key.key_id, ACTOR);
    for (const attempt of [
      h.service.updateKey(key.key_id, { key_alias: 'x' }, ACTOR),
      h.service.rotateKey(key.key_id, {}, ACTOR),
      h.service.blockKey(key.key_id, ACTOR),
      h.service.unblockKey(key.key_id, ACTOR),
    ]) {
      assert.match((await rejects(attempt, 'resource_conflict')).message, /revoked/);
    }
    assert.equal((await h.service.revokeKey(key.key_id, ACTOR)).status, 'revoked');
    await h.service.deleteKey(key.key_id, ACTOR);
    await rejects(h.service.getKey(key.key_id), 'resource_not_found');
    assert.equal(await h.store.findKeyBySecretHash(secretHash(key.key)), undefined);
  });
});

describe('rotate', () => {
  test('default grace: the old secret works until now + rotationGraceSeconds, the new one at once', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    const rotated = await h.service.rotateKey(key.key_id, undefined, ACTOR);
    assert.notEqual(rotated.key, key.key);
    assert.equal(rotated.key_name, secretPreview(rotated.key));
    assert.equal(rotated.rotation_grace_seconds, 3600);
    assert.equal(rotated.rotated_at, h.clock.now.toISOString());
    const old = await h.store.findKeyBySecretHash(secretHash(key.key));
    assert.equal(old?.secret_expires_at, new Date(h.clock.now.getTime() + 3600_000).toISOString());
    assert.equal((await h.store.findKeyBySecretHash(secretHash(rotated.key)))?.key.key_name, rotated.key_name);
  });

  test('grace_period "0s" ends the old secret at once', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    const rotated = await h.service.rotateKey(key.key_id, { grace_period: '0s' }, ACTOR);
    assert.equal(rotated.rotation_grace_seconds, 0);
    assert.equal(await h.store.findKeyBySecretHash(secretHash(key.key)), undefined);
    assert.ok(await h.store.findKeyBySecretHash(secretHash(rotated.key)));
  });

  test('a grace period that ended (rotation at an earlier clock) leaves only the new secret', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    h.clock.now = new Date(Date.now() - 2 * 3600_000);
    const rotated = await h.service.rotateKey(key.key_id, { grace_period: '1h' }, ACTOR);
    assert.equal(await h.store.findKeyBySecretHash(secretHash(key.key)), undefined);
    assert.ok(await h.store.findKeyBySecretHash(secretHash(rotated.key)));
  });

  test('grace_period is validated', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    await rejects(h.service.rotateKey(key.key_id, { grace_period: 'soon' }, ACTOR), 'invalid_request', 'grace_period');
    await rejects(h.service.rotateKey(key.key_id, { grace: '1h' }, ACTOR), 'invalid_request', 'grace');
    await rejects(h.service.rotateKey('key_missing', {}, ACTOR), 'resource_not_found');
  });
});

describe('list', () => {
  test('filters by team_id and status, pages with after', async () => {
    const a = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    const b = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    const c = await h.service.generateKey({ team_id: 'ads' }, ACTOR);
    await h.service.blockKey(b.key_id, ACTOR);
    const ids = (page: { data: Array<{ key_id: string }> }) => page.data.map((k) => k.key_id);
    assert.deepEqual(ids(await h.service.listKeys({ team_id: 'search' })), [a.key_id, b.key_id].sort());
    assert.deepEqual(ids(await h.service.listKeys({ status: 'blocked' })), [b.key_id]);
    assert.deepEqual(ids(await h.service.listKeys({ team_id: 'ads', status: 'active' })), [c.key_id]);
    const all = [a, b, c].map((k) => k.key_id).sort();
    const first = await h.service.listKeys({ limit: 2 });
    assert.deepEqual(ids(first), all.slice(0, 2));
    assert.deepEqual(ids(await h.service.listKeys({ limit: 2, after: first.next })), all.slice(2));
    await rejects(h.service.listKeys({ status: 'paused' as never }), 'invalid_request', 'status');
  });
});

describe('concurrency', () => {
  test('a revoke racing a PATCH, rotate or block always ends revoked; the loser gets a 409', async () => {
    // Count the compare-and-swap refusals, to show the race really happened.
    let changed = 0;
    for (const method of ['update', 'rotateKey'] as const) {
      const original = (h.store[method] as (...args: unknown[]) => Promise<void>).bind(h.store);
      (h.store as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
        try {
          return await original(...args);
        } catch (err) {
          if (err instanceof StoreConflict && err.reason === 'changed') changed++;
          throw err;
        }
      };
    }
    const rivals = {
      patch: (id: string) => h.service.updateKey(id, { key_alias: 'renamed', tags: ['raced'] }, ACTOR),
      rotate: (id: string) => h.service.rotateKey(id, { grace_period: '0s' }, ACTOR),
      block: (id: string) => h.service.blockKey(id, ACTOR),
    };
    const names = Object.keys(rivals) as Array<keyof typeof rivals>;
    const lost: Record<string, number> = { patch: 0, rotate: 0, block: 0 };
    const wait = async () => {
      for (let i = Math.floor(Math.random() * 3); i > 0; i--) await nextTurn();
    };
    for (let round = 0; round < 50; round++) {
      const { key_id } = await h.service.generateKey({ team_id: 'search' }, ACTOR);
      const rival = names[round % names.length];
      const revoke = async () => {
        await wait();
        return h.service.revokeKey(key_id, ACTOR);
      };
      const other = async () => {
        await wait();
        return rivals[rival](key_id);
      };
      const [revoked, raced] = round % 2 ? await Promise.allSettled([revoke(), other()]) : (await Promise.allSettled([other(), revoke()])).reverse();
      const final = await h.service.getKey(key_id);
      if (revoked.status === 'fulfilled') {
        assert.equal(revoked.value.status, 'revoked');
        assert.equal(final.status, 'revoked', `round ${round}: the ${rival} undid the revoke`);
      } else {
        // Only after every re-read lost: allowed, but then nothing else may have been lost either.
        assert.ok(revoked.reason instanceof GatewayError && revoked.reason.code === 'resource_conflict', String(revoked.reason));
      }
      if (raced.status === 'rejected') {
        assert.ok(raced.reason instanceof GatewayError, String(raced.reason));
        assert.equal(raced.reason.code, 'resource_conflict', raced.reason.message);
        assert.equal(raced.reason.status, 409);
        assert.match(raced.reason.message, /was changed by another request|is revoked/);
        lost[rival]++;
      }
      // The newest audit entry for the key is the revoke: nothing was written after it.
      const [newest] = (await h.service.queryAudit({ object_id: key_id, limit: 1 })).data;
      assert.equal(newest.action, 'key.revoke', `round ${round}: ${rival} wrote after the revoke`);
    }
    assert.ok(changed > 0, 'at least one write was refused as changed (the race happened)');
    assert.ok(Object.values(lost).some((n) => n > 0), `some rival lost: ${JSON.stringify(lost)}`);
  });

  test('two PATCHes based on the same read: one wins, the other is a 409 and changes nothing', async () => {
    const key = await h.service.generateKey({ team_id: 'search' }, ACTOR);
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => h.service.updateKey(key.key_id, { key_alias: `alias-${i}` }, ACTOR)));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as GatewayError).code, 'resource_conflict');
    assert.equal((await h.service.getKey(key.key_id)).key_alias, (won[0] as PromiseFulfilledResult<{ key_alias?: string }>).value.key_alias);
    assert.equal((await h.service.queryAudit({ object_id: key.key_id, action: 'key.update' })).data.length, 1);
  });
});
