import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CsvError, parseCsv } from '../../src/ledger/reconcile/csv.ts';
import { reconcile, type LedgerAmount } from '../../src/ledger/reconcile/drift.ts';
import { invoiceDay, InvoiceError, parseInvoice } from '../../src/ledger/reconcile/invoice.ts';
import { modelKey } from '../../src/ledger/reconcile/model-key.ts';
import { formatUsd, sumUsd } from '../../src/ledger/reconcile/usd.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/invoices/${name}`, import.meta.url), 'utf8');

function amount(day: string, model: string, costUsd: number, inputTokens = 0, outputTokens = 0): LedgerAmount {
  return { day, model, costUsd, inputTokens, outputTokens, requests: 1 };
}

test('csv: quotes, doubled quotes, line breaks in quotes, CRLF, BOM, tabs, blank lines', () => {
  const rows = parseCsv('\uFEFFa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2, padded ,"two\nlines"\n3,,\n');
  assert.deepEqual(rows, [
    { line: 1, cells: ['a', 'b', 'c'] },
    { line: 2, cells: ['1', 'x, y', 'say "hi"'] },
    { line: 4, cells: ['2', 'padded', 'two\nlines'] },
    { line: 6, cells: ['3', '', ''] },
  ]);
  assert.deepEqual(parseCsv('a\tb\n1,5\t2\n').map((r) => r.cells), [['a', 'b'], ['1,5', '2']]);
  assert.deepEqual(parseCsv('a,b\r1,2').map((r) => r.cells), [['a', 'b'], ['1', '2']]);
  assert.throws(() => parseCsv('a,b\n"open,2\n'), CsvError);
  assert.throws(() => parseCsv('a,b\n"x"y,2\n'), /closing quote/);
});

test('model keys: vendor and ledger names of one model meet', () => {
  const same: Array<[string, string]> = [
    ['gpt-4o-2024-08-06, input', 'gpt-4o'],
    ['openai/gpt-4o', 'gpt-4o'],
    ['GPT-4o mini', 'gpt-4o-mini-2024-07-18'],
    ['gpt-4.1-mini', 'gpt-4.1-mini-2025-04-14'],
    ['Claude Sonnet 4.5', 'claude-sonnet-4-5-20250929'],
    ['Claude Haiku 4.5', 'claude-haiku-4-5'],
    ['Claude 3.5 Sonnet', 'claude-3-5-sonnet-20241022'],
    ['anthropic/claude-3-7-sonnet-latest', 'claude-3-7-sonnet-20250219'],
  ];
  for (const [a, b] of same) assert.equal(modelKey(a), modelKey(b), `${a} vs ${b}`);
  assert.notEqual(modelKey('gpt-4o'), modelKey('gpt-4o-mini'));
  assert.notEqual(modelKey('Claude Sonnet 4'), modelKey('Claude Sonnet 4.5'));
});

test('invoice days: dates, date-times (their UTC day), Unix seconds and milliseconds', () => {
  assert.equal(invoiceDay('2026-12-01'), '2026-12-01');
  assert.equal(invoiceDay('2026-12-01T00:00:00+00:00'), '2026-12-01');
  assert.equal(invoiceDay('2026-12-01T01:00:00+02:00'), '2026-11-30');
  assert.equal(invoiceDay('2026-12-01 15:00'), '2026-12-01');
  assert.equal(invoiceDay('2026-12-01 15:00:00 UTC'), '2026-12-01');
  assert.equal(invoiceDay('1796083200'), '2026-12-01');
  assert.equal(invoiceDay('1796083200000'), '2026-12-01');
  assert.equal(invoiceDay('12/01/2026'), undefined);
  assert.equal(invoiceDay('2026-02-30'), undefined);
  assert.equal(invoiceDay('2026-12-01garbage'), undefined);
});

test('OpenAI cost export: line items by day, empty days skipped', () => {
  const invoice = parseInvoice(fixture('openai-costs.csv'), 'openai');
  assert.deepEqual(invoice.columns, { day: 'start_time_iso', model: 'line_item', cost: 'amount_value', currency: 'amount_currency' });
  assert.equal(invoice.lines.length, 7);
  assert.equal(invoice.skipped, 1);
  assert.equal(invoice.from, '2026-12-01');
  assert.equal(invoice.to, '2026-12-03');
  assert.deepEqual(invoice.lines[0], { line: 2, day: '2026-12-01', model: 'gpt-4o-2024-08-06, input', costPico: 2_000_000_000_000n });
});

