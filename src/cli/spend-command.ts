// `tollgate spend report`: the ledger's spend, grouped and filtered like GET /admin/spend, as a
// table, CSV or JSON. `tollgate spend reconcile`: a vendor usage/cost export against the ledger,
// per model and day, flagging drift over a threshold (exit 3 when any row is flagged).

import { readFile } from 'node:fs/promises';
import { SPEND_METRICS, totalsOf, type SpendReport } from '../admin/ledger-admin.ts';
import { SPEND_DIMENSIONS } from '../admin/ledger-schemas.ts';
import { csvLine, spendCsv } from '../admin/spend-csv.ts';
import { isGatewayError } from '../errors/gateway-error.ts';
import { reconcile, type DriftRow, type LedgerAmount, type ReconcileReport } from '../ledger/reconcile/drift.ts';
import { INVOICE_PROVIDERS, InvoiceError, parseInvoice, type InvoiceProvider } from '../ledger/reconcile/invoice.ts';
import { formatUsd } from '../ledger/reconcile/usd.ts';
import { flag, flagHelp, helpWidth, inputFrom, JSON_FLAG, UsageError, type FieldFlag, type ParsedCommand } from './admin-flags.ts';
import { formatTable, type Column } from './print-table.ts';
import { CommandFailed, execute } from './run-command.ts';
import type { CliIO } from './run-cli.ts';
import { openLedgerReader, openSpendTarget, type LedgerReaderOpener, type ModelNames, type SpendTarget } from './spend-target.ts';

const FORMATS = ['table', 'csv', 'json'];
const FORMAT_FLAG = flag('format', '', 'string', 'table (default), csv or json (--json is the same as --format json)', 'F', FORMATS);
const RANGE_FLAGS: readonly FieldFlag[] = [
  flag('from', 'from', 'string', 'from this date or ISO date-time (inclusive; dates are UTC)', 'ISO'),
  flag('to', 'to', 'string', 'until this date or ISO date-time (exclusive: --to 2027-01-01 ends with 2026-12-31)', 'ISO'),
];
const REPORT_FLAGS: readonly FieldFlag[] = [
  flag('group-by', 'group_by', 'string', `comma-separated: ${SPEND_DIMENSIONS.join(', ')} (default: one row of totals)`, 'a,b'),
  ...RANGE_FLAGS,
  flag('tenant', 'tenant', 'string', 'only this tenant', 'ID'),
  flag('feature', 'feature', 'string', 'only this feature (X-Feature-Id)', 'ID'),
  flag('model', 'model', 'string', 'only this model alias', 'ALIAS'),
  flag('key', 'key', 'string', 'only this key_id', 'ID'),
  flag('team', 'team', 'string', 'only this team', 'ID'),
  flag('provider', 'provider', 'string', 'only this provider (openai, anthropic, …)', 'P'),
  FORMAT_FLAG,
];
const RECONCILE_FLAGS: readonly FieldFlag[] = [
  flag('provider', '', 'string', 'whose export it is: openai or anthropic', 'P', INVOICE_PROVIDERS),
  flag('file', '', 'string', 'the vendor\'s usage or cost export (CSV)', 'FILE'),
  flag('threshold', '', 'number', 'flag drift over this many percent (default 5)', 'PCT'),
  flag('min-usd', '', 'number', 'ignore cost differences below this many dollars (default 0)', 'USD'),
  FORMAT_FLAG,
];

const TARGET_FLAGS: readonly FieldFlag[] = [
  flag('config', '', 'string', 'read the cost ledger\'s database directly: the first SQL sink of ledger.sinks in FILE', 'FILE'),
  flag('url', '', 'string', 'ask a running gateway\'s admin API (or set TOLLGATE_URL)', 'URL'),
  flag('admin-key', '', 'string', 'admin key for --url (or TOLLGATE_ADMIN_KEY, else TOLLGATE_MASTER_KEY)', 'KEY'),
  JSON_FLAG,
];

const width = helpWidth([...REPORT_FLAGS, ...RECONCILE_FLAGS, ...TARGET_FLAGS]);
export const SPEND_USAGE = `Usage:
  tollgate spend report [options]       spend from the cost ledger (GET /admin/spend)
  tollgate spend reconcile --provider openai|anthropic --file EXPORT.csv [options]
                                        compare a vendor usage/cost export with the ledger,
                                        per model and UTC day; exit 3 when drift is flagged

Report:
${flagHelp(REPORT_FLAGS, width)}

Reconcile:
${flagHelp(RECONCILE_FLAGS, width)}

Where:
${flagHelp(TARGET_FLAGS, width)}

Export columns accepted by reconcile: docs/admin-api.md#reconciling-with-vendor-invoices.`;

export interface SpendDeps {
  /** Opens the ledger's SQL sink in --config mode (tests pass a fake). */
  readonly openReader?: LedgerReaderOpener;
}

