// The guardrails at run time: which policy a call gets, the input guard (built-in detectors on
// every message by role, then the policy's external scanners), and the output guard for a whole
// completion. Blocking throws guardrail_blocked naming the detectors, never the text; a scanner
// that is down fails the call only under fail_closed. Every verdict is counted.

import type { GuardrailPolicy, GuardrailsSettings } from '../config/guardrails-schema.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Logger } from '../logging/logger.ts';
import { BoundedLabel } from '../telemetry/bounded-label.ts';
import type { Counter, Histogram, Metrics } from '../telemetry/metrics.ts';
import type { Detector, Finding } from './detector.ts';
import { builtinDetectors } from './detectors/builtin-detectors.ts';
import { systemPromptLeakDetector } from './detectors/system-prompt-leak.ts';
import { emptyJudgement, judge, stronger, type Direction, type Judgement } from './guard-verdict.ts';
import { Pseudonymizer } from './placeholders.ts';
import type { ScanTarget } from './scan-targets.ts';
import { openScanner } from './scanners/open-scanner.ts';
import { ScannerUnavailable, type ExternalScanner, type ScanFinding, type ScanVerdict } from './scanners/scanner.ts';

export interface GuardCaller {
  readonly tenantId?: string;
  readonly teamId?: string;
  readonly requestId: string;
}

/** What the input guard decided, and the request's pseudonymizer when it redacted. */
export interface InputVerdict {
  readonly judgement: Judgement;
  readonly pseudonymizer?: Pseudonymizer;
}

export interface GuardrailsOptions {
  readonly settings: GuardrailsSettings;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Replaces the built-in detectors (tests). */
  readonly detectors?: readonly Detector[];
  /** Replaces the configured scanners (tests). */
  readonly scanners?: ReadonlyMap<string, ExternalScanner>;
}

