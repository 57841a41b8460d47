// The generic webhook scanner: a tenant's own service, spoken to in Tollgate's schema (documented
// in docs/guardrails.md). One POST of JSON to the configured URL:
//
//   { "direction": "input" | "output", "messages": [{ "role", "text" }], "request_id", "tenant" }
//
// answered 2xx with
//
//   { "verdict": "pass" | "flag" | "block",
//     "findings": [{ "detector", "type"?, "kind"?, "score", "reason", "message_index"?, "start"?, "end"? }] }
//
// "flag" and "block" both mean flagged; "block" also sets ScanVerdict.block (the service asks for
// a refusal whatever the tenant's action). An answer that breaks the schema is a bad_response.

import { z } from 'zod';
import type { DetectorKind } from '../detector.ts';
import { ScannerHttp } from './scanner-http.ts';
import { kindOf, placeholderType, unitScore } from './scanner-findings.ts';
import type { ExternalScanner, ScanFinding, ScanInput, ScannerOptions, ScanVerdict } from './scanner.ts';

/** Longest reason kept (longer ones are cut): reasons go to logs and the ledger. */
const MAX_REASON = 300;

const finding = z.object({
  detector: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/),
  type: z.string().regex(/^[A-Za-z0-9_]{1,40}$/).optional(),
  kind: z.enum(['injection', 'pii', 'secret', 'leak']).optional(),
  score: z.number().min(0).max(1),
  reason: z.string().max(10_000),
  message_index: z.number().int().min(0).optional(),
  start: z.number().int().min(0).optional(),
  end: z.number().int().min(0).optional(),
});

const answer = z.object({
  verdict: z.enum(['pass', 'flag', 'block']),
  findings: z.array(finding).max(1_000).optional(),
});

export class WebhookScanner implements ExternalScanner {
  readonly name: string;
  readonly #http: ScannerHttp;

  constructor(options: ScannerOptions) {
    this.name = options.name;
    this.#http = new ScannerHttp(options);
  }

  async scan(input: ScanInput, signal?: AbortSignal): Promise<ScanVerdict> {
    try {
      const body = {
        direction: input.direction,
        messages: input.messages.map((m) => ({ role: m.role, text: m.text })),
        request_id: input.requestId ?? null,
        tenant: input.tenant ?? null,
      };
      const parsed = answer.safeParse(await this.#http.postJson(this.#http.urlPath, body, signal));
      if (!parsed.success) throw this.#http.unavailable('bad_response', 'the answer does not follow the webhook schema');
      const findings = (parsed.data.findings ?? []).map((f) => this.#finding(f, input));
      return { findings, flagged: parsed.data.verdict !== 'pass', ...(parsed.data.verdict === 'block' && { block: true }) };
    } catch (error) {
      throw this.#http.asUnavailable(error);
    }
  }

  #finding(f: z.output<typeof finding>, input: ScanInput): ScanFinding {
    const hasSpan = f.start !== undefined || f.end !== undefined;
    if (f.message_index !== undefined && f.message_index >= input.messages.length) {
      throw this.#http.unavailable('bad_response', 'a finding names a message that was not sent');
    }
    if (hasSpan) {
      // A span needs both ends and its message, and must lie inside that message's text.
      const text = f.message_index === undefined ? undefined : input.messages[f.message_index]!.text;
      if (f.start === undefined || f.end === undefined || text === undefined || f.start > f.end || f.end > text.length) {
        throw this.#http.unavailable('bad_response', 'a finding has a span outside its message');
      }
    }
    const kind: DetectorKind = f.kind ?? kindOf(f.detector);
    return {
      detector: f.detector,
      kind,
      type: f.type ?? placeholderType(f.detector),
      score: unitScore(f.score),
      reason: f.reason.length > MAX_REASON ? `${f.reason.slice(0, MAX_REASON - 1)}…` : f.reason,
      start: f.start ?? 0,
      end: f.end ?? 0,
      ...(f.message_index !== undefined && { messageIndex: f.message_index }),
    };
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}
