// The one registry of error codes. Every error Tollgate returns is listed here,
// and docs/errors.md documents each one (test/errors/registry.test.ts keeps them in sync).

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'overloaded_error'
  | 'conflict_error';

export interface ErrorSpec {
  readonly status: number;
  readonly type: ErrorType;
  /** Whether a client (or, later, the router) may retry the same request. */
  readonly retryable: boolean;
  /** One sentence for docs/errors.md: when the error happens and what to do. */
  readonly doc: string;
}

function spec(status: number, type: ErrorType, retryable: boolean, doc: string): ErrorSpec {
  return Object.freeze({ status, type, retryable, doc });
}

export const ERROR_CODES = Object.freeze({
  // ── request shape ────────────────────────────────────────────────────────────
  invalid_json: spec(400, 'invalid_request_error', false,
    'The request body is not valid JSON. Send a JSON object with Content-Type: application/json.'),
  invalid_request: spec(400, 'invalid_request_error', false,
    'A field has the wrong type or value; `param` names the field and the message says what is expected.'),
  missing_model: spec(400, 'invalid_request_error', false,
    'The body has no `model`. Send one of the aliases listed by GET /v1/models.'),
  unsupported_param: spec(400, 'invalid_request_error', false,
    'The chosen provider does not support a parameter. Remove it, or set `drop_params: true` to drop it silently.'),
  endpoint_not_supported: spec(400, 'invalid_request_error', false,
    'The alias routes to a provider that does not offer this endpoint (for example embeddings on Anthropic).'),
  body_too_large: spec(413, 'invalid_request_error', false,
    'The body is larger than `server.max_body_size` (default 32mb). Send a smaller request or raise the limit.'),
  route_not_found: spec(404, 'not_found_error', false,
    'No endpoint at this path. See docs/api.md for the endpoints Tollgate serves.'),
  method_not_allowed: spec(405, 'invalid_request_error', false,
    'The path exists but not for this HTTP method; the Allow header lists the methods it takes.'),
  model_not_found: spec(404, 'not_found_error', false,
    'The model alias is not configured. GET /v1/models lists the aliases this gateway serves.'),
  // ── auth ─────────────────────────────────────────────────────────────────────
  missing_api_key: spec(401, 'authentication_error', false,
    'No key was sent. Send `Authorization: Bearer <key>` (or `x-api-key: <key>` from Anthropic clients).'),
  invalid_api_key: spec(401, 'authentication_error', false,
    'The key was not recognised. Check for typos or ask an admin for a valid key.'),
  key_revoked: spec(401, 'authentication_error', false,
    'The virtual key was revoked. Revocation is permanent: ask an admin for a new key.'),
  key_blocked: spec(401, 'authentication_error', false,
    'The virtual key is blocked. An admin can unblock it (POST /admin/keys/{key_id}/unblock).'),
  key_expired: spec(401, 'authentication_error', false,
    'The virtual key (or this secret of it, after a rotation\'s grace period) has expired. Use the current secret or ask for a new key.'),
  tenant_required: spec(401, 'authentication_error', false,
    'The key\'s policy requires a tenant: send `X-Tenant-Id: <tenant>` with the call.'),
  tenant_not_allowed: spec(403, 'permission_error', false,
    'The key may not act for the tenant named in X-Tenant-Id (it is bound to another tenant, or the tenant is unknown where unknown tenants are refused).'),
  model_not_allowed: spec(403, 'permission_error', false,
    'The key, its team or the tenant may not use this model alias. GET /v1/models lists the aliases the caller may use.'),
  admin_required: spec(403, 'permission_error', false,
    'The admin API needs the master key or a virtual key with role `admin`.'),
  auth_unavailable: spec(503, 'overloaded_error', true,
    'The key store (database) cannot be reached and the key (or the X-Tenant-Id tenant) is not cached on this replica. Retry; keys and tenants already in use keep working.'),
  // ── limits and budgets ──────────────────────────────────────────────────────
  rate_limited: spec(429, 'rate_limit_error', true,
    'A requests-per-minute or tokens-per-minute limit would be exceeded. `error.limit` names its scope and id; retry after Retry-After seconds.'),
  concurrency_limited: spec(429, 'rate_limit_error', true,
    'Too many requests of this key, team, tenant or deployment are in flight at once (max_parallel_requests). Retry when one finishes.'),
  budget_exceeded: spec(429, 'rate_limit_error', false,
    'The request\'s worst-case cost does not fit in a dollar or token budget. `error.limit` names the budget, its spend, limit and reset time.'),
  cost_cap_exceeded: spec(400, 'invalid_request_error', false,
    'The request\'s worst-case cost is above the per-request cap (X-Max-Cost-Usd or max_cost_per_request). Lower max_tokens or shorten the input.'),
  limits_unavailable: spec(503, 'overloaded_error', true,
    'The shared limits store (Redis) cannot be reached and `limits.on_store_failure` is closed (or an admin spend read needs it). Retry when it is back.'),
  // ── admin API ───────────────────────────────────────────────────────────────
  resource_not_found: spec(404, 'not_found_error', false,
    'The team, tenant, key or other admin object does not exist. List them with GET /admin/teams, /admin/tenants or /admin/keys.'),
  resource_conflict: spec(409, 'conflict_error', false,
    'The change conflicts with existing state: the id is taken, the team still has keys, the key is revoked, or another request changed the object meanwhile (read it again and retry). The message says which.'),
  managed_by_config: spec(409, 'conflict_error', false,
    'The object is declared in the config file, so it is read-only through the API. Change it in the config and redeploy.'),
  ledger_disabled: spec(404, 'not_found_error', false,
    'Spend reports and request audit queries need the cost ledger with a SQL sink (sqlite: or postgres:// in `ledger.sinks`); this gateway has the ledger off (`ledger.enabled: false`) or only JSONL sinks.'),
  cache_disabled: spec(404, 'not_found_error', false,
    'Cache invalidation needs the response cache, and this gateway has it off (`cache.enabled: false`).'),
  cache_unavailable: spec(503, 'overloaded_error', true,
    'The response cache\'s store (Redis) could not be reached, so the invalidation did not happen. Retry when it is back; serving traffic is not affected.'),
  guardrail_blocked: spec(400, 'invalid_request_error', false,
    'A guardrail policy blocked the request (or the answer): `error.guardrail` names the direction and the detectors. The blocked text is not echoed back. Remove what the detectors name, or ask an admin about the policy.'),
  guardrail_unavailable: spec(503, 'overloaded_error', true,
    'An external guardrail scanner gave no verdict (down or timed out) and the policy fails closed, so nothing unscanned was let through. Retry shortly.'),
  // ── upstream (provider) failures, mapped by each provider adapter ───────────
  upstream_bad_request: spec(400, 'invalid_request_error', false,
    'The provider rejected the request as invalid; the message carries the provider\'s reason.'),
  context_length_exceeded: spec(400, 'invalid_request_error', false,
    'The prompt plus max_tokens exceeds the model\'s context window. Shorten the input or lower max_tokens.'),
  content_policy_violation: spec(400, 'invalid_request_error', false,
    'The provider refused the input or output under its content policy.'),
  upstream_rate_limited: spec(429, 'rate_limit_error', true,
    'The provider throttled the deployment (its 429). Retry after the Retry-After delay.'),
  upstream_auth_failed: spec(502, 'upstream_error', false,
    'The provider rejected the gateway\'s own credentials for this deployment. An operator must fix the deployment\'s api_key.'),
  upstream_not_found: spec(502, 'upstream_error', false,
    'The provider does not know the configured model or deployment. An operator must fix the deployment\'s model or api_base.'),
  upstream_error: spec(502, 'upstream_error', true,
    'The provider answered with a server error (5xx). Retrying may succeed.'),
  upstream_overloaded: spec(503, 'overloaded_error', true,
    'The provider reported it is overloaded (for example Anthropic\'s 529). Retry later.'),
  upstream_unreachable: spec(502, 'upstream_error', true,
    'The gateway could not connect to the provider (refused, reset or DNS failure).'),
  upstream_timeout: spec(504, 'timeout_error', true,
    'The provider did not answer within the deployment\'s timeout.'),
  upstream_invalid_response: spec(502, 'upstream_error', true,
    'The provider answered with a body the gateway could not understand.'),
  upstream_stream_interrupted: spec(502, 'upstream_error', true,
    'The provider\'s response broke off before it finished. Once a stream has started it arrives as a final SSE error event.'),
  // ── routing ─────────────────────────────────────────────────────────────────
  no_healthy_deployment: spec(503, 'overloaded_error', true,
    'Every deployment of the alias (and of its fallbacks) is cooling down after failures or failing its health checks. The message names the alias; Retry-After says when the first cooldown ends. GET /health/providers shows why.'),
  // ── the gateway itself ──────────────────────────────────────────────────────
  store_unavailable: spec(503, 'overloaded_error', true,
    'An admin action needs the database and it cannot be reached. Retry when the database is back; serving traffic is not affected.'),
  shutting_down: spec(503, 'overloaded_error', true,
    'This replica is draining for shutdown. Retry; the load balancer will pick another replica.'),
  internal_error: spec(500, 'api_error', true,
    'A bug in Tollgate. The message carries the request id; please report it with that id.'),
} satisfies Record<string, ErrorSpec>);

export type ErrorCode = keyof typeof ERROR_CODES;
