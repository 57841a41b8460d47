// An in-memory LedgerReader with the SQL sinks' semantics (filters, [from, to) on the timestamp,
// groups ordered with nulls first, newest-first paging on (timestamp, event_id)), and a builder
// for ledger events. It records every query it is asked.

import type { GuardrailVerdict, LedgerEvent, LedgerStatus } from '../../src/ledger/ledger-event.ts';
import {
  FLAGGED_VERDICTS,
  type FlaggedVerdict,
  type GuardrailEventQuery,
  type GuardrailEventRow,
  type LedgerReader,
  type RequestQuery,
  type SpendDimension,
  type SpendQuery,
  type SpendRow,
} from '../../src/ledger/ledger-sink.ts';

export interface EventSpec {
  at: string;
  request_id?: string;
  event_id?: string;
  tenant?: string | null;
  feature?: string | null;
  key?: string | null;
  team?: string | null;
  user?: string | null;
  model?: string | null;
  resolved?: string | null;
  provider?: string | null;
  deployment?: string | null;
  status?: LedgerStatus;
  input?: number;
  output?: number;
  cached?: number;
  cost?: number;
  saved?: number;
  verdict?: GuardrailVerdict | null;
  detectors?: string[];
}

let counter = 0;

export function ledgerEvent(spec: EventSpec): LedgerEvent {
  counter++;
  const input = spec.input ?? 100;
  const output = spec.output ?? 50;
  const status = spec.status ?? 'success';
  return {
    schema_version: 1,
    event_id: spec.event_id ?? `evt-${String(counter).padStart(6, '0')}`,
    timestamp: spec.at,
    request_id: spec.request_id ?? `req-${counter}`,
    trace_id: `trace-${counter}`,
    endpoint: 'chat.completions',
    stream: false,
    key_id: spec.key === undefined ? 'key_a' : spec.key,
    key_alias: null,
    team_id: spec.team === undefined ? 'team-a' : spec.team,
    tenant_id: spec.tenant === undefined ? 'acme' : spec.tenant,
    feature_id: spec.feature === undefined ? null : spec.feature,
    user_id_hash: spec.user === undefined ? null : spec.user,
    tags: [],
    metadata: {},
    prompt_version: null,
    model_alias: spec.model === undefined ? 'gpt-4o' : spec.model,
    model_resolved: spec.resolved === undefined ? 'gpt-4o-2024-08-06' : spec.resolved,
    provider: spec.provider === undefined ? 'openai' : spec.provider,
    deployment_id: spec.deployment === undefined ? 'gpt-4o#0' : spec.deployment,
    region: null,
    cache_hit: status === 'cache_hit',
    usage: { input, output, cached_input: spec.cached ?? 0, cache_write: 0, reasoning: 0, total: input + output, estimated: false },
    cost_usd: { input: 0, output: 0, total: spec.cost ?? 0.001, saved: spec.saved ?? 0, price_table_version: 'test', price_missing: false },
    latency_ms: { gateway: 1, provider: 10, ttft: null, total: 11 },
    outcome: {
      status, error_code: status === 'success' || status === 'cache_hit' ? null : 'upstream_error', http_status: status === 'success' ? 200 : 502,
      vendor_request_id: null, attempts: 1, fallback_chain: [], fallback_used: false, rate_limit_tier: null,
      guardrail_verdict: spec.verdict ?? null, guardrail_detectors: spec.detectors ?? [],
    },
  };
}

const DIMENSION: Record<SpendDimension, (e: LedgerEvent) => string | null> = {
  tenant: (e) => e.tenant_id,
  feature: (e) => e.feature_id,
  model: (e) => e.model_alias,
  key: (e) => e.key_id,
  team: (e) => e.team_id,
  day: (e) => new Date(Date.parse(e.timestamp)).toISOString().slice(0, 10),
  provider: (e) => e.provider,
  deployment: (e) => e.deployment_id,
};

const FILTER: Record<string, (e: LedgerEvent) => string | null> = {
  tenant: (e) => e.tenant_id,
  feature: (e) => e.feature_id,
  model: (e) => e.model_alias,
  key: (e) => e.key_id,
  team: (e) => e.team_id,
  provider: (e) => e.provider,
  user: (e) => e.user_id_hash,
  status: (e) => e.outcome.status,
};

function matches(e: LedgerEvent, q: { from?: string; to?: string; filters: Record<string, string | undefined> }): boolean {
  const ms = Date.parse(e.timestamp);
  if (q.from !== undefined && ms < Date.parse(q.from)) return false;
  if (q.to !== undefined && ms >= Date.parse(q.to)) return false;
  return Object.entries(q.filters).every(([name, value]) => value === undefined || FILTER[name]!(e) === value);
}

