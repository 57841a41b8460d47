// Ledger events for the sink tests: a complete event (the current schema version) with overrides (nested groups merged),
// and prices that cost the way the price table does (dollars rounded to 1e-12).

import { randomUUID } from 'node:crypto';
import { LEDGER_SCHEMA_VERSION, type LedgerCost, type LedgerEvent, type LedgerUsage } from '../../src/ledger/ledger-event.ts';

export const LEDGER_T0 = '2026-12-02T09:00:00.000Z';

type Nested = 'usage' | 'cost_usd' | 'latency_ms' | 'outcome';
export type LedgerEventOverrides = Partial<Omit<LedgerEvent, Nested>> & {
  usage?: Partial<LedgerUsage>;
  cost_usd?: Partial<LedgerCost>;
  latency_ms?: Partial<LedgerEvent['latency_ms']>;
  outcome?: Partial<LedgerEvent['outcome']>;
};

let sequence = 0;

/** A served chat call; every field can be overridden. Ids are unique per call. */
export function ledgerEvent(overrides: LedgerEventOverrides = {}): LedgerEvent {
  const n = ++sequence;
  const { usage, cost_usd, latency_ms, outcome, ...top } = overrides;
  return {
    schema_version: LEDGER_SCHEMA_VERSION,
    event_id: randomUUID(),
    timestamp: LEDGER_T0,
    request_id: `req-${n}`,
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    endpoint: 'chat.completions',
    stream: false,
    key_id: 'key_1',
    key_alias: 'ci',
    team_id: 'payments',
    tenant_id: 'acme',
    feature_id: 'support-bot',
    user_id_hash: 'u-hash-1',
    tags: ['review:42', 'ünïcödé 🚀'],
    metadata: { workflow: 'refunds', quote: 'he said "hi"\n\\o/' },
    prompt_version: 'v7',
    model_alias: 'support-quality',
    model_resolved: 'gpt-4o',
    provider: 'openai',
    deployment_id: 'openai-eu',
    region: 'eu-west',
    cache_hit: false,
    usage: { input: 1200, output: 310, cached_input: 1024, cache_write: 0, reasoning: 0, total: 1510, estimated: false, ...usage },
    cost_usd: { input: 0.00176, output: 0.0031, total: 0.00486, saved: 0, price_table_version: 'test-prices@1', price_missing: false, ...cost_usd },
    latency_ms: { gateway: 0.41, provider: 812.2, ttft: null, total: 812.61, ...latency_ms },
    outcome: {
      status: 'success',
      error_code: null,
      http_status: 200,
      vendor_request_id: 'req_9b2',
      attempts: 1,
      fallback_chain: ['support-quality/openai-eu:ok'],
      fallback_used: false,
      rate_limit_tier: null,
      guardrail_verdict: null,
      guardrail_detectors: [],
      ...outcome,
    },
    ...top,
  };
}

/** Dollars per token, as a price table row. */
export interface TestPrice {
  readonly input: number;
  readonly output: number;
}

/** Dollars rounded to 1e-12, as the price table does. */
export function pico(usd: number): number {
  return Math.round(usd * 1e12) / 1e12;
}

/** The cost_usd block of `input` and `output` tokens at `price`. */
export function pricedCost(price: TestPrice, input: number, output: number): LedgerCost {
  const inputUsd = pico(input * price.input);
  const outputUsd = pico(output * price.output);
  return { input: inputUsd, output: outputUsd, total: pico(inputUsd + outputUsd), saved: 0, price_table_version: 'test-prices@1', price_missing: false };
}

/** An ISO timestamp `ms` after LEDGER_T0. */
export function ledgerTime(ms: number, from = LEDGER_T0): string {
  return new Date(Date.parse(from) + ms).toISOString();
}
