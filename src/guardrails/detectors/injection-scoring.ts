// Shared machinery for the phrase-based injection detectors: role-aware scores (tool results and
// retrieved context are untrusted and score higher, system messages are trusted and not scanned),
// rule tables gated by anchor words (one pass finds which anchors occur; only the rules whose
// anchor occurred run their own precompiled regex, so clean text costs about one regex pass),
// and discounts for phrases that are mentioned rather than said (quoted in a discussion of
// attacks, or inside a string literal in code).

import type { DetectorKind, Finding, TextRole } from '../detector.ts';

/** One phrase pattern: a regex source without capturing groups, and its score by role. */
export interface PhraseRule {
  readonly pattern: string;
  /**
   * Lower-case words (or word starts) of which at least one occurs in every match; the rule runs
   * only on text where one of them starts a word (or occurs anywhere, for anchors that do not start
   * with a letter or digit, such as "<|" or CJK).
   */
  readonly anchors: readonly string[];
  /** Score in a user message (assistant turns score 0.1 less). */
  readonly user: number;
  /** Score in a tool result or retrieved context (untrusted data). */
  readonly untrusted: number;
  readonly reason: string;
  /** Taken off the score when the match sits in a string literal on a line of code. */
  readonly inCode?: number;
}

export interface RuleTable {
  readonly rules: readonly PhraseRule[];
  /** One regex per rule, global and case-insensitive. */
  readonly res: readonly RegExp[];
  /** Finds the anchors. */
  readonly anchor: RegExp;
  /** For each anchor as matched (lower-cased): the rules it enables (also those of its prefixes). */
  readonly enables: ReadonlyMap<string, readonly number[]>;
}

export interface DetectorMeta {
  readonly name: string;
  readonly kind: DetectorKind;
  readonly type: string;
}

/** Findings below this score are not reported at all (the pipeline applies its own threshold). */
export const MIN_REPORTED_SCORE = 0.2;
/** At most this many findings per detector and text: enough to block, bounded on hostile input. */
export const MAX_FINDINGS = 64;
/** At most this many regex matches looked at per rule and text (matches discounted away included). */
const MAX_MATCHES = 4 * MAX_FINDINGS;

const WHERE: Readonly<Record<TextRole, string>> = {
  system: 'in the system prompt',
  user: 'in a user message',
  assistant: 'in an assistant turn',
  tool: 'in a tool result (untrusted)',
  context: 'in retrieved content (untrusted)',
  completion: 'in the completion',
};

const escape = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+');

export function compileRules(rules: readonly PhraseRule[]): RuleTable {
  const words = [...new Set(rules.flatMap((r) => r.anchors))].sort((a, b) => b.length - a.length);
  const wordy = words.filter((w) => /^[a-z0-9]/.test(w)).map(escape);
  const other = words.filter((w) => !/^[a-z0-9]/.test(w)).map(escape);
  const anchor = new RegExp([wordy.length > 0 ? `\\b(?:${wordy.join('|')})` : '', ...other].filter(Boolean).join('|'), 'gi');
  const enables = new Map<string, number[]>();
  for (const w of words) {
    const list: number[] = [];
    rules.forEach((r, i) => {
      if (r.anchors.some((a) => w.startsWith(a))) list.push(i);
    });
    enables.set(w, list);
  }
  return { rules, res: rules.map((r) => new RegExp(r.pattern, 'gi')), anchor, enables };
}

/** Which rules of the table may match `text`: those whose anchors occur in it. */
function enabledRules(table: RuleTable, text: string): boolean[] | null {
  let enabled: boolean[] | null = null;
  const re = table.anchor;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const list = table.enables.get(m[0].toLowerCase().replace(/\s+/g, ' '));
    if (list === undefined) continue;
    enabled ??= new Array<boolean>(table.rules.length).fill(false);
    for (const i of list) enabled[i] = true;
  }
  return enabled;
}