function outputFormat(values: ParsedCommand['values']): 'table' | 'csv' | 'json' {
  const format = values.format as string | undefined;
  if (format !== undefined && !FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}; got "${format}".`);
  if (values.json === true && format !== undefined && format !== 'json') throw new UsageError(`--json and --format ${format} cannot be used together.`);
  return values.json === true ? 'json' : ((format ?? 'table') as 'table' | 'csv' | 'json');
}

async function withTarget<T>(values: ParsedCommand['values'], io: CliIO, deps: SpendDeps, work: (target: SpendTarget) => Promise<T>): Promise<T> {
  const target = await openSpendTarget(values, io, deps.openReader ?? openLedgerReader);
  try {
    return await work(target);
  } finally {
    await target.close();
  }
}

// ── report ──────────────────────────────────────────────────────────────────
const METRIC_HEADERS: Record<string, string> = {
  requests: 'REQUESTS', errors: 'ERRORS', input_tokens: 'INPUT', output_tokens: 'OUTPUT', cached_input_tokens: 'CACHED',
  total_tokens: 'TOKENS', cost_usd: 'COST_USD', saved_usd: 'SAVED_USD',
};

/** Dollars for the table: to the micro-dollar. */
const tableUsd = (usd: number) => formatUsd(Math.round(usd * 1e6) / 1e6);

export function reportTable(report: SpendReport): string {
  const columns: Column[] = [...report.group_by.map((dim) => ({ field: dim })), ...SPEND_METRICS.map((m) => ({ field: m, header: METRIC_HEADERS[m]! }))];
  const shown = (row: Record<string, unknown>) => ({ ...row, cost_usd: tableUsd(Number(row.cost_usd)), saved_usd: tableUsd(Number(row.saved_usd)) });
  const rows: Array<Record<string, unknown>> = report.data.map((row) => shown(row));
  if (report.group_by.length > 0) {
    const label = report.group_by[0]!;
    rows.push(shown({ ...report.totals, [label]: 'TOTAL' }));
  } else if (rows.length === 0) {
    rows.push(shown({ ...totalsOf([]) }));
  }
  return formatTable(rows, columns);
}

const FLAG_OF_FIELD = new Map(REPORT_FLAGS.filter((f) => f.field).map((f) => [f.field, f.flag]));

/** The API's 400 about one query field, as a usage error about its flag (same check locally and remotely). */
function asUsageError(err: unknown): unknown {
  if (!isGatewayError(err) || err.code !== 'invalid_request' || !err.param || !FLAG_OF_FIELD.has(err.param)) return err;
  const detail = err.message.replace(/^Invalid query string: /, '').replace(new RegExp(`^${err.param}:? `), '');
  return new UsageError(`--${FLAG_OF_FIELD.get(err.param)} ${detail}`);
}

function runReport(argv: string[], io: CliIO, deps: SpendDeps): Promise<number> {
  return execute(io, argv, { usage: SPEND_USAGE, flags: [...REPORT_FLAGS, ...TARGET_FLAGS], takesId: false }, (values) => {
    const format = outputFormat(values);
    const query = inputFrom(values, REPORT_FLAGS);
    return () => withTarget(values, io, deps, async (target) => {
      const report = await target.ledger.spend(query).catch((err: unknown) => {
        throw asUsageError(err);
      });
      if (format === 'json') io.out(JSON.stringify(report, null, 2));
      else if (format === 'csv') io.out(spendCsv(report).replace(/\n$/, '')); // io.out ends the last CRLF
      else io.out(reportTable(report));
    });
  });
}

// ── reconcile ───────────────────────────────────────────────────────────────
/** The vendor's name for a ledger group: the deployment's model, else the alias's one model there, else the alias. */
export function vendorModel(group: { deployment?: string | null; model?: string | null }, provider: string, names: ModelNames | undefined): string {
  const byDeployment = group.deployment ? names?.deployments.get(group.deployment) : undefined;
  const byAlias = group.model ? names?.aliases.get(group.model)?.get(provider) : undefined;
  return byDeployment ?? byAlias ?? group.model ?? '';
}

const pct = (value: number | null) => (value === null ? '-' : `${value > 0 ? '+' : ''}${value.toFixed(2)}%`);
const DRIFT_COLUMNS: readonly Column[] = [
  { field: 'day', header: 'DAY' }, { field: 'model', header: 'MODEL' },
  { field: 'vendor', header: 'VENDOR_USD' }, { field: 'ledger', header: 'LEDGER_USD' }, { field: 'diff', header: 'DIFF_USD' }, { field: 'drift', header: 'DRIFT' },
  { field: 'vendor_tokens', header: 'VENDOR_TOKENS' }, { field: 'ledger_tokens', header: 'LEDGER_TOKENS' }, { field: 'token_drift', header: 'TOKEN_DRIFT' },
  { field: 'flag', header: 'FLAG' },
];

function tableRow(row: DriftRow): Record<string, unknown> {
  return {
    day: row.day, model: row.model,
    vendor: row.vendor_usd === null ? null : tableUsd(row.vendor_usd), ledger: tableUsd(row.ledger_usd), diff: row.diff_usd === null ? null : tableUsd(row.diff_usd),
    drift: pct(row.drift_pct), vendor_tokens: row.vendor_tokens, ledger_tokens: row.ledger_tokens, token_drift: pct(row.token_drift_pct),
    flag: row.flagged ? `DRIFT${row.note ? ` (${row.note})` : ''}` : row.note,
  };
}

export function reconcileTable(report: ReconcileReport): string {
  const hasTokens = report.rows.some((r) => r.vendor_tokens !== null);
  const hasCost = report.basis === 'cost';
  const columns = DRIFT_COLUMNS.filter((c) => (hasTokens || !c.field.includes('token')) && (hasCost || !['vendor', 'diff', 'drift'].includes(c.field)));
  const rows = [...report.rows, ...report.models, report.total].map(tableRow);
  return formatTable(rows, columns);
}

/** The report as CSV with CRLF line ends, but for the last line's \n (io.out adds it). */
export function reconcileCsv(report: ReconcileReport): string {
  const fields = ['day', 'model', 'vendor_usd', 'ledger_usd', 'diff_usd', 'drift_pct', 'vendor_tokens', 'ledger_tokens', 'token_drift_pct', 'flagged', 'note', 'vendor_models', 'ledger_models'] as const;
  const money = new Set(['vendor_usd', 'ledger_usd', 'diff_usd']);
  const lines = [csvLine([...fields])];
  for (const row of [...report.rows, ...report.models, report.total]) {
    lines.push(csvLine(fields.map((f) => {
      const value = row[f];
      if (value === null) return null;
      if (Array.isArray(value)) return value.join('; ');
      return money.has(f) ? formatUsd(value as number) : String(value);
    })));
  }
  return lines.join('\r\n') + '\r';
}

function number(values: ParsedCommand['values'], name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of 0 or more, got "${String(raw)}".`);
  return n;
}

