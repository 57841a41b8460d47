// What the SQL ledger sinks share: an event's row (the queryable columns beside the whole event
// as JSON), exact money in integer pico-dollars, and the WHERE / GROUP BY clauses of the readers,
// built with parameters only (column names come from the fixed maps below, never from input).
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
// and one query serve both. Security's query (guardrailEventsSql) always carries
// FLAGGED_PREDICATE, the WHERE of the partial indexes both backends keep for it, so it reads only
// the few flagged rows, newest first, by tenant or not.

import type { LedgerEvent, LedgerStatus } from '../ledger-event.ts';
import { picoToUsd, usdToPico } from '../pico-dollars.ts';
import {
  FLAGGED_VERDICTS,
  type FlaggedVerdict,
  type GuardrailEventQuery,
  type GuardrailEventRow,
  type RequestQuery,
  type SpendDimension,
  type SpendQuery,
  type SpendRow,
} from '../ledger-sink.ts';

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

export const DIMENSION_COLUMNS: Readonly<Record<SpendDimension, keyof LedgerRow>> = {
  tenant: 'tenant_id',
  feature: 'feature_id',
  model: 'model_alias',
  key: 'key_id',
  team: 'team_id',
  day: 'day',
  provider: 'provider',
  deployment: 'deployment_id',
};

const FILTER_COLUMNS: Readonly<Record<string, keyof LedgerRow>> = {
  tenant: 'tenant_id',
  feature: 'feature_id',
  model: 'model_alias',
  key: 'key_id',
  team: 'team_id',
  provider: 'provider',
  user: 'user_id_hash',
  status: 'status',
};

const SPEND_FILTERS = new Set(['tenant', 'feature', 'model', 'key', 'team', 'provider']);
const REQUEST_FILTERS = new Set(['tenant', 'feature', 'model', 'key', 'team', 'user', 'status']);
const GUARDRAIL_FILTERS = new Set(['tenant', 'team', 'key', 'model']);

/**
 * The WHERE of the partial indexes on flagged rows (both backends), spelled exactly so: SQLite
 * uses a partial index only when the query's WHERE holds the index's terms as written.
 */
export const FLAGGED_PREDICATE = "guardrail_verdict IN ('flag', 'redact', 'block')";

/** Statuses that count as served in SpendRow.errors (everything else is an error). */
export const SERVED_STATUSES: readonly LedgerStatus[] = ['success', 'cache_hit'];

/** How a backend spells its time column and binds parameters. */
export interface SqlDialect {
  /** The time column: ts_ms (SQLite) or ts (PostgreSQL). */
  readonly tsColumn: string;
  /** A timestamp bound as this backend compares it (epoch ms, or ISO text for timestamptz). */
  tsValue(ms: number): unknown;
  /** The placeholder of the parameter at this 1-based position. */
  placeholder(position: number): string;
  /** Selects the stored event as JSON text named event_json. */
  readonly eventColumn: string;
  /** A condition: some name in the guardrail_detectors JSON array contains the text bound at `placeholder`. */
  detectorContains(placeholder: string): string;
}

export interface SqlFragment {
  readonly sql: string;
  readonly params: unknown[];
}

class Params {
  readonly values: unknown[] = [];
  readonly dialect: SqlDialect;
  constructor(dialect: SqlDialect) {
    this.dialect = dialect;
  }
  add(value: unknown): string {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  }
}

function filterClauses(
  params: Params,
  filters: Readonly<Record<string, string | undefined>> | undefined,
  allowed: ReadonlySet<string>,
  from: string | undefined,
  to: string | undefined,
): string[] {
  const clauses: string[] = [];
  for (const [name, value] of Object.entries(filters ?? {})) {
    if (value === undefined) continue;
    if (!allowed.has(name)) throw new RangeError(`unknown filter ${JSON.stringify(name)}; accepted: ${[...allowed].join(', ')}`);
    if (typeof value !== 'string') throw new TypeError(`filter ${name} must be a string`);
    clauses.push(`${FILTER_COLUMNS[name]} = ${params.add(value)}`);
  }
  const ts = params.dialect.tsColumn;
  if (from !== undefined) clauses.push(`${ts} >= ${params.add(params.dialect.tsValue(queryInstantMs(from, 'from')))}`);
  if (to !== undefined) clauses.push(`${ts} < ${params.add(params.dialect.tsValue(queryInstantMs(to, 'to')))}`);
  return clauses;
}

