// What the SQL ledger sinks share: an event's row (the queryable columns beside the whole event
// as JSON), exact money in integer pico-dollars, and the timestamps the ledger accepts. The
// readers' queries are built in ledger-queries.ts.
//
// Money. An event carries its costs as USD doubles. Summing doubles drifts (ten events of $0.10
// sum to 0.9999999999999999), and micro-dollars are too coarse for one cheap call (10 cached
// tokens at $0.01875 per million cost $0.0000001875). So the columns hold integer pico-dollars
// (USD × 10^12): exact for every price quoted to 10^-6 $ per million tokens, up to about
// $9.2 million per event. Sums are exact integers (PostgreSQL: numeric; SQLite: split into
// micro-dollars and the pico remainder so int64 never overflows) and become a double only once,
// correctly rounded, in the report. The exact doubles as written stay in event_json.
//
// Timestamps. `timestamp` must be ISO 8601 with a zone (Z or ±hh:mm). Both backends keep it in
// milliseconds (SQLite: epoch ms; PostgreSQL: timestamptz of that ms), and query bounds and
// cursors are normalised the same way, so ordering and paging agree across backends. `day` is
// the UTC day of the timestamp.
//
// Guardrails (schema v2). guardrail_verdict is the event's outcome.guardrail_verdict (null: no
// policy applied, or a v1 event); guardrail_detectors the JSON text of its
// outcome.guardrail_detectors ('[]' when none, or a v1 event): text in both backends, so one row
// and one query (ledger-queries.ts) serve both.

import type { LedgerEvent, LedgerStatus } from '../ledger-event.ts';
import { picoToUsd, usdToPico } from '../pico-dollars.ts';

/** A batch holds an event the sink cannot store (a bug upstream: retrying will not help). */
export class InvalidLedgerEvent extends TypeError {
  readonly eventId: string | undefined;
  constructor(message: string, eventId: string | undefined) {
    super(message);
    this.name = 'InvalidLedgerEvent';
    this.eventId = eventId;
  }
}

export { picoToUsd, usdToPico };

/** A stored pico amount as a JS value a driver takes: a number while exact, else a bigint. */
export function picoParam(pico: bigint): number | bigint {
  return pico >= BigInt(Number.MIN_SAFE_INTEGER) && pico <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(pico) : pico;
}

const ZONED_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** The instants the ledger stores: 1970-01-01 up to (not including) 9999-01-01. */
const MAX_MS = Date.parse('9999-01-01T00:00:00Z');

/** Epoch ms of an event timestamp: ISO 8601 with a zone, so every backend reads the same instant. */
export function eventInstantMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || !ZONED_ISO.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms >= 0 && ms < MAX_MS ? ms : undefined;
}

/** Epoch ms of a query bound or cursor: a zoned ISO timestamp, or a date (UTC midnight). */
export function queryInstantMs(value: string, field: string): number {
  const ms = DATE_ONLY.test(value) ? Date.parse(`${value}T00:00:00Z`) : eventInstantMs(value);
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new RangeError(`${field} must be an ISO-8601 timestamp with a zone (or YYYY-MM-DD), got ${JSON.stringify(value)}`);
  }
  return ms;
}

