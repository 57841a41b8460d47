// The cost ledger through the admin API: spend reports (GET /admin/spend), the audit queries
// (GET /admin/requests, /admin/requests/{request_id}) and Security's list of calls the guardrails
// flagged, redacted or blocked (GET /admin/guardrail-events), over the ledger's LedgerReader (its
// first SQL sink). The CLI's --config mode runs the same code over a reader it opens itself.
// Events written before the guardrail fields (schema v1) are answered with them filled in
// (guardrail_verdict null, guardrail_detectors []), so every item has the same shape.

import { GatewayError } from '../errors/gateway-error.ts';
import { withGuardrailFields, type LedgerEvent } from '../ledger/ledger-event.ts';
import type { GuardrailEventQuery, GuardrailEventRow, LedgerReader, RequestQuery, SpendDimension, SpendQuery, SpendRow } from '../ledger/ledger-sink.ts';
import { sumUsd } from '../ledger/reconcile/usd.ts';
import { StoreUnavailable } from '../stores/identity-store.ts';
import { DEFAULT_PAGE, MAX_PAGE } from './admin-schemas.ts';
import type { Page } from './admin-service.ts';
import { boundInstant, guardrailEventsQuery, requestsQuery, spendQuery, splitGroupBy, splitVerdicts } from './ledger-schemas.ts';
import { invalidField, parseInput } from './parse-input.ts';

export const SPEND_METRICS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'total_tokens', 'cost_usd', 'saved_usd'] as const;
export type SpendMetric = (typeof SPEND_METRICS)[number];
export type SpendTotals = Record<SpendMetric, number>;

/** One group of a spend report: its dimension values (null: not recorded), then its totals. */
export type SpendReportRow = Partial<Record<SpendDimension, string | null>> & SpendTotals;

export interface SpendReport {
  readonly group_by: SpendDimension[];
  /** The bounds as UTC ISO timestamps; null when open. */
  readonly from: string | null;
  readonly to: string | null;
  readonly filters: Record<string, string>;
  readonly data: SpendReportRow[];
  readonly totals: SpendTotals;
}

/** The ledger's admin operations; inputs are the raw query strings, validated here. */
export interface LedgerAdmin {
  spend(query: Record<string, unknown>): Promise<SpendReport>;
  requests(query: Record<string, unknown>): Promise<Page<LedgerEvent>>;
  request(requestId: string): Promise<LedgerEvent>;
  guardrailEvents(query: Record<string, unknown>): Promise<Page<GuardrailEventRow>>;
}

const SPEND_FILTERS = ['tenant', 'feature', 'model', 'key', 'team', 'provider'] as const;
const REQUEST_FILTERS = ['tenant', 'feature', 'model', 'key', 'team', 'user', 'status'] as const;

export function ledgerDisabled(): GatewayError {
  return new GatewayError('ledger_disabled',
    'The cost ledger cannot be queried on this gateway: it is off (ledger.enabled: false) or has no SQL sink. Add a sqlite: or postgres:// sink to ledger.sinks.');
}

/** The bounds of a query as UTC ISO timestamps; `from` must come before `to`. */
function bounds(query: { from?: string | undefined; to?: string | undefined }): { from?: string; to?: string } {
  const from = query.from === undefined ? undefined : boundInstant(query.from);
  const to = query.to === undefined ? undefined : boundInstant(query.to);
  if (from !== undefined && to !== undefined && from >= to) {
    throw invalidField('to', `Invalid query string: to (${query.to}) must be after from (${query.from}); to is exclusive (to=2027-01-01 ends with 2026-12-31).`);
  }
  return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
}

function pick<K extends string>(query: Record<string, unknown>, names: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const name of names) if (typeof query[name] === 'string') out[name] = query[name] as string;
  return out;
}

export function totalsOf(rows: readonly SpendTotals[]): SpendTotals {
  const sum = (metric: SpendMetric) => rows.reduce((n, row) => n + row[metric], 0);
  return {
    requests: sum('requests'), errors: sum('errors'),
    input_tokens: sum('input_tokens'), output_tokens: sum('output_tokens'), cached_input_tokens: sum('cached_input_tokens'), total_tokens: sum('total_tokens'),
    cost_usd: sumUsd(rows.map((row) => row.cost_usd)), saved_usd: sumUsd(rows.map((row) => row.saved_usd)),
  };
}

function reportRow(row: SpendRow, groupBy: readonly SpendDimension[]): SpendReportRow {
  const out: Record<string, string | number | null> = {};
  for (const dim of groupBy) out[dim] = row.group[dim] ?? null;
  for (const metric of SPEND_METRICS) out[metric] = row[metric];
  return out as SpendReportRow;
}

