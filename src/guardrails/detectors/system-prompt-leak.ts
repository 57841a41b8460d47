// leak.system_prompt: a completion that reproduces the system prompt. Built per system prompt:
// the prompt's words (lower-cased, punctuation dropped) become ids, and every run of 4 consecutive
// ids (a shingle) goes into a set, keyed by one number. A completion is read word by word; each
// word that closes a shingle found in the prompt extends the current matched run. A run of at least `minRunWords`
// words (15 by default) is a finding; so is a set of shorter runs (each at least 8 words) that
// together cover `minCoverage` (40%) of the prompt. Linear in the completion's length. Only
// completions and assistant turns are scanned. Paraphrases and translations are not caught.

import type { Detector, Finding, TextRole } from '../detector.ts';
import { makeFinding, MAX_FINDINGS, type DetectorMeta } from './injection-scoring.ts';

const META: DetectorMeta = { name: 'leak.system_prompt', kind: 'leak', type: 'SYSTEM_PROMPT' };

export interface SystemPromptLeakOptions {
  /** Words in one verbatim run that make a finding (default 15; at most the prompt's length, at least 8). */
  readonly minRunWords?: number;
  /** Share of the prompt's words covered by shorter runs (each ≥ 8 words) that makes a finding (default 0.4). */
  readonly minCoverage?: number;
}

const SHINGLE = 4;
const SHORT_RUN = 8;
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;

interface Run {
  start: number;
  end: number;
  words: number;
}

export function systemPromptLeakDetector(systemPrompt: string, options: SystemPromptLeakOptions = {}): Detector {
  const vocab = new Map<string, number>();
  const ids: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  WORD.lastIndex = 0;
  for (let m = WORD.exec(systemPrompt); m !== null; m = WORD.exec(systemPrompt)) {
    const w = m[0].toLowerCase();
    let id = vocab.get(w);
    if (id === undefined) vocab.set(w, (id = vocab.size));
    ids.push(id);
    starts.push(m.index);
    ends.push(m.index + m[0].length);
  }
  // A shingle's key: its 4 ids as digits in base (vocabulary size + 1), exact while that fits in a
  // double's 53 bits (vocabularies under ~9,700 words); larger prompts use joined strings.
  const base = vocab.size + 1;
  const numeric = base ** SHINGLE < Number.MAX_SAFE_INTEGER;
  /** The key of the SHINGLE ids in `w` from `at` on, wrapping around (w is a ring buffer when scanning). */
  const key = (w: ArrayLike<number>, at: number, size: number): number | string => {
    let n = 0;
    let s = '';
    for (let j = 0; j < SHINGLE; j++) {
      const id = w[(at + j) % size];
      if (numeric) n = n * base + id;
      else s += `${id},`;
    }
    return numeric ? n : s;
  };
  const shingles = new Set<number | string>();
  for (let i = 0; i + SHINGLE <= ids.length; i++) shingles.add(key(ids, i, ids.length));
  const minRun = Math.max(SHORT_RUN, Math.min(options.minRunWords ?? 15, ids.length));
  const minCoverage = options.minCoverage ?? 0.4;
  // The longest stretch of the prompt that holds minRun words, with room for other spacing.
  let widest = 0;
  for (let i = 0; i + minRun - 1 < ids.length; i++) widest = Math.max(widest, ends[i + minRun - 1] - starts[i]);

  function runsIn(text: string): Run[] {
    const runs: Run[] = [];
    // Ring buffers of the last SHINGLE word ids and start offsets; `next` is the oldest slot.
    const window = new Float64Array(SHINGLE);
    const windowStarts = new Float64Array(SHINGLE);
    let next = 0;
    let known = 0;
    let run: Run | null = null;
    // Lower-case once; offsets hold when lower-casing kept the length (it only ever lengthens).
    const lower = text.toLowerCase();
    const source = lower.length === text.length ? lower : text;
    WORD.lastIndex = 0;
    for (let m = WORD.exec(source); m !== null; m = WORD.exec(source)) {
      const id = vocab.get(source === lower ? m[0] : m[0].toLowerCase());
      known = id === undefined ? 0 : known + 1;
      window[next] = id ?? -1;
      windowStarts[next] = m.index;
      next = (next + 1) % SHINGLE;
      const end = m.index + m[0].length;
      if (known >= SHINGLE && shingles.has(key(window, next, SHINGLE))) {
        if (run === null) run = { start: windowStarts[next], end, words: SHINGLE };
        else run.words++;
        run.end = end;
      } else if (run !== null) {
        runs.push(run);
        run = null;
      }
    }
    if (run !== null) runs.push(run);
    return runs;
  }

  return {
    name: META.name,
    kind: META.kind,
    maxMatchLength: Math.ceil(widest * 1.5) + 32,
    scan(text: string, role: TextRole): Finding[] {
      if ((role !== 'completion' && role !== 'assistant') || ids.length < SHORT_RUN) return [];
      const runs = runsIn(text);
      const out: Finding[] = [];
      let covered = 0;
      for (const r of runs) if (r.words >= SHORT_RUN) covered += r.words;
      const coverage = Math.min(1, covered / ids.length);
      for (const r of runs) {
        if (out.length >= MAX_FINDINGS) break;
        const long = r.words >= minRun;
        if (!long && !(r.words >= SHORT_RUN && coverage >= minCoverage)) continue;
        const score = 0.6 + 0.4 * Math.min(1, Math.max(r.words / (3 * minRun), coverage / 0.6));
        out.push(makeFinding(META, score, `${r.words} consecutive words of the system prompt`, role, r.start, r.end));
      }
      return out;
    },
  };
}
