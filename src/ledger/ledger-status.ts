import type { LedgerStatus } from './ledger-event.ts';

const RATE_LIMITED = new Set(['rate_limited', 'concurrency_limited', 'cost_cap_exceeded', 'limits_unavailable']);
const AUTH = new Set(['invalid_api_key', 'missing_api_key', 'key_revoked', 'key_blocked', 'key_expired', 'model_not_allowed', 'tenant_required', 'tenant_not_allowed', 'auth_unavailable', 'admin_required']);

/**
 * The ledger's outcome for a call that got `httpStatus` and, when it failed, `errorCode` (a
 * stream that failed after its first byte has status 200 and an error code: upstream_error).
 */
export function ledgerStatus(httpStatus: number, errorCode: string | undefined, clientGone: boolean, cacheHit: boolean): LedgerStatus {
  if (cacheHit) return 'cache_hit';
  if (errorCode === undefined) return clientGone ? 'client_gone' : httpStatus < 400 ? 'success' : 'upstream_error';
  if (errorCode === 'budget_exceeded') return 'budget_blocked';
  if (RATE_LIMITED.has(errorCode)) return 'rate_limited';
  if (AUTH.has(errorCode)) return 'auth_failed';
  // A guardrail scanner that gave no verdict is a dependency's failure, like an upstream's.
  if (errorCode.startsWith('upstream_') || errorCode === 'no_healthy_deployment' || errorCode === 'context_length_exceeded' || errorCode === 'content_policy_violation' || errorCode === 'guardrail_unavailable') return 'upstream_error';
  if (clientGone) return 'client_gone';
  return 'invalid_request';
}