const WARN_EVERY_MS = 60_000;
const SCAN_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export class Guardrails {
  readonly #settings: GuardrailsSettings;
  readonly #detectors: readonly Detector[];
  readonly #outputDetectors: readonly Detector[];
  readonly #scanners: ReadonlyMap<string, ExternalScanner>;
  readonly #logger: Logger;
  readonly #verdicts: Counter;
  readonly #detections: Counter;
  readonly #scannerFailures: Counter;
  readonly #latency: Histogram;
  readonly #detectorLabel = new BoundedLabel(200);
  readonly #warnedAt = new Map<string, number>();

  constructor(options: GuardrailsOptions) {
    this.#settings = options.settings;
    this.#detectors = options.detectors ?? builtinDetectors();
    this.#outputDetectors = this.#detectors.filter((d) => d.kind === 'pii' || d.kind === 'secret');
    this.#scanners = options.scanners ?? new Map(options.settings.scanners.map((config) => [config.name, openScanner(config)]));
    this.#logger = options.logger;
    const m = options.metrics;
    this.#verdicts = m.counter('tollgate_guardrail_verdicts_total', 'Guardrail verdicts, by direction (input, output), verdict (pass, flag, redact, block) and policy.', ['direction', 'verdict', 'policy']);
    this.#detections = m.counter('tollgate_guardrail_detections_total', 'Findings that counted toward a verdict, by direction and detector.', ['direction', 'detector']);
    this.#scannerFailures = m.counter('tollgate_guardrail_scanner_failures_total', 'External scanner calls that gave no verdict, by scanner and reason.', ['scanner', 'reason']);
    this.#latency = m.histogram('tollgate_guardrail_scan_seconds', 'Time the guard took on a request (input) or a whole completion (output), scanners included.', SCAN_BUCKETS, ['direction']);
  }

  /** The call's policy: its tenant's, else its team's, else its alias's, else the default; undefined: not scanned. */
  policyFor(caller: Omit<GuardCaller, 'requestId'>, alias: string): GuardrailPolicy | undefined {
    const s = this.#settings;
    return (caller.tenantId !== undefined ? s.tenants.get(caller.tenantId) : undefined)
      ?? (caller.teamId !== undefined ? s.teams.get(caller.teamId) : undefined)
      ?? s.aliases.get(alias)
      ?? s.defaultPolicy;
  }

  /** The detectors a streamed completion is scanned with (the built-ins for PII and secrets, and the leak detector). */
  outputDetectors(policy: GuardrailPolicy, systemPrompt: string): Detector[] {
    const out = this.#outputDetectors.filter((d) => policy.output[d.kind as 'pii' | 'secret'] !== 'off');
    if (policy.output.leak !== 'off' && systemPrompt.trim() !== '') out.push(systemPromptLeakDetector(systemPrompt));
    return out;
  }

  /**
   * Scans `targets`; on block throws guardrail_blocked. Redactions are made through `edit`, which
   * must return the targets of a copy of the request (the original is never changed).
   */
  async input(policy: GuardrailPolicy, targets: readonly ScanTarget[], edit: () => readonly ScanTarget[], caller: GuardCaller, signal?: AbortSignal): Promise<InputVerdict> {
    const started = performance.now();
    const judgement = emptyJudgement();
    const toRedact: Finding[][] = targets.map(() => []);
    targets.forEach((target, i) => {
      for (const detector of this.#detectors) {
        const found = detector.scan(target.text, target.role);
        if (found.length > 0) toRedact[i]!.push(...judge(policy, 'input', found, judgement));
      }
    });
    if (policy.scanners.length > 0 && judgement.verdict !== 'block') await this.#askScanners(policy, 'input', targets, toRedact, judgement, caller, signal);
    let pseudonymizer: Pseudonymizer | undefined;
    if (judgement.verdict !== 'block' && toRedact.some((list) => list.length > 0)) {
      pseudonymizer = new Pseudonymizer();
      const copy = edit();
      for (const target of copy) pseudonymizer.reserve(target.text);
      copy.forEach((target, i) => {
        const list = toRedact[i]!;
        // What came from tools or retrieval is the system's data: never put back into an answer.
        if (list.length > 0) target.set(pseudonymizer!.redact(target.text, list, { restorable: target.role === 'user' || target.role === 'system' }));
      });
    }
    this.#record(policy, 'input', judgement, started);
    if (judgement.verdict === 'block') throw blocked(policy, 'input', judgement);
    return { judgement, ...(pseudonymizer ? { pseudonymizer } : {}) };
  }

  /**
   * Scans a whole completion's texts (one per choice); on block throws guardrail_blocked.
   * Redacts in place through each target's `set`, then restores the caller's own values where
   * the policy allows (values the output guard redacted are never restored).
   */
  async output(policy: GuardrailPolicy, texts: readonly ScanTarget[], systemPrompt: string, pseudonymizer: Pseudonymizer | undefined, caller: GuardCaller, signal?: AbortSignal): Promise<Judgement> {
    const started = performance.now();
    const judgement = emptyJudgement();
    const detectors = this.outputDetectors(policy, systemPrompt);
    const toRedact: Finding[][] = texts.map((t) => detectors.flatMap((d) => judge(policy, 'output', d.scan(t.text, 'completion'), judgement)));
    if (policy.scanOutput && policy.scanners.length > 0 && judgement.verdict !== 'block') await this.#askScanners(policy, 'output', texts, toRedact, judgement, caller, signal);
    this.#record(policy, 'output', judgement, started);
    if (judgement.verdict === 'block') throw blocked(policy, 'output', judgement);
    const names = pseudonymizer ?? new Pseudonymizer();
    texts.forEach((t, i) => {
      let text = toRedact[i]!.length > 0 ? names.redact(t.text, toRedact[i]!, { restorable: false }) : t.text;
      if (policy.restorePii && pseudonymizer) text = pseudonymizer.restore(text);
      if (text !== t.text) t.set(text);
    });
    return judgement;
  }

  /** Counts a verdict reached elsewhere (a stream's output guard). */
  record(policy: GuardrailPolicy, direction: Direction, judgement: Judgement, started: number): void {
    this.#record(policy, direction, judgement, started);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#scanners.values()].map((s) => s.close()));
  }

  async #askScanners(
    policy: GuardrailPolicy, direction: Direction, targets: readonly ScanTarget[], toRedact: Finding[][],
    judgement: Judgement, caller: GuardCaller, signal: AbortSignal | undefined,
  ): Promise<void> {
    const messages = targets.map((t) => ({ role: direction === 'output' ? 'completion' as const : t.role, text: t.text }));
    const input = { direction, messages, requestId: caller.requestId, ...(caller.tenantId !== undefined ? { tenant: caller.tenantId } : {}) };
    const asked = policy.scanners.map((name) => this.#scanners.get(name)!).filter(Boolean);
    const results = await Promise.allSettled(asked.map((scanner) => scanner.scan(input, signal)));
    results.forEach((result, i) => {
      const scanner = asked[i]!;
      if (result.status === 'rejected') return this.#unavailable(policy, direction, scanner.name, result.reason, judgement);
      this.#scannerVerdict(policy, direction, result.value, targets, toRedact, judgement);
    });
  }

  #scannerVerdict(policy: GuardrailPolicy, direction: Direction, verdict: ScanVerdict, targets: readonly ScanTarget[], toRedact: Finding[][], judgement: Judgement): void {
    if (verdict.block) {
      judgement.verdict = 'block';
      for (const f of verdict.findings) judgement.detectors.add(`${direction}:${f.detector}`);
      judgement.reasons.add('an external scanner asked for a block');
      return;
    }
    if (!verdict.flagged) return;
    for (const f of verdict.findings as ScanFinding[]) {
      const redact = judge(policy, direction, [f], judgement);
      const at = f.messageIndex;
      // A finding with a span in a known message can be redacted; without one, redact means block.
      if (redact.length > 0 && at !== undefined && at < targets.length && f.end > f.start) toRedact[at]!.push(f);
      else if (redact.length > 0) judgement.verdict = 'block';
    }
  }

  #unavailable(policy: GuardrailPolicy, direction: Direction, name: string, error: unknown, judgement: Judgement): void {
    const reason = error instanceof ScannerUnavailable ? error.reason : 'unreachable';
    this.#scannerFailures.inc({ scanner: name, reason });
    if (policy.failClosed) {
      throw new GatewayError('guardrail_unavailable', `The guardrail scanner "${name}" gave no verdict (${reason}) and policy "${policy.name}" fails closed: the ${direction === 'input' ? 'request' : 'answer'} was not let through unscanned. Retry shortly.`);
    }
    judgement.verdict = stronger(judgement.verdict, 'flag');
    judgement.detectors.add(`${direction}:scanner_unavailable:${name}`);
    const now = performance.now();
    if (now - (this.#warnedAt.get(name) ?? -Infinity) < WARN_EVERY_MS) return;
    this.#warnedAt.set(name, now);
    this.#logger.warn('guardrail scanner unavailable: failing open (logged at most once a minute per scanner)', { scanner: name, reason, policy: policy.name });
  }

  #record(policy: GuardrailPolicy, direction: Direction, judgement: Judgement, started: number): void {
    this.#verdicts.inc({ direction, verdict: judgement.verdict, policy: policy.name });
    for (const detector of judgement.detectors) this.#detections.inc({ direction, detector: this.#detectorLabel.of(detector.slice(direction.length + 1)) });
    this.#latency.observe({ direction }, (performance.now() - started) / 1000);
  }
}

function blocked(policy: GuardrailPolicy, direction: Direction, judgement: Judgement): GatewayError {
  const detectors = [...judgement.detectors].map((d) => d.slice(direction.length + 1));
  const what = direction === 'input' ? 'The request was blocked' : 'The answer was blocked';
  return new GatewayError('guardrail_blocked', `${what} by guardrail policy "${policy.name}": ${[...judgement.reasons].join('; ') || 'a detector matched'}. Detectors: ${detectors.join(', ')}.`, {
    guardrail: { direction, detectors },
  });
}
