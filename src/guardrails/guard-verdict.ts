// How findings become a verdict under a policy: each finding's kind has an action (block,
// redact, flag or off) in the policy's input or output half; the strongest action present is the
// verdict (block > redact > flag > pass). Pure.

import type { GuardAction, GuardrailPolicy } from '../config/guardrails-schema.ts';
import type { DetectorKind, Finding } from './detector.ts';

export type Verdict = 'pass' | 'flag' | 'redact' | 'block';
export type Direction = 'input' | 'output';

const RANK: Readonly<Record<Verdict, number>> = { pass: 0, flag: 1, redact: 2, block: 3 };

export function stronger(a: Verdict, b: Verdict): Verdict {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The action the policy takes on a finding of `kind` in `direction` ('off' for kinds it does not act on there). */
export function actionFor(policy: GuardrailPolicy, direction: Direction, kind: DetectorKind): GuardAction {
  if (direction === 'input') return kind === 'leak' ? 'off' : policy.input[kind];
  return kind === 'injection' ? 'off' : policy.output[kind];
}

/** What the findings add up to: the verdict, and the detectors (prefixed with the direction) and reasons that count. */
export interface Judgement {
  verdict: Verdict;
  readonly detectors: Set<string>;
  readonly reasons: Set<string>;
}

export function emptyJudgement(): Judgement {
  return { verdict: 'pass', detectors: new Set(), reasons: new Set() };
}

/** Adds findings (those at or above the policy's min_score whose kind is acted on) to `into`; returns those to redact. */
export function judge(policy: GuardrailPolicy, direction: Direction, findings: readonly Finding[], into: Judgement): Finding[] {
  const redact: Finding[] = [];
  for (const f of findings) {
    if (f.score < policy.minScore) continue;
    const action = actionFor(policy, direction, f.kind);
    if (action === 'off') continue;
    into.verdict = stronger(into.verdict, action);
    into.detectors.add(`${direction}:${f.detector}`);
    into.reasons.add(f.reason);
    if (action === 'redact') redact.push(f);
  }
  return redact;
}
