// Incremental output scanning for a streamed completion (one choice of it): deltas go in, the text
// that is safe to send comes out. Only the last `holdBack` characters are held (the longest match
// any detector can make, plus RIGHT_CONTEXT for look-ahead such as a closing \b), so a match split
// across deltas is still caught whole, and text far from any match goes out one holdBack late.
// Each push scans the held text, LEFT_CONTEXT characters before it (for look-behind) and the new
// delta, never the whole completion again: linear overall.
//
// A match is settled once no more text could change it (its start is its detector's
// maxMatchLength + RIGHT_CONTEXT or more before the end of what arrived); settled findings are
// reported once and acted on: redact replaces them in the emitted text (mid-stream), flag passes
// each delta through at once (nothing held; findings are reported as they settle), block ends the
// guard (the caller then ends the stream with a well-formed error event). The cut between emitted
// and held text never falls inside a match and never splits a surrogate pair. Findings' spans in StreamStep are offsets in the whole completion (UTF-16 code units); the
// redactor gets spans in the segment it redacts. OpenAI streams may carry several choices: keep a
// guard per choice index (ChoiceGuards does).

import type { Detector, Finding } from './detector.ts';

export type StreamAction = 'block' | 'redact' | 'flag';

export interface StreamGuardOptions {
  readonly detectors: readonly Detector[];
  readonly action: StreamAction;
  /** Replaces findings' spans in `text` (e.g. the request's Pseudonymizer); default: "[TYPE]". */
  readonly redactor?: (text: string, findings: Finding[]) => string;
}

export interface StreamStep {
  /** The text to send now (redacted under 'redact'; the delta itself under 'flag'); '' once blocked. */
  readonly emit: string;
  /** Findings settled by this step, each reported once, in text order. */
  readonly findings: Finding[];
  /** Set once the guard blocked (action 'block'): the findings that blocked it. */
  readonly blocked?: Finding[];
}

/** Characters before the held text that are scanned again, for detectors' look-behind and \b. */
export const LEFT_CONTEXT = 16;
/** Characters after a longest match that must have arrived before it is settled (look-ahead, \b). */
export const RIGHT_CONTEXT = 16;

const NOTHING: StreamStep = Object.freeze({ emit: '', findings: [] });

export class StreamGuard {
  /** Characters held back (the longest maxMatchLength + RIGHT_CONTEXT; more while a match straddles the cut). */
  readonly holdBack: number;
  readonly #detectors: readonly Detector[];
  readonly #action: StreamAction;
  readonly #redactor: (text: string, findings: Finding[]) => string;
  /** Arrived, not yet emitted; it starts at offset #pendingStart of the completion. */
  #pending = '';
  #pendingStart = 0;
  /** Up to LEFT_CONTEXT emitted characters just before #pendingStart (as they arrived, not redacted). */
  #context = '';
  /** Settled (and reported) findings in the pending text, by span key. */
  #settled = new Map<string, Finding>();
  #blocked: Finding[] | undefined;
  #ended = false;

  constructor(options: StreamGuardOptions) {
    this.#detectors = options.detectors;
    this.#action = options.action;
    this.#redactor = options.redactor ?? bracketRedactor;
    this.holdBack = options.detectors.length === 0 ? 0 : options.detectors.reduce((max, d) => Math.max(max, d.maxMatchLength), 0) + RIGHT_CONTEXT;
  }