function compareGroups(a: Array<string | null>, b: Array<string | null>): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (a[i] === null) return -1;
    if (b[i] === null) return 1;
    return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

export class FakeLedgerReader implements LedgerReader {
  readonly events: LedgerEvent[];
  readonly spendQueries: SpendQuery[] = [];
  readonly requestQueries: RequestQuery[] = [];
  readonly guardrailQueries: GuardrailEventQuery[] = [];
  /** When set, every call rejects with it. */
  failWith: Error | undefined;

  constructor(events: LedgerEvent[] = []) {
    this.events = events;
  }

  async spend(query: SpendQuery): Promise<SpendRow[]> {
    this.spendQueries.push(query);
    if (this.failWith) throw this.failWith;
    const groups = new Map<string, { values: Array<string | null>; events: LedgerEvent[] }>();
    for (const e of this.events.filter((x) => matches(x, query))) {
      const values = query.groupBy.map((dim) => DIMENSION[dim](e));
      const id = JSON.stringify(values);
      const group = groups.get(id) ?? { values, events: [] };
      group.events.push(e);
      groups.set(id, group);
    }
    if (query.groupBy.length === 0 && groups.size === 0) groups.set('[]', { values: [], events: [] });
    return [...groups.values()].sort((a, b) => compareGroups(a.values, b.values)).map(({ values, events }) => ({
      group: Object.fromEntries(query.groupBy.map((dim, i) => [dim, values[i]])),
      requests: events.length,
      errors: events.filter((e) => e.outcome.status !== 'success' && e.outcome.status !== 'cache_hit').length,
      input_tokens: events.reduce((n, e) => n + e.usage.input, 0),
      output_tokens: events.reduce((n, e) => n + e.usage.output, 0),
      cached_input_tokens: events.reduce((n, e) => n + e.usage.cached_input, 0),
      total_tokens: events.reduce((n, e) => n + e.usage.total, 0),
      cost_usd: Math.round(events.reduce((n, e) => n + e.cost_usd.total, 0) * 1e12) / 1e12,
      saved_usd: Math.round(events.reduce((n, e) => n + e.cost_usd.saved, 0) * 1e12) / 1e12,
    }));
  }

  async requests(query: RequestQuery): Promise<LedgerEvent[]> {
    this.requestQueries.push(query);
    if (this.failWith) throw this.failWith;
    const newestFirst = (a: LedgerEvent, b: LedgerEvent) => Date.parse(b.timestamp) - Date.parse(a.timestamp) || (a.event_id < b.event_id ? 1 : a.event_id > b.event_id ? -1 : 0);
    const before = query.before;
    return this.events
      .filter((e) => matches(e, query))
      .filter((e) => !before || newestFirst(e, { timestamp: before.timestamp, event_id: before.eventId } as LedgerEvent) > 0)
      .sort(newestFirst)
      .slice(0, query.limit);
  }

  async request(requestId: string): Promise<LedgerEvent | undefined> {
    if (this.failWith) throw this.failWith;
    return this.events.find((e) => e.request_id === requestId);
  }

  async guardrailEvents(query: GuardrailEventQuery): Promise<GuardrailEventRow[]> {
    this.guardrailQueries.push(query);
    if (this.failWith) throw this.failWith;
    const verdicts: readonly string[] = query.verdicts?.length ? query.verdicts : FLAGGED_VERDICTS;
    const flagged = this.events.filter((e) => {
      const verdict = e.outcome.guardrail_verdict;
      const detectors = e.outcome.guardrail_detectors ?? [];
      return verdict !== null && verdicts.includes(verdict)
        && (query.detector === undefined || detectors.some((name) => name.includes(query.detector!)));
    });
    const events = await this.requests({ filters: query.filters, limit: this.events.length, ...(query.from ? { from: query.from } : {}), ...(query.to ? { to: query.to } : {}), ...(query.before ? { before: query.before } : {}) });
    this.requestQueries.pop();
    return events.filter((e) => flagged.includes(e)).slice(0, query.limit).map((e) => ({
      request_id: e.request_id,
      event_id: e.event_id,
      timestamp: new Date(Date.parse(e.timestamp)).toISOString(),
      tenant_id: e.tenant_id,
      team_id: e.team_id,
      key_id: e.key_id,
      alias: e.model_alias,
      endpoint: e.endpoint,
      status: e.outcome.status,
      guardrail_verdict: e.outcome.guardrail_verdict as FlaggedVerdict,
      guardrail_detectors: [...(e.outcome.guardrail_detectors ?? [])],
      error_code: e.outcome.error_code,
    }));
  }
}
