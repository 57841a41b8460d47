// The `limits:` config section: where counters live, what happens when that store is down,
// gateway-wide (global) limits and budgets, and budget alerts. Keys, teams and tenants carry
// their own limits (identity-schema.ts); deployments carry rpm/tpm/max_parallel_requests.

import { z } from 'zod';
import { fromEnv, limits } from './identity-schema.ts';

const threshold = fromEnv(z.number().gt(0, { error: 'must be a fraction above 0' }).max(1, { error: 'must be at most 1 (100%)' }));

export const limitsSchema = z.strictObject({
  /** memory: one instance; redis: shared by replicas (needs `redis:`). Default: redis when `redis:` is set. */
  backend: z.enum(['memory', 'redis']).optional(),
  /** When the shared store cannot be reached: open = per-instance local limits, closed = refuse with 503. */
  on_store_failure: z.enum(['open', 'closed']).default('open'),
  /** Count spend per key, team and tenant even without a budget, so the admin API can show it. */
  track_spend: fromEnv(z.boolean()).default(true),
  /** Gateway-wide limits and budgets (global scope). */
  global: z.strictObject(limits).prefault({}),
  alerts: z.strictObject({
    /** Fractions of a budget at which one alert per budget and period is sent. */
    thresholds: z.array(threshold).min(1).max(10).default([0.8]),
    /** JSON POST per alert; a Slack incoming-webhook URL gets Slack's {"text"} shape. */
    webhook_url: z.string().regex(/^https?:\/\//, { error: 'must be an http:// or https:// URL' }).optional(),
    webhook_timeout_ms: fromEnv(z.number().int().min(100).max(60_000)).default(5_000),
  }).prefault({}),
}).prefault({});

export type LimitsInput = z.output<typeof limitsSchema>;
