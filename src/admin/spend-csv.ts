// A spend report as CSV (RFC 4180, CRLF line ends): a header row, then one row per group, for
// spreadsheets and chargeback imports. Dimensions first, in group_by order, then the totals;
// an unrecorded dimension is an empty cell, and dollars are plain decimals (no exponents).

import { formatUsd } from '../ledger/reconcile/usd.ts';
import { SPEND_METRICS, type SpendReport } from './ledger-admin.ts';

/** One CSV cell: quoted when it holds a comma, quote or line break. */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(cells: ReadonlyArray<string | number | null | undefined>): string {
  return cells.map(csvCell).join(',');
}

const MONEY = new Set<string>(['cost_usd', 'saved_usd']);

/** The report's rows as CSV text, ending with a line break. */
export function spendCsv(report: Pick<SpendReport, 'group_by' | 'data'>): string {
  const columns = [...report.group_by, ...SPEND_METRICS];
  const lines = [csvLine(columns)];
  for (const row of report.data) {
    const record = row as Record<string, string | number | null | undefined>;
    lines.push(csvLine(columns.map((column) => (MONEY.has(column) ? formatUsd(Number(record[column] ?? 0)) : record[column]))));
  }
  return lines.join('\r\n') + '\r\n';
}
