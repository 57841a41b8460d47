// Lakera Guard (API v2): POST {url}/v2/guard with `Authorization: Bearer <key>` and
//
//   { "messages": [{ "role", "content" }], "breakdown": true, "payload": true, "project_id"? }
//
// answered { "flagged": bool, "breakdown"?: [{ "project_id", "policy_id", "detector_id",
// "detector_type", "detected", "message_id" }], "payload"?: [{ "start", "end", "text",
// "detector_type", "labels", "message_id"? }], "metadata"?, "dev_info"? } (sources in
// docs/guardrails.md). Each detected breakdown entry becomes a finding named
// lakera.<detector_type> ("pii/email" → lakera.pii.email) with score 1 (the v2 guard endpoint
// gives a decision, not a confidence) and no span; payload entries (PII, profanity and regex
// matches) become findings with their span, replacing their type's spanless finding. The
// matched text Lakera returns in payload is never kept.

import { z } from 'zod';
import type { TextRole } from '../detector.ts';
import { ScannerHttp } from './scanner-http.ts';
import { detectorPart, kindOf, placeholderType } from './scanner-findings.ts';
import type { ExternalScanner, ScanFinding, ScanInput, ScannerOptions, ScanVerdict } from './scanner.ts';

export const LAKERA_GUARD_PATH = '/v2/guard';

export interface LakeraScannerOptions extends ScannerOptions {
  /** The Lakera project whose policy screens the content (else the account's default policy). */
  readonly projectId?: string;
}

// Lakera's documented fields are typed optional by its clients (null or absent): accept both.
const index = z.number().int().min(0).nullish();
const answer = z.object({
  flagged: z.boolean(),
  breakdown: z.array(z.object({ detector_type: z.string().nullish(), detected: z.boolean().nullish(), message_id: index })).nullish(),
  payload: z.array(z.object({ start: index, end: index, detector_type: z.string().nullish(), message_id: index })).nullish(),
});

/**
 * Lakera takes OpenAI chat roles. Tool results and retrieved context are untrusted text: they go
 * as user content, the part of a conversation Guard screens for prompt attacks.
 */
const ROLES: Record<TextRole, 'system' | 'user' | 'assistant'> = {
  system: 'system', user: 'user', assistant: 'assistant', completion: 'assistant', tool: 'user', context: 'user',
};

export class LakeraScanner implements ExternalScanner {
  readonly name: string;
  readonly #projectId: string | undefined;
  readonly #http: ScannerHttp;

  constructor(options: LakeraScannerOptions) {
    this.name = options.name;
    this.#projectId = options.projectId;
    this.#http = new ScannerHttp(options);
  }

  async scan(input: ScanInput, signal?: AbortSignal): Promise<ScanVerdict> {
    try {
      const body = {
        messages: input.messages.map((m) => ({ role: ROLES[m.role], content: m.text })),
        breakdown: true,
        payload: true,
        ...(this.#projectId !== undefined && { project_id: this.#projectId }),
      };
      const parsed = answer.safeParse(await this.#http.postJson(this.#http.basePath + LAKERA_GUARD_PATH, body, signal));
      if (!parsed.success) throw this.#http.unavailable('bad_response', 'the answer is not a Lakera Guard screening result');
      return { findings: findingsOf(parsed.data, input), flagged: parsed.data.flagged };
    } catch (error) {
      throw this.#http.asUnavailable(error);
    }
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}

function findingsOf(data: z.output<typeof answer>, input: ScanInput): ScanFinding[] {
  const findings: ScanFinding[] = [];
  const spanned = new Set<string>();
  for (const item of data.payload ?? []) {
    const type = item.detector_type ?? 'unknown';
    const text = item.message_id == null ? undefined : input.messages[item.message_id]?.text;
    // A span is kept only when it fits its message (offsets are [start, end) in its content).
    if (item.start == null || item.end == null || text === undefined || item.start > item.end || item.end > text.length) continue;
    spanned.add(type);
    findings.push(finding(type, item.message_id!, item.start, item.end));
  }
  for (const item of data.breakdown ?? []) {
    const type = item.detector_type ?? 'unknown';
    if (item.detected !== true || spanned.has(type)) continue;
    const messageIndex = item.message_id != null && item.message_id < input.messages.length ? item.message_id : undefined;
    findings.push(finding(type, messageIndex, 0, 0));
  }
  if (data.flagged && findings.length === 0) findings.push(finding('flagged', undefined, 0, 0));
  return findings;
}

function finding(detectorType: string, messageIndex: number | undefined, start: number, end: number): ScanFinding {
  return {
    detector: `lakera.${detectorPart(detectorType)}`,
    kind: kindOf(detectorType),
    type: placeholderType(detectorType),
    score: 1,
    reason: detectorType === 'flagged' ? 'Lakera Guard flagged the content without naming a detector' : `Lakera Guard's ${detectorPart(detectorType)} detector fired`,
    start,
    end,
    ...(messageIndex !== undefined && { messageIndex }),
  };
}
