// GET /admin/spend (the ledger report), /admin/requests, /admin/requests/{request_id} and
// /admin/guardrail-events through the admin router, over an in-memory LedgerReader, and the same
// answers over the SQLite and PostgreSQL sinks.

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
import type { LedgerEvent } from '../../src/ledger/ledger-event.ts';
import { FakeLedgerReader, ledgerEvent } from '../helpers/fake-ledger-reader.ts';
import { throwawaySchemas } from '../helpers/throwaway-schemas.ts';

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
    for (const path of ['/admin/spend', '/admin/spend?group_by=day&format=csv', '/admin/requests', '/admin/requests/req-1', '/admin/guardrail-events']) {
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
    for (const path of ['/admin/spend', '/admin/requests', '/admin/requests/req-a1', '/admin/guardrail-events']) {
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

// ── GET /admin/guardrail-events ───────────────────────────────────────────────

const GUARDRAIL_EVENTS = [
  ledgerEvent({ at: '2026-12-01T09:00:00.000Z', event_id: 'ge-1', request_id: 'g-pass', tenant: 'acme', verdict: 'pass', detectors: ['input:scanner_unavailable:lakera'] }),
  ledgerEvent({ at: '2026-12-01T10:00:00.000Z', event_id: 'ge-2', request_id: 'g-flag-1', tenant: 'acme', team: 'support', key: 'key_s', model: 'gpt-4o', verdict: 'flag', detectors: ['input:injection.override'] }),
  ledgerEvent({ at: '2026-12-01T11:00:00.000Z', event_id: 'ge-3', request_id: 'g-redact-1', tenant: 'acme', team: 'support', key: 'key_s', model: 'claude', verdict: 'redact', detectors: ['input:pii.email', 'output:pii.phone'] }),
  ledgerEvent({ at: '2026-12-02T08:00:00.000Z', event_id: 'ge-4', request_id: 'g-block-1', tenant: 'globex', team: 'risk', key: 'key_r', model: 'gpt-4o', status: 'invalid_request', verdict: 'block', detectors: ['input:lakera.prompt_attack'] }),
  ledgerEvent({ at: '2026-12-02T08:00:00.000Z', event_id: 'ge-5', request_id: 'g-block-2', tenant: 'globex', team: 'risk', key: 'key_r', model: 'gpt-4o', status: 'invalid_request', verdict: 'block', detectors: ['output:secret.jwt'] }),
  ledgerEvent({ at: '2026-12-02T09:00:00.000Z', event_id: 'ge-6', request_id: 'g-none', tenant: 'globex' }),
  ledgerEvent({ at: '2026-12-03T09:00:00.000Z', event_id: 'ge-7', request_id: 'g-flag-2', tenant: 'acme', team: 'support', key: 'key_t', model: 'gpt-4o', verdict: 'flag', detectors: ['input:pii.email'] }),
];

/** The flagged, redacted and blocked calls, newest first (ties by event_id, descending). */
const FLAGGED_NEWEST_FIRST = ['g-flag-2', 'g-block-2', 'g-block-1', 'g-redact-1', 'g-flag-1'];

const GUARDRAIL_ITEM_FIELDS = ['request_id', 'event_id', 'timestamp', 'tenant_id', 'team_id', 'key_id', 'alias', 'endpoint', 'status', 'guardrail_verdict', 'guardrail_detectors', 'error_code'];

/** A v1 event, as written before the guardrail fields. */
function v1(event: LedgerEvent): LedgerEvent {
  const { guardrail_detectors: _none, ...outcome } = event.outcome;
  return { ...event, schema_version: 1, outcome } as unknown as LedgerEvent;
}

/** Every page of `path` (limit in it), following next. */
async function allPages(api: Awaited<ReturnType<typeof startRouter>>, path: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor = '';
  for (let page = 1; page <= 20; page++) {
    const reply = await api.call(`${path}${cursor}`);
    assert.equal(reply.status, 200, reply.text);
    ids.push(...reply.body.data.map((e: any) => e.request_id));
    if (!reply.body.next) return { ids, pages: page };
    cursor = `&cursor=${reply.body.next}`;
  }
  throw new Error(`${path}: no last page`);
}

describe('GET /admin/guardrail-events', () => {
  const reader = new FakeLedgerReader(GUARDRAIL_EVENTS);
  let api: Awaited<ReturnType<typeof startRouter>>;
  before(async () => {
    api = await startRouter(reader);
  });
  after(() => api.close());
  const requestIds = async (path: string) => {
    const reply = await api.call(path);
    assert.equal(reply.status, 200, `${path}: ${reply.text}`);
    return reply.body.data.map((e: any) => e.request_id);
  };

  test('flag, redact and block calls, newest first: who, the verdict and the detectors, nothing else', async () => {
    const reply = await api.call('/admin/guardrail-events');
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.body.data.map((e: any) => e.request_id), FLAGGED_NEWEST_FIRST);
    assert.equal(reply.body.next, undefined);
    for (const item of reply.body.data) assert.deepEqual(Object.keys(item), GUARDRAIL_ITEM_FIELDS);
    assert.deepEqual(reply.body.data.find((e: any) => e.request_id === 'g-redact-1'), {
      request_id: 'g-redact-1', event_id: 'ge-3', timestamp: '2026-12-01T11:00:00.000Z', tenant_id: 'acme', team_id: 'support', key_id: 'key_s', alias: 'claude',
      endpoint: 'chat.completions', status: 'success', guardrail_verdict: 'redact', guardrail_detectors: ['input:pii.email', 'output:pii.phone'], error_code: null,
    });
    assert.deepEqual(reader.guardrailQueries.at(-1), { filters: {}, limit: 101 });
  });

  test('verdict: one, repeated, or a comma list', async () => {
    assert.deepEqual(await requestIds('/admin/guardrail-events?verdict=block'), ['g-block-2', 'g-block-1']);
    assert.deepEqual(reader.guardrailQueries.at(-1)!.verdicts, ['block']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?verdict=flag,redact'), ['g-flag-2', 'g-redact-1', 'g-flag-1']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?verdict=flag&verdict=block'), ['g-flag-2', 'g-block-2', 'g-block-1', 'g-flag-1']);
    assert.deepEqual(reader.guardrailQueries.at(-1)!.verdicts, ['flag', 'block']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?verdict=%20redact%20,redact'), ['g-redact-1']);
    assert.deepEqual(reader.guardrailQueries.at(-1)!.verdicts, ['redact']);
  });

  test('tenant_id, team_id, key_id, alias, detector, from and to reach the reader and filter', async () => {
    assert.deepEqual(await requestIds('/admin/guardrail-events?tenant_id=acme'), ['g-flag-2', 'g-redact-1', 'g-flag-1']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?team_id=risk'), ['g-block-2', 'g-block-1']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?key_id=key_s'), ['g-redact-1', 'g-flag-1']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?alias=claude'), ['g-redact-1']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?detector=pii.email'), ['g-flag-2', 'g-redact-1']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?detector=output:'), ['g-block-2', 'g-redact-1']);
    assert.deepEqual(await requestIds('/admin/guardrail-events?detector=lakera'), ['g-block-1'], 'the pass with a detector is not listed');
    assert.deepEqual(await requestIds('/admin/guardrail-events?from=2026-12-01T10:30:00Z&to=2026-12-03'), ['g-block-2', 'g-block-1', 'g-redact-1']);
    await api.call('/admin/guardrail-events?tenant_id=acme&team_id=support&key_id=key_s&alias=gpt-4o&detector=input:pii.email&verdict=flag&from=2026-12-01&to=2026-12-04T00:00:00%2B01:00');
    assert.deepEqual(reader.guardrailQueries.at(-1), {
      filters: { tenant: 'acme', team: 'support', key: 'key_s', model: 'gpt-4o' }, limit: 101, verdicts: ['flag'], detector: 'input:pii.email',
      from: '2026-12-01T00:00:00.000Z', to: '2026-12-03T23:00:00.000Z',
    });
  });

  test('limit and cursor page exactly like /admin/requests', async () => {
    for (const limit of [1, 2, 4, 5]) {
      const { ids, pages } = await allPages(api, `/admin/guardrail-events?limit=${limit}`);
      assert.deepEqual(ids, FLAGGED_NEWEST_FIRST, `limit ${limit}`);
      // The reader is asked one more than the page, so a page that ends the list exactly has no next.
      assert.equal(pages, Math.ceil(FLAGGED_NEWEST_FIRST.length / limit), `limit ${limit}: pages`);
    }
    const first = await api.call('/admin/guardrail-events?limit=2&tenant_id=acme');
    assert.deepEqual(first.body.data.map((e: any) => e.request_id), ['g-flag-2', 'g-redact-1']);
    assert.equal(reader.guardrailQueries.at(-1)!.limit, 3, 'asks one more than the page to know whether another follows');
    const second = await api.call(`/admin/guardrail-events?limit=2&tenant_id=acme&cursor=${first.body.next}`);
    assert.deepEqual(second.body.data.map((e: any) => e.request_id), ['g-flag-1']);
    assert.equal(second.body.next, undefined);
    assert.deepEqual(reader.guardrailQueries.at(-1)!.before, { timestamp: '2026-12-01T11:00:00.000Z', eventId: 'ge-3' });
    // The two blocks in the same millisecond page apart by event_id.
    const one = await api.call('/admin/guardrail-events?verdict=block&limit=1');
    const two = await api.call(`/admin/guardrail-events?verdict=block&limit=1&cursor=${one.body.next}`);
    assert.deepEqual([...one.body.data, ...two.body.data].map((e: any) => e.request_id), ['g-block-2', 'g-block-1']);
  });

  test('bad verdicts, filters, limits, cursors and ranges are 400 invalid_request naming the parameter', async () => {
    assertBadRequest(await api.call('/admin/guardrail-events?verdict=pass'), 'verdict', /"pass", which is not a verdict; use flag, redact, block/);
    assertBadRequest(await api.call('/admin/guardrail-events?verdict=flag,,block'), 'verdict', /an empty entry/);
    assertBadRequest(await api.call('/admin/guardrail-events?verdict='), 'verdict');
    assertBadRequest(await api.call('/admin/guardrail-events?verdict=flag&verdict=BLOCK'), 'verdict', /"BLOCK"/);
    assertBadRequest(await api.call('/admin/guardrail-events?tenant=acme'), 'tenant', /tenant_id/);
    assertBadRequest(await api.call('/admin/guardrail-events?tenant_id=acme&tenant_id=globex'), 'tenant_id');
    assertBadRequest(await api.call('/admin/guardrail-events?detector='), 'detector');
    assertBadRequest(await api.call(`/admin/guardrail-events?detector=${'x'.repeat(257)}`), 'detector');
    assertBadRequest(await api.call('/admin/guardrail-events?limit=1001'), 'limit', /1 to 1000/);
    assertBadRequest(await api.call('/admin/guardrail-events?limit=0'), 'limit');
    assertBadRequest(await api.call('/admin/guardrail-events?cursor=not-a-cursor'), 'cursor', /next/);
    assertBadRequest(await api.call('/admin/guardrail-events?from=2026-12-03&to=2026-12-01'), 'to');
    assertBadRequest(await api.call('/admin/guardrail-events?from=yesterday'), 'from');
  });

  test('/admin/requests and /admin/requests/{request_id} carry the verdict and detectors; a v1 event reads with none', async () => {
    const byId = await api.call('/admin/requests/g-block-1');
    assert.equal(byId.status, 200, byId.text);
    assert.deepEqual([byId.body.outcome.guardrail_verdict, byId.body.outcome.guardrail_detectors], ['block', ['input:lakera.prompt_attack']]);
    const none = await api.call('/admin/requests/g-none');
    assert.deepEqual([none.body.outcome.guardrail_verdict, none.body.outcome.guardrail_detectors], [null, []]);

    const old = v1(ledgerEvent({ at: '2026-11-30T09:00:00.000Z', request_id: 'g-v1', tenant: 'initech' }));
    const oldReader = new FakeLedgerReader([old]);
    const oldApi = await startRouter(oldReader);
    try {
      const one = await oldApi.call('/admin/requests/g-v1');
      assert.equal(one.status, 200, one.text);
      assert.equal(one.body.schema_version, 1, 'as written');
      assert.deepEqual([one.body.outcome.guardrail_verdict, one.body.outcome.guardrail_detectors], [null, []]);
      const page = await oldApi.call('/admin/requests?tenant=initech');
      assert.deepEqual(page.body.data[0].outcome, one.body.outcome);
      assert.deepEqual(Object.keys(page.body.data[0].outcome), Object.keys(GUARDRAIL_EVENTS[0]!.outcome), 'the same fields, in the same order, as a v2 event');
      assert.deepEqual((await oldApi.call('/admin/guardrail-events')).body, { data: [] });
    } finally {
      await oldApi.close();
    }
  });
});

