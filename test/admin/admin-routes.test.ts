import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createAdminRouter } from '../../src/admin/admin-routes.ts';
import { toGatewayError } from '../../src/errors/to-response.ts';
import { sendError } from '../../src/http/respond.ts';
import { ClientWatchSlot, createRequestContext } from '../../src/pipeline/request-context.ts';
import { startAdmin, type AdminHarness } from './admin-harness.ts';
import { MemoryCounterStore } from '../../src/limits/memory-counter-store.ts';
import { createSpendReader } from '../../src/limits/spend-report.ts';

let h: AdminHarness;
let server: Server;
let base: string;

before(async () => {
  h = await startAdmin();
  const spend = { read: createSpendReader(new MemoryCounterStore(), true, () => Date.UTC(2026, 11, 15)), global: () => ({ max_budget: 100, budget_duration: '1mo' }) };
  const router = createAdminRouter(h.service, { maxBodyBytes: 64 * 1024, limits: h.limits, spend });
  server = createServer((req, res) => {
    const ctx = createRequestContext(req.headers, performance.now(), new ClientWatchSlot());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    router(ctx, req, res, q === -1 ? url : url.slice(0, q), { id: 'master' })
      .catch((err) => sendError(res, ctx, toGatewayError(err, ctx.requestId), 'openai'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await h.close();
});

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function call(method: string, path: string, body?: unknown, raw?: string): Promise<Reply> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', 'x-request-id': 'req-http' } };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

function assertError(reply: Reply, status: number, code: string, param?: string | null): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.deepEqual(Object.keys(reply.body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(reply.body.error.code, code);
  assert.equal(reply.headers.get('x-gateway-error-code'), code);
  assert.equal(reply.headers.get('x-request-id'), 'req-http');
  if (param !== undefined) assert.equal(reply.body.error.param, param);
}

describe('teams and tenants', () => {
  for (const [plural, idField] of [['teams', 'team_id'], ['tenants', 'tenant_id']] as const) {
    test(`${plural}: create 201, get, list, patch, delete`, async () => {
      const created = await call('POST', `/admin/${plural}`, { [idField]: 'x1', metadata: { a: 1 } });
      assert.equal(created.status, 201);
      assert.equal(created.body[idField], 'x1');
      assert.equal(created.headers.get('x-request-id'), 'req-http');
      assert.equal(created.headers.get('cache-control'), null);
      assert.deepEqual((await call('GET', `/admin/${plural}/x1`)).body, created.body);
      await call('POST', `/admin/${plural}`, { [idField]: 'x2' });
      const page = await call('GET', `/admin/${plural}?limit=1`);
      assert.equal(page.status, 200);
      assert.deepEqual(page.body.data.map((o: any) => o[idField]), ['x1']);
      assert.equal(page.body.next, 'x1');
      assert.deepEqual((await call('GET', `/admin/${plural}?after=x1`)).body.data.map((o: any) => o[idField]), ['x2']);
      const patched = await call('PATCH', `/admin/${plural}/x1`, { metadata: null, rpm_limit: 3 });
      assert.equal(patched.status, 200);
      assert.deepEqual(patched.body.metadata, {});
      assert.equal(patched.body.rpm_limit, 3);
      const deleted = await call('DELETE', `/admin/${plural}/x1`);
      assert.equal(deleted.status, 200);
      assert.deepEqual(deleted.body, { deleted: true, [idField]: 'x1' });
      assertError(await call('GET', `/admin/${plural}/x1`), 404, 'resource_not_found', null);
    });
  }

  test('ids are percent-decoded; bad encoding is a 400', async () => {
    await call('POST', '/admin/teams', { team_id: 'ops@corp:eu' });
    assert.equal((await call('GET', '/admin/teams/ops%40corp%3Aeu')).body.team_id, 'ops@corp:eu');
    assertError(await call('GET', '/admin/teams/%E0%A4%A'), 400, 'invalid_request', 'team_id');
  });
});

describe('keys', () => {
  test('generate 201 with the secret and no-store; reads never carry it', async () => {
    await call('POST', '/admin/teams', { team_id: 'k-team' });
    const generated = await call('POST', '/admin/keys', { team_id: 'k-team', key_alias: 'ci' });
    assert.equal(generated.status, 201);
    assert.match(generated.body.key, /^sk-tg-/);
    assert.equal(generated.headers.get('cache-control'), 'no-store');
    const id = generated.body.key_id;
    const got = await call('GET', `/admin/keys/${id}`);
    assert.equal(got.body.key, undefined);
    assert.equal(got.headers.get('cache-control'), null);
    assert.deepEqual((await call('GET', '/admin/keys?team_id=k-team&status=active')).body.data.map((k: any) => k.key_id), [id]);
    assert.equal((await call('PATCH', `/admin/keys/${id}`, { key_alias: 'cd' })).body.key_alias, 'cd');

    const rotated = await call('POST', `/admin/keys/${id}/rotate`, { grace_period: '0s' });
    assert.equal(rotated.status, 200);
    assert.equal(rotated.headers.get('cache-control'), 'no-store');
    assert.match(rotated.body.key, /^sk-tg-/);
    assert.notEqual(rotated.body.key, generated.body.key);
    const bare = await call('POST', `/admin/keys/${id}/rotate`);
    assert.equal(bare.status, 200, JSON.stringify(bare.body));
    assert.equal(bare.body.rotation_grace_seconds, 3600);

    assert.equal((await call('POST', `/admin/keys/${id}/block`)).body.status, 'blocked');
    assert.equal((await call('POST', `/admin/keys/${id}/unblock`, {})).body.status, 'active');
    assertError(await call('POST', `/admin/keys/${id}/block`, { reason: 'x' }), 400, 'invalid_request', 'reason');
    const revoked = await call('POST', `/admin/keys/${id}/revoke`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.status, 'revoked');
    assert.equal(revoked.headers.get('cache-control'), null);
    assertError(await call('POST', `/admin/keys/${id}/unblock`), 409, 'resource_conflict', null);
    assert.deepEqual((await call('DELETE', `/admin/keys/${id}`)).body, { deleted: true, key_id: id });
  });

  test('generate for a missing team is 404 naming team_id', async () => {
    assertError(await call('POST', '/admin/keys', { team_id: 'ghost' }), 404, 'resource_not_found', 'team_id');
  });
});

describe('audit', () => {
  test('filters and pages with next', async () => {
    await call('POST', '/admin/teams', { team_id: 'audited' });
    await call('PATCH', '/admin/teams/audited', { team_alias: 'a' });
    const reply = await call('GET', '/admin/audit?object_id=audited&limit=1');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.data[0].action, 'team.update');
    assert.equal(reply.body.data[0].actor, 'master');
    assert.equal(reply.body.data[0].request_id, undefined);
    const older = await call('GET', `/admin/audit?object_id=audited&before_seq=${reply.body.next}`);
    assert.deepEqual(older.body.data.map((e: any) => e.action), ['team.create']);
    assertError(await call('GET', '/admin/audit?object_type=user'), 400, 'invalid_request', 'object_type');
  });
});

describe('errors', () => {
  test('400 for bad input, with param and a did-you-mean', async () => {
    const reply = await call('POST', '/admin/teams', { team_alais: 'x' });
    assertError(reply, 400, 'invalid_request', 'team_alais');
    assert.match(reply.body.error.message, /Did you mean "team_alias"\?/);
    assertError(await call('GET', '/admin/teams?limit=abc'), 400, 'invalid_request', 'limit');
    assertError(await call('GET', '/admin/teams?limt=3'), 400, 'invalid_request', 'limt');
    assertError(await call('GET', '/admin/teams?limit=1&limit=2'), 400, 'invalid_request', 'limit');
  });

  test('malformed or missing JSON bodies are invalid_json', async () => {
    assertError(await call('POST', '/admin/teams', undefined, '{"team_id": '), 400, 'invalid_json');
    assertError(await call('POST', '/admin/teams'), 400, 'invalid_json');
    assertError(await call('PATCH', '/admin/teams/x', undefined, 'nope'), 400, 'invalid_json');
    assertError(await call('POST', '/admin/keys/key_x/rotate', undefined, '[1,'), 400, 'invalid_json');
  });

  test('a body over the limit is 413', async () => {
    assertError(await call('POST', '/admin/teams', { team_alias: 'x'.repeat(70 * 1024) }), 413, 'body_too_large');
  });

  test('404 route_not_found for unknown paths', async () => {
    for (const path of ['/admin/nope', '/admin/teams/a/b', '/admin/keys/k/explode', '/admin/teams/', '/admin/']) {
      assertError(await call('GET', path), 404, 'route_not_found');
    }
  });

  test('405 with an Allow header for a wrong method', async () => {
    const put = await call('PUT', '/admin/teams', {});
    assertError(put, 405, 'method_not_allowed');
    assert.equal(put.headers.get('allow'), 'GET, POST');
    assert.equal((await call('POST', '/admin/teams/x')).headers.get('allow'), 'GET, PATCH, DELETE');
    assert.equal((await call('GET', '/admin/keys/x/rotate')).headers.get('allow'), 'POST');
  });

  test('409 for a taken id and for deleting a team with keys', async () => {
    await call('POST', '/admin/teams', { team_id: 'busy' });
    assertError(await call('POST', '/admin/teams', { team_id: 'busy' }), 409, 'resource_conflict', null);
    await call('POST', '/admin/keys', { team_id: 'busy' });
    const reply = await call('DELETE', '/admin/teams/busy');
    assertError(reply, 409, 'resource_conflict');
    assert.match(reply.body.error.message, /1 key/);
  });
});

test('spend: GET /admin/{teams,keys,tenants}/{id}/spend and /admin/spend/global report each budget period; unknown ids are 404', async () => {
  const team = await call('POST', '/admin/teams', { team_id: 'spenders', max_budget: 12.5, budget_duration: '1mo', daily_token_cap: 1000 });
  assert.equal(team.status, 201);
  const report = await call('GET', '/admin/teams/spenders/spend');
  assert.equal(report.status, 200);
  assert.deepEqual(report.body, {
    object_type: 'team',
    object_id: 'spenders',
    budgets: [
      { budget: 'usd', unit: 'usd', period: '2026-12', period_starts_at: '2026-12-01T00:00:00.000Z', period_ends_at: '2027-01-01T00:00:00.000Z', limit: 12.5, spent: 0, reserved: 0, remaining: 12.5 },
      { budget: 'daily_tokens', unit: 'tokens', period: report.body.budgets[1].period, period_starts_at: '2026-12-15T00:00:00.000Z', period_ends_at: '2026-12-16T00:00:00.000Z', limit: 1000, spent: 0, reserved: 0, remaining: 1000 },
    ],
  });
  // Without a budget, spend is still tracked (limits.track_spend) for a lifetime period.
  await call('POST', '/admin/tenants', { tenant_id: 'untracked-budget' });
  const tenant = await call('GET', '/admin/tenants/untracked-budget/spend');
  assert.deepEqual(tenant.body.budgets, [{ budget: 'usd', unit: 'usd', period: 'all', period_starts_at: null, period_ends_at: null, limit: null, spent: 0, reserved: 0, remaining: null }]);
  const global = await call('GET', '/admin/spend/global');
  assert.equal(global.body.object_type, 'global');
  assert.equal(global.body.budgets[0].limit, 100);
  assert.equal((await call('GET', '/admin/keys/nope/spend')).status, 404);
  assert.equal((await call('POST', '/admin/teams/spenders/spend')).status, 405);
});
