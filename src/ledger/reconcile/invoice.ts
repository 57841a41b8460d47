// Vendor usage/cost exports (CSV) → daily amounts per model, for reconciling with the ledger.
//
// Columns are found by header name (case and spacing ignored; the first alias present wins):
//
//   day      usage_date_utc, usage_date, date, day, start_time_iso, start_time, starting_at,
//            bucket_start_time. A date (2026-12-01), an ISO date-time (its UTC day; without a
//            zone it is read as UTC), or Unix seconds / milliseconds (OpenAI's start_time).
//   model    model, model_version, model_id, model_name, line_item (OpenAI's "gpt-4o-2024-08-06,
//            input": the part before the comma). Optional: without it, days are compared whole.
//   cost     cost_usd, amount_value, amount_usd, cost, amount (OpenAI only: Anthropic's Cost API
//            `amount` is in cents). US dollars; "$" and thousands separators are allowed.
//   currency amount_currency, currency: when present it must be USD.
//   input    input_tokens | prompt_tokens | the sum of usage_input_tokens_no_cache,
//            usage_input_tokens_cache_write_5m, usage_input_tokens_cache_write_1h,
//            usage_input_tokens_cache_read (Anthropic's usage export) | the sum of
//            uncached_input_tokens, cache_read_input_tokens, cache_creation_input_tokens.
//   output   output_tokens, completion_tokens, usage_output_tokens.
//   requests num_model_requests, requests, request_count.
//
// A file needs a day column and a cost column or token columns. Rows whose cost and token cells
// are all empty (days without usage) are skipped; any other unreadable cell is an error naming
// its line and column.

import { CsvError, parseCsv } from './csv.ts';
import { usdToPico } from './usd.ts';

export type InvoiceProvider = 'openai' | 'anthropic';
export const INVOICE_PROVIDERS: readonly InvoiceProvider[] = ['openai', 'anthropic'];

export class InvoiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvoiceError';
  }
}

export interface InvoiceLine {
  readonly line: number;
  /** UTC day, YYYY-MM-DD. */
  readonly day: string;
  /** The model as the file names it ('' when the row or file has none). */
  readonly model: string;
  readonly costPico?: bigint;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  readonly requests?: number;
}

export interface Invoice {
  readonly provider: InvoiceProvider;
  /** The header names used, as they appear in the file. */
  readonly columns: {
    readonly day: string;
    readonly model?: string;
    readonly cost?: string;
    readonly currency?: string;
    readonly input?: readonly string[];
    readonly output?: string;
    readonly requests?: string;
  };
  readonly lines: readonly InvoiceLine[];
  /** Rows skipped because every amount cell was empty. */
  readonly skipped: number;
  /** The first day, and the day after the last one (exclusive); undefined for a file without rows. */
  readonly from?: string;
  readonly to?: string;
}

const DAY_COLUMNS = ['usage_date_utc', 'usage_date', 'date', 'day', 'start_time_iso', 'start_time', 'starting_at', 'bucket_start_time'];
const MODEL_COLUMNS = ['model', 'model_version', 'model_id', 'model_name', 'line_item'];
const COST_COLUMNS: Record<InvoiceProvider, string[]> = {
  openai: ['cost_usd', 'amount_value', 'amount_usd', 'cost', 'amount'],
  anthropic: ['cost_usd', 'amount_value', 'amount_usd', 'cost'],
};
const CURRENCY_COLUMNS = ['amount_currency', 'currency'];
const INPUT_GROUPS = [
  ['input_tokens'],
  ['prompt_tokens'],
  ['usage_input_tokens_no_cache', 'usage_input_tokens_cache_write_5m', 'usage_input_tokens_cache_write_1h', 'usage_input_tokens_cache_read'],
  ['uncached_input_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'],
];
const OUTPUT_COLUMNS = ['output_tokens', 'completion_tokens', 'usage_output_tokens'];
const REQUEST_COLUMNS = ['num_model_requests', 'requests', 'request_count'];

function normalizeHeader(name: string): string {
  return name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/** What the file's header offers, for the error message when it is not a usable export. */
function accepted(provider: InvoiceProvider): string {
  return `a day column (${DAY_COLUMNS.join(', ')}) and a cost column (${COST_COLUMNS[provider].join(', ')}) or token columns (input_tokens and output_tokens, or Anthropic's usage_input_tokens_* and usage_output_tokens)`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})/;