test('GET /admin/guardrail-events without a ledger is 404 ledger_disabled; an unreachable ledger database 503', async () => {
  const none = await startRouter(undefined);
  try {
    const reply = await none.call('/admin/guardrail-events?verdict=block');
    assert.equal(reply.status, 404, reply.text);
    assert.equal(reply.body.error.code, 'ledger_disabled');
  } finally {
    await none.close();
  }
  const reader = new FakeLedgerReader(GUARDRAIL_EVENTS);
  reader.failWith = new StoreUnavailable('connection refused.');
  const down = await startRouter(reader);
  try {
    const reply = await down.call('/admin/guardrail-events');
    assert.equal(reply.status, 503, reply.text);
    assert.equal(reply.body.error.code, 'store_unavailable');
  } finally {
    await down.close();
  }
});

/** The same answers from a SQL ledger as from the in-memory reader, and paging at the largest page. */
async function sameAsFake(sink: LedgerReader & { write(events: LedgerEvent[]): Promise<void> }): Promise<void> {
  const old = v1(ledgerEvent({ at: '2026-11-30T09:00:00.000Z', event_id: 'ge-0', request_id: 'g-v1', tenant: 'acme' }));
  const events = [...GUARDRAIL_EVENTS, old];
  await sink.write(events);
  const sql = await startRouter(sink);
  const fake = await startRouter(new FakeLedgerReader(events));
  try {
    for (const path of [
      '/admin/guardrail-events', '/admin/guardrail-events?limit=1000', '/admin/guardrail-events?verdict=block', '/admin/guardrail-events?verdict=flag&verdict=redact',
      '/admin/guardrail-events?tenant_id=acme', '/admin/guardrail-events?team_id=risk&key_id=key_r&alias=gpt-4o', '/admin/guardrail-events?detector=pii.email',
      '/admin/guardrail-events?detector=input:pii.email&verdict=flag', '/admin/guardrail-events?detector=lakera', '/admin/guardrail-events?detector=email%22,%22output',
      '/admin/guardrail-events?from=2026-12-01T10:30:00Z&to=2026-12-03', '/admin/guardrail-events?tenant_id=nobody',
      '/admin/requests?tenant=acme', '/admin/requests/g-v1', '/admin/requests/g-redact-1',
    ]) {
      const [a, b] = [await sql.call(path), await fake.call(path)];
      assert.equal(a.status, 200, `${path}: ${a.text}`);
      assert.equal(a.text, b.text, path);
    }
    for (const limit of [1, 2, 1000]) {
      assert.deepEqual((await allPages(sql, `/admin/guardrail-events?limit=${limit}`)).ids, FLAGGED_NEWEST_FIRST, `limit ${limit}`);
    }
    assert.deepEqual((await allPages(sql, '/admin/guardrail-events?limit=1&verdict=block,flag&tenant_id=globex')).ids, ['g-block-2', 'g-block-1']);
  } finally {
    await sql.close();
    await fake.close();
  }
}

test('GET /admin/guardrail-events over the SQLite ledger sink: the same answers as the in-memory reader', async () => {
  const sink = await openLedgerSink('sqlite::memory:');
  assert.ok(isLedgerReader(sink));
  try {
    await sameAsFake(sink);
  } finally {
    await sink.close();
  }
});

const postgres = await throwawaySchemas('tg_ledger_admin', 'ledger admin');
test('GET /admin/guardrail-events over the PostgreSQL ledger sink: the same answers as the in-memory reader', { skip: postgres.unreachable && `${postgres.unreachable}; skipped` }, async () => {
  const schema = postgres.newSchema();
  const sink = await openLedgerSink(postgres.url, { schema, poolSize: 2 });
  assert.ok(isLedgerReader(sink));
  try {
    await sameAsFake(sink);
  } finally {
    await sink.close();
    await postgres.dropSchema(schema);
  }
});
