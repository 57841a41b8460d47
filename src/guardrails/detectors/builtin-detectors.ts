// The registry of built-in detectors (no network): injection and jailbreak heuristics, PII and
// secrets. The pipeline and the eval runner (eval/guardrails.ts) take their detector set from here.
// The system-prompt leak detector is per request (systemPromptLeakDetector) and not listed.

import type { Detector } from '../detector.ts';
import { injectionDetectors } from './injection-detectors.ts';
import { piiSecretDetectors } from './pii-secret-detectors.ts';

export function builtinDetectors(): Detector[] {
  return [...injectionDetectors, ...piiSecretDetectors];
}
