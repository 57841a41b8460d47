// The `tracing:` config section: OpenTelemetry traces of every model call, sent to a collector
// over OTLP/HTTP (JSON). Off by default. The spans carry ids, models, tokens, cost and who called;
// prompt and completion text only for the teams and tenants listed in ledger.prompt_logging.
//
//   tracing:
//     enabled: true
//     endpoint: http://otel-collector:4318/v1/traces
//     headers: { authorization: os.environ/OTEL_AUTH }
//     sample_ratio: 0.25

import { z } from 'zod';
import { fromEnv } from './identity-schema.ts';

export const TRACES_PATH = '/v1/traces';

/**
 * The collector's OTLP/HTTP traces URL. A bare origin (http://collector:4318) gets /v1/traces,
 * as OTEL_EXPORTER_OTLP_ENDPOINT does; any other path is used as it is.
 */
const endpoint = z.string().trim().refine((value) => {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}, { error: 'must be an http:// or https:// URL, e.g. http://otel-collector:4318/v1/traces' }).transform((value) => {
  const url = new URL(value);
  if (url.pathname !== '/') return value;
  url.pathname = TRACES_PATH;
  return url.toString();
});

/** Header names are HTTP tokens; values printable, without line breaks (they are never echoed in errors). */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'header names must be HTTP tokens (letters, digits, - and a few symbols)' });
const headerValue = z.string().regex(/^[\x20-\x7e\t]*$/, { error: 'header values must be printable characters without line breaks (check the variable for a stray newline)' });

const attributeKey = z.string().min(1).max(255);

export const tracingSchema = z.strictObject({
  enabled: fromEnv(z.boolean()).default(false),
  /** Required when enabled. */
  endpoint: endpoint.optional(),
  /** Sent with every export, e.g. an authorization header (reference secrets as os.environ/NAME). */
  headers: z.record(headerName, headerValue).default({}),
  service_name: z.string().trim().min(1).max(255).default('tollgate'),
  /** More resource attributes, e.g. deployment.environment.name: prod. */
  resource_attributes: z.record(attributeKey, z.string().max(4096)).default({}),
  /** Share of traces kept, 0 to 1, by trace id; a client's traceparent decides for its own calls. */
  sample_ratio: fromEnv(z.number().min(0, { error: 'must be from 0 to 1' }).max(1, { error: 'must be from 0 to 1' })).default(1),
  /** Spans waiting at most; more are dropped (and counted) rather than growing memory. */
  max_queue_size: fromEnv(z.number().int().min(1).max(1_000_000)).default(2048),
  /** Spans per export; a full batch is sent at once. */
  max_export_batch_size: fromEnv(z.number().int().min(1).max(100_000)).default(512),
  /** Waiting spans are sent at least this often. */
  scheduled_delay_ms: fromEnv(z.number().int().min(10).max(60_000)).default(1000),
  /** One export's time, retries included; a collector slower than this loses that batch. */
  export_timeout_ms: fromEnv(z.number().int().min(100).max(120_000)).default(10_000),
}).superRefine((tracing, ctx) => {
  if (tracing.enabled && tracing.endpoint === undefined) {
    ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'is required when tracing is enabled: the collector\'s OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces' });
  }
  if (tracing.max_export_batch_size > tracing.max_queue_size) {
    ctx.addIssue({ code: 'custom', path: ['max_export_batch_size'], message: `must not exceed max_queue_size (${tracing.max_queue_size})` });
  }
}).prefault({});

export type TracingInput = z.output<typeof tracingSchema>;