function runReconcile(argv: string[], io: CliIO, deps: SpendDeps): Promise<number> {
  let flagged = 0;
  return execute(io, argv, { usage: SPEND_USAGE, flags: [...RECONCILE_FLAGS, ...TARGET_FLAGS], takesId: false }, (values) => {
    const provider = values.provider as string | undefined;
    if (!provider || !(INVOICE_PROVIDERS as readonly string[]).includes(provider)) {
      throw new UsageError(`reconcile needs --provider ${INVOICE_PROVIDERS.join('|')}${provider ? `; got "${provider}"` : ''}.`);
    }
    const file = values.file;
    if (typeof file !== 'string' || file === '') throw new UsageError('reconcile needs --file EXPORT.csv (the vendor\'s usage or cost export).');
    const format = outputFormat(values);
    const options = { thresholdPct: number(values, 'threshold', 5), minUsd: number(values, 'min-usd', 0) };
    return async () => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new CommandFailed(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
      }
      let invoice;
      try {
        invoice = parseInvoice(text, provider as InvoiceProvider);
      } catch (err) {
        if (err instanceof InvoiceError) throw new CommandFailed(`${file}: ${err.message}`);
        throw err;
      }
      if (invoice.lines.length === 0) throw new CommandFailed(`${file} has no usage rows to compare.`);
      const report = await withTarget(values, io, deps, async (target) => {
        // TODO(ledger): group by the resolved (vendor) model once SpendDimension offers it
        // (model_resolved); until then deployment → model comes from the config (--config only).
        const spend = await target.ledger.spend({ group_by: 'deployment,model,day', provider, from: invoice.from, to: invoice.to });
        const amounts: LedgerAmount[] = spend.data.map((row) => ({
          day: row.day ?? '',
          model: vendorModel(row, provider, target.models),
          costUsd: row.cost_usd,
          inputTokens: row.input_tokens,
          outputTokens: row.output_tokens,
          requests: row.requests,
        }));
        return reconcile(invoice, amounts, options);
      });
      flagged = report.flagged;
      if (format === 'json') io.out(JSON.stringify(report, null, 2));
      else if (format === 'csv') io.out(reconcileCsv(report));
      else io.out(reconcileTable(report));
      const basis = report.basis === 'cost' ? 'cost' : 'tokens (the export has no cost column)';
      io.err(`${report.rows.length} model-days from ${report.from} to ${report.to} (exclusive), compared on ${basis}: `
        + (flagged === 0 ? `none drifts over ${options.thresholdPct}%.` : `${flagged} drift${flagged === 1 ? 's' : ''} over ${options.thresholdPct}%.`)
        + (invoice.skipped > 0 ? ` ${invoice.skipped} empty row${invoice.skipped === 1 ? '' : 's'} skipped.` : ''));
    };
  }).then((code) => (code === 0 && flagged > 0 ? 3 : code));
}

/** Entry from run-cli: `tollgate spend report|reconcile ...`. */
export async function runSpendCommand(argv: string[], io: CliIO, deps: SpendDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(SPEND_USAGE);
    return 0;
  }
  if (sub === 'report') return runReport(rest, io, deps);
  if (sub === 'reconcile') return runReconcile(rest, io, deps);
  io.err(`${sub === undefined ? 'tollgate spend needs a command' : `unknown spend command "${sub}"`}; one of: report, reconcile.\n\n${SPEND_USAGE}`);
  return 2;
}
