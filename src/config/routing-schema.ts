// Routing and reliability config: the gateway-wide `router:` section (defaults, cooldowns,
// health checks) and the per-alias `routing:` block (strategy, retries, fallback chains).

import { z } from 'zod';
import { fromEnv, positiveInt } from './identity-schema.ts';

export const ROUTING_STRATEGIES = ['simple-shuffle', 'ordered', 'latency-based', 'least-busy', 'cost-based', 'usage-based'] as const;
export type RoutingStrategy = (typeof ROUTING_STRATEGIES)[number];

/** Error classes that are retried; each may get its own number of retries. */
export const RETRY_CLASSES = ['rate_limit', 'timeout', 'server_error', 'connect_error'] as const;
export type RetryClass = (typeof RETRY_CLASSES)[number];

const retries = fromEnv(z.number().int().min(0).max(10, { error: 'at most 10 retries' }));
const nonNegativeInt = fromEnv(z.number().int().min(0));

export const retryPolicySchema = z.strictObject({
  rate_limit: retries.optional(),
  timeout: retries.optional(),
  server_error: retries.optional(),
  connect_error: retries.optional(),
});

/** A fallback target: an alias name, or {model, open_to_all} to let every caller of this alias use it. */
const fallbackTarget = z.union([
  z.string().min(1),
  z.strictObject({
    model: z.string().min(1),
    /** Callers of this alias may use the fallback even when their ACL does not list it. */
    open_to_all: z.boolean().default(false),
  }),
]);
const fallbackList = z.array(fallbackTarget).max(20, { error: 'at most 20 fallbacks' });

export const aliasRoutingSchema = z.strictObject({
  strategy: z.enum(ROUTING_STRATEGIES).optional(),
  /** Retries within this alias before its fallbacks are tried (LiteLLM's num_retries). */
  num_retries: retries.optional(),
  retry_policy: retryPolicySchema.optional(),
  fallbacks: fallbackList.optional(),
  context_window_fallbacks: fallbackList.optional(),
  content_policy_fallbacks: fallbackList.optional(),
  /** The whole request's time budget (all attempts and waits), unless x-gateway-timeout-ms says less. */
  timeout_ms: positiveInt.optional(),
}).prefault({});

export const routerSchema = z.strictObject({
  routing_strategy: z.enum(ROUTING_STRATEGIES).default('simple-shuffle'),
  num_retries: retries.default(2),
  retry_policy: retryPolicySchema.prefault({}),
  /** Full-jitter exponential backoff between retries: random in [0, min(max, initial · 2^n)]. */
  backoff: z.strictObject({
    initial_ms: nonNegativeInt.default(100),
    max_ms: nonNegativeInt.default(5_000),
  }).prefault({}),
  /** Failures within allowed_fails_window_ms before a deployment cools down (circuit breaker). */
  allowed_fails: fromEnv(z.number().int().min(0)).default(3),
  allowed_fails_window_ms: positiveInt.default(60_000),
  cooldown_ms: positiveInt.default(30_000),
  /** No circuit breaker: deployments never cool down (failures are still retried and reported). */
  disable_cooldowns: fromEnv(z.boolean()).default(false),
  /** Fallbacks for aliases with none of their own. */
  default_fallbacks: fallbackList.default([]),
  /** A request's time budget when neither the alias nor the client sets one. */
  request_timeout_ms: positiveInt.default(600_000),
  /** Upper bound on the client's x-gateway-timeout-ms (larger values are capped to it). */
  max_timeout_ms: positiveInt.default(600_000),
  /** latency-based: deployments within this fraction of the fastest share the traffic. */
  latency_buffer: fromEnv(z.number().min(0).max(10)).default(0.1),
  /** Background probes: one cheap real request per deployment per interval. */
  health_checks: z.strictObject({
    enabled: fromEnv(z.boolean()).default(false),
    interval_ms: fromEnv(z.number().int().min(1_000)).default(60_000),
    timeout_ms: positiveInt.default(10_000),
  }).prefault({}),
}).prefault({});

export type RouterInput = z.output<typeof routerSchema>;
export type AliasRoutingInput = z.output<typeof aliasRoutingSchema>;
export type FallbackInput = z.output<typeof fallbackTarget>;