/** YYYY-MM-DD of the UTC day holding `ms` (1970 to 9999), by calendar arithmetic (no Date). */
export function utcDay(ms: number): string {
  // Howard Hinnant's civil_from_days, for days since 1970-01-01.
  const z = Math.floor(ms / 86_400_000) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}`;
}

/** The stored columns of one event, in COLUMNS order. */
export interface LedgerRow {
  readonly event_id: string;
  readonly ts_ms: number;
  readonly day: string;
  readonly request_id: string;
  readonly endpoint: string;
  readonly stream: boolean;
  readonly tenant_id: string | null;
  readonly feature_id: string | null;
  readonly key_id: string | null;
  readonly team_id: string | null;
  readonly user_id_hash: string | null;
  readonly model_alias: string | null;
  readonly model_resolved: string | null;
  readonly provider: string | null;
  readonly deployment_id: string | null;
  readonly status: LedgerStatus;
  readonly error_code: string | null;
  readonly http_status: number;
  readonly cache_hit: boolean;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cached_input_tokens: number;
  readonly cache_write_tokens: number;
  readonly reasoning_tokens: number;
  readonly total_tokens: number;
  readonly usage_estimated: boolean;
  readonly cost_input_pico: bigint;
  readonly cost_output_pico: bigint;
  readonly cost_total_pico: bigint;
  readonly cost_saved_pico: bigint;
  readonly price_missing: boolean;
  readonly latency_ms: number;
  /** outcome.guardrail_verdict; null when absent. */
  readonly guardrail_verdict: string | null;
  /** JSON text of outcome.guardrail_detectors; '[]' when absent. */
  readonly guardrail_detectors: string;
  readonly schema_version: number;
  readonly event_json: string;
}

/** Column order of every INSERT (the ts column is ts_ms in SQLite, ts in PostgreSQL). */
export const COLUMNS: readonly (keyof LedgerRow)[] = [
  'event_id', 'ts_ms', 'day', 'request_id', 'endpoint', 'stream',
  'tenant_id', 'feature_id', 'key_id', 'team_id', 'user_id_hash',
  'model_alias', 'model_resolved', 'provider', 'deployment_id',
  'status', 'error_code', 'http_status', 'cache_hit',
  'input_tokens', 'output_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'total_tokens', 'usage_estimated',
  'cost_input_pico', 'cost_output_pico', 'cost_total_pico', 'cost_saved_pico', 'price_missing',
  'latency_ms', 'guardrail_verdict', 'guardrail_detectors', 'schema_version', 'event_json',
];

/**
 * The columns of one event; throws InvalidLedgerEvent when a field cannot be stored. `line` is
 * JSON.stringify(event) when the caller made it already (event_json).
 */
export function ledgerRow(event: LedgerEvent, line?: string): LedgerRow {
  const id = typeof event?.event_id === 'string' ? event.event_id : undefined;
  const bad = (what: string): never => {
    throw new InvalidLedgerEvent(`ledger event ${JSON.stringify(id ?? null)}: ${what}`, id);
  };
  if (!id) bad('event_id must be a non-empty string');
  const ts = eventInstantMs(event.timestamp) ?? bad(`timestamp must be ISO 8601 with a zone, from 1970 to 9998, got ${JSON.stringify(event.timestamp)}`);
  if (typeof event.request_id !== 'string') bad('request_id must be a string');
  const usage = event.usage ?? bad('usage is missing');
  const cost = event.cost_usd ?? bad('cost_usd is missing');
  const outcome = event.outcome ?? bad('outcome is missing');
  const count = (value: unknown, field: string): number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : bad(`${field} must be a non-negative integer, got ${String(value)}`);
  const pico = (value: unknown, field: string): bigint =>
    typeof value === 'number' && Number.isFinite(value) ? usdToPico(value) : bad(`${field} must be a finite number, got ${String(value)}`);
  const text = (value: unknown, field: string): string | null =>
    value === null || value === undefined ? null : typeof value === 'string' ? value : bad(`${field} must be a string or null`);
  if (typeof outcome.status !== 'string') bad('outcome.status must be a string');
  const latency = event.latency_ms?.total;
  // Absent in v1 events (spooled or logged before the guardrails): none.
  const detectors = outcome.guardrail_detectors;
  if (detectors !== undefined && detectors !== null && (!Array.isArray(detectors) || !detectors.every((name) => typeof name === 'string'))) {
    bad('outcome.guardrail_detectors must be an array of strings');
  }
  return {
    event_id: id!,
    ts_ms: ts,
    day: utcDay(ts),
    request_id: event.request_id,
    endpoint: String(event.endpoint),
    stream: event.stream === true,
    tenant_id: text(event.tenant_id, 'tenant_id'),
    feature_id: text(event.feature_id, 'feature_id'),
    key_id: text(event.key_id, 'key_id'),
    team_id: text(event.team_id, 'team_id'),
    user_id_hash: text(event.user_id_hash, 'user_id_hash'),
    model_alias: text(event.model_alias, 'model_alias'),
    model_resolved: text(event.model_resolved, 'model_resolved'),
    provider: text(event.provider, 'provider'),
    deployment_id: text(event.deployment_id, 'deployment_id'),
    status: outcome.status,
    error_code: text(outcome.error_code, 'outcome.error_code'),
    http_status: count(outcome.http_status, 'outcome.http_status'),
    cache_hit: event.cache_hit === true,
    input_tokens: count(usage.input, 'usage.input'),
    output_tokens: count(usage.output, 'usage.output'),
    cached_input_tokens: count(usage.cached_input, 'usage.cached_input'),
    cache_write_tokens: count(usage.cache_write, 'usage.cache_write'),
    reasoning_tokens: count(usage.reasoning, 'usage.reasoning'),
    total_tokens: count(usage.total, 'usage.total'),
    usage_estimated: usage.estimated === true,
    cost_input_pico: pico(cost.input, 'cost_usd.input'),
    cost_output_pico: pico(cost.output, 'cost_usd.output'),
    cost_total_pico: pico(cost.total, 'cost_usd.total'),
    cost_saved_pico: pico(cost.saved, 'cost_usd.saved'),
    price_missing: cost.price_missing === true,
    latency_ms: typeof latency === 'number' && Number.isFinite(latency) ? Math.max(0, Math.round(latency)) : 0,
    guardrail_verdict: text(outcome.guardrail_verdict, 'outcome.guardrail_verdict'),
    guardrail_detectors: detectors ? JSON.stringify(detectors) : '[]',
    schema_version: typeof event.schema_version === 'number' ? event.schema_version : 0,
    event_json: line ?? JSON.stringify(event),
  };
}

/**
 * The rows of a batch, first occurrence of each event_id only (a batch may repeat an event).
 * `lines`: the events' JSON texts, when made already. `seen` carries the ids across the chunks of
 * one batch.
 */
export function batchRows(events: readonly LedgerEvent[], lines?: readonly (string | undefined)[], seen = new Set<string>()): LedgerRow[] {
  if (!Array.isArray(events)) throw new TypeError('write() takes an array of ledger events');
  const rows: LedgerRow[] = [];
  for (let i = 0; i < events.length; i++) {
    const row = ledgerRow(events[i], lines?.[i]);
    if (seen.has(row.event_id)) continue;
    seen.add(row.event_id);
    rows.push(row);
  }
  return rows;
}

/** The stored event, exactly as written. */
export function eventFromColumn(value: unknown): LedgerEvent {
  return JSON.parse(typeof value === 'string' ? value : String(value)) as LedgerEvent;
}