  /** Takes the next delta; returns what may be sent now. */
  push(delta: string): StreamStep {
    if (this.#blocked) return { emit: '', findings: [], blocked: this.#blocked };
    if (this.#ended) return NOTHING;
    this.#pending += delta;
    return this.#advance(false, delta);
  }

  /** The completion ended: a final scan, then the rest of the text. */
  end(): StreamStep {
    if (this.#blocked) return { emit: '', findings: [], blocked: this.#blocked };
    if (this.#ended) return NOTHING;
    this.#ended = true;
    return this.#advance(true, '');
  }

  #advance(final: boolean, delta: string): StreamStep {
    const pendingStart = this.#pendingStart;
    const windowStart = pendingStart - this.#context.length;
    const window = this.#context + this.#pending;
    const windowEnd = windowStart + window.length;
    const fresh: Finding[] = [];
    const open: Finding[] = [];
    const lastSpace = lastWhitespace(window);
    let cut = windowEnd;
    for (const detector of this.#detectors) {
      // Where a match of this detector may still be growing: matches from there on are open.
      const openAt = final ? windowEnd : openStart(detector, window, windowStart, lastSpace);
      cut = Math.min(cut, openAt);
      for (const finding of this.#scan(detector, window, windowStart)) {
        if (finding.start >= openAt) open.push(finding);
        else if (this.#isNew(finding)) {
          this.#settled.set(key(finding), finding);
          fresh.push(finding);
        }
      }
    }
    fresh.sort((a, b) => a.start - b.start);
    if (this.#action === 'block' && fresh.length > 0) {
      this.#blocked = fresh;
      this.#pending = '';
      this.#settled.clear();
      return { emit: '', findings: fresh, blocked: fresh };
    }
    if (!final) cut = this.#cut(window, windowStart, cut, open);
    const segment = this.#pending.slice(0, cut - pendingStart);
    const emitted: Finding[] = [];
    for (const [k, f] of this.#settled) {
      if (f.start >= cut) continue;
      emitted.push({ ...f, start: f.start - pendingStart, end: f.end - pendingStart });
      this.#settled.delete(k);
    }
    // flag changes nothing, so nothing is held: each delta goes out as it came (the scan still
    // holds its window, to report matches whole).
    const emit = this.#action === 'flag' ? delta
      : this.#action === 'redact' && emitted.length > 0 ? this.#redactor(segment, emitted.sort((a, b) => a.start - b.start)) : segment;
    // Left context for the next scan: the end of what was emitted.
    const contextFrom = Math.max(cut - LEFT_CONTEXT, windowStart);
    this.#context = window.slice(contextFrom - windowStart, cut - windowStart);
    this.#pending = this.#pending.slice(cut - pendingStart);
    this.#pendingStart = cut;
    return { emit, findings: fresh };
  }

  /**
   * One detector's findings that start in the pending text, as offsets in the completion. The
   * context before it gives look-behind and \b their characters; but a match from the context into
   * the pending text is an artefact of where the context begins (a real one would have held the
   * cut before it), and the scan resumed after it may have stepped over a real match: then the
   * pending text is scanned again on its own, from where a scan of the whole text would resume.
   */
  #scan(detector: Detector, window: string, windowStart: number): Finding[] {
    const pendingStart = this.#pendingStart;
    const found = detector.scan(window, 'completion');
    if (found.some((f) => f.start + windowStart < pendingStart && f.end + windowStart > pendingStart)) {
      return detector.scan(this.#pending, 'completion').map((f) => ({ ...f, start: f.start + pendingStart, end: f.end + pendingStart }));
    }
    const out: Finding[] = [];
    for (const f of found) if (f.start + windowStart >= pendingStart) out.push({ ...f, start: f.start + windowStart, end: f.end + windowStart });
    return out;
  }

  /** Where the emitted text may end: before any match still open, moved back off pairs and matches. */
  #cut(window: string, windowStart: number, earliestOpen: number, open: Finding[]): number {
    let cut = Math.max(this.#pendingStart, earliestOpen);
    if (cut > this.#pendingStart && isHighSurrogate(window.charCodeAt(cut - 1 - windowStart))) cut -= 1;
    const matches = [...this.#settled.values(), ...open].sort((a, b) => b.start - a.start);
    for (const m of matches) if (m.start < cut && m.end > cut) cut = m.start;
    return cut;
  }

  /** Not already reported: no settled finding of the same detector overlaps it. */
  #isNew(finding: Finding): boolean {
    if (this.#settled.has(key(finding))) return false;
    for (const f of this.#settled.values()) {
      if (f.detector === finding.detector && f.start < Math.max(finding.end, finding.start + 1) && finding.start < Math.max(f.end, f.start + 1)) return false;
    }
    return true;
  }
}

/** One StreamGuard per choice index of an OpenAI stream. */
export class ChoiceGuards {
  readonly #options: StreamGuardOptions;
  readonly #guards = new Map<number, StreamGuard>();

  constructor(options: StreamGuardOptions) {
    this.#options = options;
  }

  /** The guard of choice `index` (made on first use). */
  choice(index: number): StreamGuard {
    let guard = this.#guards.get(index);
    if (!guard) {
      guard = new StreamGuard(this.#options);
      this.#guards.set(index, guard);
    }
    return guard;
  }

  /** Ends every choice's guard (at the stream's end), by choice index. */
  endAll(): Map<number, StreamStep> {
    return new Map([...this.#guards].map(([index, guard]) => [index, guard.end()]));
  }
}

/** Index of the last whitespace character in `text`, -1 when there is none. */
function lastWhitespace(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11 || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0x3000) return i;
  }
  return -1;
}

/**
 * The earliest offset (in the completion) at which a match of `detector` may still be open at
 * the end of the window: maxMatchLength + RIGHT_CONTEXT before the end, or later when the
 * detector says its matches cannot cross whitespace past maxSpacedLength, or where it says.
 */
function openStart(detector: Detector, window: string, windowStart: number, lastSpace: number): number {
  const windowEnd = windowStart + window.length;
  let at = windowEnd - detector.maxMatchLength - RIGHT_CONTEXT;
  if (detector.openFrom) at = Math.max(at, windowStart + detector.openFrom(window) - RIGHT_CONTEXT);
  else if (detector.maxSpacedLength !== undefined && lastSpace >= 0) at = Math.max(at, windowStart + lastSpace + 1 - detector.maxSpacedLength - RIGHT_CONTEXT);
  return at;
}

const key = (f: Finding) => `${f.detector}\u0000${f.start}\u0000${f.end}`;
const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** The default redactor: each finding's span becomes [TYPE]; a span overlapping an earlier one is skipped. */
export function bracketRedactor(text: string, findings: Finding[]): string {
  let out = '';
  let at = 0;
  for (const f of [...findings].sort((a, b) => a.start - b.start)) {
    if (f.start < at || f.end <= f.start) continue;
    out += `${text.slice(at, f.start)}[${f.type}]`;
    at = f.end;
  }
  return out + text.slice(at);
}
