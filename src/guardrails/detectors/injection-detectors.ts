// The built-in prompt-injection and jailbreak detectors, in the order the input guard runs them.
// The system-prompt leak detector is not here: it is built per request from the system prompt
// (systemPromptLeakDetector in system-prompt-leak.ts) and runs on the completion.

import type { Detector } from '../detector.ts';
import { encodedDetector } from './injection-encoded.ts';
import { exfiltrationDetector } from './injection-exfiltration.ts';
import { linkExfilDetector } from './injection-link-exfil.ts';
import { overrideDetector } from './injection-override.ts';
import { roleplayDetector } from './injection-roleplay.ts';
import { unicodeDetector } from './injection-unicode.ts';

export const injectionDetectors: readonly Detector[] = [
  overrideDetector,
  roleplayDetector,
  exfiltrationDetector,
  encodedDetector,
  unicodeDetector,
  linkExfilDetector,
];
