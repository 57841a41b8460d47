// An LLM Guard API server (protectai/llm-guard's llm_guard_api): prompts go to
// POST {url}/analyze/prompt { "prompt", "scanners_suppress" } and completions to
// POST {url}/analyze/output { "prompt", "output", "scanners_suppress" }, with
// `Authorization: Bearer <token>` when the server's auth is http_bearer. Both answer
// { "is_valid": bool, "scanners": { "<Scanner>": risk score }, "sanitized_prompt" | "sanitized_output" }.
// Risk scores run from -1 (no risk) through 0 (the scanner's threshold) to 1; every scanner above
// 0 becomes a finding llm_guard.<scanner> ("PromptInjection" → llm_guard.prompt_injection)
// without a span (the API gives none). Sources in docs/guardrails.md.
//
// The API scans one text: the messages are joined (blank line between); for an output scan the
// completion's messages (role 'completion'; else the last message) are the output and the
// others its prompt.

import { z } from 'zod';
import { ScannerHttp } from './scanner-http.ts';
import { detectorPart, kindOf, placeholderType, unitScore } from './scanner-findings.ts';
import type { ExternalScanner, ScanFinding, ScanInput, ScannerOptions, ScanVerdict } from './scanner.ts';

export const LLM_GUARD_PROMPT_PATH = '/analyze/prompt';
export const LLM_GUARD_OUTPUT_PATH = '/analyze/output';

export interface LlmGuardScannerOptions extends ScannerOptions {
  /** Scanner class names the server should skip for these scans (e.g. ["Toxicity"]). */
  readonly scannersSuppress?: readonly string[];
}

const answer = z.object({
  is_valid: z.boolean(),
  scanners: z.record(z.string(), z.number()),
});

export class LlmGuardScanner implements ExternalScanner {
  readonly name: string;
  readonly #suppress: readonly string[];
  readonly #http: ScannerHttp;

  constructor(options: LlmGuardScannerOptions) {
    this.name = options.name;
    this.#suppress = options.scannersSuppress ?? [];
    this.#http = new ScannerHttp(options);
  }

  async scan(input: ScanInput, signal?: AbortSignal): Promise<ScanVerdict> {
    try {
      const [path, body] = input.direction === 'input'
        ? [LLM_GUARD_PROMPT_PATH, { prompt: join(input.messages), scanners_suppress: this.#suppress }]
        : [LLM_GUARD_OUTPUT_PATH, { ...promptAndOutput(input), scanners_suppress: this.#suppress }];
      const parsed = answer.safeParse(await this.#http.postJson(this.#http.basePath + path, body, signal));
      if (!parsed.success) throw this.#http.unavailable('bad_response', 'the answer is not an LLM Guard analysis');
      return { findings: findingsOf(parsed.data), flagged: !parsed.data.is_valid };
    } catch (error) {
      throw this.#http.asUnavailable(error);
    }
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}

function join(messages: ScanInput['messages']): string {
  return messages.map((m) => m.text).join('\n\n');
}

/** The completion's messages are the output; without any, the last message is. */
function promptAndOutput(input: ScanInput): { prompt: string; output: string } {
  const isOutput = input.messages.some((m) => m.role === 'completion')
    ? (m: ScanInput['messages'][number]) => m.role === 'completion'
    : (m: ScanInput['messages'][number]) => m === input.messages.at(-1);
  return { prompt: join(input.messages.filter((m) => !isOutput(m))), output: join(input.messages.filter(isOutput)) };
}

function findingsOf(data: z.output<typeof answer>): ScanFinding[] {
  const findings: ScanFinding[] = [];
  for (const [scanner, score] of Object.entries(data.scanners)) {
    if (!(score > 0)) continue;
    findings.push(finding(scanner, unitScore(score), `LLM Guard's ${scanner} scanner scored ${Math.round(score * 100) / 100}, above its threshold`));
  }
  if (!data.is_valid && findings.length === 0) findings.push(finding('Invalid', 1, 'LLM Guard judged the text invalid without a scanner above its threshold'));
  return findings;
}

function finding(scanner: string, score: number, reason: string): ScanFinding {
  return {
    detector: `llm_guard.${detectorPart(scanner)}`,
    kind: kindOf(scanner),
    type: placeholderType(scanner),
    score,
    reason,
    start: 0,
    end: 0,
  };
}