const where = (clauses: readonly string[]) => (clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '');

/** The requested dimensions, each once, in the order asked. */
export function spendDimensions(query: SpendQuery): SpendDimension[] {
  const dims: SpendDimension[] = [];
  for (const dim of query.groupBy ?? []) {
    if (!Object.hasOwn(DIMENSION_COLUMNS, dim)) {
      throw new RangeError(`unknown spend dimension ${JSON.stringify(dim)}; accepted: ${Object.keys(DIMENSION_COLUMNS).join(', ')}`);
    }
    if (!dims.includes(dim)) dims.push(dim);
  }
  return dims;
}

/**
 * SELECT g0.., requests, errors, token sums, <money> FROM table WHERE .. GROUP BY .. ORDER BY
 * the groups (nulls first). `money` adds the backend's exact sums of the two pico columns;
 * `dayExpression` renders the day column as YYYY-MM-DD text.
 */
export function spendSql(
  query: SpendQuery,
  dialect: SqlDialect,
  table: string,
  money: string,
  dayExpression = 'day',
): SqlFragment & { dimensions: SpendDimension[] } {
  const dimensions = spendDimensions(query);
  const params = new Params(dialect);
  const clauses = filterClauses(params, query.filters, SPEND_FILTERS, query.from, query.to);
  const groups = dimensions.map((dim, i) => `${dim === 'day' ? dayExpression : DIMENSION_COLUMNS[dim]} AS g${i}`);
  const served = SERVED_STATUSES.map((s) => `'${s}'`).join(', ');
  const select = [
    ...groups,
    'count(*) AS requests',
    `sum(CASE WHEN status IN (${served}) THEN 0 ELSE 1 END) AS errors`,
    'sum(input_tokens) AS input_tokens',
    'sum(output_tokens) AS output_tokens',
    'sum(cached_input_tokens) AS cached_input_tokens',
    'sum(total_tokens) AS total_tokens',
    money,
  ].join(', ');
  const positions = dimensions.map((_, i) => String(i + 1));
  const groupBy = positions.length ? ` GROUP BY ${positions.join(', ')}` : '';
  const orderBy = positions.length ? ` ORDER BY ${positions.map((p) => `${p} ASC NULLS FIRST`).join(', ')}` : '';
  return { sql: `SELECT ${select} FROM ${table}${where(clauses)}${groupBy}${orderBy}`, params: params.values, dimensions };
}

/** A spend result row; `pico` reads the exact cost and saved sums the backend returned. */
export function spendRowFrom(
  row: Record<string, unknown>,
  dimensions: readonly SpendDimension[],
  pico: (row: Record<string, unknown>) => { cost: bigint; saved: bigint },
): SpendRow {
  const group: Partial<Record<SpendDimension, string | null>> = {};
  dimensions.forEach((dim, i) => {
    const value = row[`g${i}`];
    group[dim] = value === null || value === undefined ? null : String(value);
  });
  const { cost, saved } = pico(row);
  return {
    group,
    requests: count(row.requests),
    errors: count(row.errors),
    input_tokens: count(row.input_tokens),
    output_tokens: count(row.output_tokens),
    cached_input_tokens: count(row.cached_input_tokens),
    total_tokens: count(row.total_tokens),
    cost_usd: picoToUsd(cost),
    saved_usd: picoToUsd(saved),
  };
}

function count(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`expected a count from the database, got ${String(value)}`);
  return n;
}

/** The newest-first page condition: rows before the (timestamp, event_id) cursor. */
function beforeClause(params: Params, before: { timestamp: string; eventId: string } | undefined): string[] {
  if (before === undefined) return [];
  const { timestamp, eventId } = before;
  if (typeof eventId !== 'string') throw new TypeError('before.eventId must be a string');
  const at = params.add(params.dialect.tsValue(queryInstantMs(timestamp, 'before.timestamp')));
  return [`(${params.dialect.tsColumn}, event_id) < (${at}, ${params.add(eventId)})`];
}

