// GET /admin/spend (the ledger report), /admin/requests and /admin/requests/{request_id} through
// the admin router, over an in-memory LedgerReader.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createAdminRouter } from '../../src/admin/admin-routes.ts';
import type { AdminService } from '../../src/admin/admin-service.ts';
import type { LimitAdmin } from '../../src/admin/limit-admin.ts';
import { toGatewayError } from '../../src/errors/to-response.ts';
import { sendError } from '../../src/http/respond.ts';
import type { LedgerReader } from '../../src/ledger/ledger-sink.ts';
import { ClientWatchSlot, createRequestContext } from '../../src/pipeline/request-context.ts';
import { isLedgerReader, openLedgerSink } from '../../src/ledger/open-ledger-sink.ts';
import { StoreUnavailable } from '../../src/stores/identity-store.ts';
import { FakeLedgerReader, ledgerEvent } from '../helpers/fake-ledger-reader.ts';

export const LEDGER_EVENTS = [
  ledgerEvent({ at: '2026-12-01T09:00:00.000Z', request_id: 'req-a1', tenant: 'acme', feature: 'chat', cost: 0.1, input: 1000, output: 200 }),
  ledgerEvent({ at: '2026-12-01T10:00:00.000Z', request_id: 'req-a2', tenant: 'acme', feature: 'chat', cost: 0.2, input: 2000, output: 400 }),
  ledgerEvent({ at: '2026-12-01T11:00:00.000Z', request_id: 'req-a3', tenant: 'acme', feature: 'search', cost: 0.0000001875, input: 10, output: 0, status: 'upstream_error' }),
  ledgerEvent({ at: '2026-12-02T08:00:00.000Z', request_id: 'req-g1', tenant: 'globex', feature: null, model: 'claude', resolved: 'claude-sonnet-4-5-20250929', provider: 'anthropic', deployment: 'claude#0', cost: 0.3, user: 'u-hash-1' }),
  ledgerEvent({ at: '2026-12-02T08:00:00.000Z', request_id: 'req-g2', tenant: 'globex', feature: 'chat', model: 'claude', resolved: 'claude-sonnet-4-5-20250929', provider: 'anthropic', deployment: 'claude#0', cost: 0.1, saved: 0.05, status: 'cache_hit' }),
  ledgerEvent({ at: '2026-12-03T23:59:59.999+00:00', request_id: 'req-a4', tenant: 'acme', feature: 'chat', cost: 0.1, user: 'u-hash-1' }),
];

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

