// The one contract every IdentityStore backend passes. Each test gets a fresh, empty database
// from `open` (migrated here, except where migration itself is under test).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { AuditEntry } from '../../src/identity/records.ts';
import { StoreConflict, StoreUnavailable, type IdentityStore } from '../../src/stores/identity-store.ts';
import { HOSTILE_IDS, HOUR_MS, T0, audit, byteOrder, hashOf, isoFromNow, key, team, tenant } from './identity-fixtures.ts';

export interface OpenedStore {
  store: IdentityStore;
  /** Closes the store and removes its database. */
  cleanup: () => Promise<void>;
  /** Another store on the same database (absent for in-memory SQLite). The test closes it. */
  openSibling?: () => Promise<IdentityStore>;
}

export function identityStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  async function withStore(work: (store: IdentityStore, opened: OpenedStore) => Promise<void>, migrate = true): Promise<void> {
    const opened = await open();
    try {
      if (migrate) await opened.store.migrate();
      await work(opened.store, opened);
    } finally {
      await opened.cleanup();
    }
  }
  const it = (title: string, work: (store: IdentityStore, opened: OpenedStore) => Promise<void>) => test(title, () => withStore(work));

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

    it('create of an existing id is a StoreConflict and writes nothing', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      await assert.rejects(store.create('team', team('t', { team_alias: 'other' }), audit('team.create', 'team', 't')), StoreConflict);
      await store.createKey(key('k', 't'), hashOf('k'), audit('key.create', 'key', 'k'));
      await assert.rejects(store.createKey(key('k', 't'), hashOf('k2'), audit('key.create', 'key', 'k')), StoreConflict);
      assert.equal(await store.findKeyBySecretHash(hashOf('k2')), undefined);
      assert.equal((await store.get('team', 't'))?.team_alias, 'alias of t');
      assert.equal((await store.queryAudit({ limit: 100 })).length, 2);
      assert.deepEqual((await store.changesSince(0)).changes.map((c) => c.id), ['t', 'k']);
    });

    it('update replaces the record; StoreConflict when it does not exist', async (store) => {
      await store.create('tenant', tenant('acme'), audit('tenant.create', 'tenant', 'acme'));
      const changed = tenant('acme', { plan: 'enterprise', metadata: { seats: 10 }, updated_at: '2025-02-01T00:00:00.000Z' });
      await store.update('tenant', changed, audit('tenant.update', 'tenant', 'acme'));
      assert.deepEqual(await store.get('tenant', 'acme'), changed);
      await assert.rejects(store.update('tenant', tenant('nobody'), audit('tenant.update', 'tenant', 'nobody')), StoreConflict);
      await assert.rejects(store.update('team', team('acme'), audit('team.update', 'team', 'acme')), StoreConflict);
      assert.equal((await store.queryAudit({ limit: 100 })).length, 2);
    });

    it('remove deletes; StoreConflict when it does not exist', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't'));
      await store.remove('team', 't', audit('team.delete', 'team', 't'));
      assert.equal(await store.get('team', 't'), undefined);
      await assert.rejects(store.remove('team', 't', audit('team.delete', 'team', 't')), StoreConflict);
      await assert.rejects(store.remove('key', 'nope', audit('key.delete', 'key', 'nope')), StoreConflict);
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
      await store.rotateKey(rotated, hashOf('2'), in1h, audit('key.rotate', 'key', 'k'));
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('1')), { key: rotated, secret_expires_at: in1h });
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('2')), { key: rotated });
      await store.rotateKey(rotated, hashOf('3'), in2h, audit('key.rotate', 'key', 'k'));
      assert.equal((await store.findKeyBySecretHash(hashOf('1')))?.secret_expires_at, in1h);
      assert.equal((await store.findKeyBySecretHash(hashOf('2')))?.secret_expires_at, in2h);
      await store.rotateKey(rotated, hashOf('4'), isoFromNow(-60_000), audit('key.rotate', 'key', 'k'));
      for (const old of ['1', '2', '3']) assert.equal(await store.findKeyBySecretHash(hashOf(old)), undefined);
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('4')), { key: rotated });
    });

    it('rotateKey: a missing key or a reused hash is a StoreConflict and changes nothing', async (store) => {
      await store.createKey(key('a', 'team'), hashOf('a'), audit('key.create', 'key', 'a'));
      await store.createKey(key('b', 'team'), hashOf('b'), audit('key.create', 'key', 'b'));
      await assert.rejects(store.rotateKey(key('zz', 'team'), hashOf('new'), T0, audit('key.rotate', 'key', 'zz')), StoreConflict);
      assert.equal(await store.findKeyBySecretHash(hashOf('new')), undefined);
      await assert.rejects(store.rotateKey(key('a', 'team', { key_alias: 'x' }), hashOf('b'), T0, audit('key.rotate', 'key', 'a')), StoreConflict);
      assert.deepEqual(await store.findKeyBySecretHash(hashOf('a')), { key: key('a', 'team') });
      assert.equal((await store.queryAudit({ limit: 10, action: 'key.rotate' })).length, 0);
    });

    it('remove of a key deletes its secrets', async (store) => {
      await store.createKey(key('k', 'team'), hashOf('current'), audit('key.create', 'key', 'k'));
      await store.rotateKey(key('k', 'team'), hashOf('next'), isoFromNow(HOUR_MS), audit('key.rotate', 'key', 'k'));
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
      await store.remove('team', "'; DROP TABLE teams; --", audit('team.delete', 'team', "'; DROP TABLE teams; --"));
      assert.equal((await store.list('team', { limit: 100 })).length, HOSTILE_IDS.length - 1);
    });

    it('every mutation writes its audit entry and a change row; appendAudit only the entry', async (store) => {
      await store.create('team', team('t'), audit('team.create', 'team', 't', { after: team('t') }));
      await store.update('team', team('t', { rpm_limit: 1 }), audit('team.update', 'team', 't'));
      await store.create('tenant', tenant('n'), audit('tenant.create', 'tenant', 'n'));
      await store.createKey(key('k', 't'), hashOf('k1'), audit('key.create', 'key', 'k'));
      await store.rotateKey(key('k', 't'), hashOf('k2'), T0, audit('key.rotate', 'key', 'k'));
      await store.remove('key', 'k', audit('key.delete', 'key', 'k'));
      await store.remove('tenant', 'n', audit('tenant.delete', 'tenant', 'n'));
      await store.appendAudit(audit('key.list', 'key', '*', { actor: 'key:admin' }));
      const actions = (await store.queryAudit({ limit: 100 })).map((e) => e.action);
      assert.deepEqual(actions, ['key.list', 'tenant.delete', 'key.delete', 'key.rotate', 'key.create', 'tenant.create', 'team.update', 'team.create']);
      const { changes } = await store.changesSince(0);
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

    it('changesSince: rows at or after sinceMs in seq order, and now from the database clock', async (store) => {
      const first = await store.changesSince(0);
      assert.deepEqual(first.changes, []);
      assert.ok(Math.abs(first.now - Date.now()) < 5_000, `database clock ${first.now} is near the process clock`);
      await store.create('team', team('a'), audit('team.create', 'team', 'a'));
      await store.create('team', team('b'), audit('team.create', 'team', 'b'));
      const second = await store.changesSince(first.now);
      assert.deepEqual(second.changes.map((c) => c.id), ['a', 'b']);
      assert.ok(second.now >= first.now);
      // Let the database clock pass second.now, so the next change is the only one after it.
      while ((await store.changesSince(0)).now <= second.now) await delay(1);
      await store.create('tenant', tenant('c'), audit('tenant.create', 'tenant', 'c'));
      assert.deepEqual((await store.changesSince(second.now + 1)).changes.map((c) => c.id), ['c']);
      assert.deepEqual((await store.changesSince(second.now + HOUR_MS)).changes, []);
    });

    it('prune: deletes change rows before the instant and secrets expired before it', async (store) => {
      await store.createKey(key('k', 't'), hashOf('old'), audit('key.create', 'key', 'k'));
      await store.rotateKey(key('k', 't'), hashOf('grace'), '2000-01-01T00:00:00.000Z', audit('key.rotate', 'key', 'k'));
      await store.rotateKey(key('k', 't'), hashOf('current'), isoFromNow(HOUR_MS), audit('key.rotate', 'key', 'k'));
      const { changes, now } = await store.changesSince(0);
      assert.equal(changes.length, 3);
      await store.prune(0);
      assert.equal((await store.changesSince(0)).changes.length, 3);
      // Expired but not pruned: the hash is still taken.
      await assert.rejects(store.createKey(key('other', 't'), hashOf('old'), audit('key.create', 'key', 'other')), StoreConflict);
      await store.prune(now + 1);
      assert.deepEqual((await store.changesSince(0)).changes, []);
      await store.createKey(key('other', 't'), hashOf('old'), audit('key.create', 'key', 'other'));
      // Still in its grace period, so kept.
      assert.equal((await store.findKeyBySecretHash(hashOf('grace')))?.key.key_id, 'k');
      await assert.rejects(store.createKey(key('other2', 't'), hashOf('grace'), audit('key.create', 'key', 'other2')), StoreConflict);
      assert.equal((await store.findKeyBySecretHash(hashOf('current')))?.key.key_id, 'k');
      assert.deepEqual((await store.changesSince(0)).changes.map((c) => c.id), ['other']);
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
