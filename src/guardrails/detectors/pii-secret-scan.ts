// The one pass behind every PII and secret detector: the finders run in a fixed order, most
// specific first (private keys, cloud credentials, provider keys, JWTs, credentials, then PII,
// then generic high-entropy tokens), and a match that overlaps one found earlier is dropped, so
// each piece of text is reported by exactly one detector (the IBAN's digits are not also a
// phone number; a GitHub token is not also a high-entropy token or an e-mail's local part).
// The result is kept for the last text scanned: the input guard calls every detector on the
// same text, and the pass runs once for all of them.

import type { DetectorKind, Finding } from '../detector.ts';

/** One match a finder reports; the stage's defaults fill in what it leaves out. */
export interface Candidate {
  readonly start: number;
  readonly end: number;
  readonly detector?: string;
  readonly type?: string;
  readonly score?: number;
  readonly reason?: string;
}

export interface Stage {
  readonly detector: string;
  readonly kind: DetectorKind;
  readonly type: string;
  readonly score: number;
  readonly reason: string;
  /** Every candidate, in any order; finders run a cheap prefilter first. `taken` holds the spans found so far. */
  readonly find: (text: string, taken: readonly Finding[]) => Candidate[];
}

/** Whether [start, end) overlaps a span of `sorted` (sorted by start, not overlapping). */
export function overlapsAny(sorted: readonly Finding[], start: number, end: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  // The first span that ends after `start`.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo]!.start < end;
}

function merge(a: readonly Finding[], b: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/** Every finding of every stage, in text order, none overlapping another. */
export function runStages(stages: readonly Stage[], text: string): Finding[] {
  let taken: Finding[] = [];
  for (const stage of stages) {
    const candidates = stage.find(text, taken);
    if (candidates.length === 0) continue;
    candidates.sort((x, y) => x.start - y.start || y.end - x.end);
    const added: Finding[] = [];
    let lastEnd = -1;
    for (const c of candidates) {
      if (c.end <= c.start || c.start < lastEnd || overlapsAny(taken, c.start, c.end)) continue;
      const detector = c.detector ?? stage.detector;
      added.push({
        detector,
        kind: detector.startsWith('pii.') ? 'pii' : stage.kind,
        type: c.type ?? stage.type,
        score: c.score ?? stage.score,
        reason: c.reason ?? stage.reason,
        start: c.start,
        end: c.end,
      });
      lastEnd = c.end;
    }
    taken = merge(taken, added);
  }
  return taken;
}

/** runStages grouped by detector, remembered for the last text (the guard scans one text with every detector). */
export function memoizedScan(stages: readonly Stage[]): (text: string) => ReadonlyMap<string, readonly Finding[]> {
  let lastText: string | undefined;
  let last: ReadonlyMap<string, readonly Finding[]> = new Map();
  return (text) => {
    if (text === lastText) return last;
    const byDetector = new Map<string, Finding[]>();
    for (const finding of runStages(stages, text)) {
      const list = byDetector.get(finding.detector);
      if (list) list.push(finding);
      else byDetector.set(finding.detector, [finding]);
    }
    lastText = text;
    last = byDetector;
    return last;
  };
}