/** SELECT event_json .. WHERE filters, range, cursor ORDER BY ts DESC, event_id DESC LIMIT n. */
export function requestsSql(query: RequestQuery, dialect: SqlDialect, table: string, limit: number): SqlFragment {
  const params = new Params(dialect);
  const clauses = filterClauses(params, query.filters, REQUEST_FILTERS, query.from, query.to);
  clauses.push(...beforeClause(params, query.before));
  const ts = dialect.tsColumn;
  const sql = `SELECT ${dialect.eventColumn} FROM ${table}${where(clauses)} ORDER BY ${ts} DESC, event_id DESC LIMIT ${params.add(limit)}`;
  return { sql, params: params.values };
}

/** The verdicts asked for, each once; all three when none. */
function flaggedVerdicts(verdicts: readonly FlaggedVerdict[] | undefined): FlaggedVerdict[] {
  if (verdicts === undefined) return [...FLAGGED_VERDICTS];
  if (!Array.isArray(verdicts)) throw new TypeError('verdicts must be an array');
  const out: FlaggedVerdict[] = [];
  for (const verdict of verdicts) {
    if (!FLAGGED_VERDICTS.includes(verdict)) {
      throw new RangeError(`unknown guardrail verdict ${JSON.stringify(verdict)}; accepted: ${FLAGGED_VERDICTS.join(', ')}`);
    }
    if (!out.includes(verdict)) out.push(verdict);
  }
  return out.length ? out : [...FLAGGED_VERDICTS];
}

/**
 * SELECT the columns of a GuardrailEventRow (timestamp as ts_value) .. WHERE FLAGGED_PREDICATE,
 * verdicts, filters, detector, range, cursor ORDER BY ts DESC, event_id DESC LIMIT n.
 */
export function guardrailEventsSql(query: GuardrailEventQuery, dialect: SqlDialect, table: string, limit: number): SqlFragment {
  const params = new Params(dialect);
  const clauses = [FLAGGED_PREDICATE, ...filterClauses(params, query.filters, GUARDRAIL_FILTERS, query.from, query.to)];
  const verdicts = flaggedVerdicts(query.verdicts);
  if (verdicts.length < FLAGGED_VERDICTS.length) clauses.push(`guardrail_verdict IN (${verdicts.map((v) => params.add(v)).join(', ')})`);
  if (query.detector !== undefined) {
    if (typeof query.detector !== 'string' || query.detector === '') throw new TypeError('detector must be a non-empty string');
    clauses.push(dialect.detectorContains(params.add(query.detector)));
  }
  clauses.push(...beforeClause(params, query.before));
  const ts = dialect.tsColumn;
  const columns = `request_id, event_id, ${ts} AS ts_value, tenant_id, team_id, key_id, model_alias, endpoint, status, guardrail_verdict, guardrail_detectors, error_code`;
  const sql = `SELECT ${columns} FROM ${table}${where(clauses)} ORDER BY ${ts} DESC, event_id DESC LIMIT ${params.add(limit)}`;
  return { sql, params: params.values };
}

/** A row of guardrailEventsSql; ts_value is epoch ms (SQLite) or a Date (PostgreSQL). */
export function guardrailEventFrom(row: Record<string, unknown>): GuardrailEventRow {
  const text = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
  const ts = row.ts_value instanceof Date ? row.ts_value.getTime() : Number(row.ts_value);
  let detectors: unknown;
  try {
    detectors = JSON.parse(String(row.guardrail_detectors ?? '[]'));
  } catch {
    detectors = [];
  }
  return {
    request_id: String(row.request_id),
    event_id: String(row.event_id),
    timestamp: new Date(ts).toISOString(),
    tenant_id: text(row.tenant_id),
    team_id: text(row.team_id),
    key_id: text(row.key_id),
    alias: text(row.model_alias),
    endpoint: String(row.endpoint),
    status: String(row.status) as LedgerStatus,
    guardrail_verdict: String(row.guardrail_verdict) as FlaggedVerdict,
    guardrail_detectors: Array.isArray(detectors) ? detectors.map(String) : [],
    error_code: text(row.error_code),
  };
}

/** The stored event, exactly as written. */
export function eventFromColumn(value: unknown): LedgerEvent {
  return JSON.parse(typeof value === 'string' ? value : String(value)) as LedgerEvent;
}
