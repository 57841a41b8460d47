// A finished model call → its ledger event (schema v2). Pure: everything comes from the request
// context, the draft the stages filled, how the response ended, and the price table.

import type { RequestContext } from '../pipeline/request-context.ts';
import type { Deployment, Usage } from '../providers/types.ts';
import { attemptsMade, describeAttempt } from '../routing/attempt-log.ts';
import type { LedgerDraft } from './ledger-draft.ts';
import { LEDGER_SCHEMA_VERSION, type LedgerEvent, type LedgerUsage } from './ledger-event.ts';
import { ledgerStatus } from './ledger-status.ts';
import { timeOrderedUuid } from '../pipeline/random-ids.ts';

/** Prices a call; `priceMissing` when the table has no price for the deployment's model. */
export interface LedgerPricing {
  readonly version: string;
  cost(dep: Deployment, usage: Usage): { inputUsd: number; outputUsd: number; totalUsd: number; priceMissing: boolean };
}

export interface ResponseEnd {
  readonly httpStatus: number;
  /** The client went away before the response was complete. */
  readonly clientGone: boolean;
  /** performance.now() when the response ended. */
  readonly endedAt: number;
  /** Epoch ms of `ctx.receivedAt` (the event's timestamp). */
  readonly receivedAtEpochMs: number;
}

const NO_USAGE: Usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 0 };

/** The usage to record: the provider's, else Tollgate's own estimate (flagged), else none. */
export function recordedUsage(draft: LedgerDraft): { usage: Usage; estimated: boolean } {
  if (draft.usage) return { usage: draft.usage, estimated: false };
  const input = draft.estimatedInputTokens ?? 0;
  const output = draft.estimatedOutputTokens ?? 0;
  if (input === 0 && output === 0) return { usage: NO_USAGE, estimated: false };
  return { usage: { ...NO_USAGE, inputTokens: input, outputTokens: output, totalTokens: input + output }, estimated: true };
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

export function buildLedgerEvent(ctx: RequestContext, draft: LedgerDraft, end: ResponseEnd, pricing: LedgerPricing): LedgerEvent {
  const principal = ctx.principal;
  const key = principal.kind === 'virtual' ? principal.resolved.key : undefined;
  const refused = ctx.refusedKey;
  const dep = draft.deployment;
  const { usage, estimated } = recordedUsage(draft);
  const price = dep ? pricing.cost(dep, usage) : { inputUsd: 0, outputUsd: 0, totalUsd: 0, priceMissing: usage.totalTokens > 0 };
  const cacheHit = draft.cacheHit === true;
  const total = end.endedAt - ctx.receivedAt;
  const provider = draft.providerStartedAt !== undefined && draft.providerEndedAt !== undefined ? draft.providerEndedAt - draft.providerStartedAt : null;
  const attempts = draft.attempts ?? [];
  const servedAlias = ctx.served?.alias;
  const ledgerUsage: LedgerUsage = {
    input: usage.inputTokens,
    output: usage.outputTokens,
    cached_input: usage.cachedInputTokens,
    cache_write: usage.cacheWriteTokens,
    reasoning: usage.reasoningTokens,
    total: usage.totalTokens,
    estimated,
  };
  return {
    schema_version: LEDGER_SCHEMA_VERSION,
    event_id: timeOrderedUuid(),
    timestamp: new Date(end.receivedAtEpochMs).toISOString(),
    request_id: ctx.requestId,
    trace_id: ctx.trace.traceId,
    endpoint: draft.endpoint,
    stream: draft.stream,
    key_id: key?.key_id ?? refused?.keyId ?? (principal.kind === 'master' ? 'master' : null),
    key_alias: key?.key_alias ?? refused?.alias ?? null,
    team_id: key?.team_id ?? refused?.teamId ?? null,
    tenant_id: ctx.tenantId ?? null,
    feature_id: ctx.featureId ?? null,
    user_id_hash: ctx.userHash ?? null,
    tags: ctx.tags ?? [],
    metadata: ctx.metadata ?? {},
    prompt_version: ctx.promptVersion ?? null,
    model_alias: draft.alias ?? null,
    model_resolved: dep?.model ?? null,
    provider: dep?.provider ?? null,
    deployment_id: dep?.id ?? null,
    region: dep?.region ?? null,
    cache_hit: cacheHit,
    usage: ledgerUsage,
    cost_usd: {
      input: cacheHit ? 0 : price.inputUsd,
      output: cacheHit ? 0 : price.outputUsd,
      total: cacheHit ? 0 : price.totalUsd,
      saved: cacheHit ? price.totalUsd : 0,
      price_table_version: pricing.version,
      price_missing: price.priceMissing,
    },
    latency_ms: {
      gateway: round3(Math.max(0, total - (provider ?? 0))),
      provider: provider === null ? null : round3(provider),
      ttft: draft.ttftMs === undefined ? null : round3(draft.ttftMs),
      total: round3(total),
    },
    outcome: {
      status: ledgerStatus(end.httpStatus, draft.errorCode, end.clientGone, cacheHit),
      error_code: draft.errorCode ?? null,
      http_status: end.httpStatus,
      vendor_request_id: draft.vendorRequestId ?? null,
      attempts: attemptsMade(attempts),
      fallback_chain: attempts.map(describeAttempt),
      fallback_used: servedAlias !== undefined && draft.alias !== undefined && servedAlias !== draft.alias,
      rate_limit_tier: draft.limitTier ?? null,
      guardrail_verdict: draft.guardrail?.verdict ?? null,
      // A copy: the event is a snapshot, whatever happens to the draft's array afterwards.
      guardrail_detectors: draft.guardrail ? [...draft.guardrail.detectors] : [],
    },
  };
}
