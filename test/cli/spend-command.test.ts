// `tollgate spend report|reconcile`: in --config mode over a fake ledger reader (the SQL sink
// opener is injected), and in --url mode against the admin router over the same fake.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAdminRouter } from '../../src/admin/admin-routes.ts';
import type { AdminService } from '../../src/admin/admin-service.ts';
import type { LimitAdmin } from '../../src/admin/limit-admin.ts';
import { runSpendCommand } from '../../src/cli/spend-command.ts';
import type { LedgerReaderOpener } from '../../src/cli/spend-target.ts';
import { toGatewayError } from '../../src/errors/to-response.ts';
import { sendError } from '../../src/http/respond.ts';
import type { LedgerReader } from '../../src/ledger/ledger-sink.ts';
import { openLedgerSink } from '../../src/ledger/open-ledger-sink.ts';
import { ClientWatchSlot, createRequestContext } from '../../src/pipeline/request-context.ts';
import { FakeLedgerReader, ledgerEvent } from '../helpers/fake-ledger-reader.ts';
import { cli, dbConfig, type CliResult } from './cli-helpers.ts';

const invoice = (name: string) => fileURLToPath(new URL(`../fixtures/invoices/${name}`, import.meta.url));

const EVENTS = [
  ledgerEvent({ at: '2026-12-01T09:00:00Z', tenant: 'acme', feature: 'chat', model: 'smart', deployment: 'smart#0', cost: 3, input: 1000, output: 100 }),
  ledgerEvent({ at: '2026-12-01T10:00:00Z', tenant: 'acme', feature: 'search', model: 'smart', deployment: 'smart#0', cost: 2, input: 500, output: 50 }),
  ledgerEvent({ at: '2026-12-01T11:00:00Z', tenant: 'globex', feature: 'chat', model: 'fast', deployment: 'mini-a', cost: 0.3, input: 100, output: 10 }),
  ledgerEvent({ at: '2026-12-02T12:00:00Z', tenant: 'acme', feature: 'chat', model: 'smart', deployment: 'smart#0', cost: 10, input: 2000, output: 300 }),
  ledgerEvent({ at: '2026-12-02T13:00:00Z', tenant: 'acme', feature: 'chat', model: 'claude', deployment: 'claude#0', provider: 'anthropic', cost: 7 }),
];

const MODELS = `
models:
  smart:
    deployments:
      - provider: openai
        model: gpt-4o
        api_key: sk-test-smart
  fast:
    deployments:
      - id: mini-a
        provider: openai
        model: gpt-4o-mini-2024-07-18
        api_key: sk-test-fast
`;

const { file: CONFIG } = dbConfig(`ledger:\n  sinks: ["jsonl:/tmp/tollgate-spend-test", "sqlite:/tmp/tollgate-spend-test/ledger.db"]\n  schema: billing\n${MODELS}`);
const { file: DISABLED } = dbConfig('ledger:\n  enabled: false\n');
const { file: JSONL_ONLY } = dbConfig('ledger:\n  sinks: ["jsonl:/tmp/tollgate-spend-test"]\n');

interface Local {
  run(argv: string[]): Promise<CliResult>;
  opened: Array<{ url: string; schema?: string; closed: boolean }>;
  reader: FakeLedgerReader;
}

function local(events = EVENTS): Local {
  const reader = new FakeLedgerReader(events);
  const opened: Local['opened'] = [];
  const openReader: LedgerReaderOpener = async (url, options) => {
    const entry = { url, ...options, closed: false };
    opened.push(entry);
    return { reader, close: async () => void (entry.closed = true) };
  };
  return {
    reader,
    opened,
    async run(argv) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runSpendCommand(argv, { out: (t) => out.push(t), err: (t) => err.push(t), env: {} }, { openReader });
      return { code, out: out.join('\n'), err: err.join('\n') };
    },
  };
}

