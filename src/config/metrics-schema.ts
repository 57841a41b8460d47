// The `metrics:` config section: GET /metrics (Prometheus), who may scrape it and where.
//
//   metrics:
//     enabled: true                  # false: no /metrics at all
//     token: os.environ/METRICS_TOKEN  # scrapes send Authorization: Bearer <token>
//     port: 9464                     # serve /metrics on its own listener (not on the API port)
//     host: 127.0.0.1                # that listener's interface
//     tenant_labels: { enabled: false, max: 100 }
//     default_metrics: true          # process and Node.js metrics (CPU, memory, GC, event loop)
//
// The token is a secret: like every value, it may be an os.environ/NAME or ${NAME} reference,
// resolved before this schema sees it.

import { z } from 'zod';
import { fromEnv } from './identity-schema.ts';

export const metricsSchema = z.strictObject({
  enabled: fromEnv(z.boolean()).default(true),
  /** Bearer token a scrape must send; without one, /metrics is open to whoever reaches its port. */
  token: z.string().regex(/^[\x21-\x7e]{16,256}$/, {
    error: 'token must be 16-256 printable characters without spaces (reference it as os.environ/NAME)',
  }).optional(),
  /** A separate listener for /metrics (the admin-port mode); the API port then has no /metrics. */
  port: fromEnv(z.number().int().min(1).max(65535)).optional(),
  /** The separate listener's interface (only with `port`). */
  host: z.string().min(1).default('127.0.0.1'),
  /** Per-tenant request and cost series: tenant ids come from clients, so they are opt-in and capped. */
  tenant_labels: z.strictObject({
    enabled: fromEnv(z.boolean()).default(false),
    /** Tenants with their own series; later ones are counted as "other". */
    max: fromEnv(z.number().int().min(1).max(10_000)).default(100),
  }).prefault({}),
  /** prom-client's process and Node.js metrics, under their standard names. */
  default_metrics: fromEnv(z.boolean()).default(true),
}).prefault({});

export type MetricsInput = z.output<typeof metricsSchema>;

/** The `metrics:` section as the gateway uses it (camelCase, frozen), for GatewayConfig. */
export interface MetricsSettings {
  readonly enabled: boolean;
  readonly token?: string;
  readonly port?: number;
  readonly host: string;
  readonly tenantLabels: { readonly enabled: boolean; readonly max: number };
  readonly defaultMetrics: boolean;
}

export function metricsSettings(input: MetricsInput): MetricsSettings {
  return Object.freeze({
    enabled: input.enabled,
    ...(input.token !== undefined ? { token: input.token } : {}),
    ...(input.port !== undefined ? { port: input.port } : {}),
    host: input.host,
    tenantLabels: Object.freeze({ enabled: input.tenant_labels.enabled, max: input.tenant_labels.max }),
    defaultMetrics: input.default_metrics,
  });
}