/** The score of a rule for a role; 0 for roles the phrase detectors do not scan (system, completion). */
export function roleScore(user: number, untrusted: number, role: TextRole): number {
  switch (role) {
    case 'user':
      return user;
    case 'tool':
    case 'context':
      return untrusted;
    case 'assistant':
      return Math.max(0, user - 0.1);
    default:
      return 0;
  }
}

/** True for roles the phrase detectors look at. */
export const scansRole = (role: TextRole): boolean => role !== 'system' && role !== 'completion';

export function makeFinding(meta: DetectorMeta, score: number, what: string, role: TextRole, start: number, end: number): Finding {
  const s = Math.round(Math.min(1, Math.max(0, score)) * 100) / 100;
  return { detector: meta.name, kind: meta.kind, type: meta.type, score: s, reason: `${what} ${WHERE[role]}`, start, end };
}

const QUOTES = '"\'“”‘’«»`„';
/** Words that frame a phrase as something being talked about (security writing, examples). */
const DISCUSSION =
  /\b(?:prompt\s+injections?|injection\s+attacks?|jailbreak(?:s|ing)?|attack(?:s|ers?)?|researchers?|adversarial|vulnerabilit(?:y|ies)|exploits?|owasp|such\s+as|for\s+example|e\.g\.|phrases?\s+like|things\s+like|known\s+as)\b/i;
const DISCUSSION_WINDOW = 200;

/**
 * How much to take off a phrase's score because it is mentioned rather than said: 0.5 when it is
 * quoted and the text around it discusses attacks or gives examples, 0.2 for only one of the two.
 */
export function mentionDiscount(text: string, start: number, end: number): number {
  const quoted = isQuote(text, start - 1) || (text.charCodeAt(start - 1) === 32 && isQuote(text, start - 2));
  const closed = quoted && (isQuote(text, end) || isQuote(text, end + 1));
  const discussed = DISCUSSION.test(text.slice(Math.max(0, start - DISCUSSION_WINDOW), start)) || DISCUSSION.test(text.slice(end, end + DISCUSSION_WINDOW / 2));
  if (closed && discussed) return 0.5;
  return quoted || discussed ? 0.2 : 0;
}

const isQuote = (text: string, i: number) => i >= 0 && i < text.length && QUOTES.includes(text[i]);

/**
 * Calls `visit` with every match of every rule whose anchor occurs in `text` (at most MAX_MATCHES
 * per rule), rule by rule; stops when `visit` returns false.
 */
export function forEachMatch(table: RuleTable, text: string, visit: (rule: number, m: RegExpExecArray) => boolean): void {
  const enabled = enabledRules(table, text);
  if (enabled === null) return;
  for (let k = 0; k < table.rules.length; k++) {
    if (!enabled[k]) continue;
    const re = table.res[k];
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    let seen = 0;
    while ((m = re.exec(text)) !== null && seen++ < MAX_MATCHES) if (!visit(k, m)) return;
  }
}

/** Runs a rule table over `text`, pushing one finding per match (offsets shifted through `map`). */
export function scanRules(table: RuleTable, meta: DetectorMeta, text: string, role: TextRole, out: Finding[], map?: Int32Array): void {
  forEachMatch(table, text, (k, m) => {
    const rule = table.rules[k];
    const end = m.index + m[0].length;
    let score = roleScore(rule.user, rule.untrusted, role) - mentionDiscount(text, m.index, end);
    if (rule.inCode !== undefined && inCodeString(text, m.index)) score -= rule.inCode;
    if (score >= MIN_REPORTED_SCORE) out.push(makeFinding(meta, score, rule.reason, role, map ? map[m.index] : m.index, map ? map[end - 1] + 1 : end));
    return out.length < MAX_FINDINGS;
  });
}

/** An assignment, call or return that opens a string literal earlier on the match's line: code. */
const CODE_STRING = /(?:=|\breturn|\(|\bf)\s*f?["'`]/;
export function inCodeString(text: string, at: number): boolean {
  let lineStart = at;
  while (lineStart > 0 && at - lineStart < 400 && text.charCodeAt(lineStart - 1) !== 10) lineStart--;
  return CODE_STRING.test(text.slice(lineStart, at));
}