describe('--config: the first SQL sink of the config\'s ledger', () => {
  test('report: a table with a TOTAL row, by default; the sink is opened with the schema and closed', async () => {
    const l = local();
    const result = await l.run(['report', '--config', CONFIG, '--group-by', 'day,tenant', '--provider', 'openai']);
    assert.equal(result.code, 0, result.err);
    assert.deepEqual(l.opened, [{ url: 'sqlite:/tmp/tollgate-spend-test/ledger.db', schema: 'billing', closed: true }]);
    const lines = result.out.split('\n');
    assert.match(lines[0]!, /^DAY +TENANT +REQUESTS +ERRORS +INPUT +OUTPUT +CACHED +TOKENS +COST_USD +SAVED_USD$/);
    assert.match(lines[1]!, /^2026-12-01 +acme +2 +0 +1500 +150 +0 +1650 +5 +0$/);
    assert.match(lines[2]!, /^2026-12-01 +globex +1 /);
    assert.match(lines[3]!, /^2026-12-02 +acme +1 /);
    assert.match(lines[4]!, /^TOTAL +- +4 +0 +3600 +460 +0 +4060 +15\.3 +0$/);
    assert.deepEqual(l.reader.spendQueries[0], { groupBy: ['day', 'tenant'], filters: { provider: 'openai' } });
  });

  test('report: --format csv (the daily chargeback export) and --format json / --json', async () => {
    const l = local();
    const csv = await l.run(['report', '--config', CONFIG, '--group-by', 'day,tenant,feature', '--format', 'csv', '--from', '2026-12-01', '--to', '2026-12-02']);
    assert.equal(csv.code, 0, csv.err);
    assert.equal(csv.out, [
      'day,tenant,feature,requests,errors,input_tokens,output_tokens,cached_input_tokens,total_tokens,cost_usd,saved_usd',
      '2026-12-01,acme,chat,1,0,1000,100,0,1100,3,0',
      '2026-12-01,acme,search,1,0,500,50,0,550,2,0',
      '2026-12-01,globex,chat,1,0,100,10,0,110,0.3,0',
      '',
    ].join('\r\n').slice(0, -1), 'CRLF line ends: io.out adds the last \\n');
    const json = JSON.parse((await l.run(['report', '--config', CONFIG, '--group-by', 'model', '--format', 'json'])).out);
    assert.deepEqual(json.data.map((r: any) => [r.model, r.requests]), [['claude', 1], ['fast', 1], ['smart', 3]]);
    assert.equal(json.totals.cost_usd, 22.3);
    assert.deepEqual(JSON.parse((await l.run(['report', '--config', CONFIG, '--group-by', 'model', '--json'])).out), json);
  });

  test('report: bad options are usage errors (exit 2) naming the flag', async () => {
    const l = local();
    const bad = await l.run(['report', '--config', CONFIG, '--group-by', 'day,week']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^--group-by has "week", which is not a dimension/);
    assert.match((await l.run(['report', '--config', CONFIG, '--from', '2026-12-31', '--to', '2026-12-01'])).err, /^--to .*must be after from/);
    assert.match((await l.run(['report', '--config', CONFIG, '--from', '31/12/2026'])).err, /^--from must be an ISO-8601 date/);
    assert.equal((await l.run(['report', '--config', CONFIG, '--format', 'xml'])).code, 2);
    assert.equal((await l.run(['report', '--config', CONFIG, '--format', 'csv', '--json'])).code, 2);
    assert.equal((await l.run(['report', '--config', CONFIG, '--url', 'http://127.0.0.1:1'])).code, 2);
    assert.equal((await l.run(['report'])).code, 2);
    assert.equal((await l.run(['report', '--config', CONFIG, '--colour'])).code, 2);
    assert.equal((await l.run(['nope'])).code, 2);
    assert.equal(l.reader.spendQueries.length, 0);
  });

  test('a disabled ledger or one without a SQL sink is a clear error', async () => {
    const off = await local().run(['report', '--config', DISABLED]);
    assert.equal(off.code, 1);
    assert.match(off.err, /^error: the cost ledger is disabled in .*ledger\.enabled: false/);
    const jsonl = await local().run(['report', '--config', JSONL_ONLY]);
    assert.equal(jsonl.code, 1);
    assert.match(jsonl.err, /no SQL sink/);
  });

  test('reconcile: deployments map to the vendor\'s models; a drift over 5% is flagged and exits 3', async () => {
    const l = local();
    const result = await l.run(['reconcile', '--provider', 'openai', '--file', invoice('openai-costs.csv'), '--config', CONFIG]);
    assert.equal(result.code, 3, result.err);
    assert.deepEqual(l.reader.spendQueries[0], {
      groupBy: ['deployment', 'model', 'day'], filters: { provider: 'openai' }, from: '2026-12-01T00:00:00.000Z', to: '2026-12-03T00:00:00.000Z',
    });
    const lines = result.out.split('\n');
    assert.match(lines[0]!, /^DAY +MODEL +VENDOR_USD +LEDGER_USD +DIFF_USD +DRIFT +FLAG$/);
    assert.match(lines[1]!, /^2026-12-01 +gpt-4o +5 +5 +0 +0\.00% +-$/);
    assert.match(lines[2]!, /^2026-12-01 +gpt-4o-mini +0\.3 +0\.3 +0 +0\.00% +-$/);
    assert.match(lines[3]!, /^2026-12-02 +gpt-4o +10 +10 +0 +0\.00% +-$/);
    assert.match(lines[4]!, /^2026-12-02 +web-search-tool-calls +0\.5 +0 +-0\.5 +-100\.00% +DRIFT \(only in the export\)$/);
    assert.match(lines.at(-1)!, /^total +\* +15\.8 +15\.3 +-0\.5 +-3\.16% +-$/);
    assert.match(result.err, /4 model-days from 2026-12-01 to 2026-12-03 \(exclusive\), compared on cost: 1 drifts over 5%\. 1 empty row skipped\./);

    const lenient = await l.run(['reconcile', '--provider', 'openai', '--file', invoice('openai-costs.csv'), '--config', CONFIG, '--min-usd', '1', '--json']);
    assert.equal(lenient.code, 0, lenient.err);
    const report = JSON.parse(lenient.out);
    assert.equal(report.flagged, 0);
    assert.deepEqual(report.rows[1].ledger_models, ['gpt-4o-mini-2024-07-18']);
    assert.deepEqual(report.columns, { day: 'start_time_iso', model: 'line_item', cost: 'amount_value', currency: 'amount_currency' });

    const csv = await l.run(['reconcile', '--provider', 'openai', '--file', invoice('openai-costs.csv'), '--config', CONFIG, '--format', 'csv']);
    assert.equal(csv.out.split('\r\n')[0], 'day,model,vendor_usd,ledger_usd,diff_usd,drift_pct,vendor_tokens,ledger_tokens,token_drift_pct,flagged,note,vendor_models,ledger_models');
    assert.equal(csv.out.split('\r\n')[4], '2026-12-02,web-search-tool-calls,0.5,0,-0.5,-100,,0,,true,only in the export,web search tool calls,');
  });

  test('reconcile: a token-only export compares tokens', async () => {
    const l = local([
      ledgerEvent({ at: '2026-12-01T09:00:00Z', model: 'fast', deployment: 'mini-a', input: 1000, output: 500 }),
      ledgerEvent({ at: '2026-12-01T09:00:00Z', model: 'smart', deployment: 'smart#0', input: 59200, output: 10000 }),
    ]);
    const result = await l.run(['reconcile', '--provider', 'openai', '--file', invoice('openai-usage.csv'), '--config', CONFIG]);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^DAY +MODEL +LEDGER_USD +VENDOR_TOKENS +LEDGER_TOKENS +TOKEN_DRIFT +FLAG$/m);
    assert.match(result.out, /^2026-12-01 +gpt-4o +0\.001 +69846 +69200 +-0\.92%/m);
    assert.match(result.err, /compared on tokens \(the export has no cost column\): none drifts over 5%/);
  });

  test('reconcile: usage mistakes exit 2; unreadable or unusable files exit 1 naming the file', async () => {
    const l = local();
    assert.match((await l.run(['reconcile', '--file', invoice('openai-costs.csv'), '--config', CONFIG])).err, /needs --provider openai\|anthropic/);
    assert.equal((await l.run(['reconcile', '--provider', 'azure', '--file', invoice('openai-costs.csv'), '--config', CONFIG])).code, 2);
    assert.equal((await l.run(['reconcile', '--provider', 'openai', '--config', CONFIG])).code, 2);
    assert.equal((await l.run(['reconcile', '--provider', 'openai', '--file', invoice('openai-costs.csv'), '--threshold', 'five', '--config', CONFIG])).code, 2);
    const missing = await l.run(['reconcile', '--provider', 'openai', '--file', '/nonexistent/invoice.csv', '--config', CONFIG]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /cannot read \/nonexistent\/invoice\.csv \(ENOENT\)/);
    const wrong = await l.run(['reconcile', '--provider', 'anthropic', '--file', invoice('README.md'), '--config', CONFIG]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /README\.md: this does not look like an Anthropic usage or cost export/);
    assert.equal(l.opened.length, 0, 'the ledger is not opened for a command that cannot run');
  });
});