test('OpenAI usage, Anthropic cost and usage exports, and header aliases', () => {
  const usage = parseInvoice(fixture('openai-usage.csv'), 'openai');
  assert.deepEqual(usage.columns, { day: 'start_time_iso', model: 'model', input: ['input_tokens'], output: 'output_tokens', requests: 'num_model_requests' });
  assert.deepEqual(usage.lines.map((l) => [l.day, l.model, l.inputTokens, l.outputTokens, l.requests]), [
    ['2026-12-01', 'gpt-4o-2024-08-06', 59200, 10646, 10],
    ['2026-12-01', 'gpt-4o-mini-2024-07-18', 1000, 500, 4],
  ]);
  assert.equal(usage.skipped, 1);

  const cost = parseInvoice(fixture('anthropic-cost.csv'), 'anthropic');
  assert.deepEqual(cost.columns, { day: 'usage_date_utc', model: 'model', cost: 'cost_usd' });
  assert.equal(cost.lines.length, 5);
  assert.equal(sumUsd(cost.lines.map((l) => Number(l.costPico) / 1e12)), 8.4);

  const tokens = parseInvoice(fixture('anthropic-usage.csv'), 'anthropic');
  assert.deepEqual(tokens.columns.input, ['usage_input_tokens_no_cache', 'usage_input_tokens_cache_write_5m', 'usage_input_tokens_cache_write_1h', 'usage_input_tokens_cache_read']);
  assert.deepEqual(tokens.lines.map((l) => [l.day, l.model, l.inputTokens, l.outputTokens]), [
    ['2026-12-01', 'claude-sonnet-4-5-20250929', 6200, 800],
    ['2026-12-01', 'claude-sonnet-4-5-20250929', 500, 200],
    ['2026-12-02', 'claude-haiku-4-5-20251001', 100, 100],
  ]);

  const simple = parseInvoice(fixture('simple-aliases.csv'), 'openai');
  assert.deepEqual(simple.columns, { day: 'Date', model: 'Model', cost: 'Cost USD' });
  assert.deepEqual(simple.lines.map((l) => l.costPico), [1_234_500_000_000_000n, 10_000_000_000_000n]);
});

test('unusable exports and bad cells are InvoiceErrors naming the line and column', () => {
  assert.throws(() => parseInvoice('', 'openai'), /empty/);
  assert.throws(() => parseInvoice('foo,bar\n1,2\n', 'openai'), (err: Error) => err instanceof InvoiceError && /foo, bar/.test(err.message) && /usage_date_utc/.test(err.message));
  assert.throws(() => parseInvoice('date,model,cost_usd\n2026-12-01,gpt-4o,abc\n', 'openai'), /line 2, column cost_usd: "abc" is not an amount in US dollars/);
  assert.throws(() => parseInvoice('date,model,amount,currency\n2026-12-01,gpt-4o,5,EUR\n', 'openai'), /line 2, column currency: "EUR" is not USD/);
  assert.throws(() => parseInvoice('Date,Cost\n12/01/2026,5\n', 'openai'), /line 2, column Date: "12\/01\/2026" is not a date/);
  assert.throws(() => parseInvoice('date,input_tokens\n2026-12-01,-3\n', 'openai'), /not a token or request count/);
  // Anthropic's Cost API `amount` is in cents: not accepted as dollars.
  assert.throws(() => parseInvoice('date,model,amount\n2026-12-01,claude,123.45\n', 'anthropic'), /does not look like an Anthropic usage or cost export/);
});

