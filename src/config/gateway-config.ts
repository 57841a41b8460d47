import type { DeclaredIdentity } from '../identity/declared.ts';
import type { Limits } from '../identity/records.ts';
import type { PromptLogSettings } from '../ledger/prompt-log/prompt-logger.ts';
import type { Deployment } from '../providers/types.ts';
import type { AlertsInput } from './alerts-schema.ts';
import type { LangfuseConfig } from './langfuse-schema.ts';
import type { MetricsSettings } from './metrics-schema.ts';
import type { CacheSettings } from './cache-schema.ts';
import type { GuardrailsSettings } from './guardrails-schema.ts';
import type { RetryClass, RoutingStrategy } from './routing-schema.ts';
import type { TracingInput } from './tracing-schema.ts';

/** One fallback: an alias, and whether every caller of the alias that falls back may use it. */
export interface FallbackTarget {
  readonly alias: string;
  readonly openToAll: boolean;
}

/** How one alias picks deployments, retries and falls back (src/routing/). */
export interface AliasRouting {
  readonly strategy: RoutingStrategy;
  /** Retries within the alias per error class, before its fallbacks. */
  readonly retries: Readonly<Record<RetryClass, number>>;
  /** The ordered fallback chain (its own or default_fallbacks), expanded and loop-free. */
  readonly fallbacks: readonly FallbackTarget[];
  readonly contextWindowFallbacks: readonly FallbackTarget[];
  readonly contentPolicyFallbacks: readonly FallbackTarget[];
  /** The whole request's time budget, unless the client asks for less. */
  readonly timeoutMs: number;
}

export interface AliasConfig {
  readonly name: string;
  readonly description?: string;
  readonly deployments: readonly Deployment[];
  readonly routing: AliasRouting;
}

/** The validated, resolved and frozen configuration every other module reads. */
export interface GatewayConfig {
  readonly source: { readonly file: string; readonly format: 'native' | 'litellm' };
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly maxBodyBytes: number;
    readonly accessLog: boolean;
    readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
    readonly shutdownGraceMs: number;
    readonly keepAliveTimeoutMs: number;
  };
  /** Undefined when no master key is configured: the gateway then runs without auth, loopback only. */
  readonly masterKey?: string;
  readonly dropParams: boolean;
  readonly upstream: { readonly connectionsPerOrigin: number; readonly keepAliveTimeoutMs: number };
  readonly aliases: ReadonlyMap<string, AliasConfig>;
  /** Aliases switched off because a variable in their requires_env is unset. */
  readonly disabledAliases: ReadonlyMap<string, readonly string[]>;
  /** Where teams, tenants, keys and the audit log live. */
  readonly database: {
    /** sqlite:PATH, sqlite::memory: or postgresql://… (may hold a password: never log it). */
    readonly url: string;
    readonly schema?: string;
    readonly poolSize: number;
    readonly migrateOnStart: boolean;
  };
  /** Shared state across replicas (identity change events now; counters and cache later). */
  readonly redis?: { readonly url: string; readonly keyPrefix: string };
  readonly identity: {
    /** Teams, tenants and keys declared in the config file (read-only at run time). */
    readonly declared: DeclaredIdentity;
    readonly keyCacheSize: number;
    readonly keyRefreshMs: number;
    readonly unknownKeyTtlMs: number;
    readonly changePollMs: number;
    readonly unknownTenants: 'allow' | 'reject';
    readonly rotationGraceSeconds: number;
    readonly userIdSalt: string;
  };
  /** Rate limits and budgets: the counter store and the global scope (src/limits/). */
  readonly limits: {
    readonly backend: 'memory' | 'redis';
    readonly onStoreFailure: 'open' | 'closed';
    readonly trackSpend: boolean;
    readonly global: Readonly<Limits>;
    readonly alerts: { readonly thresholds: readonly number[]; readonly webhookUrl?: string; readonly webhookTimeoutMs: number };
  };
  /** Gateway-wide reliability settings: backoff, circuit breaker, timeouts, health checks. */
  readonly router: {
    readonly backoff: { readonly initialMs: number; readonly maxMs: number };
    readonly allowedFails: number;
    readonly allowedFailsWindowMs: number;
    readonly cooldownMs: number;
    /** false: router.disable_cooldowns (no circuit breaker). */
    readonly cooldowns: boolean;
    readonly maxTimeoutMs: number;
    readonly latencyBuffer: number;
    readonly healthChecks: { readonly enabled: boolean; readonly intervalMs: number; readonly timeoutMs: number };
  };
  /** The cost ledger: its sinks (sqlite:, postgres://, jsonl:) and batching (src/ledger/). */
  readonly ledger: {
    readonly enabled: boolean;
    readonly sinks: readonly string[];
    readonly schema?: string;
    readonly spoolDir: string;
    readonly flushIntervalMs: number;
    readonly batchSize: number;
    readonly maxQueued: number;
    readonly writeAheadLog: boolean;
    readonly writeAheadIntervalMs: number;
    /** Teams and tenants whose prompts and completions are kept (redacted) for retentionDays. */
    readonly promptLogging: PromptLogSettings;
  };
  /** GET /metrics: who may scrape it, where, and the opt-in per-tenant series. */
  readonly metrics: MetricsSettings;
  /** The response cache (src/cache/): backend, modes, TTLs and the semantic lookup. */
  readonly cache: CacheSettings;
  /** Guardrails (src/guardrails/): policies, who uses which, and the external scanners. */
  readonly guardrails: GuardrailsSettings;
  /** OpenTelemetry traces over OTLP/HTTP (src/telemetry/tracing/); the section as validated. */
  readonly tracing: TracingInput;
  /** The Langfuse exporter (src/telemetry/langfuse/); the section as validated. */
  readonly langfuse: LangfuseConfig;
  /** Alert rules and their webhooks (src/alerts/); the section as validated. */
  readonly alerts: AlertsInput;
  /** Non-fatal findings (LiteLLM keys not supported yet, settings not enforced yet). */
  readonly warnings: readonly string[];
}
