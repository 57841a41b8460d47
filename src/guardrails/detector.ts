// The contract every guardrail detector implements: a pure function from one text (and the role
// of the message it came from) to findings, each with a score, a reason and the span it covers.
// Built-in detectors need no network; external scanners (src/guardrails/scanners/) are async and
// report findings through the same shape.

/** Where a text came from. Tool results and retrieved context are untrusted data. */
export type TextRole = 'system' | 'user' | 'assistant' | 'tool' | 'context' | 'completion';

/** What a detector looks for. */
export type DetectorKind = 'injection' | 'pii' | 'secret' | 'leak';

export interface Finding {
  /** The detector's stable name, e.g. "pii.email" or "injection.override" (labels in the eval corpus use it). */
  readonly detector: string;
  readonly kind: DetectorKind;
  /** For redaction: the placeholder type, e.g. "EMAIL" becomes [EMAIL_1]. */
  readonly type: string;
  /** 0..1: how sure the detector is. */
  readonly score: number;
  /** One short sentence for logs and the ledger; never quotes the matched text. */
  readonly reason: string;
  /** The span in the scanned text, [start, end) in UTF-16 code units. */
  readonly start: number;
  readonly end: number;
}

export interface Detector {
  readonly name: string;
  readonly kind: DetectorKind;
  /**
   * The longest match this detector can make, in characters: a streaming scan holds back this
   * many characters so a match split across chunks is still caught.
   */
  readonly maxMatchLength: number;
  /**
   * For matches that are mostly one unbroken run of non-whitespace characters (an e-mail, a
   * key, a JWT): the longest part of a match that may contain whitespace. Past it a match cannot
   * cross whitespace, so a stream scan need not hold back text before the last whitespace (less
   * this). Undefined: any part of a match may contain whitespace.
   */
  readonly maxSpacedLength?: number;
  /**
   * Where in `text` a match of this detector may still be in progress at its end (it could
   * grow, or only now begin to match, with more text): the smallest such offset, text.length
   * when none. Lets a stream scan hold back less than maxMatchLength. Optional.
   */
  openFrom?(text: string): number;
  scan(text: string, role: TextRole): Finding[];
}
