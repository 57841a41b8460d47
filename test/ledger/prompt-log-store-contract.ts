// The one contract every PromptLogStore backend passes. Each test gets a fresh, empty database
// from `open` (migrated here, except where migration itself is under test).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DELETE_CHUNK, type PromptLogRow, type PromptLogSelector, type PromptLogStore } from '../../src/ledger/prompt-log/prompt-log-store.ts';
import { storeContractRunner } from '../helpers/store-contract-runner.ts';

export interface OpenedPromptLogStore {
  store: PromptLogStore;
  /** Closes the store and removes its database. */
  cleanup: () => Promise<void>;
  /** Another store on the same database (absent for in-memory SQLite). The test closes it. */
  openSibling?: () => Promise<PromptLogStore>;
}

const T0 = Date.parse('2030-06-01T12:00:00.000Z');
const DAY = 86_400_000;

export function promptRow(id: string, fields: Partial<PromptLogRow> = {}): PromptLogRow {
  return {
    request_id: id,
    ts: new Date(T0).toISOString(),
    expires_at: new Date(T0 + 30 * DAY).toISOString(),
    tenant_id: 'tenant-a',
    team_id: 'team-a',
    key_id: 'key_0123456789abcdef0123',
    user_id_hash: '0123456789abcdef0123456789abcdef',
    model_alias: 'gpt-4o',
    prompt: JSON.stringify({ messages: [{ role: 'user', content: `hello from ${id}` }] }),
    completion: `hi ${id}`,
    ...fields,
  };
}

/** Text that would break string-built SQL, placeholders or a naive encoder. */
const HOSTILE = ["o'brien", 'say "hi"', "'; DROP TABLE prompt_log; --", '$1', '?', ':name', 'back\\slash', '%_%', 'ünïcödé 团队 🚀', 'tab\tnew\nline'];

