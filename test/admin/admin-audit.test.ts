import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { AuditEntry } from '../../src/identity/records.ts';
import { ACTOR, assertNoSecrets, rejects, startAdmin, type AdminHarness } from './admin-harness.ts';

let h: AdminHarness;
beforeEach(async () => {
  h = await startAdmin();
});
afterEach(() => h.close());

/** Runs one of every mutation; returns each response, the secrets handed out, and the expected audit trail. */
async function everyAction(harness: AdminHarness) {
  const s = harness.service;
  const responses: unknown[] = [];
  const expected: Array<[string, string, string]> = [];
  const record = async <T>(action: string, type: string, id: string, call: Promise<T>): Promise<T> => {
    const result = await call;
    responses.push(result);
    expected.push([action, type, id]);
    return result;
  };
  await record('team.create', 'team', 't1', s.createTeam({ team_id: 't1' }, ACTOR));
  await record('team.update', 'team', 't1', s.updateTeam('t1', { team_alias: 'x' }, ACTOR));
  await record('tenant.create', 'tenant', 'n1', s.createTenant({ tenant_id: 'n1' }, ACTOR));
  await record('tenant.update', 'tenant', 'n1', s.updateTenant('n1', { plan: 'pro' }, ACTOR));
  const generated = await s.generateKey({ team_id: 't1' }, ACTOR);
  expected.push(['key.generate', 'key', generated.key_id]);
  const id = generated.key_id;
  await record('key.update', 'key', id, s.updateKey(id, { key_alias: 'k' }, ACTOR));
  const rotated = await s.rotateKey(id, { grace_period: '1h' }, ACTOR);
  expected.push(['key.rotate', 'key', id]);
  await record('key.block', 'key', id, s.blockKey(id, ACTOR));
  await record('key.unblock', 'key', id, s.unblockKey(id, ACTOR));
  await record('key.revoke', 'key', id, s.revokeKey(id, ACTOR));
  await record('key.delete', 'key', id, s.deleteKey(id, ACTOR));
  await record('tenant.delete', 'tenant', 'n1', s.deleteTenant('n1', ACTOR));
  await record('team.delete', 'team', 't1', s.deleteTeam('t1', ACTOR));
  for (const read of [s.getTeam('t1').catch(() => null), s.listTeams({}), s.listTenants({}), s.listKeys({}), s.queryAudit({})]) responses.push(await read);
  return { responses, secrets: [generated.key, rotated.key], expected, keyId: id };
}

test('every mutation writes one audit entry with actor, request id, before and after', async () => {
  const { expected, keyId } = await everyAction(h);
  const { data } = await h.service.queryAudit({ limit: 1000 });
  const trail = [...data].reverse();
  assert.deepEqual(trail.map((e) => [e.action, e.object_type, e.object_id]), expected);
  for (const entry of trail) {
    assert.equal(entry.actor, 'master');
    assert.equal(entry.request_id, 'req-test-1');
    assert.ok(typeof entry.seq === 'number');
    const kind = entry.action.split('.')[1];
    if (kind === 'create' || kind === 'generate') assert.equal(entry.before ?? null, null);
    else assert.ok(entry.before, `${entry.action} has before`);
    if (kind === 'delete') assert.equal(entry.after ?? null, null);
    else assert.ok(entry.after, `${entry.action} has after`);
  }
  const byAction = new Map(trail.map((e) => [e.action, e]));
  assert.equal((byAction.get('team.update')!.after as { team_alias?: string }).team_alias, 'x');
  assert.equal((byAction.get('key.block')!.before as { status: string }).status, 'active');
  assert.equal((byAction.get('key.block')!.after as { status: string }).status, 'blocked');
  assert.equal((byAction.get('key.revoke')!.after as { status: string }).status, 'revoked');
  assert.notEqual((byAction.get('key.rotate')!.before as { key_name: string }).key_name, (byAction.get('key.rotate')!.after as { key_name: string }).key_name);
  assert.equal(byAction.get('key.delete')!.object_id, keyId);
});

test('no audit entry and no response other than generate/rotate contains a secret or its hash', async () => {
  const { responses, secrets } = await everyAction(h);
  const { data } = await h.service.queryAudit({ limit: 1000 });
  assertNoSecrets(data, secrets);
  assertNoSecrets(responses, secrets);
});

test('notify gets (kind, id) after each committed mutation, in order', async () => {
  const { expected } = await everyAction(h);
  assert.deepEqual(h.notified, expected.map(([, type, id]) => [type, id]));
});

test('notify runs after the store write resolved', async () => {
  const seen: boolean[] = [];
  const original = h.store.create.bind(h.store);
  let written = false;
  h.store.create = async (...args: Parameters<typeof original>) => {
    await original(...args);
    written = true;
  };
  h.notified.push = (...items) => {
    seen.push(written);
    return Array.prototype.push.apply(h.notified, items);
  };
  await h.service.createTeam({ team_id: 'x' }, ACTOR);
  assert.deepEqual(seen, [true]);
});

test('queryAudit filters, pages newest first with before_seq, and coerces query-string numbers', async () => {
  await everyAction(h);
  const keyEntries = await h.service.queryAudit({ object_type: 'key' });
  assert.ok(keyEntries.data.every((e) => e.object_type === 'key'));
  assert.equal(keyEntries.data.length, 7);
  assert.deepEqual((await h.service.queryAudit({ action: 'team.create' })).data.map((e) => e.object_id), ['t1']);
  assert.equal((await h.service.queryAudit({ actor: 'someone-else' })).data.length, 0);

  const first = await h.service.queryAudit({ limit: '3' });
  assert.equal(first.data.length, 3);
  assert.equal(first.next, String(first.data[2]!.seq));
  const second = await h.service.queryAudit({ limit: '3', before_seq: first.next });
  assert.ok(second.data.every((e: AuditEntry) => e.seq! < Number(first.next)));
  const all = (await h.service.queryAudit({})).data;
  assert.equal(all.length, 13);
  assert.equal((await h.service.queryAudit({ limit: 13 })).next, String(all[12]!.seq));
  assert.equal((await h.service.queryAudit({ limit: 14 })).next, undefined);

  const at = all[0]!.at;
  assert.equal((await h.service.queryAudit({ since: '2000-01-01T00:00:00Z', until: '2000-01-02T00:00:00Z' })).data.length, 0);
  assert.equal((await h.service.queryAudit({ since: at })).data.length >= 1, true);
});

test('queryAudit rejects bad filters with 400', async () => {
  await rejects(h.service.queryAudit({ object_type: 'user' }), 'invalid_request', 'object_type');
  await rejects(h.service.queryAudit({ limit: '0' }), 'invalid_request', 'limit');
  await rejects(h.service.queryAudit({ limit: '5000' }), 'invalid_request', 'limit');
  await rejects(h.service.queryAudit({ before_seq: 'abc' }), 'invalid_request', 'before_seq');
  await rejects(h.service.queryAudit({ until: '2020-13-01T00:00:00Z' }), 'invalid_request', 'until');
});
