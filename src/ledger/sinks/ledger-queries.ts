// The SQL ledger readers' queries, shared by the SQLite and PostgreSQL sinks: the WHERE and
// GROUP BY of spend reports, request audits and Security's guardrail events, built with
// parameters only (column names come from the fixed maps below, never from input), and the rows
// they return. Security's query (guardrailEventsSql) always carries FLAGGED_PREDICATE, the WHERE
// of the partial indexes both backends keep for it, so it reads only the few flagged rows,
// newest first, by tenant or not.

import type { LedgerStatus } from '../ledger-event.ts';
import { picoToUsd } from '../pico-dollars.ts';
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
import { queryInstantMs, type LedgerRow } from './ledger-rows.ts';

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