test('reconcile: drift per model and day, model totals and the grand total; over 5% is flagged', () => {
  const invoice = parseInvoice(fixture('openai-costs.csv'), 'openai');
  const ledger = [
    amount('2026-12-01', 'gpt-4o', 5.1),
    amount('2026-12-01', 'gpt-4o-mini', 0.33),
    amount('2026-12-02', 'gpt-4o-2024-08-06', 9),
    amount('2026-12-02', 'gpt-4.1', 1),
    amount('2026-11-30', 'gpt-4o', 99),
  ];
  const report = reconcile(invoice, ledger);
  assert.equal(report.basis, 'cost');
  assert.deepEqual(report.rows.map((r) => [r.day, r.model, r.vendor_usd, r.ledger_usd, r.diff_usd, r.drift_pct, r.flagged, r.note]), [
    ['2026-12-01', 'gpt-4o', 5, 5.1, 0.1, 2, false, ''],
    ['2026-12-01', 'gpt-4o-mini', 0.3, 0.33, 0.03, 10, true, 'cost +10.00%'],
    ['2026-12-02', 'gpt-4-1', 0, 1, 1, null, true, 'only in the ledger'],
    ['2026-12-02', 'gpt-4o', 10, 9, -1, -10, true, 'cost -10.00%'],
    ['2026-12-02', 'web-search-tool-calls', 0.5, 0, -0.5, -100, true, 'only in the export'],
  ]);
  assert.deepEqual(report.rows[0]!.vendor_models, ['gpt-4o-2024-08-06, input', 'gpt-4o-2024-08-06, output']);
  assert.deepEqual(report.rows[3]!.ledger_models, ['gpt-4o-2024-08-06']);
  assert.deepEqual(report.models.map((r) => [r.model, r.vendor_usd, r.ledger_usd, r.drift_pct, r.flagged]), [
    ['gpt-4-1', 0, 1, null, true],
    ['gpt-4o', 15, 14.1, -6, true],
    ['gpt-4o-mini', 0.3, 0.33, 10, true],
    ['web-search-tool-calls', 0.5, 0, -100, true],
  ]);
  assert.deepEqual([report.total.vendor_usd, report.total.ledger_usd, report.total.diff_usd, report.total.drift_pct, report.total.flagged], [15.8, 15.43, -0.37, -2.3418, false]);
  assert.equal(report.flagged, 4);
  assert.deepEqual([report.from, report.to, report.threshold_pct], ['2026-12-01', '2026-12-03', 5]);

  const lenient = reconcile(invoice, ledger, { thresholdPct: 15, minUsd: 0.05 });
  assert.deepEqual(lenient.rows.filter((r) => r.flagged).map((r) => r.model), ['gpt-4-1', 'web-search-tool-calls']);
});

test('reconcile: a token-only export is judged on tokens; an export without models on whole days', () => {
  const tokens = reconcile(parseInvoice(fixture('anthropic-usage.csv'), 'anthropic'), [
    amount('2026-12-01', 'claude-sonnet-4-5-20250929', 0.5, 6700, 1000),
    amount('2026-12-02', 'claude-haiku-4-5', 0.01, 150, 100),
  ]);
  assert.equal(tokens.basis, 'tokens');
  assert.deepEqual(tokens.rows.map((r) => [r.day, r.model, r.vendor_usd, r.vendor_tokens, r.ledger_tokens, r.token_drift_pct, r.flagged]), [
    ['2026-12-01', 'claude-sonnet-4-5', null, 7700, 7700, 0, false],
    ['2026-12-02', 'claude-haiku-4-5', null, 200, 250, 25, true],
  ]);

  const days = reconcile(parseInvoice('usage_date,cost_usd\n2026-12-01,5\n', 'anthropic'), [
    amount('2026-12-01', 'claude-sonnet-4-5', 3),
    amount('2026-12-01', 'claude-haiku-4-5', 2.2),
  ]);
  assert.deepEqual(days.rows.map((r) => [r.day, r.model, r.vendor_usd, r.ledger_usd, r.drift_pct, r.flagged]), [['2026-12-01', '*', 5, 5.2, 4, false]]);
});

test('usd: exact sums and plain decimals', () => {
  assert.equal(sumUsd(Array(10).fill(0.1)), 1);
  assert.equal(formatUsd(1.875e-7), '0.0000001875');
  assert.equal(formatUsd(-0.37), '-0.37');
  assert.equal(formatUsd(0), '0');
  assert.equal(formatUsd(1e21), '1000000000000000000000');
});
