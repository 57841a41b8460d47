// Spans: the [start, end) ranges of a text that the pattern finders in this folder return. One
// set of finders serves both redact() (which replaces spans by [KIND] in log lines and prompt logs)
// and the guardrail detectors (src/guardrails/detectors/, which report them as findings).

/** A range of a text, [start, end) in UTF-16 code units. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** `text` with every span (sorted, not overlapping) replaced by `placeholder`. */
export function replaceSpans(text: string, spans: readonly Span[], placeholder: string): string {
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + placeholder;
    at = span.end;
  }
  return out + text.slice(at);
}

/** How many ASCII digits `text` holds between `start` and `end`. */
export function countDigits(text: string, start = 0, end = text.length): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** Every match of the global `pattern` in `text`, as spans; `keep` may veto a match. */
export function matchSpans(pattern: RegExp, text: string, keep?: (match: RegExpExecArray) => boolean): Span[] {
  const spans: Span[] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m[0].length === 0) {
      pattern.lastIndex++;
      continue;
    }
    if (!keep || keep(m)) spans.push({ start: m.index, end: m.index + m[0].length });
  }
  return spans;
}

const HAS_DIGIT = /\d/;

/** A cheap prefilter: most finders need a digit somewhere. */
export function hasDigit(text: string): boolean {
  return HAS_DIGIT.test(text);
}