describe('--url: through the admin API', () => {
  let server: Server;
  let url: string;
  let reader: FakeLedgerReader;
  let ledger: LedgerReader | undefined;
  before(async () => {
    reader = new FakeLedgerReader(EVENTS);
    ledger = reader;
    const spend = { read: async () => ({}), global: () => ({}) };
    server = createServer((req, res) => {
      const router = createAdminRouter({} as AdminService, { maxBodyBytes: 1024, limits: {} as LimitAdmin, spend: spend as never, ...(ledger ? { ledger } : {}) });
      const ctx = createRequestContext(req.headers, performance.now(), new ClientWatchSlot());
      const path = (req.url ?? '/').split('?')[0]!;
      router(ctx, req, res, path, { id: 'master' }).catch((err) => sendError(res, ctx, toGatewayError(err, ctx.requestId), 'openai'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('report: the same table, CSV and JSON as locally', async () => {
    const csv = await cli(['spend', 'report', '--url', url, '--group-by', 'day,tenant,feature', '--format', 'csv', '--to', '2026-12-02']);
    assert.equal(csv.code, 0, csv.err);
    assert.equal(csv.out, (await local().run(['report', '--config', CONFIG, '--group-by', 'day,tenant,feature', '--format', 'csv', '--to', '2026-12-02'])).out);
    const table = await cli(['spend', 'report', '--group-by', 'tenant'], { TOLLGATE_URL: url });
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^TOTAL +5 +0 /m);
    const bad = await cli(['spend', 'report', '--url', url, '--group-by', 'week']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^--group-by has "week"/);
  });

  test('reconcile: asks for spend by deployment, model and day over the export\'s days', async () => {
    const result = await cli(['spend', 'reconcile', '--provider', 'anthropic', '--file', invoice('anthropic-cost.csv'), '--url', url, '--json']);
    assert.equal(result.code, 3, result.err);
    assert.deepEqual(reader.spendQueries.at(-1), {
      groupBy: ['deployment', 'model', 'day'], filters: { provider: 'anthropic' }, from: '2026-12-01T00:00:00.000Z', to: '2026-12-03T00:00:00.000Z',
    });
    const report = JSON.parse(result.out);
    assert.deepEqual(report.models.map((r: any) => [r.model, r.vendor_usd, r.ledger_usd]), [['claude', 0, 7], ['claude-haiku-4-5', 0.4, 0], ['claude-sonnet-4-5', 8, 0]]);
  });

  test('a gateway without a ledger answers ledger_disabled', async () => {
    ledger = undefined;
    try {
      const result = await cli(['spend', 'report', '--url', url]);
      assert.equal(result.code, 1);
      assert.match(result.err, /^error: ledger_disabled: /);
    } finally {
      ledger = reader;
    }
  });
});

test('--config over a real SQLite ledger file: report and reconcile', async () => {
  const { dir, file } = dbConfig(MODELS);
  const ledgerUrl = `sqlite:${join(dir, 'ledger.db')}`;
  writeFileSync(file, readFileSync(file, 'utf8') + `ledger:\n  sinks: ["${ledgerUrl}"]\n`);
  const sink = await openLedgerSink(ledgerUrl);
  await sink.write(EVENTS);
  await sink.close();

  const report = await cli(['spend', 'report', '--config', file, '--group-by', 'day,tenant,feature', '--format', 'csv']);
  assert.equal(report.code, 0, report.err);
  assert.equal(report.out, (await local().run(['report', '--config', CONFIG, '--group-by', 'day,tenant,feature', '--format', 'csv'])).out);
  const reconciled = await cli(['spend', 'reconcile', '--provider', 'openai', '--file', invoice('openai-costs.csv'), '--config', file, '--json']);
  assert.equal(reconciled.code, 3, reconciled.err);
  assert.deepEqual(JSON.parse(reconciled.out).rows.filter((r: any) => r.flagged).map((r: any) => r.model), ['web-search-tool-calls']);
});
