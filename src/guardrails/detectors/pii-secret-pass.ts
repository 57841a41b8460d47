// The PII/secret pass in its fixed order: secrets first (most specific first), then PII, then
// generic high-entropy tokens (see pii-secret-scan.ts for how overlaps are resolved), and the
// Detector view each PII and secret detector is: its own findings from that one pass.

import type { Detector, Finding, TextRole } from '../detector.ts';
import { piiStages } from './pii-finders.ts';
import { memoizedScan } from './pii-secret-scan.ts';
import { highEntropy, secretStages } from './secret-finders.ts';

export const PASS_STAGES = [...secretStages, ...piiStages, highEntropy];

/** Findings by detector name for `text` (remembered for the last text). */
export const scanPiiAndSecrets = memoizedScan(PASS_STAGES);

/** A detector that reports its own findings from the shared pass. */
export function passDetector(name: string, kind: Detector['kind'], maxMatchLength: number, stream: Pick<Detector, 'maxSpacedLength' | 'openFrom'> = {}): Detector {
  return {
    name,
    kind,
    maxMatchLength,
    ...stream,
    scan(text: string, _role: TextRole): Finding[] {
      return [...(scanPiiAndSecrets(text).get(name) ?? [])];
    },
  };
}