/** The UTC day of a date, date-time or Unix time cell; undefined when it is none of those. */
export function invoiceDay(cell: string): string | undefined {
  const text = cell.trim();
  if (/^\d{9,13}(\.\d+)?$/.test(text)) {
    const n = Number(text);
    const ms = text.split('.')[0]!.length >= 12 ? n : n * 1000;
    return new Date(ms).toISOString().slice(0, 10);
  }
  const match = DATE.exec(text);
  if (!match) return undefined;
  const rest = text.slice(10);
  if (rest !== '' && !/^[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$/i.test(rest)) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  const zone = /(Z|[+-]\d{2}:?\d{2})$/i.exec(rest)?.[1];
  if (!zone || /^(z|[+-]00:?00)$/i.test(zone)) return match[0];
  const ms = Date.parse(`${match[0]}T${rest.slice(1).replace(/\s/g, '')}`);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : undefined;
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** Parses a vendor export; throws InvoiceError naming the line and column of any bad cell. */
export function parseInvoice(text: string, provider: InvoiceProvider): Invoice {
  let records;
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvError) throw new InvoiceError(`not a readable CSV file: ${err.message}`);
    throw err;
  }
  const [header, ...rows] = records;
  if (!header) throw new InvoiceError(`the file is empty; expected a header row with ${accepted(provider)}.`);
  const names = header.cells.map(normalizeHeader);
  const find = (aliases: readonly string[]) => {
    for (const alias of aliases) {
      const index = names.indexOf(alias);
      if (index !== -1) return index;
    }
    return -1;
  };
  const dayAt = find(DAY_COLUMNS);
  const modelAt = find(MODEL_COLUMNS);
  const costAt = find(COST_COLUMNS[provider]);
  const currencyAt = find(CURRENCY_COLUMNS);
  const inputAt = INPUT_GROUPS.map((group) => group.map((name) => names.indexOf(name)).filter((i) => i !== -1)).find((group) => group.length > 0) ?? [];
  const outputAt = find(OUTPUT_COLUMNS);
  const requestsAt = find(REQUEST_COLUMNS);
  if (dayAt === -1 || (costAt === -1 && inputAt.length === 0 && outputAt === -1)) {
    const shown = header.cells.slice(0, 30).join(', ');
    throw new InvoiceError(`this does not look like ${provider === 'openai' ? 'an OpenAI' : 'an Anthropic'} usage or cost export: its columns are ${shown}; expected ${accepted(provider)}.`);
  }
  const headerName = (index: number) => header.cells[index]!;

  const lines: InvoiceLine[] = [];
  let skipped = 0;
  for (const row of rows) {
    const cell = (index: number) => (index === -1 ? '' : (row.cells[index] ?? '').trim());
    const bad = (index: number, expected: string): never => {
      throw new InvoiceError(`line ${row.line}, column ${headerName(index)}: ${JSON.stringify(cell(index).slice(0, 64))} is not ${expected}.`);
    };
    const count = (index: number): number | undefined => {
      const value = cell(index).replace(/,/g, '');
      if (value === '') return undefined;
      const n = Number(value);
      return Number.isFinite(n) && n >= 0 ? Math.round(n) : bad(index, 'a token or request count');
    };
    const cost = (() => {
      const value = cell(costAt).replace(/^\$|(?<=\d),(?=\d{3})/g, '').replace(/^(-)\$/, '$1');
      if (value === '') return undefined;
      return /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value) ? usdToPico(Number(value)) : bad(costAt, 'an amount in US dollars');
    })();
    const inputs = inputAt.map(count).filter((n): n is number => n !== undefined);
    const input = inputs.length > 0 ? inputs.reduce((a, b) => a + b, 0) : undefined;
    const output = count(outputAt);
    if (cost === undefined && input === undefined && output === undefined) {
      skipped++;
      continue;
    }
    const currency = cell(currencyAt);
    if (currency !== '' && currency.toLowerCase() !== 'usd') bad(currencyAt, 'USD (only US-dollar exports can be compared with the ledger)');
    const day = invoiceDay(cell(dayAt)) ?? bad(dayAt, 'a date (2026-12-01), an ISO date-time or Unix seconds');
    const requests = count(requestsAt);
    lines.push({
      line: row.line, day, model: cell(modelAt),
      ...(cost === undefined ? {} : { costPico: cost }),
      ...(input === undefined ? {} : { inputTokens: input }),
      ...(output === undefined ? {} : { outputTokens: output }),
      ...(requests === undefined ? {} : { requests }),
    });
  }
  const days = lines.map((l) => l.day).sort();
  return {
    provider,
    columns: {
      day: headerName(dayAt),
      ...(modelAt === -1 ? {} : { model: headerName(modelAt) }),
      ...(costAt === -1 ? {} : { cost: headerName(costAt) }),
      ...(currencyAt === -1 ? {} : { currency: headerName(currencyAt) }),
      ...(inputAt.length === 0 ? {} : { input: inputAt.map(headerName) }),
      ...(outputAt === -1 ? {} : { output: headerName(outputAt) }),
      ...(requestsAt === -1 ? {} : { requests: headerName(requestsAt) }),
    },
    lines,
    skipped,
    ...(days.length === 0 ? {} : { from: days[0]!, to: nextDay(days[days.length - 1]!) }),
  };
}
