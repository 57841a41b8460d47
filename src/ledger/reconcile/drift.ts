// Reconciliation: the vendor's amounts against the ledger's, per model and UTC day, with each
// model's and the grand totals. Drift is (ledger − vendor) / vendor in percent; a row is flagged
// when the drift of its cost (or, for a token-only export, its tokens) is over the threshold.

import type { Invoice } from './invoice.ts';
import { modelKey } from './model-key.ts';
import { picoText, usdToPico } from './usd.ts';

/** The ledger's spend for one vendor model name and day. */
export interface LedgerAmount {
  readonly day: string;
  /** The name the vendor would bill it under, as well as it is known (see reconcile docs). */
  readonly model: string;
  readonly costUsd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly requests: number;
}

export interface DriftRow {
  /** YYYY-MM-DD, or "total" for a model's total and the grand total. */
  readonly day: string;
  /** The comparable model key, or "*" (all models: an export without models, or the grand total). */
  readonly model: string;
  readonly vendor_models: string[];
  readonly ledger_models: string[];
  /** null: the export has no cost column. */
  readonly vendor_usd: number | null;
  readonly ledger_usd: number;
  readonly diff_usd: number | null;
  /** null: no vendor amount to compare with (absent, or 0 while the ledger has some). */
  readonly drift_pct: number | null;
  /** Input plus output tokens; null: the export has no token columns. */
  readonly vendor_tokens: number | null;
  readonly ledger_tokens: number;
  readonly token_drift_pct: number | null;
  readonly flagged: boolean;
  /** Why it is flagged, in words ("cost +7.31%", "only in the ledger", …). */
  readonly note: string;
}

export interface ReconcileReport {
  readonly provider: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly threshold_pct: number;
  readonly min_usd: number;
  /** What drift is judged on: the cost when the export has one, else tokens. */
  readonly basis: 'cost' | 'tokens';
  readonly columns: Invoice['columns'];
  readonly rows: DriftRow[];
  readonly models: DriftRow[];
  readonly total: DriftRow;
  readonly flagged: number;
}

export interface ReconcileOptions {
  /** Flag drift over this many percent (default 5). */
  readonly thresholdPct?: number;
  /** Ignore cost differences smaller than this many dollars (default 0: flag any drift over the threshold). */
  readonly minUsd?: number;
}

interface Bucket {
  vendorModels: Set<string>;
  ledgerModels: Set<string>;
  vendorPico: bigint;
  ledgerPico: bigint;
  vendorTokens: number;
  ledgerTokens: number;
  inVendor: boolean;
  inLedger: boolean;
}

function bucket(): Bucket {
  return { vendorModels: new Set(), ledgerModels: new Set(), vendorPico: 0n, ledgerPico: 0n, vendorTokens: 0, ledgerTokens: 0, inVendor: false, inLedger: false };
}

function merge(into: Bucket, from: Bucket): void {
  for (const m of from.vendorModels) into.vendorModels.add(m);
  for (const m of from.ledgerModels) into.ledgerModels.add(m);
  into.vendorPico += from.vendorPico;
  into.ledgerPico += from.ledgerPico;
  into.vendorTokens += from.vendorTokens;
  into.ledgerTokens += from.ledgerTokens;
  into.inVendor ||= from.inVendor;
  into.inLedger ||= from.inLedger;
}

function percent(ledger: number, vendor: number): number | null {
  if (vendor === 0) return ledger === 0 ? 0 : null;
  return Math.round(((ledger - vendor) / vendor) * 1e6) / 1e4;
}

const signed = (pct: number) => `${pct > 0 ? '+' : ''}${pct.toFixed(2)}%`;