async function startRouter(ledger: LedgerReader | undefined): Promise<{ call: (path: string) => Promise<Reply>; close: () => Promise<void> }> {
  const spend = { read: async () => ({ object_type: 'global', object_id: 'global', budgets: [] }), global: () => ({}) };
  const router = createAdminRouter({} as AdminService, { maxBodyBytes: 1024, limits: {} as LimitAdmin, spend: spend as never, ...(ledger ? { ledger } : {}) });
  const server: Server = createServer((req, res) => {
    const ctx = createRequestContext(req.headers, performance.now(), new ClientWatchSlot());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    router(ctx, req, res, q === -1 ? url : url.slice(0, q), { id: 'master' }).catch((err) => sendError(res, ctx, toGatewayError(err, ctx.requestId), 'openai'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    async call(path) {
      const res = await fetch(base + path);
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: res.status, headers: res.headers, text, body };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function assertBadRequest(reply: Reply, param: string, message?: RegExp): void {
  assert.equal(reply.status, 400, reply.text);
  assert.equal(reply.body.error.code, 'invalid_request');
  assert.equal(reply.body.error.param, param, reply.body.error.message);
  if (message) assert.match(reply.body.error.message, message);
}

describe('with a ledger', () => {
  const reader = new FakeLedgerReader(LEDGER_EVENTS);
  let api: Awaited<ReturnType<typeof startRouter>>;
  before(async () => {
    api = await startRouter(reader);
  });
  after(() => api.close());

  test('GET /admin/spend?group_by=day,tenant,feature: a row per group, nulls first, and the totals', async () => {
    const reply = await api.call('/admin/spend?group_by=day,tenant,feature');
    assert.equal(reply.status, 200, reply.text);
    assert.match(reply.headers.get('content-type')!, /application\/json/);
    const { group_by, from, to, filters, data, totals } = reply.body;
    assert.deepEqual(group_by, ['day', 'tenant', 'feature']);
    assert.equal(from, null);
    assert.equal(to, null);
    assert.deepEqual(filters, {});
    assert.deepEqual(data.map((r: any) => [r.day, r.tenant, r.feature, r.requests]), [
      ['2026-12-01', 'acme', 'chat', 2],
      ['2026-12-01', 'acme', 'search', 1],
      ['2026-12-02', 'globex', null, 1],
      ['2026-12-02', 'globex', 'chat', 1],
      ['2026-12-03', 'acme', 'chat', 1],
    ]);
    assert.deepEqual(Object.keys(data[0]), ['day', 'tenant', 'feature', 'requests', 'errors', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'total_tokens', 'cost_usd', 'saved_usd']);
    assert.equal(data[0].cost_usd, 0.3);
    assert.equal(data[1].errors, 1);
    assert.deepEqual(totals, {
      requests: 6, errors: 1, input_tokens: 3310, output_tokens: 750, cached_input_tokens: 0, total_tokens: 4060,
      cost_usd: 0.8000001875, saved_usd: 0.05,
    });
  });

  test('no group_by is one row of totals; filters and bounds reach the reader, bounds as UTC instants', async () => {
    const all = await api.call('/admin/spend');
    assert.equal(all.status, 200, all.text);
    assert.equal(all.body.data.length, 1);
    assert.equal(all.body.data[0].requests, 6);

    const reply = await api.call('/admin/spend?group_by=model&tenant=acme&provider=openai&from=2026-12-01&to=2026-12-03T01:00:00%2B02:00');
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reader.spendQueries.at(-1), {
      groupBy: ['model'], filters: { tenant: 'acme', provider: 'openai' }, from: '2026-12-01T00:00:00.000Z', to: '2026-12-02T23:00:00.000Z',
    });
    assert.equal(reply.body.from, '2026-12-01T00:00:00.000Z');
    assert.deepEqual(reply.body.filters, { tenant: 'acme', provider: 'openai' });
    assert.deepEqual(reply.body.data.map((r: any) => [r.model, r.requests]), [['gpt-4o', 3]]);
    // Repeated dimensions count once, in the order first named.
    await api.call('/admin/spend?group_by=team,day,team');
    assert.deepEqual(reader.spendQueries.at(-1)!.groupBy, ['team', 'day']);
  });

  test('format=csv: text/csv, dimensions then totals, empty cells for null, plain decimals', async () => {
    const reply = await api.call('/admin/spend?group_by=day,tenant,feature&format=csv');
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(reply.text, [
      'day,tenant,feature,requests,errors,input_tokens,output_tokens,cached_input_tokens,total_tokens,cost_usd,saved_usd',
      '2026-12-01,acme,chat,2,0,3000,600,0,3600,0.3,0',
      '2026-12-01,acme,search,1,1,10,0,0,10,0.0000001875,0',
      '2026-12-02,globex,,1,0,100,50,0,150,0.3,0',
      '2026-12-02,globex,chat,1,0,100,50,0,150,0.1,0.05',
      '2026-12-03,acme,chat,1,0,100,50,0,150,0.1,0',
      '',
    ].join('\r\n'));
  });

  test('bad group_by, dates, range, format and parameters are 400 invalid_request naming the parameter', async () => {
    assertBadRequest(await api.call('/admin/spend?group_by=day,colour'), 'group_by', /"colour".*tenant, feature, model, key, team, day, provider, deployment/);
    assertBadRequest(await api.call('/admin/spend?group_by='), 'group_by', /empty entry/);
    assertBadRequest(await api.call('/admin/spend?group_by=day,,tenant'), 'group_by');
    assertBadRequest(await api.call('/admin/spend?from=2026-13-01'), 'from', /"2026-13-01"/);
    assertBadRequest(await api.call('/admin/spend?from=2026-02-30'), 'from');
    assertBadRequest(await api.call('/admin/spend?from=yesterday'), 'from');
    assertBadRequest(await api.call('/admin/spend?to=2026-12-01T10:00:00'), 'to', /time zone/);
    assertBadRequest(await api.call('/admin/spend?from=2026-12-02&to=2026-12-01'), 'to', /must be after from/);
    assertBadRequest(await api.call('/admin/spend?from=2026-12-02&to=2026-12-02T00:00:00Z'), 'to');
    assertBadRequest(await api.call('/admin/spend?format=xml'), 'format', /json, csv/);
    assertBadRequest(await api.call('/admin/spend?tenant='), 'tenant');
    assertBadRequest(await api.call('/admin/spend?colour=red'), 'colour', /unknown key/);
    assertBadRequest(await api.call('/admin/spend?tenant=a&tenant=b'), 'tenant');
    assertBadRequest(await api.call('/admin/spend?from=%00'), 'from');
  });

  test('GET /admin/requests: newest first, filters, cursor paging to the end', async () => {
    const first = await api.call('/admin/requests?tenant=acme&limit=2');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body.data.map((e: any) => e.request_id), ['req-a4', 'req-a3']);
    assert.equal(typeof first.body.next, 'string');
    assert.deepEqual(reader.requestQueries.at(-1)!.filters, { tenant: 'acme' });
    assert.equal(reader.requestQueries.at(-1)!.limit, 3, 'asks one more than the page to know whether another follows');
    const second = await api.call(`/admin/requests?tenant=acme&limit=2&cursor=${first.body.next}`);
    assert.deepEqual(second.body.data.map((e: any) => e.request_id), ['req-a2', 'req-a1']);
    assert.equal(second.body.next, undefined, 'the last page has no next');

    // Two events in the same millisecond page apart by event_id.
    const same = await api.call('/admin/requests?tenant=globex&limit=1');
    const rest = await api.call(`/admin/requests?tenant=globex&limit=1&cursor=${same.body.next}`);
    assert.deepEqual([...same.body.data, ...rest.body.data].map((e: any) => e.request_id).sort(), ['req-g1', 'req-g2']);
    assert.equal(rest.body.next, undefined);

    const byUser = await api.call('/admin/requests?user=u-hash-1&from=2026-12-02&to=2026-12-04');
    assert.deepEqual(byUser.body.data.map((e: any) => e.request_id), ['req-a4', 'req-g1']);
    const errors = await api.call('/admin/requests?status=upstream_error');
    assert.deepEqual(errors.body.data.map((e: any) => e.request_id), ['req-a3']);
    await api.call('/admin/requests?key=key_a&team=team-a&feature=chat&model=gpt-4o');
    assert.deepEqual(reader.requestQueries.at(-1), { filters: { feature: 'chat', model: 'gpt-4o', key: 'key_a', team: 'team-a' }, limit: 101 });
  });

  test('GET /admin/requests: bad limit, status, cursor and range are 400s', async () => {
    assertBadRequest(await api.call('/admin/requests?limit=1001'), 'limit', /1 to 1000/);
    assertBadRequest(await api.call('/admin/requests?limit=0'), 'limit');
    assertBadRequest(await api.call('/admin/requests?limit=ten'), 'limit');
    assertBadRequest(await api.call('/admin/requests?status=ok'), 'status', /success/);
    assertBadRequest(await api.call('/admin/requests?cursor=not-a-cursor'), 'cursor', /next/);
    assertBadRequest(await api.call(`/admin/requests?cursor=${Buffer.from('2026-12-01T00:00:00Z').toString('base64url')}`), 'cursor');
    assertBadRequest(await api.call('/admin/requests?cursor=%2F%2F'), 'cursor');
    assertBadRequest(await api.call('/admin/requests?from=2026-12-03&to=2026-12-01'), 'to');
    assertBadRequest(await api.call('/admin/requests?group_by=day'), 'group_by');
  });

  test('GET /admin/requests/{request_id}: the event, or 404', async () => {
    const reply = await api.call('/admin/requests/req-g2');
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.body.request_id, 'req-g2');
    assert.equal(reply.body.outcome.status, 'cache_hit');
    const missing = await api.call('/admin/requests/req%20nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'resource_not_found');
    assert.match(missing.body.error.message, /req nope/);
  });

  test('the global budgets moved to GET /admin/spend/global', async () => {
    const reply = await api.call('/admin/spend/global');
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.body.object_type, 'global');
  });
});

test('without a ledger every ledger endpoint is 404 ledger_disabled; the rest still works', async () => {
  const api = await startRouter(undefined);
  try {
    for (const path of ['/admin/spend', '/admin/spend?group_by=day&format=csv', '/admin/requests', '/admin/requests/req-1']) {
      const reply = await api.call(path);
      assert.equal(reply.status, 404, path);
      assert.equal(reply.body.error.code, 'ledger_disabled', path);
      assert.match(reply.body.error.message, /ledger\.sinks/);
    }
    assert.equal((await api.call('/admin/spend/global')).status, 200);
    assertBadRequest(await api.call('/admin/spend?group_by=week'), 'group_by');
  } finally {
    await api.close();
  }
});

test('a ledger database that cannot be reached is 503 store_unavailable; other failures are 500s', async () => {
  const reader = new FakeLedgerReader(LEDGER_EVENTS);
  const api = await startRouter(reader);
  try {
    reader.failWith = new StoreUnavailable('connection refused.');
    for (const path of ['/admin/spend', '/admin/requests', '/admin/requests/req-a1']) {
      const reply = await api.call(path);
      assert.equal(reply.status, 503, path);
      assert.equal(reply.body.error.code, 'store_unavailable');
      assert.match(reply.body.error.message, /cost ledger database is unavailable: connection refused/);
    }
    reader.failWith = new Error('syntax error near GROUP');
    const bug = await api.call('/admin/spend');
    assert.equal(bug.status, 500);
    assert.doesNotMatch(bug.text, /syntax error/);
  } finally {
    await api.close();
  }
});

test('over the SQLite ledger sink: the same answers as the in-memory reader, and paging at the largest page', async () => {
  const sink = await openLedgerSink('sqlite::memory:');
  assert.ok(isLedgerReader(sink));
  await sink.write(LEDGER_EVENTS);
  const sql = await startRouter(sink);
  const fake = await startRouter(new FakeLedgerReader(LEDGER_EVENTS));
  try {
    for (const path of [
      '/admin/spend', '/admin/spend?group_by=day,tenant,feature', '/admin/spend?group_by=day,tenant,feature&format=csv',
      '/admin/spend?group_by=model,provider,deployment&from=2026-12-01T10:00:00Z&to=2026-12-03', '/admin/spend?group_by=key,team&tenant=acme&feature=chat',
      '/admin/requests?limit=1000', '/admin/requests?tenant=acme&from=2026-12-01T10:00:00Z', '/admin/requests?user=u-hash-1', '/admin/requests/req-g1',
    ]) {
      const [a, b] = [await sql.call(path), await fake.call(path)];
      assert.equal(a.status, 200, `${path}: ${a.text}`);
      assert.equal(a.text, b.text, path);
    }
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const reply = await sql.call(`/admin/requests?limit=1${cursor}`);
      seen.push(...reply.body.data.map((e: any) => e.request_id));
      if (!reply.body.next) break;
      cursor = `&cursor=${reply.body.next}`;
    }
    assert.equal(seen[0], 'req-a4');
    assert.deepEqual([...seen].sort(), LEDGER_EVENTS.map((e) => e.request_id).sort(), 'every event once, one per page');
  } finally {
    await sql.close();
    await fake.close();
    await sink.close();
  }
});
