// The attribute names the gateway's spans carry, and how Tollgate's names map onto the
// OpenTelemetry GenAI semantic conventions' values.
//
// The GenAI conventions (status: Development) moved out of the main semantic-conventions
// repository into open-telemetry/semantic-conventions-genai; @opentelemetry/semantic-conventions
// 1.45 still exports their names, but marks every one deprecated for that move alone. The names
// are therefore spelled here, once, as the conventions define them:
// - gen_ai.provider.name replaces gen_ai.system (deprecated: "use gen_ai.provider.name instead"),
//   so gen_ai.system is not sent;
// - input tokens include cached ones; cache reads and writes are sent as their own counts. Cache
//   writes are gen_ai.usage.cache_write.input_tokens, the GenAI repository's current name (and the
//   one OpenTelemetry's Python GenAI utilities emit); @opentelemetry/semantic-conventions 1.45
//   still has the older gen_ai.usage.cache_creation.input_tokens;
// - gen_ai.request.stream is set only when the request streamed ("if unset, the request is
//   assumed to be non-streaming"), and time to first chunk is in seconds.

import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE } from '@opentelemetry/semantic-conventions';
import type { LedgerEvent } from '../../ledger/ledger-event.ts';
import { PROVIDERS } from '../../providers/registry.ts';
import type { ProviderAdapter } from '../../providers/types.ts';

export const ERROR_TYPE = ATTR_ERROR_TYPE;
export const HTTP_REQUEST_METHOD = ATTR_HTTP_REQUEST_METHOD;
export const HTTP_RESPONSE_STATUS_CODE = ATTR_HTTP_RESPONSE_STATUS_CODE;

export const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestStream: 'gen_ai.request.stream',
  responseModel: 'gen_ai.response.model',
  timeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheWriteTokens: 'gen_ai.usage.cache_write.input_tokens',
  reasoningTokens: 'gen_ai.usage.reasoning.output_tokens',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
} as const;

/** Tollgate's own attributes: who called, what it cost, how it was routed. */
export const TOLLGATE = {
  requestId: 'tollgate.request_id',
  status: 'tollgate.status',
  tenantId: 'tollgate.tenant_id',
  featureId: 'tollgate.feature_id',
  keyId: 'tollgate.key_id',
  teamId: 'tollgate.team_id',
  costUsd: 'tollgate.cost_usd',
  priceMissing: 'tollgate.price_missing',
  usageEstimated: 'tollgate.usage_estimated',
  cacheHit: 'tollgate.cache_hit',
  fallbackUsed: 'tollgate.fallback_used',
  attempts: 'tollgate.attempts',
  rateLimitTier: 'tollgate.rate_limit_tier',
  vendorRequestId: 'tollgate.vendor_request_id',
  alias: 'tollgate.alias',
  deploymentId: 'tollgate.deployment_id',
  provider: 'tollgate.provider',
  attempt: 'tollgate.attempt',
  textTruncated: 'tollgate.text_truncated',
  guardrailVerdict: 'tollgate.guardrail.verdict',
  guardrailDetectors: 'tollgate.guardrail.detectors',
} as const;

/** gen_ai.provider.name for a Tollgate provider id: the adapter's well-known value, else the id (custom values are allowed). */
export function genAiProviderName(provider: string): string {
  const adapter = (PROVIDERS as Readonly<Record<string, ProviderAdapter>>)[provider];
  return adapter?.genAiProviderName ?? provider;
}

/** gen_ai.operation.name for the endpoint the client called. */
export function genAiOperation(endpoint: LedgerEvent['endpoint']): 'chat' | 'embeddings' {
  return endpoint === 'embeddings' ? 'embeddings' : 'chat';
}