/** Compares an export with the ledger's amounts for the same provider and days. */
export function reconcile(invoice: Invoice, ledger: readonly LedgerAmount[], options: ReconcileOptions = {}): ReconcileReport {
  const threshold = options.thresholdPct ?? 5;
  const minPico = usdToPico(options.minUsd ?? 0);
  const hasCost = invoice.columns.cost !== undefined;
  const hasTokens = invoice.columns.input !== undefined || invoice.columns.output !== undefined;
  const byModel = invoice.lines.some((line) => line.model !== '');
  const keyOf = (model: string) => (byModel ? modelKey(model) || '(none)' : '*');
  const from = invoice.from;
  const to = invoice.to;

  const cells = new Map<string, Bucket>();
  const at = (day: string, model: string) => {
    const id = `${day}\u0000${model}`;
    let found = cells.get(id);
    if (!found) cells.set(id, (found = bucket()));
    return found;
  };
  for (const line of invoice.lines) {
    const b = at(line.day, keyOf(line.model));
    if (line.model) b.vendorModels.add(line.model);
    b.vendorPico += line.costPico ?? 0n;
    b.vendorTokens += (line.inputTokens ?? 0) + (line.outputTokens ?? 0);
    b.inVendor = true;
  }
  for (const amount of ledger) {
    if ((from && amount.day < from) || (to && amount.day >= to)) continue;
    const b = at(amount.day, keyOf(amount.model));
    b.ledgerModels.add(amount.model);
    b.ledgerPico += usdToPico(amount.costUsd);
    b.ledgerTokens += amount.inputTokens + amount.outputTokens;
    b.inLedger = true;
  }

  const row = (day: string, model: string, b: Bucket): DriftRow => {
    const vendorUsd = Number(picoText(b.vendorPico));
    const ledgerUsd = Number(picoText(b.ledgerPico));
    const drift = hasCost ? percent(ledgerUsd, vendorUsd) : null;
    const tokenDrift = hasTokens ? percent(b.ledgerTokens, b.vendorTokens) : null;
    const diff = b.ledgerPico - b.vendorPico;
    const costOver = hasCost && (drift === null || Math.abs(drift) > threshold) && (diff < 0n ? -diff : diff) >= minPico && diff !== 0n;
    const tokensOver = !hasCost && hasTokens && (tokenDrift === null || Math.abs(tokenDrift) > threshold);
    const notes: string[] = [];
    if (!b.inLedger) notes.push('only in the export');
    else if (!b.inVendor) notes.push('only in the ledger');
    if (costOver && b.inLedger && b.inVendor) notes.push(drift === null ? 'cost: vendor 0' : `cost ${signed(drift)}`);
    if (tokensOver && b.inLedger && b.inVendor) notes.push(tokenDrift === null ? 'tokens: vendor 0' : `tokens ${signed(tokenDrift)}`);
    return {
      day, model,
      vendor_models: [...b.vendorModels].sort(),
      ledger_models: [...b.ledgerModels].sort(),
      vendor_usd: hasCost ? vendorUsd : null,
      ledger_usd: ledgerUsd,
      diff_usd: hasCost ? Number(picoText(diff)) : null,
      drift_pct: drift,
      vendor_tokens: hasTokens ? b.vendorTokens : null,
      ledger_tokens: b.ledgerTokens,
      token_drift_pct: tokenDrift,
      flagged: costOver || tokensOver,
      note: notes.join('; '),
    };
  };

  const rows: DriftRow[] = [];
  const perModel = new Map<string, Bucket>();
  const all = bucket();
  const ids = [...cells.keys()].sort();
  for (const id of ids) {
    const [day, model] = id.split('\u0000') as [string, string];
    const b = cells.get(id)!;
    rows.push(row(day, model, b));
    let m = perModel.get(model);
    if (!m) perModel.set(model, (m = bucket()));
    merge(m, b);
    merge(all, b);
  }
  const models = [...perModel.keys()].sort().map((model) => row('total', model, perModel.get(model)!));
  return {
    provider: invoice.provider,
    from: from ?? null,
    to: to ?? null,
    threshold_pct: threshold,
    min_usd: options.minUsd ?? 0,
    basis: hasCost ? 'cost' : 'tokens',
    columns: invoice.columns,
    rows,
    models,
    total: row('total', '*', all),
    flagged: rows.filter((r) => r.flagged).length,
  };
}
