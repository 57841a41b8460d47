// The ledger event a finished call becomes: identity, model, usage (reported or estimated),
// cost through the price table, latency split, outcome and the attempt chain.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildLedgerEvent, type LedgerPricing } from '../../src/ledger/build-ledger-event.ts';
import type { LedgerDraft } from '../../src/ledger/ledger-draft.ts';
import { LEDGER_SCHEMA_VERSION, withGuardrailFields, type LedgerEvent } from '../../src/ledger/ledger-event.ts';
import { ledgerStatus } from '../../src/ledger/ledger-status.ts';
import { ClientWatchSlot, createRequestContext } from '../../src/pipeline/request-context.ts';
import type { Deployment } from '../../src/providers/types.ts';

const DEP = { id: 'oa-1', alias: 'chat', provider: 'openai', model: 'gpt-4o-mini', region: 'eu' } as Deployment;
/** $1 per million input tokens, $2 per million output tokens, for gpt-4o-mini only. */
const usd = (tokens: number, perMillion: number) => (tokens * perMillion) / 1e6;
const PRICING: LedgerPricing = {
  version: 'test-prices@1',
  cost: (dep, usage) => (dep.model === 'gpt-4o-mini'
    ? { inputUsd: usd(usage.inputTokens, 1), outputUsd: usd(usage.outputTokens, 2), totalUsd: usd(usage.inputTokens, 1) + usd(usage.outputTokens, 2), priceMissing: false }
    : { inputUsd: 0, outputUsd: 0, totalUsd: 0, priceMissing: true }),
};

