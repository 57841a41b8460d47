// The secret detectors: secret.provider_key, secret.cloud_credential, secret.private_key,
// secret.jwt, secret.credential and secret.high_entropy, views on the shared PII/secret pass.
// maxMatchLength for the unbounded formats (PEM blocks, JWTs, session tokens) is how much a
// stream scan must hold back to recognise one by its start, not the longest possible match: a PEM
// block is recognised by its BEGIN line and runs to its END line or to the end of the text.

import { PRIVATE_KEY_BEGIN_MAX } from '../../redaction/patterns/secret-patterns.ts';
import type { Detector } from '../detector.ts';
import { CLOUD_CREDENTIAL_MAX_LENGTH } from './cloud-credentials.ts';
import { HIGH_ENTROPY_MAX_LENGTH } from './high-entropy.ts';
import { passDetector } from './pii-secret-pass.ts';
import { PROVIDER_KEY_MAX_LENGTH } from './provider-keys.ts';

/** JWTs have no upper bound; 1024 covers typical access tokens whole, and any prefix of 20 or more is recognised. */
const JWT_MAX_LENGTH = 1024;
/** Bearer/basic values, a URL password or an assigned value (up to 256) with its name and the assignment. */
const CREDENTIAL_MAX_LENGTH = 300;

/** Names a credential or cloud-credential match starts with (or ends its name with). */
const CREDENTIAL_NAME = /(?:bearer|basic|api[_-]?key|apikey|access[_-]?key|secret|token|password|passwd|passphrase|private[_-]?key|:\/\/)/gi;
const CLOUD_NAME = /(?:aws|secret|access|session|accountkey|sharedaccesskey|sig=|private_key)/gi;

/**
 * Where a match may still be open: from the first secret-sounding name in the last `max`
 * characters (a name, its assignment and a quoted value may contain spaces), else only in the
 * last unbroken run of text (less `lead`: "bearer " and "basic " end at the last space).
 */
function namedOpenFrom(names: RegExp, max: number, lead: number): (text: string) => number {
  return (text) => {
    const from = Math.max(0, text.length - max);
    names.lastIndex = from;
    const named = names.exec(text);
    const lastSpace = Math.max(text.lastIndexOf(' '), text.lastIndexOf('\n'), text.lastIndexOf('\t'));
    const run = Math.max(from, lastSpace + 1 - lead);
    // The name may be the tail of a longer one ("aws_secret_access_key"): 24 characters before it.
    return named ? Math.min(Math.max(from, named.index - 24), run) : run;
  };
}

/** A PEM block can only be open from its "-----BEGIN" (or the start of one at the very end). */
function pemOpenFrom(text: string): number {
  const from = Math.max(0, text.length - PRIVATE_KEY_BEGIN_MAX);
  const begin = text.indexOf('-----BEGIN', from);
  if (begin >= 0) return begin;
  // The longest end of the text that is a start of "-----BEGIN".
  for (let n = Math.min(10, text.length); n > 0; n--) if ('-----BEGIN'.startsWith(text.slice(text.length - n))) return text.length - n;
  return text.length;
}

export const secretDetectors: readonly Detector[] = [
  passDetector('secret.provider_key', 'secret', PROVIDER_KEY_MAX_LENGTH, { maxSpacedLength: 0 }),
  passDetector('secret.cloud_credential', 'secret', CLOUD_CREDENTIAL_MAX_LENGTH, { openFrom: namedOpenFrom(CLOUD_NAME, CLOUD_CREDENTIAL_MAX_LENGTH, 0) }),
  passDetector('secret.private_key', 'secret', PRIVATE_KEY_BEGIN_MAX, { openFrom: pemOpenFrom }),
  passDetector('secret.jwt', 'secret', JWT_MAX_LENGTH, { maxSpacedLength: 0 }),
  passDetector('secret.credential', 'secret', CREDENTIAL_MAX_LENGTH, { openFrom: namedOpenFrom(CREDENTIAL_NAME, CREDENTIAL_MAX_LENGTH, 8) }),
  passDetector('secret.high_entropy', 'secret', HIGH_ENTROPY_MAX_LENGTH, { maxSpacedLength: 0 }),
];
