// Naming a service's categories in the gateway's terms: a detector name ("lakera.pii.email"), a
// placeholder type for redaction ("EMAIL") and a DetectorKind. Services report categories the
// built-in kinds do not have (content moderation, links, toxicity): those count as 'injection',
// the kind whose action is a refusal, since what the gateway does with them is the tenant's
// action for flagged scans anyway.

import type { DetectorKind } from '../detector.ts';

/** "pii/email" → "pii.email"; "PromptInjection" → "prompt_injection". */
export function detectorPart(category: string): string {
  return category
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[/\s]+/g, '.')
    .replace(/[^a-z0-9._-]/g, '_')
    .slice(0, 100);
}

/** The last segment, upper case: "pii/credit_card" → "CREDIT_CARD"; "PromptInjection" → "PROMPT_INJECTION". */
export function placeholderType(category: string): string {
  const part = detectorPart(category);
  const last = part.slice(part.lastIndexOf('.') + 1) || part || 'FLAGGED';
  return last.replace(/[^a-z0-9_]/g, '_').toUpperCase();
}

const KINDS: readonly [RegExp, DetectorKind][] = [
  [/^(pii|anonymize|sensitive)(?![a-z0-9])/, 'pii'],
  [/^secrets?(?![a-z0-9])/, 'secret'],
  [/^(leak|system_prompt)(?![a-z0-9])/, 'leak'],
];

/** The kind a category most likely is, from its detector part (see the header for the default). */
export function kindOf(category: string): DetectorKind {
  const part = detectorPart(category);
  for (const [pattern, kind] of KINDS) if (pattern.test(part)) return kind;
  return 'injection';
}

/** A score in 0..1 (services may send risk scores in -1..1, or out of range by mistake). */
export function unitScore(score: number): number {
  return Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 1;
}
