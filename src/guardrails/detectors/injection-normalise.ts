// A normalised copy of a text for the phrase detectors: zero-width characters dropped, and
// leetspeak ("1gn0re"), fullwidth forms and Cyrillic/Greek look-alike letters folded to ASCII, with
// a map back to the original offsets so spans stay correct. It is made only when a cheap test
// says the text may be obfuscated, and the last result is kept, so the three phrase detectors
// scanning the same text pay for the test once.

import type { Finding } from '../detector.ts';

/** Invisible characters, fullwidth forms and Cyrillic/Greek letters: normalise when present. */
const ODD_CHARS = /[\u00AD\u200B-\u200D\u2060\uFEFF\u0370-\u03FF\u0400-\u04FF\uFF01-\uFF5E]/;
/** Key words of the phrase rules spelled with digits or symbols (checked for a non-letter after matching). */
const LEET_WORD = /(?:[i1!|]gn[o0]r[e3]|d[i1!|]sr[e3]g[a4@]rd|f[o0]rg[e3]t|[i1!|]nstruct[i1!|][o0]ns?|pr[e3]v[i1!|][o0]us|syst[e3]m|pr[o0]mpt|r[e3]str[i1!|]ct[i1!|][o0]ns)/gi;
const NON_LETTER = /[^a-z]/i;

const LEET: Readonly<Record<string, string>> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's', '!': 'i', '|': 'i' };
const CONFUSABLES: Readonly<Record<string, string>> = {
  а: 'a', е: 'e', о: 'o', р: 'p', с: 'c', у: 'y', х: 'x', і: 'i', ј: 'j', ѕ: 's', ԁ: 'd', һ: 'h',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X', І: 'I',
  α: 'a', ο: 'o', ε: 'e', ι: 'i', ν: 'v', ρ: 'p', τ: 't', Ο: 'O', Ι: 'I', Α: 'A', Ε: 'E',
};

function mayBeObfuscated(text: string): boolean {
  if (ODD_CHARS.test(text)) return true;
  LEET_WORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = LEET_WORD.exec(text)) !== null) if (NON_LETTER.test(m[0])) return true;
  return false;
}

const isInvisible = (code: number) => code === 0xad || (code >= 0x200b && code <= 0x200d) || code === 0x2060 || code === 0xfeff;

export interface Normalised {
  readonly text: string;
  /** map[i] = offset in the original text of normalised character i. */
  readonly map: Int32Array;
}

/**
 * The text with invisible characters removed and leetspeak, fullwidth and Cyrillic/Greek
 * look-alike letters folded to ASCII; null when the text shows no sign of obfuscation (the usual
 * case, so clean text pays one regex test).
 */
export function normaliseObfuscated(text: string): Normalised | null {
  if (text === lastText) return lastResult;
  lastText = text;
  lastResult = mayBeObfuscated(text) ? normalise(text) : null;
  return lastResult;
}

let lastText: string | undefined;
let lastResult: Normalised | null = null;

function normalise(text: string): Normalised | null {
  const map = new Int32Array(text.length);
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isInvisible(code)) continue;
    const c = text[i];
    let r = c;
    if (code >= 0xff01 && code <= 0xff5e) r = String.fromCharCode(code - 0xfee0);
    else if (CONFUSABLES[c] !== undefined) r = CONFUSABLES[c];
    else if (LEET[c] !== undefined && isLetterNear(text, i)) r = LEET[c];
    map[out.length] = i;
    out += r;
  }
  return out === text ? null : { text: out, map };
}

/** A leet digit/symbol counts as a letter only inside a word (a letter on at least one side). */
function isLetterNear(text: string, i: number): boolean {
  const isAlpha = (j: number) => {
    const c = text.charCodeAt(j) | 0x20;
    return c >= 0x61 && c <= 0x7a;
  };
  return isAlpha(i - 1) || isAlpha(i + 1);
}

/** Scans the text, and its normalised copy when it has one, with `scan`; spans are in the original. */
export function scanWithNormalisation(text: string, scan: (t: string, out: Finding[], map?: Int32Array) => void): Finding[] {
  const out: Finding[] = [];
  scan(text, out);
  const norm = normaliseObfuscated(text);
  if (norm !== null) {
    const extra: Finding[] = [];
    scan(norm.text, extra, norm.map);
    for (const f of extra) if (!out.some((g) => g.start <= f.start && g.end >= f.end)) out.push(f);
  }
  return out;
}