function context() {
  const ctx = createRequestContext({ 'x-request-id': 'req-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, 1_000, new ClientWatchSlot());
  ctx.tenantId = 'acme';
  ctx.featureId = 'support-bot';
  ctx.userHash = 'u-hash';
  ctx.tags = ['review:42'];
  ctx.metadata = { workflow: 'refunds' };
  ctx.promptVersion = 'v7';
  ctx.served = { alias: 'chat', deployment: 'oa-1', provider: 'openai' };
  return ctx;
}

const END = { httpStatus: 200, clientGone: false, endedAt: 1_250, receivedAtEpochMs: Date.UTC(2026, 11, 2, 9, 0, 0) };

test('a served call: identity, model, reported usage priced by the table, latency split, one ok attempt', () => {
  const draft: LedgerDraft = {
    endpoint: 'chat.completions', stream: false, alias: 'chat', deployment: DEP, providerStartedAt: 1_020, providerEndedAt: 1_220, vendorRequestId: 'req_abc',
    usage: { inputTokens: 100, outputTokens: 20, cachedInputTokens: 40, cacheWriteTokens: 0, reasoningTokens: 5, totalTokens: 120 },
    attempts: [{ alias: 'chat', deployment: 'oa-1', provider: 'openai', outcome: 'ok', ms: 200 }],
  };
  const event = buildLedgerEvent(context(), draft, END, PRICING);
  assert.match(event.event_id, /^[0-9a-f-]{36}$/);
  assert.equal(event.timestamp, '2026-12-02T09:00:00.000Z');
  assert.equal(event.trace_id, '0af7651916cd43dd8448eb211c80319c');
  assert.deepEqual([event.request_id, event.tenant_id, event.feature_id, event.user_id_hash, event.prompt_version], ['req-1', 'acme', 'support-bot', 'u-hash', 'v7']);
  assert.deepEqual(event.tags, ['review:42']);
  assert.deepEqual(event.metadata, { workflow: 'refunds' });
  assert.equal(event.key_id, null, 'anonymous (open mode) calls have no key');
  assert.deepEqual([event.model_alias, event.model_resolved, event.provider, event.deployment_id, event.region], ['chat', 'gpt-4o-mini', 'openai', 'oa-1', 'eu']);
  assert.deepEqual(event.usage, { input: 100, output: 20, cached_input: 40, cache_write: 0, reasoning: 5, total: 120, estimated: false });
  assert.deepEqual(event.cost_usd, { input: usd(100, 1), output: usd(20, 2), total: usd(100, 1) + usd(20, 2), saved: 0, price_table_version: 'test-prices@1', price_missing: false });
  assert.deepEqual(event.latency_ms, { gateway: 50, provider: 200, ttft: null, total: 250 });
  assert.deepEqual(event.outcome, {
    status: 'success', error_code: null, http_status: 200, vendor_request_id: 'req_abc', attempts: 1,
    fallback_chain: ['chat/oa-1:ok'], fallback_used: false, rate_limit_tier: null, guardrail_verdict: null, guardrail_detectors: [],
  });
  assert.equal(event.schema_version, LEDGER_SCHEMA_VERSION);
  assert.equal(LEDGER_SCHEMA_VERSION, 2);
});

test('guardrails: the verdict and the detectors that fired, copied from the draft; none without a policy', () => {
  const detectors = ['input:pii.email', 'input:injection.override', 'input:scanner_unavailable:lakera'];
  const draft: LedgerDraft = { endpoint: 'chat.completions', stream: false, alias: 'chat', errorCode: 'guardrail_blocked', guardrail: { verdict: 'block', detectors } };
  const event = buildLedgerEvent(context(), draft, { ...END, httpStatus: 400 }, PRICING);
  assert.equal(event.outcome.guardrail_verdict, 'block');
  assert.deepEqual(event.outcome.guardrail_detectors, detectors);
  detectors.push('output:secret.jwt');
  assert.equal(event.outcome.guardrail_detectors.length, 3, 'a snapshot: later changes to the draft do not reach the event');
  const passed = buildLedgerEvent(context(), { endpoint: 'messages', stream: true, guardrail: { verdict: 'pass', detectors: [] } }, END, PRICING);
  assert.deepEqual([passed.outcome.guardrail_verdict, passed.outcome.guardrail_detectors], ['pass', []]);
  const none = buildLedgerEvent(context(), { endpoint: 'messages', stream: true }, END, PRICING);
  assert.deepEqual([none.outcome.guardrail_verdict, none.outcome.guardrail_detectors], [null, []]);
});

test('a v1 event (before the guardrail fields) reads with guardrail_verdict null and guardrail_detectors []', () => {
  const v2 = buildLedgerEvent(context(), { endpoint: 'messages', stream: false, guardrail: { verdict: 'flag', detectors: ['output:secret.jwt'] } }, END, PRICING);
  assert.equal(withGuardrailFields(v2), v2, 'a v2 event is returned as it is');
  const { guardrail_detectors: _dropped, ...outcome } = v2.outcome;
  const v1 = { ...v2, schema_version: 1, outcome: { ...outcome, guardrail_verdict: null } } as unknown as LedgerEvent;
  const read = withGuardrailFields(v1);
  assert.deepEqual(read.outcome, { ...outcome, guardrail_verdict: null, guardrail_detectors: [] });
  assert.equal(read.schema_version, 1, 'the version stays as written');
  assert.deepEqual(Object.keys(read.outcome), Object.keys(v2.outcome), 'the same field order as a v2 event');
});

test('a broken stream without usage: estimated input and output, flagged; the error code is kept', () => {
  const ctx = context();
  const draft: LedgerDraft = { endpoint: 'chat.completions', stream: true, alias: 'chat', deployment: DEP, estimatedInputTokens: 30, estimatedOutputTokens: 3, ttftMs: 12.3456, errorCode: 'upstream_stream_interrupted' };
  const event = buildLedgerEvent(ctx, draft, END, PRICING);
  assert.deepEqual(event.usage, { input: 30, output: 3, cached_input: 0, cache_write: 0, reasoning: 0, total: 33, estimated: true });
  assert.equal(event.cost_usd.total, usd(30, 1) + usd(3, 2));
  assert.equal(event.latency_ms.ttft, 12.346);
  assert.equal(event.outcome.status, 'upstream_error');
  assert.equal(event.outcome.http_status, 200);
});

test('a fallback: the chain lists every attempt and fallback_used is set', () => {
  const ctx = context();
  ctx.served = { alias: 'backup', deployment: 'b-1', provider: 'anthropic' };
  const draft: LedgerDraft = {
    endpoint: 'messages', stream: false, alias: 'chat', deployment: { ...DEP, id: 'b-1', model: 'claude-x', provider: 'anthropic' } as Deployment,
    attempts: [
      { alias: 'chat', deployment: 'oa-1', provider: 'openai', outcome: 'failed', code: 'upstream_overloaded', class: 'server_error', ms: 5 },
      { alias: 'backup', deployment: 'b-1', provider: 'anthropic', outcome: 'ok', ms: 80 },
    ],
    usage: { inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 11 },
  };
  const event = buildLedgerEvent(ctx, draft, END, PRICING);
  assert.deepEqual(event.outcome.fallback_chain, ['chat/oa-1:failed(upstream_overloaded)', 'backup/b-1:ok']);
  assert.equal(event.outcome.fallback_used, true);
  assert.equal(event.outcome.attempts, 2);
  assert.equal(event.cost_usd.price_missing, true, 'an unpriced model is flagged, not free');
  assert.equal(event.cost_usd.total, 0);
});

test('a refusal before any provider: no deployment, the limit tier, a refused known key', () => {
  const ctx = context();
  ctx.refusedKey = { keyId: 'key_1', teamId: 'payments', alias: 'ci' };
  const draft: LedgerDraft = { endpoint: 'chat.completions', stream: false, alias: 'chat', errorCode: 'key_revoked' };
  const event = buildLedgerEvent(ctx, draft, { ...END, httpStatus: 401 }, PRICING);
  assert.deepEqual([event.key_id, event.key_alias, event.team_id], ['key_1', 'ci', 'payments']);
  assert.equal(event.deployment_id, null);
  assert.equal(event.outcome.status, 'auth_failed');
  assert.equal(event.cost_usd.price_missing, false, 'nothing was used, so nothing is missing a price');
  const limited = buildLedgerEvent(context(), { endpoint: 'chat.completions', stream: false, alias: 'chat', errorCode: 'rate_limited', limitTier: 'requests_per_minute:key' }, { ...END, httpStatus: 429 }, PRICING);
  assert.equal(limited.outcome.status, 'rate_limited');
  assert.equal(limited.outcome.rate_limit_tier, 'requests_per_minute:key');
});

test('a cache hit costs nothing and records what it saved', () => {
  const draft: LedgerDraft = { endpoint: 'chat.completions', stream: false, alias: 'chat', deployment: DEP, cacheHit: true, usage: { inputTokens: 100, outputTokens: 50, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 150 } };
  const event = buildLedgerEvent(context(), draft, END, PRICING);
  assert.equal(event.cache_hit, true);
  assert.equal(event.outcome.status, 'cache_hit');
  assert.deepEqual([event.cost_usd.total, event.cost_usd.saved], [0, usd(100, 1) + usd(50, 2)]);
});

test('ledger status: each refusal kind, client gone, upstream failures', () => {
  assert.equal(ledgerStatus(200, undefined, false, false), 'success');
  assert.equal(ledgerStatus(200, undefined, true, false), 'client_gone');
  assert.equal(ledgerStatus(429, 'concurrency_limited', false, false), 'rate_limited');
  assert.equal(ledgerStatus(400, 'cost_cap_exceeded', false, false), 'rate_limited');
  assert.equal(ledgerStatus(429, 'budget_exceeded', false, false), 'budget_blocked');
  assert.equal(ledgerStatus(403, 'model_not_allowed', false, false), 'auth_failed');
  assert.equal(ledgerStatus(503, 'no_healthy_deployment', false, false), 'upstream_error');
  assert.equal(ledgerStatus(400, 'context_length_exceeded', false, false), 'upstream_error');
  assert.equal(ledgerStatus(400, 'unsupported_param', false, false), 'invalid_request');
  assert.equal(ledgerStatus(503, 'guardrail_unavailable', false, false), 'upstream_error');
  assert.equal(ledgerStatus(400, 'guardrail_blocked', false, false), 'invalid_request');
});
