// Every built-in PII and secret detector, for builtin-detectors.ts and the input/output guards.

import type { Detector } from '../detector.ts';
import { piiDetectors } from './pii-detectors.ts';
import { secretDetectors } from './secret-detectors.ts';

export const piiSecretDetectors: Detector[] = [...secretDetectors, ...piiDetectors];
