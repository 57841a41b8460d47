// The `langfuse:` config section: sending every model call to Langfuse (a trace and a
// generation each, with usage, cost, timings and, for teams and tenants whose prompts are
// logged, the redacted prompt and completion). Off by default.
//
//   langfuse:
//     enabled: true
//     host: https://cloud.langfuse.com          # or https://us.cloud.langfuse.com, or self-hosted
//     public_key: os.environ/LANGFUSE_PUBLIC_KEY
//     secret_key: os.environ/LANGFUSE_SECRET_KEY
//     environment: production
//
// Keys are usually environment references (os.environ/NAME or ${NAME}); the loader resolves
// them before this schema sees the values (secret-refs.ts). The defaults are also the
// exporter's (src/telemetry/langfuse/langfuse-exporter.ts).

import { z } from 'zod';
import { fromEnv } from './identity-schema.ts';

export const DEFAULT_LANGFUSE_HOST = 'https://cloud.langfuse.com';
export const DEFAULT_LANGFUSE_FLUSH_INTERVAL_MS = 1_000;
/** Events per request (each call is two: its trace and its generation). */
export const DEFAULT_LANGFUSE_BATCH_SIZE = 100;
/** Events waiting to be sent at most; more are dropped and counted. */
export const DEFAULT_LANGFUSE_MAX_QUEUE = 10_000;
export const DEFAULT_LANGFUSE_TIMEOUT_MS = 10_000;
export const DEFAULT_LANGFUSE_MAX_RETRIES = 3;
/** As ledger.prompt_logging.max_chars: the longest prompt (as JSON) and completion sent, each. */
export const DEFAULT_LANGFUSE_MAX_TEXT_CHARS = 100_000;

/** Langfuse's own rule for environment names (its ingestion validation). */
const ENVIRONMENT = /^(?!langfuse)[a-z0-9_-]{1,40}$/;

const host = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://cloud.langfuse.com' })
  // Checks run even after z.url() failed, so each parses defensively.
  .refine((value) => {
    const url = URL.parse(value);
    return !url || (url.username === '' && url.password === '');
  }, { error: 'must not carry credentials: set public_key and secret_key instead' })
  .refine((value) => (URL.parse(value)?.search ?? '') === '', { error: 'must not have a query string' })
  // The exporter appends /api/public/ingestion, so a trailing slash would double it.
  .transform((value) => value.replace(/\/+$/, ''));

/** Keys go into an HTTP header: printable ASCII, no spaces (a stray newline or quote is a common copy mistake). */
const credential = (what: string) => z.string().regex(/^[\x21-\x7e]+$/, {
  error: `${what} must be printable characters without spaces or line breaks (check the variable for a stray newline or quote)`,
});

const int = (min: number, max: number) =>
  fromEnv(z.number().int({ error: `must be a whole number from ${min} to ${max}` }).min(min, { error: `must be a whole number from ${min} to ${max}` }).max(max, {
    error: `must be a whole number from ${min} to ${max}`,
  }));

export const langfuseSchema = z.strictObject({
  enabled: fromEnv(z.boolean()).default(false),
  /** Langfuse's base URL; requests go to <host>/api/public/ingestion. */
  host: host.default(DEFAULT_LANGFUSE_HOST),
  /** The project's public key (pk-lf-…); required when enabled. */
  public_key: credential('public_key').optional(),
  /** The project's secret key (sk-lf-…); required when enabled. Never logged. */
  secret_key: credential('secret_key').optional(),
  /** Langfuse environment for every trace and generation (e.g. production, staging). */
  environment: z.string().regex(ENVIRONMENT, {
    error: 'must be 1-40 lower-case letters, digits, - or _, not starting with "langfuse" (Langfuse\'s rule)',
  }).optional(),
  /** Shown on every trace, e.g. the deployed version. */
  release: z.string().min(1).max(200).optional(),
  /** Queued events are sent at least this often. */
  flush_interval_ms: int(10, 60_000).default(DEFAULT_LANGFUSE_FLUSH_INTERVAL_MS),
  /** Events per request (a full batch is sent at once); requests also stay under 3.5 MB. */
  batch_size: int(1, 1_000).default(DEFAULT_LANGFUSE_BATCH_SIZE),
  /** Events waiting at most (while Langfuse is slow or down); more are dropped and counted. */
  max_queue: int(2, 1_000_000).default(DEFAULT_LANGFUSE_MAX_QUEUE),
  /** One request, from connecting to the end of the answer. */
  timeout_ms: int(100, 120_000).default(DEFAULT_LANGFUSE_TIMEOUT_MS),
  /** Retries of a batch after a network error, a timeout, 429 or 5xx; then it is dropped and counted. */
  max_retries: int(0, 10).default(DEFAULT_LANGFUSE_MAX_RETRIES),
  /** Longest prompt (as JSON) and completion sent, in characters each; longer ones are cut. */
  max_text_chars: int(1_000, 1_000_000).default(DEFAULT_LANGFUSE_MAX_TEXT_CHARS),
}).superRefine((section, ctx) => {
  if (!section.enabled) return;
  for (const field of ['public_key', 'secret_key'] as const) {
    if (section[field] === undefined || section[field] === '') {
      const env = field === 'public_key' ? 'LANGFUSE_PUBLIC_KEY' : 'LANGFUSE_SECRET_KEY';
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `is required when langfuse.enabled is true: copy it from the Langfuse project's settings (API keys), e.g. ${field}: os.environ/${env}`,
      });
    }
  }
  // The two are easy to swap, and a swapped pair would send the secret as the user name.
  if (section.public_key?.startsWith('sk-lf-')) {
    ctx.addIssue({ code: 'custom', path: ['public_key'], message: 'looks like a secret key (sk-lf-…): the public key starts with pk-lf-' });
  }
  if (section.secret_key?.startsWith('pk-lf-')) {
    ctx.addIssue({ code: 'custom', path: ['secret_key'], message: 'looks like a public key (pk-lf-…): the secret key starts with sk-lf-' });
  }
}).prefault({});

export type LangfuseConfig = z.output<typeof langfuseSchema>;