export function promptLogStoreContract(name: string, open: () => Promise<OpenedPromptLogStore>): void {
  const { withStore, it } = storeContractRunner(open);

  describe(`PromptLogStore contract: ${name}`, () => {
    test('migrate: version 0 on an empty database; each version applied once', () =>
      withStore(async (store) => {
        assert.equal(await store.schemaVersion(), 0);
        const first = await store.migrate();
        assert.deepEqual(first, { applied: [1], version: 1 });
        assert.equal(await store.schemaVersion(), 1);
        assert.deepEqual(await store.migrate(), { applied: [], version: 1 });
      }, false));

    test('migrate: three instances at once apply each version exactly once', async (t) => {
      const opened = await open();
      const stores = [opened.store];
      try {
        if (!opened.openSibling) return t.skip('needs a database that several stores can open');
        stores.push(await opened.openSibling(), await opened.openSibling());
        const reports = await Promise.all(stores.map((s) => s.migrate()));
        assert.ok(reports.every((r) => r.version === 1));
        assert.deepEqual(reports.flatMap((r) => r.applied), [1]);
      } finally {
        await Promise.all(stores.slice(1).map((s) => s.close()));
        await opened.cleanup();
      }
    });

    it('save and get: every field round-trips, nulls included', async (store) => {
      const full = promptRow('req-full');
      const sparse = promptRow('req-sparse', { tenant_id: null, team_id: null, key_id: null, user_id_hash: null, model_alias: null, completion: '' });
      assert.equal(await store.save([full, sparse]), 2);
      assert.deepEqual(await store.get('req-full'), full);
      assert.deepEqual(await store.get('req-sparse'), sparse);
      assert.equal(await store.get('req-missing'), undefined);
    });

    it('save: timestamps keep their milliseconds and come back in UTC', async (store) => {
      await store.save([promptRow('req-tz', { ts: '2030-06-01T14:00:00.123+02:00', expires_at: '2030-07-01T00:00:00.999Z' })]);
      const row = await store.get('req-tz');
      assert.equal(row?.ts, '2030-06-01T12:00:00.123Z');
      assert.equal(row?.expires_at, '2030-07-01T00:00:00.999Z');
    });

    it('save: hostile text, unicode and large prompts are stored exactly', async (store) => {
      const rows = HOSTILE.map((text, i) => promptRow(`req-hostile-${i}`, { prompt: JSON.stringify({ content: text }), completion: text, model_alias: text, tenant_id: text }));
      const big = promptRow('req-big', { prompt: JSON.stringify({ content: 'x'.repeat(300_000) }), completion: '🚀'.repeat(50_000) });
      assert.equal(await store.save([...rows, big]), rows.length + 1);
      for (const row of [...rows, big]) assert.deepEqual(await store.get(row.request_id), row);
      assert.equal(await store.get(HOSTILE[2]!), undefined);
    });

    it('save: idempotent on request_id (the stored row stays, duplicates are not counted)', async (store) => {
      const first = promptRow('req-dup', { completion: 'first' });
      assert.equal(await store.save([first]), 1);
      assert.equal(await store.save([promptRow('req-dup', { completion: 'second' }), promptRow('req-new')]), 1);
      assert.equal((await store.get('req-dup'))?.completion, 'first');
      // Within one batch, the first row of a request_id is kept.
      assert.equal(await store.save([promptRow('req-twice', { completion: 'a' }), promptRow('req-twice', { completion: 'b' })]), 1);
      assert.equal((await store.get('req-twice'))?.completion, 'a');
      assert.equal(await store.save([]), 0);
    });

    it('save: a batch with a malformed row stores nothing', async (store) => {
      const bad = { ...promptRow('req-bad'), ts: 'yesterday' };
      await assert.rejects(store.save([promptRow('req-ok'), bad]), TypeError);
      await assert.rejects(store.save([{ ...promptRow('req-bad2'), prompt: undefined as unknown as string }]), TypeError);
      await assert.rejects(store.save([{ ...promptRow('req-bad3'), tenant_id: 7 as unknown as string }]), TypeError);
      await assert.rejects(store.save([promptRow('')]), TypeError);
      assert.equal(await store.get('req-ok'), undefined);
    });

    it('deleteBy: by request, by user hash, by tenant; only those rows, and the count', async (store) => {
      await store.save([
        promptRow('r1', { tenant_id: 't1', user_id_hash: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }),
        promptRow('r2', { tenant_id: 't1', user_id_hash: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' }),
        promptRow('r3', { tenant_id: 't2', user_id_hash: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }),
        promptRow('r4', { tenant_id: 't2', user_id_hash: null }),
        promptRow('r5', { tenant_id: null, user_id_hash: 'cccccccccccccccccccccccccccccccc' }),
        promptRow('r6', { tenant_id: 't3', user_id_hash: null }),
      ]);
      const left = async () => {
        const out: string[] = [];
        for (const id of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) if (await store.get(id)) out.push(id);
        return out;
      };
      assert.equal(await store.deleteBy({ requestId: 'r6' }), 1);
      assert.equal(await store.deleteBy({ requestId: 'r6' }), 0);
      assert.deepEqual(await left(), ['r1', 'r2', 'r3', 'r4', 'r5']);
      assert.equal(await store.deleteBy({ userHash: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }), 2);
      assert.deepEqual(await left(), ['r2', 'r4', 'r5']);
      assert.equal(await store.deleteBy({ tenantId: 't1' }), 1);
      assert.deepEqual(await left(), ['r4', 'r5']);
      assert.equal(await store.deleteBy({ tenantId: 'nobody' }), 0);
      assert.equal(await store.deleteBy({ userHash: 'dddddddddddddddddddddddddddddddd' }), 0);
      assert.deepEqual(await left(), ['r4', 'r5']);
    });

    it('deleteBy: values are parameters, never SQL or patterns', async (store) => {
      await store.save([promptRow('keep-1', { tenant_id: 'plain' }), ...HOSTILE.map((text, i) => promptRow(`h${i}`, { tenant_id: text }))]);
      for (const text of HOSTILE) assert.equal(await store.deleteBy({ tenantId: text }), 1, text);
      assert.equal(await store.deleteBy({ tenantId: '%' }), 0);
      assert.ok(await store.get('keep-1'));
    });

    it('deleteBy: exactly one non-empty selector, else TypeError', async (store) => {
      const bad = [{}, { requestId: 'a', tenantId: 'b' }, { requestId: '' }, { tenant: 'x' }, { userHash: 5 }] as unknown as PromptLogSelector[];
      for (const selector of bad) await assert.rejects(store.deleteBy(selector), TypeError, JSON.stringify(selector));
    });

    it(`deleteBy and purgeExpired: more than ${DELETE_CHUNK} rows are all deleted and counted`, async (store) => {
      const many = DELETE_CHUNK + 37;
      const rows = Array.from({ length: many }, (_, i) => promptRow(`bulk-${i}`, { tenant_id: 'bulk', prompt: '{}', completion: '' }));
      await store.save(rows);
      await store.save([promptRow('other', { tenant_id: 'other' })]);
      assert.equal(await store.deleteBy({ tenantId: 'bulk' }), many);
      assert.ok(await store.get('other'));
      const expiring = Array.from({ length: many }, (_, i) => promptRow(`old-${i}`, { expires_at: new Date(T0 + DAY).toISOString(), prompt: '{}', completion: '' }));
      await store.save(expiring);
      assert.equal(await store.purgeExpired(T0 + DAY), many);
      assert.equal(await store.purgeExpired(T0 + DAY), 0);
      assert.ok(await store.get('other'));
    });

    it('purgeExpired: deletes rows whose expiry is at or before now, keeps the rest', async (store) => {
      await store.save([
        promptRow('past', { expires_at: new Date(T0 - 1).toISOString() }),
        promptRow('now', { expires_at: new Date(T0).toISOString() }),
        promptRow('future', { expires_at: new Date(T0 + 1).toISOString() }),
        promptRow('far', { expires_at: new Date(T0 + 3650 * DAY).toISOString() }),
      ]);
      assert.equal(await store.purgeExpired(T0), 2);
      assert.equal(await store.get('past'), undefined);
      assert.equal(await store.get('now'), undefined);
      assert.ok(await store.get('future'));
      assert.equal(await store.purgeExpired(T0), 0);
      assert.equal(await store.purgeExpired(T0 + 1), 1);
      assert.ok(await store.get('far'));
      await assert.rejects(store.purgeExpired(Number.NaN), TypeError);
    });

    it('a sibling store sees the rows and deletions of another', async (store, opened) => {
      if (!opened.openSibling) return;
      const sibling = await opened.openSibling();
      try {
        await store.save([promptRow('shared')]);
        assert.deepEqual(await sibling.get('shared'), promptRow('shared'));
        assert.equal(await sibling.deleteBy({ requestId: 'shared' }), 1);
        assert.equal(await store.get('shared'), undefined);
      } finally {
        await sibling.close();
      }
    });

    it('close: twice is fine', async (store) => {
      await store.close();
      await store.close();
    });
  });
}
