// The config of the external guardrail scanners (src/guardrails/scanners/), one entry each:
//
//   scanners:
//     - { type: webhook, name: acme-dlp, url: https://dlp.acme.internal/scan, api_key: os.environ/DLP_TOKEN, timeout_ms: 1500 }
//     - { type: lakera, name: lakera, api_key: os.environ/LAKERA_GUARD_API_KEY, project_id: project-123 }
//     - { type: llm_guard, name: llm-guard, url: http://llm-guard:8000, api_key: os.environ/LLM_GUARD_TOKEN }
//
// A webhook's url is where it is POSTed; lakera's and llm_guard's are the service's base URL
// (the adapter appends /v2/guard, /analyze/prompt, /analyze/output). Keys are usually
// environment references, resolved by the loader before this schema sees them (secret-refs.ts);
// they are sent as `Authorization: Bearer <key>` and never logged. What a scanner that is down
// does to a request (fail open / fail closed) is the tenant's guardrail policy, not set here.

import { z } from 'zod';
import { fromEnv } from '../config/identity-schema.ts';

export const DEFAULT_SCANNER_TIMEOUT_MS = 2_000;
export const DEFAULT_LAKERA_URL = 'https://api.lakera.ai';

const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const name = z.string().regex(NAME, { error: 'must be 1-40 lower-case letters, digits, - or _, starting with a letter or digit' });

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  // Checks run even after z.url() failed, so each parses defensively.
  .refine((value) => {
    const url = URL.parse(value);
    return !url || (url.username === '' && url.password === '');
  }, { error: 'must not carry credentials: set api_key instead' });

/** A service's base URL: no query string, no trailing slash (the adapter appends its API's paths). */
const baseUrl = httpUrl
  .refine((value) => (URL.parse(value)?.search ?? '') === '', { error: 'must not have a query string (it is the service\'s base URL)' })
  .transform((value) => value.replace(/\/+$/, ''));

/** Keys go into an HTTP header: printable ASCII, no spaces (a stray newline or quote is a common copy mistake). */
const apiKey = z.string().regex(/^[\x21-\x7e]+$/, {
  error: 'must be printable characters without spaces or line breaks (check the variable for a stray newline or quote)',
});

const RULE = 'must be a whole number of milliseconds from 50 to 60000';
const timeoutMs = fromEnv(z.number().int({ error: RULE }).min(50, { error: RULE }).max(60_000, { error: RULE })).default(DEFAULT_SCANNER_TIMEOUT_MS);

const webhookScanner = z.strictObject({
  type: z.literal('webhook'),
  name,
  /** Where the scan is POSTed (any path and query). */
  url: httpUrl,
  /** Sent as a bearer token when set. */
  api_key: apiKey.optional(),
  /** One scan, from connecting to the end of the answer. */
  timeout_ms: timeoutMs,
});

const lakeraScanner = z.strictObject({
  type: z.literal('lakera'),
  name,
  /** Lakera's API (or a self-hosted Guard); scans go to <url>/v2/guard. */
  url: baseUrl.default(DEFAULT_LAKERA_URL),
  /** A Lakera Guard API key; required for Lakera's hosted API. */
  api_key: apiKey.optional(),
  /** The project whose policy screens the content; the account's default policy without it. */
  project_id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, { error: 'must be a Lakera project id such as project-1234567890' }).optional(),
  timeout_ms: timeoutMs,
}).superRefine((scanner, ctx) => {
  if (scanner.api_key === undefined && URL.parse(scanner.url)?.hostname.endsWith('lakera.ai')) {
    ctx.addIssue({ code: 'custom', path: ['api_key'], message: 'is required for Lakera\'s hosted API: create a Guard API key on platform.lakera.ai, e.g. api_key: os.environ/LAKERA_GUARD_API_KEY' });
  }
});

const llmGuardScanner = z.strictObject({
  type: z.literal('llm_guard'),
  name,
  /** The LLM Guard API server; scans go to <url>/analyze/prompt and <url>/analyze/output. */
  url: baseUrl,
  /** The server's auth.token when its auth type is http_bearer. */
  api_key: apiKey.optional(),
  /** Scanner class names the server skips for these scans, e.g. [Toxicity]. */
  scanners_suppress: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, { error: 'must be an LLM Guard scanner name such as Toxicity' })).max(50).optional(),
  timeout_ms: timeoutMs,
});

export const scannerSchema = z.discriminatedUnion('type', [webhookScanner, lakeraScanner, llmGuardScanner], {
  error: 'type must be webhook, lakera or llm_guard',
});

/** The list, with names unique (they key logs, metrics and tenants' policies). */
export const scannersSchema = z.array(scannerSchema).max(20, { error: 'at most 20 scanners' }).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((scanner, index) => {
    if (seen.has(scanner.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `"${scanner.name}" is already the name of another scanner` });
    seen.add(scanner.name);
  });
}).default([]);

export type ScannerConfig = z.output<typeof scannerSchema>;
