// Formats an evaluation result: one markdown table per split (tune, holdout, all) with TP, FP, FN,
// precision, recall and F1 per detector and per kind, or the same figures as JSON.

import { f1, precision, recall, SPLITS, type EvalResult, type SplitOrAll } from './harness.ts';

const fmt = (x: number | null) => (x === null ? '–' : x.toFixed(3));

const SPLIT_TITLES: Readonly<Record<SplitOrAll, string>> = {
  tune: 'tune (the half the detectors were tuned on)',
  holdout: 'holdout (not used for tuning)',
  all: 'all',
};

export function markdown(result: EvalResult, splits: readonly SplitOrAll[] = SPLITS): string {
  const lines: string[] = [];
  for (const s of splits) {
    lines.push(`### ${SPLIT_TITLES[s]}: ${result.cases[s]} cases`, '');
    lines.push('| detector | TP | FP | FN | precision | recall | F1 |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const row of result.rows) {
      const c = row.counts[s];
      const name = row.aggregate ? `**${row.name} (any detector)**` : `\`${row.name}\``;
      lines.push(`| ${name} | ${c.tp} | ${c.fp} | ${c.fn} | ${fmt(precision(c))} | ${fmt(recall(c))} | ${fmt(f1(c))} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The case ids each row got wrong, for the given splits. */
export function errors(result: EvalResult, splits: readonly SplitOrAll[]): string {
  const lines: string[] = [];
  for (const s of splits)
    for (const row of result.rows) {
      const w = row.wrong[s];
      if (w.fp.length > 0) lines.push(`${s} ${row.name} false positives: ${w.fp.join(' ')}`);
      if (w.fn.length > 0) lines.push(`${s} ${row.name} missed: ${w.fn.join(' ')}`);
    }
  return lines.join('\n');
}

export function json(result: EvalResult): string {
  const rows = result.rows.map((row) => ({
    name: row.name,
    kind: row.kind,
    aggregate: row.aggregate,
    ...Object.fromEntries(SPLITS.map((s) => [s, { ...row.counts[s], precision: precision(row.counts[s]), recall: recall(row.counts[s]), f1: f1(row.counts[s]) }])),
  }));
  return JSON.stringify({ cases: result.cases, rows }, null, 2);
}
