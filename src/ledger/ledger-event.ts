// The cost ledger's event, schema v2 (docs/ledger.md): one per model request, whatever its
// outcome. Field names are the ledger's public contract (the JSONL sink writes them as they
// are, the SQL sinks keep them as columns); add fields, never rename or reuse one.
//
// Versions. v1 had outcome.guardrail_verdict reserved (always null) and no
// outcome.guardrail_detectors; v2 fills both. A v1 event (an old spool, write-ahead log or
// JSONL file, or a row written before the upgrade) reads as guardrail_verdict null and
// guardrail_detectors [] (withGuardrailFields).

export const LEDGER_SCHEMA_VERSION = 2;

/** What the guardrails decided: let it through, let it through but flag it, redact and go on, or refuse it. */
export type GuardrailVerdict = 'pass' | 'flag' | 'redact' | 'block';
export const GUARDRAIL_VERDICTS = ['pass', 'flag', 'redact', 'block'] as const satisfies readonly GuardrailVerdict[];

export type LedgerStatus =
  /** The provider served it. */
  | 'success'
  /** The provider(s) failed and the client got their error (for a stream that broke after its first byte: http_status 200). */
  | 'upstream_error'
  /** A rate, concurrency or cost-cap limit refused it before any provider was called. */
  | 'rate_limited'
  /** A budget refused it. */
  | 'budget_blocked'
  /** A known key that may not call (revoked, expired, blocked, model not allowed). */
  | 'auth_failed'
  /** Refused for its shape (invalid request, unsupported parameter, unknown model, …). */
  | 'invalid_request'
  /** The client went away before the answer. */
  | 'client_gone'
  /** Served from the response cache (reserved; the cache comes later). */
  | 'cache_hit';

export interface LedgerUsage {
  /** All input tokens, cached ones included. */
  readonly input: number;
  /** All output tokens, reasoning ones included. */
  readonly output: number;
  readonly cached_input: number;
  readonly cache_write: number;
  readonly reasoning: number;
  readonly total: number;
  /** Tollgate counted (some of) the tokens itself: the provider reported no usage. */
  readonly estimated: boolean;
}

export interface LedgerCost {
  readonly input: number;
  readonly output: number;
  readonly total: number;
  /** Cache hits: what the call would have cost. */
  readonly saved: number;
  /** Package version plus a hash of the config's price overrides. */
  readonly price_table_version: string;
  /** No price is known for the model: the costs above are 0 but not "free". */
  readonly price_missing: boolean;
}

export interface LedgerEvent {
  readonly schema_version: number;
  readonly event_id: string;
  /** ISO 8601, when the request arrived. */
  readonly timestamp: string;
  readonly request_id: string;
  readonly trace_id: string;
  readonly endpoint: 'chat.completions' | 'messages' | 'embeddings';
  readonly stream: boolean;
  // identity
  readonly key_id: string | null;
  readonly key_alias: string | null;
  readonly team_id: string | null;
  readonly tenant_id: string | null;
  readonly feature_id: string | null;
  readonly user_id_hash: string | null;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly prompt_version: string | null;
  // model
  readonly model_alias: string | null;
  readonly model_resolved: string | null;
  readonly provider: string | null;
  readonly deployment_id: string | null;
  readonly region: string | null;
  // cache
  readonly cache_hit: boolean;
  readonly usage: LedgerUsage;
  readonly cost_usd: LedgerCost;
  readonly latency_ms: {
    /** Time spent in the gateway itself (total minus provider). */
    readonly gateway: number;
    /** Time spent waiting on the provider that served (until its last byte). */
    readonly provider: number | null;
    readonly ttft: number | null;
    readonly total: number;
  };
  readonly outcome: {
    readonly status: LedgerStatus;
    readonly error_code: string | null;
    readonly http_status: number;
    readonly vendor_request_id: string | null;
    readonly attempts: number;
    /** Deployments tried, in order: `alias/deployment:outcome(code)`. */
    readonly fallback_chain: readonly string[];
    readonly fallback_used: boolean;
    /** The limit that refused it, as `type:scope` (e.g. `requests_per_minute:key`), when one did. */
    readonly rate_limit_tier: string | null;
    /** What the guardrails decided; null when no guardrail policy applied (and in v1 events). */
    readonly guardrail_verdict: GuardrailVerdict | null;
    /**
     * The guardrail detectors that fired, as `<input|output>:<detector>` (e.g. `input:pii.email`,
     * `output:secret.jwt`, `input:scanner_unavailable:lakera`), in the order reported; empty when
     * none did or no policy applied. Names only, never the matched text. Absent from v1 events.
     */
    readonly guardrail_detectors: readonly string[];
  };
}

/**
 * The event with the v2 guardrail fields present: a v1 event (written before them) gets
 * guardrail_verdict null and guardrail_detectors []. Anything else is returned as it is.
 */
export function withGuardrailFields(event: LedgerEvent): LedgerEvent {
  const outcome = event?.outcome as Partial<LedgerEvent['outcome']> | undefined;
  if (!outcome || typeof outcome !== 'object' || Array.isArray(outcome.guardrail_detectors)) return event;
  return { ...event, outcome: { ...(outcome as LedgerEvent['outcome']), guardrail_verdict: outcome.guardrail_verdict ?? null, guardrail_detectors: [] } };
}
