// The one contract every IdentityStore backend passes. Each test gets a fresh, empty database
// from `open` (migrated here, except where migration itself is under test).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEntry, Change, ObjectKind, ObjectTypes, VirtualKey } from '../../src/identity/records.ts';
import { StoreConflict, StoreUnavailable, type ConflictReason, type IdentityStore } from '../../src/stores/identity-store.ts';
import { HOSTILE_IDS, HOUR_MS, T0, audit, auditBefore, byteOrder, hashOf, isoFromNow, key, limitPolicy, team, tenant } from './identity-fixtures.ts';
import { storeContractRunner } from '../helpers/store-contract-runner.ts';

/** For assert.rejects: a StoreConflict with this reason. */
function conflict(reason: ConflictReason): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof StoreConflict, `expected a StoreConflict, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  };
}

/** The whole change feed (the contract tests write far fewer than 1000 rows). */
async function allChanges(store: IdentityStore): Promise<Change[]> {
  return store.changesAfter(0, 1000);
}

/** What a refused write must leave alone: the audit log and the change feed. */
async function journal(store: IdentityStore): Promise<{ audit: number; lastSeq: number; changes: number }> {
  return { audit: (await store.queryAudit({ limit: 1000 })).length, lastSeq: await store.lastChangeSeq(), changes: (await allChanges(store)).length };
}

function idOf(kind: ObjectKind, record: ObjectTypes[ObjectKind]): string {
  return (record as unknown as Record<string, string>)[{ team: 'team_id', tenant: 'tenant_id', key: 'key_id', limit: 'scope' }[kind]];
}

export interface OpenedStore {
  store: IdentityStore;
  /** Closes the store and removes its database. */
  cleanup: () => Promise<void>;
  /** Another store on the same database (absent for in-memory SQLite). The test closes it. */
  openSibling?: () => Promise<IdentityStore>;
}

export function identityStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  const { withStore, it } = storeContractRunner(open);

  describe(`IdentityStore contract: ${name}`, () => {
    test('migrate: an empty database is at version 0; migrate applies each version once', () =>
      withStore(async (store) => {
        assert.equal(await store.schemaVersion(), 0);
        const first = await store.migrate();
        assert.ok(first.applied.length > 0);
        assert.deepEqual(first.applied, Array.from({ length: first.version }, (_, i) => i + 1));
        assert.equal(await store.schemaVersion(), first.version);
        assert.deepEqual(await store.migrate(), { applied: [], version: first.version });
      }, false));

    test('migrate: three instances at once apply each version exactly once', async (t) => {
      const opened = await open();
      const siblings = [opened.store];
      try {
        if (!opened.openSibling) return t.skip('needs a database that several stores can open');
        siblings.push(await opened.openSibling(), await opened.openSibling());
        const reports = await Promise.all(siblings.map((s) => s.migrate()));
        const version = reports[0].version;
        assert.ok(version > 0);
        for (const report of reports) assert.equal(report.version, version);
        const applied = reports.flatMap((r) => r.applied).sort((a, b) => a - b);
        assert.deepEqual(applied, Array.from({ length: version }, (_, i) => i + 1));
        assert.equal(await siblings[2].schemaVersion(), version);
      } finally {
        await Promise.all(siblings.slice(1).map((s) => s.close()));
        await opened.cleanup();
      }
    });

    it('create and get round-trip teams, tenants and keys', async (store) => {
      const records = { team: team('team-a'), tenant: tenant('acme'), key: key('key_1', 'team-a', { expires_at: isoFromNow(HOUR_MS), require_tenant: true }) };
      await store.create('team', records.team, audit('team.create', 'team', 'team-a'));
      await store.create('tenant', records.tenant, audit('tenant.create', 'tenant', 'acme'));
      await store.create('key', records.key, audit('key.create', 'key', 'key_1'));
      assert.deepEqual(await store.get('team', 'team-a'), records.team);
      assert.deepEqual(await store.get('tenant', 'acme'), records.tenant);
      assert.deepEqual(await store.get('key', 'key_1'), records.key);
      assert.equal(await store.get('team', 'acme'), undefined);
      assert.equal(await store.get('key', 'missing'), undefined);
    });

    it('limit policies (global, deployment:<id>) round-trip, update by compare-and-swap, and feed the change log', async (store) => {
      const global = limitPolicy('global', { max_budget: 500, budget_duration: '1mo' });
      const deployment = limitPolicy('deployment:gpt-4o#0');
      const before = await store.lastChangeSeq();
      await store.create('limit', global, audit('limit.create', 'limit', 'global'));
      await store.create('limit', deployment, audit('limit.create', 'limit', 'deployment:gpt-4o#0'));
      assert.deepEqual(await store.get('limit', 'global'), global);
      assert.deepEqual(await store.get('limit', 'deployment:gpt-4o#0'), deployment);
      assert.deepEqual((await store.list('limit', { limit: 10 })).map((p) => p.scope), ['deployment:gpt-4o#0', 'global']);
      const changed = { ...global, rpm_limit: 7000 };
      await store.update('limit', changed, auditBefore('limit.update', 'limit', 'global', global));
      await assert.rejects(store.update('limit', { ...global, rpm_limit: 1 }, auditBefore('limit.update', 'limit', 'global', global)), conflict('changed'));
      await store.remove('limit', 'deployment:gpt-4o#0', audit('limit.delete', 'limit', 'deployment:gpt-4o#0'));
      assert.equal(await store.get('limit', 'deployment:gpt-4o#0'), undefined);
      const changes = await store.changesAfter(before, 10);
      assert.deepEqual(changes.map((c) => [c.kind, c.id]), [['limit', 'global'], ['limit', 'deployment:gpt-4o#0'], ['limit', 'global'], ['limit', 'deployment:gpt-4o#0']]);
      assert.deepEqual((await store.queryAudit({ object_type: 'limit', limit: 10 })).map((e) => e.action), ['limit.delete', 'limit.update', 'limit.create', 'limit.create']);
    });

    it('create of an existing id is a StoreConflict and writes nothing', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      await assert.rejects(store.create('team', team('t', { team_alias: 'other' }), audit('team.create', 'team', 't')), conflict('exists'));
      await store.createKey(key('k', 't'), hashOf('k'), audit('key.create', 'key', 'k'));
      await assert.rejects(store.createKey(key('k', 't'), hashOf('k2'), audit('key.create', 'key', 'k')), conflict('exists'));
      assert.equal(await store.findKeyBySecretHash(hashOf('k2')), undefined);
      assert.equal((await store.get('team', 't'))?.team_alias, 'alias of t');
      assert.equal((await store.queryAudit({ limit: 100 })).length, 2);
      assert.deepEqual((await allChanges(store)).map((c) => c.id), ['t', 'k']);
    });

    it('update replaces the record; StoreConflict missing when it does not exist', async (store) => {
      await store.create('tenant', tenant('acme'), audit('tenant.create', 'tenant', 'acme'));
      const changed = tenant('acme', { plan: 'enterprise', metadata: { seats: 10 }, updated_at: '2025-02-01T00:00:00.000Z' });
      await store.update('tenant', changed, auditBefore('tenant.update', 'tenant', 'acme', tenant('acme')));
      assert.deepEqual(await store.get('tenant', 'acme'), changed);
      await assert.rejects(store.update('tenant', tenant('nobody'), auditBefore('tenant.update', 'tenant', 'nobody', tenant('nobody'))), conflict('missing'));
      await assert.rejects(store.update('team', team('acme'), auditBefore('team.update', 'team', 'acme', team('acme'))), conflict('missing'));
      assert.equal((await store.queryAudit({ limit: 100 })).length, 2);
    });

    it('update: a stale before (another update came in between) is StoreConflict changed and writes nothing', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      const read = (await store.get('team', 't'))!;
      const first = { ...read, rpm_limit: 1, updated_at: '2025-02-01T00:00:00.000Z' };
      await store.update('team', first, auditBefore('team.update', 'team', 't', read));
      const before = await journal(store);
      const second = { ...read, team_alias: 'stale writer', updated_at: '2025-02-02T00:00:00.000Z' };
      await assert.rejects(store.update('team', second, auditBefore('team.update', 'team', 't', read)), conflict('changed'));
      assert.deepEqual(await store.get('team', 't'), first);
      assert.deepEqual(await journal(store), before, 'no audit entry, no change row');
      // Based on the current version, the same change goes through.
      await store.update('team', { ...first, team_alias: 'fresh writer' }, auditBefore('team.update', 'team', 't', first));
      assert.equal((await store.get('team', 't'))?.team_alias, 'fresh writer');
    });

    it('update: before must be given and name the same object', async (store) => {
      await store.create('tenant', tenant('a'), audit('tenant.create', 'tenant', 'a'));
      const missingBefore = audit('tenant.update', 'tenant', 'a') as AuditEntry & { before: ObjectTypes['tenant'] };
      await assert.rejects(store.update('tenant', tenant('a', { plan: 'x' }), missingBefore), TypeError);
      await assert.rejects(store.update('tenant', tenant('a', { plan: 'x' }), auditBefore('tenant.update', 'tenant', 'a', tenant('b'))), TypeError);
      assert.equal((await store.get('tenant', 'a'))?.plan, 'pro');
    });

    it('update: a record read with get() and passed back as before round-trips, for every kind and shape', async (store) => {
      const minimalTeam = { team_id: 'min', models: [], require_tenant: false, metadata: {}, source: 'api', created_at: T0, updated_at: T0 } as const;
      const minimalTenant = { tenant_id: 'min', models: [], metadata: {}, source: 'api', created_at: T0, updated_at: T0 } as const;
      const minimalKey: VirtualKey = {
        key_id: 'min', key_name: 'sk-tg-…0000', team_id: 't', models: [], role: 'user', status: 'active', tags: [], metadata: {},
        created_by: 'master', source: 'api', created_at: T0, updated_at: T0,
      };
      // Optional fields present as undefined are the same as absent (neither is stored).
      const withUndefined = key('undef', 't', { key_alias: undefined, expires_at: undefined, allowed_tenants: undefined, tenant_id: 'acme' });
      const records: Array<[ObjectKind, ObjectTypes[ObjectKind]]> = [
        ['team', team('full', { tpm_limit: 1000, daily_token_cap: 5, metadata: { big: 2 ** 53 - 1, tiny: 1e-7, neg: -0.5, empty: {}, list: [] } })],
        ['team', { ...minimalTeam, models: [], metadata: {} }],
        ['tenant', tenant('full', { rpm_limit: 3, name: 'Ünïcödé "quoted" \\ name' })],
        ['tenant', { ...minimalTenant, models: [], metadata: {} }],
        ['key', key('full', 't', { expires_at: isoFromNow(HOUR_MS), require_tenant: true, project: 'p', environment: 'e', rotated_at: T0, rotation_grace_seconds: 0 })],
        ['key', minimalKey],
        ['key', withUndefined],
      ];
      for (const [kind, record] of records) {
        const id = idOf(kind, record);
        if (kind === 'key') await store.createKey(record as VirtualKey, hashOf(`rt-${id}`), audit('key.create', kind, id));
        else await store.create(kind, record as never, audit(`${kind}.create`, kind, id));
        // Three round trips: each update is based on what get() returned after the last one.
        for (let round = 1; round <= 3; round++) {
          const read = (await store.get(kind, id))!;
          const next = { ...read, updated_at: `2025-03-0${round}T00:00:00.000Z` };
          await store.update(kind, next, auditBefore(`${kind}.update`, kind, id, read));
          assert.deepEqual(await store.get(kind, id), next, `${kind} ${id} round ${round}`);
        }
        // The same values as the caller holds them (other key order, an optional field set to
        // undefined) compare equal too: equality is of JSON values, not of text.
        const current = (await store.get(kind, id))!;
        const reordered = { ...Object.fromEntries(Object.entries(current).reverse()), rpm_limit: current.rpm_limit, max_budget: undefined } as ObjectTypes[ObjectKind];
        if (current.max_budget !== undefined) reordered.max_budget = current.max_budget;
        await store.update(kind, { ...current, updated_at: T0 }, auditBefore(`${kind}.update`, kind, id, reordered));
        assert.equal((await store.get(kind, id))?.updated_at, T0);
      }
      // rotateKey's compare-and-swap round-trips the same way.
      const read = (await store.get('key', 'undef'))!;
      await store.rotateKey({ ...read, rotated_at: T0 }, hashOf('rt-undef-2'), T0, auditBefore('key.rotate', 'key', 'undef', read));
      assert.equal((await store.findKeyBySecretHash(hashOf('rt-undef-2')))?.key.rotated_at, T0);
    });

    it('update: concurrent updates based on the same read: exactly one wins, the rest are changed', async (store, opened) => {
      const sibling = opened.openSibling ? await opened.openSibling() : undefined;
      try {
        const stores = sibling ? [store, sibling] : [store];
        await store.createKey(key('k', 't'), hashOf('k'), audit('key.create', 'key', 'k'));
        const read = (await store.get('key', 'k'))!;
        const before = await journal(store);
        const writers = Array.from({ length: 10 }, (_, i) =>
          stores[i % stores.length].update('key', { ...read, key_alias: `writer ${i}` }, auditBefore('key.update', 'key', 'k', read)),
        );
        const results = await Promise.allSettled(writers);
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, `exactly one winner, got ${JSON.stringify(won)}`);
        for (const r of results) if (r.status === 'rejected') conflict('changed')(r.reason);
        assert.equal((await store.get('key', 'k'))?.key_alias, `writer ${won[0]}`);
        const after = await journal(store);
        assert.equal(after.audit, before.audit + 1);
        assert.equal(after.changes, before.changes + 1);

        // The same for rotations: one new secret, the others never stored.
        const current = (await store.get('key', 'k'))!;
        const rotations = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            stores[i % stores.length].rotateKey({ ...current, key_name: `rot ${i}` }, hashOf(`rot-${i}`), T0, auditBefore('key.rotate', 'key', 'k', current)),
          ),
        );
        const rotated = rotations.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(rotated.length, 1);
        for (const r of rotations) if (r.status === 'rejected') conflict('changed')(r.reason);
        for (let i = 0; i < 10; i++) {
          assert.equal((await store.findKeyBySecretHash(hashOf(`rot-${i}`)))?.key.key_name, i === rotated[0] ? `rot ${i}` : undefined);
        }
      } finally {
        await sibling?.close();
      }
    });

    it('rotateKey: a stale before is StoreConflict changed; no secret added, none expired, nothing recorded', async (store) => {
      await store.createKey(key('k', 't'), hashOf('first'), audit('key.create', 'key', 'k'));
      const read = (await store.get('key', 'k'))!;
      const revoked = { ...read, status: 'revoked' as const, updated_at: '2025-02-01T00:00:00.000Z' };
      await store.update('key', revoked, auditBefore('key.revoke', 'key', 'k', read));
      const before = await journal(store);
      const rotation = { ...read, key_name: 'sk-tg-…new', rotated_at: T0 };
      await assert.rejects(store.rotateKey(rotation, hashOf('second'), isoFromNow(-60_000), auditBefore('key.rotate', 'key', 'k', read)), conflict('changed'));
      assert.equal(await store.findKeyBySecretHash(hashOf('second')), undefined, 'the new secret was not stored');
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('first')), { key: revoked }, 'the old secret did not get an expiry');
      assert.deepEqual(await store.get('key', 'k'), revoked);
      assert.deepEqual(await journal(store), before);
      // The hash is still free: nothing of the refused rotation remains.
      await store.createKey(key('k2', 't'), hashOf('second'), audit('key.create', 'key', 'k2'));
    });

    it('remove deletes; StoreConflict missing when it does not exist', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      await store.remove('team', 't', audit('team.delete', 'team', 't'));
      assert.equal(await store.get('team', 't'), undefined);
      await assert.rejects(store.remove('team', 't', audit('team.delete', 'team', 't')), conflict('missing'));
      await assert.rejects(store.remove('key', 'nope', audit('key.delete', 'key', 'nope')), conflict('missing'));
      await assert.rejects(store.remove('tenant', 'nope', audit('tenant.delete', 'tenant', 'nope')), conflict('missing'));
    });

    it('remove: a team that has keys (any status) is StoreConflict in_use and stays, with nothing recorded', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      await store.create('team', team('other'), audit('team.create', 'team', 'other'));
      await store.createKey(key('k', 't', { status: 'revoked' }), hashOf('k'), audit('key.create', 'key', 'k'));
      await store.createKey(key('elsewhere', 'other'), hashOf('e'), audit('key.create', 'key', 'elsewhere'));
      const before = await journal(store);
      await assert.rejects(store.remove('team', 't', audit('team.delete', 'team', 't')), conflict('in_use'));
      assert.deepEqual(await store.get('team', 't'), team('t'));
      assert.deepEqual(await journal(store), before);
      // A key moved away frees the team.
      const k = (await store.get('key', 'k'))!;
      await store.update('key', { ...k, team_id: 'other' }, auditBefore('key.update', 'key', 'k', k));
      await store.remove('team', 't', audit('team.delete', 'team', 't'));
      assert.equal(await store.get('team', 't'), undefined);
      await assert.rejects(store.remove('team', 'other', audit('team.delete', 'team', 'other')), conflict('in_use'));
    });

    it('remove: a team delete racing a key create (teamMustExist) never leaves a key without its team', async (store, opened) => {
      const sibling = opened.openSibling ? await opened.openSibling() : undefined;
      try {
        for (let round = 0; round < 20; round++) {
          const teamId = `race-${round}`;
          const keyId = `key-${round}`;
          await store.create('team', team(teamId), audit('team.create', 'team', teamId));
          const create = () => store.createKey(key(keyId, teamId), hashOf(keyId), audit('key.create', 'key', keyId), { teamMustExist: true });
          const remove = () => (sibling ?? store).remove('team', teamId, audit('team.delete', 'team', teamId));
          const [created, removed] = round % 2 ? await Promise.allSettled([create(), remove()]) : (await Promise.allSettled([remove(), create()])).reverse();
          const teamThere = (await store.get('team', teamId)) !== undefined;
          const keyThere = (await store.get('key', keyId)) !== undefined;
          assert.notEqual(created.status === 'fulfilled', removed.status === 'fulfilled', `round ${round}: exactly one of create and delete wins`);
          if (removed.status === 'rejected') {
            conflict('in_use')(removed.reason);
            assert.ok(teamThere && keyThere);
          } else {
            conflict('team_missing')((created as PromiseRejectedResult).reason);
            assert.ok(!teamThere && !keyThere, `round ${round}: no key without its team`);
          }
        }
      } finally {
        await sibling?.close();
      }
    });

    it('createKey and a key update that moves teams: teamMustExist refuses a team with no row; without it (config teams) the write goes ahead', async (store) => {
      await assert.rejects(store.createKey(key('k1', 'ghost'), hashOf('k1'), audit('key.create', 'key', 'k1'), { teamMustExist: true }), conflict('team_missing'));
      assert.equal(await store.get('key', 'k1'), undefined);
      await store.createKey(key('k2', 'declared-in-config'), hashOf('k2'), audit('key.create', 'key', 'k2'), { teamMustExist: false });
      const k2 = (await store.get('key', 'k2'))!;
      await assert.rejects(store.update('key', { ...k2, team_id: 'ghost' }, auditBefore('key.update', 'key', 'k2', k2), { teamMustExist: true }), conflict('team_missing'));
      assert.equal((await store.get('key', 'k2'))!.team_id, 'declared-in-config');
    });

    it('list: ids ascending, paged by limit and after', async (store) => {
      const ids = ['t-05', 't-01', 't-07', 't-03', 't-02', 't-06', 't-04'];
      for (const id of ids) await store.create('team', team(id), audit('team.create', 'team', id));
      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.list('team', { limit: 3, after });
        if (!page.length) break;
        pages.push(page.map((t) => t.team_id));
        after = page.at(-1)!.team_id;
      }
      assert.deepEqual(pages, [['t-01', 't-02', 't-03'], ['t-04', 't-05', 't-06'], ['t-07']]);
      assert.deepEqual(await store.list('tenant', { limit: 10 }), []);
      await assert.rejects(store.list('team', { limit: 0 }), RangeError);
      await assert.rejects(store.list('team', { limit: 1001 }), RangeError);
    });

    it('list: keys filter by team_id and status; countKeys counts any status', async (store) => {
      const keys = [key('k1', 'red'), key('k2', 'blue'), key('k3', 'red', { status: 'revoked' }), key('k4', 'red', { status: 'blocked' }), key('k5', 'red')];
      for (const k of keys) await store.createKey(k, hashOf(k.key_id), audit('key.create', 'key', k.key_id));
      const ids = async (q: Parameters<IdentityStore['list']>[1]) => (await store.list('key', q)).map((k) => k.key_id);
      assert.deepEqual(await ids({ limit: 10, team_id: 'red' }), ['k1', 'k3', 'k4', 'k5']);
      assert.deepEqual(await ids({ limit: 10, status: 'active' }), ['k1', 'k2', 'k5']);
      assert.deepEqual(await ids({ limit: 10, team_id: 'red', status: 'active', after: 'k1' }), ['k5']);
      assert.deepEqual(await ids({ limit: 2, team_id: 'red', after: 'k1' }), ['k3', 'k4']);
      assert.equal(await store.countKeys('red'), 4);
      assert.equal(await store.countKeys('blue'), 1);
      assert.equal(await store.countKeys('green'), 0);
    });

    it('createKey: the secret finds the key; a reused secret hash is a StoreConflict', async (store) => {
      const k = key('key_a', 'team');
      await store.createKey(k, hashOf('a'), audit('key.create', 'key', 'key_a'));
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('a')), { key: k });
      assert.equal(await store.findKeyBySecretHash(hashOf('unknown')), undefined);
      await assert.rejects(store.createKey(key('key_b', 'team'), hashOf('a'), audit('key.create', 'key', 'key_b')), StoreConflict);
      assert.equal(await store.get('key', 'key_b'), undefined);
    });

    it('rotateKey: the old secret works until previousValidUntil, which never extends an earlier expiry', async (store) => {
      await store.createKey(key('k', 'team'), hashOf('1'), audit('key.create', 'key', 'k'));
      const in1h = isoFromNow(HOUR_MS);
      const in2h = isoFromNow(2 * HOUR_MS);
      const rotated = key('k', 'team', { rotated_at: T0, rotation_grace_seconds: 3600 });
      await store.rotateKey(rotated, hashOf('2'), in1h, auditBefore('key.rotate', 'key', 'k', key('k', 'team')));
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('1')), { key: rotated, secret_expires_at: in1h });
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('2')), { key: rotated });
      await store.rotateKey(rotated, hashOf('3'), in2h, auditBefore('key.rotate', 'key', 'k', rotated));
      assert.equal((await store.findKeyBySecretHash(hashOf('1')))?.secret_expires_at, in1h);
      assert.equal((await store.findKeyBySecretHash(hashOf('2')))?.secret_expires_at, in2h);
      await store.rotateKey(rotated, hashOf('4'), isoFromNow(-60_000), auditBefore('key.rotate', 'key', 'k', rotated));
      for (const old of ['1', '2', '3']) assert.equal(await store.findKeyBySecretHash(hashOf(old)), undefined);
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('4')), { key: rotated });
    });

    it('rotateKey: a missing key or a reused hash is a StoreConflict and changes nothing', async (store) => {
      await store.createKey(key('a', 'team'), hashOf('a'), audit('key.create', 'key', 'a'));
      await store.createKey(key('b', 'team'), hashOf('b'), audit('key.create', 'key', 'b'));
      await assert.rejects(store.rotateKey(key('zz', 'team'), hashOf('new'), T0, auditBefore('key.rotate', 'key', 'zz', key('zz', 'team'))), conflict('missing'));
      assert.equal(await store.findKeyBySecretHash(hashOf('new')), undefined);
      await assert.rejects(store.rotateKey(key('a', 'team', { key_alias: 'x' }), hashOf('b'), T0, auditBefore('key.rotate', 'key', 'a', key('a', 'team'))), conflict('exists'));
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('a')), { key: key('a', 'team') });
      assert.equal((await store.queryAudit({ limit: 10, action: 'key.rotate' })).length, 0);
    });

    it('remove of a key deletes its secrets', async (store) => {
      await store.createKey(key('k', 'team'), hashOf('current'), audit('key.create', 'key', 'k'));
      await store.rotateKey(key('k', 'team'), hashOf('next'), isoFromNow(HOUR_MS), auditBefore('key.rotate', 'key', 'k', key('k', 'team')));
      await store.remove('key', 'k', audit('key.delete', 'key', 'k'));
      assert.equal(await store.findKeyBySecretHash(hashOf('current')), undefined);
      assert.equal(await store.findKeyBySecretHash(hashOf('next')), undefined);
      // The hashes are free again: their rows went with the key.
      await store.createKey(key('k2', 'team'), hashOf('current'), audit('key.create', 'key', 'k2'));
      await store.createKey(key('k3', 'team'), hashOf('next'), audit('key.create', 'key', 'k3'));
    });

    it('ids with quotes, SQL, placeholders and unicode round-trip harmlessly', async (store) => {
      for (const id of HOSTILE_IDS) {
        await store.create('team', team(id), audit('team.create', 'team', id, { actor: id, request_id: id }));
        await store.createKey(key(id, id), id, audit('key.create', 'key', id));
      }
      const sorted = [...HOSTILE_IDS].sort(byteOrder);
      assert.deepEqual((await store.list('team', { limit: 100 })).map((t) => t.team_id), sorted);
      assert.deepEqual((await store.list('key', { limit: 100, after: sorted[3] })).map((k) => k.key_id), sorted.slice(4));
      for (const id of HOSTILE_IDS) {
        assert.deepEqual(await store.get('team', id), team(id));
        assert.deepEqual((await store.list('key', { limit: 5, team_id: id })).map((k) => k.key_id), [id]);
        assert.equal((await store.findKeyBySecretHash(id))?.key.key_id, id);
        assert.equal(await store.countKeys(id), 1);
        const entries = await store.queryAudit({ limit: 10, actor: id });
        assert.deepEqual(entries.map((e) => [e.object_id, e.request_id]), [[id, id]]);
      }
      const dropper = "'; DROP TABLE teams; --";
      await assert.rejects(store.remove('team', dropper, audit('team.delete', 'team', dropper)), conflict('in_use'));
      await store.remove('key', dropper, audit('key.delete', 'key', dropper));
      await store.remove('team', dropper, audit('team.delete', 'team', dropper));
      assert.equal((await store.list('team', { limit: 100 })).length, HOSTILE_IDS.length - 1);
    });

    it('every mutation writes its audit entry and a change row; appendAudit only the entry', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't', { after: team('t') }));
      await store.update('team', team('t', { rpm_limit: 1 }), auditBefore('team.update', 'team', 't', team('t')));
      await store.create('tenant', tenant('n'), audit('tenant.create', 'tenant', 'n'));
      await store.createKey(key('k', 't'), hashOf('k1'), audit('key.create', 'key', 'k'));
      await store.rotateKey(key('k', 't'), hashOf('k2'), T0, auditBefore('key.rotate', 'key', 'k', key('k', 't')));
      await store.remove('key', 'k', audit('key.delete', 'key', 'k'));
      await store.remove('tenant', 'n', audit('tenant.delete', 'tenant', 'n'));
      await store.appendAudit(audit('key.list', 'key', '*', { actor: 'key:admin' }));
      const actions = (await store.queryAudit({ limit: 100 })).map((e) => e.action);
      assert.deepEqual(actions, ['key.list', 'tenant.delete', 'key.delete', 'key.rotate', 'key.create', 'tenant.create', 'team.update', 'team.create']);
      const changes = await allChanges(store);
      assert.deepEqual(changes.map((c) => [c.kind, c.id]), [['team', 't'], ['team', 't'], ['tenant', 'n'], ['key', 'k'], ['key', 'k'], ['key', 'k'], ['tenant', 'n']]);
      for (let i = 1; i < changes.length; i++) assert.ok(changes[i].seq > changes[i - 1].seq);
      assert.ok(changes.every((c) => Number.isSafeInteger(c.seq)));
    });

    it('queryAudit: newest first, filtered by actor, action, type, id, time and seq', async (store) => {
      const at = (m: number) => `2025-03-01T00:${String(m).padStart(2, '0')}:00.000Z`;
      const written: AuditEntry[] = [
        audit('team.create', 'team', 'a', { at: at(0), actor: 'master', request_id: 'req-1', after: team('a') }),
        audit('team.update', 'team', 'a', { at: at(1), actor: 'cli:ops', before: team('a'), after: team('a', { rpm_limit: 5 }) }),
        audit('key.create', 'key', 'k', { at: at(2), actor: 'master', after: key('k', 'a') }),
        audit('key.revoke', 'key', 'k', { at: at(3), actor: 'key:admin' }),
        audit('team.delete', 'team', 'a', { at: at(4), actor: 'master', before: team('a', { rpm_limit: 5 }) }),
      ];
      for (const entry of written) await store.appendAudit(entry);
      const all = await store.queryAudit({ limit: 100 });
      assert.deepEqual(all.map(({ seq, ...rest }) => rest), written.map((e) => ({ ...e, before: e.before ?? null, after: e.after ?? null })).reverse());
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].seq! > all[i].seq!);
      const actions = async (q: Omit<Parameters<IdentityStore['queryAudit']>[0], 'limit'>, limit = 100) =>
        (await store.queryAudit({ limit, ...q })).map((e) => e.action);
      assert.deepEqual(await actions({ actor: 'master' }), ['team.delete', 'key.create', 'team.create']);
      assert.deepEqual(await actions({ action: 'key.revoke' }), ['key.revoke']);
      assert.deepEqual(await actions({ object_type: 'key' }), ['key.revoke', 'key.create']);
      assert.deepEqual(await actions({ object_type: 'team', object_id: 'a', actor: 'master' }), ['team.delete', 'team.create']);
      assert.deepEqual(await actions({ since: at(1), until: at(3) }), ['key.create', 'team.update']);
      assert.deepEqual(await actions({ since: '2025-03-01T00:01:00Z' }), ['team.delete', 'key.revoke', 'key.create', 'team.update']);
      assert.deepEqual(await actions({ before_seq: all[1].seq }), ['key.create', 'team.update', 'team.create']);
      assert.deepEqual(await actions({ before_seq: all[1].seq }, 2), ['key.create', 'team.update']);
      assert.deepEqual(await actions({ actor: 'nobody' }), []);
    });

    it('changesAfter: rows after a seq in seq order, at most limit; lastChangeSeq is the newest (0 when empty)', async (store) => {
      assert.deepEqual(await store.changesAfter(0, 10), []);
      assert.equal(await store.lastChangeSeq(), 0);
      const ids = ['a', 'b', 'c', 'd', 'e'];
      for (const id of ids) await store.create('tenant', tenant(id), audit('tenant.create', 'tenant', id));
      const all = await store.changesAfter(0, 1000);
      assert.deepEqual(all.map((c) => [c.kind, c.id]), ids.map((id) => ['tenant', id]));
      for (let i = 1; i < all.length; i++) assert.ok(all[i].seq > all[i - 1].seq, 'seq strictly increases');
      assert.ok(all.every((c) => Number.isSafeInteger(c.seq) && c.seq > 0));
      assert.equal(await store.lastChangeSeq(), all.at(-1)!.seq);
      // Paging by limit and afterSeq visits every row once, in order.
      const pages: string[][] = [];
      let after = 0;
      for (;;) {
        const page = await store.changesAfter(after, 2);
        if (!page.length) break;
        pages.push(page.map((c) => c.id));
        after = page.at(-1)!.seq;
      }
      assert.deepEqual(pages, [['a', 'b'], ['c', 'd'], ['e']]);
      assert.deepEqual((await store.changesAfter(all[2].seq, 1000)).map((c) => c.id), ['d', 'e']);
      assert.deepEqual(await store.changesAfter(all[4].seq, 1000), []);
      assert.deepEqual((await store.changesAfter(all[1].seq - 1, 1)).map((c) => c.id), ['b']);
      await assert.rejects(store.changesAfter(0, 0), RangeError);
      await assert.rejects(store.changesAfter(0, 1001), RangeError);
      await assert.rejects(store.changesAfter(1.5, 10), TypeError);
    });

    it('changesAfter: refused writes add no row; seqs keep increasing across every committed write', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      const read = (await store.get('team', 't'))!;
      let last = await store.lastChangeSeq();
      const committed = async (work: Promise<void>) => {
        await work;
        const seq = await store.lastChangeSeq();
        assert.ok(seq > last, `seq ${seq} after ${last}`);
        last = seq;
      };
      const refused = async (work: Promise<void>, reason: ConflictReason) => {
        await assert.rejects(work, conflict(reason));
        assert.equal(await store.lastChangeSeq(), last);
      };
      await refused(store.create('team', team('t'), audit('team.create', 'team', 't')), 'exists');
      await committed(store.update('team', { ...read, rpm_limit: 7 }, auditBefore('team.update', 'team', 't', read)));
      await refused(store.update('team', { ...read, rpm_limit: 8 }, auditBefore('team.update', 'team', 't', read)), 'changed');
      await committed(store.createKey(key('k', 't'), hashOf('k'), audit('key.create', 'key', 'k')));
      await refused(store.remove('team', 't', audit('team.delete', 'team', 't')), 'in_use');
      await committed(store.rotateKey(key('k', 't'), hashOf('k2'), T0, auditBefore('key.rotate', 'key', 'k', key('k', 't'))));
      await committed(store.remove('key', 'k', audit('key.delete', 'key', 'k')));
      await committed(store.remove('team', 't', audit('team.delete', 'team', 't')));
      await refused(store.remove('team', 't', audit('team.delete', 'team', 't')), 'missing');
      await store.appendAudit(audit('key.list', 'key', '*'));
      assert.equal(await store.lastChangeSeq(), last, 'appendAudit writes no change row');
      assert.deepEqual((await allChanges(store)).map((c) => `${c.kind}:${c.id}`), ['team:t', 'team:t', 'key:k', 'key:k', 'key:k', 'team:t']);
    });

    it('prune: deletes change rows before the instant and secrets expired before it', async (store) => {
      await store.createKey(key('k', 't'), hashOf('old'), audit('key.create', 'key', 'k'));
      await store.rotateKey(key('k', 't'), hashOf('grace'), '2000-01-01T00:00:00.000Z', auditBefore('key.rotate', 'key', 'k', key('k', 't')));
      await store.rotateKey(key('k', 't'), hashOf('current'), isoFromNow(HOUR_MS), auditBefore('key.rotate', 'key', 'k', key('k', 't')));
      assert.equal((await allChanges(store)).length, 3);
      await store.prune(0);
      assert.equal((await allChanges(store)).length, 3);
      // Change rows carry the database clock; a minute's margin covers a server clock that is a little ahead.
      const now = Date.now() + 60_000;
      // Expired but not pruned: the hash is still taken.
      await assert.rejects(store.createKey(key('other', 't'), hashOf('old'), audit('key.create', 'key', 'other')), StoreConflict);
      const lastBefore = await store.lastChangeSeq();
      await store.prune(now);
      assert.deepEqual(await allChanges(store), []);
      await store.createKey(key('other', 't'), hashOf('old'), audit('key.create', 'key', 'other'));
      // Still in its grace period, so kept.
      assert.equal((await store.findKeyBySecretHash(hashOf('grace')))?.key.key_id, 'k');
      await assert.rejects(store.createKey(key('other2', 't'), hashOf('grace'), audit('key.create', 'key', 'other2')), StoreConflict);
      assert.equal((await store.findKeyBySecretHash(hashOf('current')))?.key.key_id, 'k');
      const rest = await allChanges(store);
      assert.deepEqual(rest.map((c) => c.id), ['other']);
      assert.ok(rest[0].seq > lastBefore, 'seqs are not reused after a prune');
    });

    test('after close, calls fail with StoreUnavailable', async () => {
      const opened = await open();
      try {
        await opened.store.migrate();
        await opened.store.close();
        await assert.rejects(opened.store.get('team', 'x'), StoreUnavailable);
        await opened.store.close();
      } finally {
        await opened.cleanup();
      }
    });
  });
}
