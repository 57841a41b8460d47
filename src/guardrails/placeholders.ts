// Typed, reversible placeholders for one request: Pseudonymizer.redact replaces the spans the PII
// and secret detectors found with [TYPE_n] (the same value gets the same placeholder in every
// message of the request, so the model can still tell "the same e-mail" from "another e-mail"),
// and restore puts the originals back into the completion where policy allows.
//
// Only placeholders this instance issued are restored. A placeholder-shaped string in an input
// ("[EMAIL_1]" typed by the user, or left in an earlier turn) must never be issued for a real
// value: call reserve() on every input text before redacting any (the input guard does), and
// those strings are skipped when numbering; one this instance had already issued becomes
// ambiguous and is never restored. redact() itself also skips the unissued placeholder-shaped
// strings in the text it is given, but does not make issued ones ambiguous: on a completion, an
// issued placeholder is the model echoing it, and must still be restored. Limitations: the model
// can repeat an issued placeholder because a user asked it to, and restore then returns the
// value, which came from this same request; values the user must not get back (tool results,
// retrieved documents) should be redacted with { restorable: false }. Values are matched
// exactly: the same address in another case or spacing gets another placeholder; a placeholder
// the model alters ("[EMAIL 1]", "[email_1]") is not restored.

import type { Finding } from './detector.ts';

export interface PseudonymEntry {
  /** e.g. "[EMAIL_1]". */
  readonly placeholder: string;
  readonly original: string;
  /** The finding's type, e.g. "EMAIL". */
  readonly type: string;
}

export interface RedactOptions {
  /** Whether restore() may put these values back; false for data the user must not see. Default true. */
  readonly restorable?: boolean;
}

interface Entry {
  readonly original: string;
  readonly type: string;
  restorable: boolean;
  /** Seen literally in a reserved input after being issued: ambiguous, never restored. */
  poisoned: boolean;
}

/** [TYPE_n]: an upper-case type of up to 32 characters, n from 1 without leading zeros. */
const PLACEHOLDER = /\[([A-Z][A-Z0-9_]{0,31}?)_([1-9][0-9]{0,6})\]/g;
const TYPE = /^[A-Z][A-Z0-9_]{0,31}$/;

export class Pseudonymizer {
  readonly #byOriginal = new Map<string, string>();
  readonly #entries = new Map<string, Entry>();
  readonly #lastNumber = new Map<string, number>();
  /** Placeholder-shaped strings found in texts that this instance did not issue. */
  readonly #reserved = new Set<string>();

  /** How many distinct values have a placeholder. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * For every input text, before any is redacted: its placeholder-shaped strings are never issued,
   * and one already issued is never restored (it could be the user's or the value's).
   */
  reserve(text: string): void {
    this.#scanLiterals(text, true);
  }

  /**
   * `text` with every finding's span replaced by its placeholder. Overlapping findings are
   * resolved first: the longest span wins, then the higher score, then the earlier start.
   * Findings must refer to this `text`; spans outside it are ignored.
   */
  redact(text: string, findings: readonly Finding[], options: RedactOptions = {}): string {
    this.#scanLiterals(text, false);
    const spans = chooseSpans(text, findings);
    if (spans.length === 0) return text;
    const restorable = options.restorable ?? true;
    let out = '';
    let at = 0;
    for (const finding of spans) {
      out += text.slice(at, finding.start) + this.#placeholderFor(text.slice(finding.start, finding.end), finding.type, restorable);
      at = finding.end;
    }
    return out + text.slice(at);
  }

  /** `text` with every placeholder this instance issued (restorable, unambiguous) replaced by its original. */
  restore(text: string): string {
    if (this.#entries.size === 0 || !text.includes('[')) return text;
    return text.replace(PLACEHOLDER, (placeholder) => {
      const entry = this.#entries.get(placeholder);
      return entry && entry.restorable && !entry.poisoned ? entry.original : placeholder;
    });
  }

  /** The placeholders restore() puts back, in the order they were issued (for a streaming restorer). */
  entries(): PseudonymEntry[] {
    const out: PseudonymEntry[] = [];
    for (const [placeholder, entry] of this.#entries) {
      if (entry.restorable && !entry.poisoned) out.push({ placeholder, original: entry.original, type: entry.type });
    }
    return out;
  }

  #scanLiterals(text: string, poison: boolean): void {
    if (!text.includes('[')) return;
    PLACEHOLDER.lastIndex = 0;
    for (let m = PLACEHOLDER.exec(text); m !== null; m = PLACEHOLDER.exec(text)) {
      const entry = this.#entries.get(m[0]);
      if (!entry) this.#reserved.add(m[0]);
      else if (poison) entry.poisoned = true;
    }
  }

  #placeholderFor(original: string, type: string, restorable: boolean): string {
    const known = this.#byOriginal.get(original);
    if (known !== undefined) {
      // A value the user sent themselves may come back even if a tool also held it.
      if (restorable) this.#entries.get(known)!.restorable = true;
      return known;
    }
    const safeType = TYPE.test(type) ? type : 'REDACTED';
    let n = this.#lastNumber.get(safeType) ?? 0;
    let placeholder: string;
    do placeholder = `[${safeType}_${++n}]`;
    while (this.#reserved.has(placeholder));
    this.#lastNumber.set(safeType, n);
    this.#byOriginal.set(original, placeholder);
    this.#entries.set(placeholder, { original, type: safeType, restorable, poisoned: false });
    return placeholder;
  }
}

/** The findings to replace, in text order, none overlapping: longest first, then highest score, then earliest. */
export function chooseSpans(text: string, findings: readonly Finding[]): Finding[] {
  const valid = findings.filter((f) => Number.isInteger(f.start) && Number.isInteger(f.end) && f.start >= 0 && f.end <= text.length && f.start < f.end);
  if (valid.length <= 1) return valid;
  valid.sort((a, b) => b.end - b.start - (a.end - a.start) || b.score - a.score || a.start - b.start);
  // Which characters are taken: checking a span costs its length, so the whole choice is linear in what was found.
  const taken = new Uint8Array(text.length);
  const chosen: Finding[] = [];
  for (const finding of valid) {
    let free = true;
    for (let i = finding.start; i < finding.end && free; i++) if (taken[i] === 1) free = false;
    if (!free) continue;
    taken.fill(1, finding.start, finding.end);
    chosen.push(finding);
  }
  return chosen.sort((a, b) => a.start - b.start);
}