/** An opaque page cursor: the last event's (timestamp, event_id), base64url. */
export function encodeCursor(event: Pick<LedgerEvent, 'timestamp' | 'event_id'>): string {
  return Buffer.from(`${event.timestamp}|${event.event_id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { timestamp: string; eventId: string } {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const bar = text.indexOf('|');
  const timestamp = text.slice(0, bar);
  const eventId = text.slice(bar + 1);
  if (bar <= 0 || !eventId || boundInstant(timestamp) === undefined || !text.isWellFormed()) {
    throw invalidField('cursor', 'Invalid query string: cursor is not a cursor this API returned; pass the `next` value of the previous page unchanged.');
  }
  return { timestamp, eventId };
}

/** The reader's rows of one page (asked one more than `limit`) → the page, with `next` when another follows. */
function pageOf<T extends { timestamp: string; event_id: string }>(rows: readonly T[], limit: number, ask: number): Page<T> {
  const data = rows.slice(0, limit);
  // A full page of MAX_PAGE always offers a next one (readers take at most MAX_PAGE), which may turn out empty.
  const more = rows.length > limit || (ask === limit && rows.length === limit);
  return more ? { data, next: encodeCursor(data[data.length - 1]!) } : { data };
}

/** Reader failures: a database that cannot be reached is a 503, anything else a bug (500). */
async function readerCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof StoreUnavailable) {
      throw new GatewayError('store_unavailable', `The cost ledger database is unavailable: ${err.message} Retry when it is back.`, { cause: err });
    }
    throw err;
  }
}

/** The ledger admin over `reader`; without one (ledger off, or no SQL sink) every call is ledger_disabled. */
export function createLedgerAdmin(reader: LedgerReader | undefined): LedgerAdmin {
  const ready = (): LedgerReader => {
    if (!reader) throw ledgerDisabled();
    return reader;
  };
  return {
    async spend(raw) {
      const query = parseInput(spendQuery, raw ?? {}, 'query string');
      const groupBy = query.group_by === undefined ? [] : (splitGroupBy(query.group_by) as SpendDimension[]);
      const filters = pick(query, SPEND_FILTERS);
      const range = bounds(query);
      const request: SpendQuery = { groupBy, filters, ...range };
      const rows = await readerCall(() => ready().spend(request));
      const data = rows.map((row) => reportRow(row, groupBy));
      return { group_by: groupBy, from: range.from ?? null, to: range.to ?? null, filters: filters as Record<string, string>, data, totals: totalsOf(data) };
    },
    async requests(raw) {
      const query = parseInput(requestsQuery, raw ?? {}, 'query string');
      const limit = query.limit ?? DEFAULT_PAGE;
      // One more than the page tells whether another follows (readers take at most MAX_PAGE;
      // a full page of MAX_PAGE always offers a next one, which may turn out empty).
      const ask = Math.min(limit + 1, MAX_PAGE);
      const request: RequestQuery = {
        filters: pick(query, REQUEST_FILTERS),
        limit: ask,
        ...bounds(query),
        ...(query.cursor === undefined ? {} : { before: decodeCursor(query.cursor) }),
      };
      const events = await readerCall(() => ready().requests(request));
      return pageOf(events.map(withGuardrailFields), limit, ask);
    },
    async request(requestId) {
      const event = await readerCall(() => ready().request(requestId));
      if (!event) {
        throw new GatewayError('resource_not_found', `The cost ledger has no request "${requestId.slice(0, 200)}". Find request ids with GET /admin/requests.`);
      }
      return withGuardrailFields(event);
    },
    async guardrailEvents(raw) {
      const query = parseInput(guardrailEventsQuery, raw ?? {}, 'query string');
      const limit = query.limit ?? DEFAULT_PAGE;
      const ask = Math.min(limit + 1, MAX_PAGE);
      const verdicts = query.verdict === undefined ? undefined : splitVerdicts(query.verdict);
      const filters: GuardrailEventQuery['filters'] = {
        ...(query.tenant_id === undefined ? {} : { tenant: query.tenant_id }),
        ...(query.team_id === undefined ? {} : { team: query.team_id }),
        ...(query.key_id === undefined ? {} : { key: query.key_id }),
        ...(query.alias === undefined ? {} : { model: query.alias }),
      };
      const request: GuardrailEventQuery = {
        filters,
        limit: ask,
        ...(Array.isArray(verdicts) ? { verdicts } : {}),
        ...(query.detector === undefined ? {} : { detector: query.detector }),
        ...bounds(query),
        ...(query.cursor === undefined ? {} : { before: decodeCursor(query.cursor) }),
      };
      const rows = await readerCall(() => ready().guardrailEvents(request));
      return pageOf(rows, limit, ask);
    },
  };
}
