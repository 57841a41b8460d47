// injection.invisible_unicode: characters that hide text from a human reviewer but not from the
// model, in every role (a system prompt assembled from templates can carry them too):
//   - Unicode tag characters U+E0000-E007F ("ASCII smuggling"); the tag sequences of the England /
//     Scotland / Wales flag emoji (U+1F3F4, tags, U+E007F) are left alone
//   - runs of 3+ variation selectors (bytes smuggled after an emoji); a single one is normal
//   - zero-width characters (U+200B-200D, U+2060-2064, U+FEFF, U+180E) in a run of 4+, or 3+
//     scattered through the text; a zero-width joiner inside an emoji sequence, ZWJ/ZWNJ in
//     Arabic-script or Indic words, and a leading byte-order mark are normal and not counted
//   - bidirectional controls (U+202A-202E, U+2066-2069): overrides, and right-to-left controls in
//     text without any right-to-left letters, score high ("Trojan Source", reversed file names);
//     balanced isolates around left-to-right text (as i18n libraries emit) score low
// ASCII-only text costs one regex test.

import type { Detector, Finding, TextRole } from '../detector.ts';
import { makeFinding, MAX_FINDINGS, MIN_REPORTED_SCORE, type DetectorMeta } from './injection-scoring.ts';

const META: DetectorMeta = { name: 'injection.invisible_unicode', kind: 'injection', type: 'INVISIBLE_UNICODE' };

const NON_ASCII = /[^\x00-\x7f]/;
const SUSPECT = /[\u{E0000}-\u{E007F}]+|[\u{E0100}-\u{E01EF}\uFE00-\uFE0F]{2,}|[\u202A-\u202E\u2066-\u2069]+|[\u200B-\u200D\u2060-\u2064\uFEFF\u180E]+/gu;
const RTL_LETTER = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFC]|\uD802[\uDC00-\uDFFF]|\uD83A[\uDC00-\uDFFF]/;
/** Scripts where ZWJ / ZWNJ are part of normal spelling. */
const JOINING_SCRIPT = /[\u0600-\u06FF\u0750-\u077F\u0900-\u0DFF\u0F00-\u0FFF\u1000-\u109F\u1780-\u17FF\uFB50-\uFDFF\uFE70-\uFEFC]/;

const BLACK_FLAG = '\u{1F3F4}';
const CANCEL_TAG = '\u{E007F}';

function isEmojiSide(code: number): boolean {
  return (code >= 0xd800 && code <= 0xdfff) || code === 0xfe0f || (code >= 0x2600 && code <= 0x27bf) || code === 0x20e3;
}

/** A ZWJ or ZWNJ that joins emoji or letters of a joining script. */
function isNormalJoiner(text: string, start: number, run: string): boolean {
  if (run.length !== 1 || (run !== '\u200D' && run !== '\u200C')) return false;
  const prev = text.charCodeAt(start - 1);
  const next = text.charCodeAt(start + 1);
  return isEmojiSide(prev) || isEmojiSide(next) || JOINING_SCRIPT.test(text[start - 1] ?? '') || JOINING_SCRIPT.test(text[start + 1] ?? '');
}

const isLatin = (code: number) => ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a);

function scanUnicode(text: string, role: TextRole): Finding[] {
  const out: Finding[] = [];
  if (!NON_ASCII.test(text)) return out;
  let rtl: boolean | undefined;
  let bal: boolean | undefined;
  let scattered = 0;
  let inWord = 0;
  let firstScattered = -1;
  let lastScattered = -1;
  const push = (score: number, what: string, start: number, end: number) => {
    if (score >= MIN_REPORTED_SCORE && out.length < MAX_FINDINGS) out.push(makeFinding(META, score, what, role, start, end));
  };
  SUSPECT.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = SUSPECT.exec(text)) !== null) {
    const run = m[0];
    const start = m.index;
    const end = start + run.length;
    const first = run.codePointAt(0)!;
    if (first >= 0xe0000 && first <= 0xe007f) {
      const isFlag = text.slice(start - 2, start) === BLACK_FLAG && run.endsWith(CANCEL_TAG) && run.length <= 16;
      if (!isFlag) push(run.length >= 4 ? 0.9 : 0.6, 'hidden Unicode tag characters', start, end);
    } else if (first >= 0xe0100 || (first >= 0xfe00 && first <= 0xfe0f)) {
      const count = [...run].length;
      push(count >= 3 ? 0.85 : 0.3, 'run of variation selectors', start, end);
    } else if ((first >= 0x202a && first <= 0x202e) || (first >= 0x2066 && first <= 0x2069)) {
      rtl ??= RTL_LETTER.test(text);
      bal ??= balanced(text);
      push(bidiScore(run, rtl, bal), 'bidirectional control characters', start, end);
    } else {
      if ((first === 0xfeff && start === 0 && run.length === 1) || isNormalJoiner(text, start, run)) continue;
      if (run.length >= 4) {
        push(0.85, 'run of zero-width characters', start, end);
        continue;
      }
      scattered += run.length;
      if (isLatin(text.charCodeAt(start - 1)) && isLatin(text.charCodeAt(end))) inWord += run.length;
      if (firstScattered < 0) firstScattered = start;
      lastScattered = end;
    }
    if (out.length >= MAX_FINDINGS) break;
  }
  if (inWord >= 2 || scattered >= 3) push(inWord >= 2 ? 0.75 : 0.6, 'zero-width characters scattered through the text', firstScattered, lastScattered);
  return out;
}

/** Overrides and right-to-left controls in left-to-right-only text score high; balanced isolates low. */
function bidiScore(run: string, rtl: boolean, isBalanced: boolean): number {
  let score = 0;
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    let s: number;
    if (c === 0x202e || c === 0x202d) s = rtl ? 0.4 : 0.8;
    else if (c === 0x202b || c === 0x2067) s = rtl ? 0.2 : 0.7;
    else s = rtl ? 0.2 : isBalanced ? 0.3 : 0.55;
    if (s > score) score = s;
  }
  return score;
}

/** Every isolate / embedding opener has its closer, in order. */
function balanced(text: string): boolean {
  let isolates = 0;
  let embeds = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x2066 && c <= 0x2068) isolates++;
    else if (c === 0x2069 && --isolates < 0) return false;
    else if (c >= 0x202a && c <= 0x202b) embeds++;
    else if (c === 0x202c && --embeds < 0) return false;
  }
  return isolates === 0 && embeds === 0;
}

export const unicodeDetector: Detector = {
  name: META.name,
  kind: META.kind,
  maxMatchLength: 1024,
  scan: scanUnicode,
};
