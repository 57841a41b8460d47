// injection.roleplay: role-play jailbreaks. Two signals near each other make a finding: a persona
// set-up ("act as", "pretend", "roleplay as", "stay in character", "from now on", or "you are" next
// to an AI word such as "AI", "model", "assistant", "persona") and an unrestricted trait ("no
// restrictions", "without ethical guidelines", "never refuses", "free of all content policies",
// "uncensored AI"), within a window of a few hundred characters. A trait on its own scores below
// the report threshold (a user asking for "no restrictions on criticism" is not a jailbreak, nor
// is a licence granting use "without restriction"); a persona on its own scores nothing (benign
// role-play is common). Known jailbreak names (DAN, STAN, AIM, ...) are traits; "Do Anything Now",
// "DAN/jailbreak mode" and "you are no longer bound by ..." count on their own. System prompts
// and completions are not scanned.

import type { Detector, Finding, TextRole } from '../detector.ts';
import { scanWithNormalisation } from './injection-normalise.ts';
import { compileRules, forEachMatch, makeFinding, mentionDiscount, MAX_FINDINGS, MIN_REPORTED_SCORE, roleScore, scansRole, type DetectorMeta } from './injection-scoring.ts';

const META: DetectorMeta = { name: 'injection.roleplay', kind: 'injection', type: 'JAILBREAK' };

/** Persona set-up phrases (searched only when a trait was found). */
const PERSONA =
  /\b(?:act(?:ing)?\s+as|pretend(?:ing)?|role-?play(?:ing)?|play\s+the\s+role|simulate|imagine\s+(?:you|that\s+you|an?\b)|(?:stay|remain|keep)\s+in\s+character|break(?:ing)?\s+character|persona|from\s+now\s+on|respond\s+as|answer\s+as|speak(?:ing)?\s+as|hypothetical(?:ly)?|let's\s+play|if\s+you\s+were|stands\s+for|tu\s+es|vous\s+êtes|du\s+bist|eres)\b|你是|扮演|假装|从现在开始/gi;
/** "you are ..." counts as a persona set-up only with an AI referent near the trait (licences say "you are permitted ... without restriction"). */
const YOU_ARE = /\b(?:you\s+are(?:\s+going\s+to)?|you're|you\s+will\s+(?:now\s+)?(?:be|act|respond|answer|play))\b/gi;
const AI_REFERENT = /\b(?:ai|a\.i\.|ia|ki|models?|chatbots?|assistants?|bots?|gpt|llm|persona|character|mode)\b/i;

const NO = '(?:without|with\\s+no|no|zero|free\\s+(?:of|from)|freed\\s+from|broken\\s+free\\s+(?:of|from)|(?:not|no\\s+longer)\\s+bound\\s+by|unbound\\s+by|devoid\\s+of|escaped)';
const LIMITS =
  '(?:restrictions?|filters?|filtering|limits|censorship|content\\s+polic(?:y|ies)|polic(?:y|ies)|guidelines|rules|safety\\s+training|confines|boundaries|constraints|programming|morals|ethics|principles|guardrails)';

/** Unrestricted traits; `user` / `untrusted` are the scores of a trait alone (under the report threshold). */
const weak = { user: 0.3, untrusted: 0.35, reason: 'unrestricted-AI wording' };
const strong = { user: 0.45, untrusted: 0.45, reason: 'unrestricted-AI wording' };
const TRAITS = compileRules([
  {
    ...weak,
    anchors: ['restriction', 'filter', 'limits', 'censorship', 'polic', 'guideline', 'rules', 'safety training', 'confines', 'boundaries', 'constraints', 'programming', 'morals', 'ethics', 'principles', 'guardrails'],
    pattern: `\\b${NO}\\s+(?:(?:any|all|the|its|your|their|typical|usual|previous|prior|current|original|of|moral|ethical|content|safety|and|or)\\s+){0,3}${LIMITS}\\b(?!\\s+(?:on|for|about|regarding|around|when|in|of)\\b)`,
  },
  { ...weak, anchors: ['refus', 'say no', 'says no', 'declin', 'warn', 'moraliz', 'censor'], pattern: '\\bnever\\s+(?:refuses?|says?\\s+no|declines?|warns?|moralizes?|censors?)\\b' },
  {
    ...weak,
    anchors: ['rules', 'guidelines', 'polic', 'restrictions', 'ethics'],
    pattern: `\\b(?:does\\s+not|doesn't|don't|do\\s+not|will\\s+not|won't|never|not)\\s+(?:have\\s+to\\s+)?(?:abide\\s+by|follow|obey|adhere\\s+to|care\\s+about|comply\\s+with)\\s+(?:any\\s+|the\\s+)?(?:[\\w']+\\s+)?(?:rules|guidelines|polic(?:y|ies)|restrictions|ethics)\\b`,
  },
  { ...weak, anchors: ['anything'], pattern: '\\bcan\\s+(?:say|do)\\s+anything\\b' },
  { ...weak, anchors: ['evil', 'rogue', 'amoral', 'malicious', 'unethical', 'unhinged'], pattern: '\\b(?:evil|rogue|amoral|malicious|unethical|unhinged)\\s+(?:ai|a\\.i\\.|chatbot|bot|assistant|model|version)\\b' },
  { ...weak, anchors: ['opposite'], pattern: '\\bopposite\\s+of\\s+what\\s+\\w+\\s+would\\b' },
  { ...weak, anchors: ['ignore', 'bypass'], pattern: '\\b(?:ignores?|bypass(?:es)?)\\s+all\\s+(?:restrictions|rules|guidelines|filters)\\b' },
  { ...weak, anchors: ['moral', 'ethical'], pattern: '\\b(?:moral|ethical)\\s+(?:and|or)\\s+(?:moral|ethical)\\s+constraints\\b' },
  {
    ...weak,
    anchors: ['sans', 'ohne', 'sin', 'senza', 'sem', 'zonder'],
    pattern:
      '\\b(?:sans|ohne|sin|senza|sem|zonder)\\s+(?:aucune?\\s+|jegliche\\s+|ningun[oa]?\\s+|alcuna\\s+|qualquer\\s+)?(?:restrictions?|filtres?|censure|limites?|einschränkungen|filter|zensur|regeln|restricciones|filtros|censura|límites|restrizioni|regole|restrições|regras|beperkingen)',
  },
  { ...weak, anchors: ['没有'], pattern: '没有(?:任何)?(?:限制|约束|规则|过滤|审查)' },
  {
    ...strong,
    anchors: ['unfiltered', 'uncensored', 'unrestricted', 'unaligned', 'jailbroken', 'jail-broken', 'unshackled', 'unchained', 'limitless'],
    pattern: '\\b(?:unfiltered|uncensored|unrestricted|unaligned|jailbroken|jail-broken|unshackled|unchained|limitless)\\s+(?:\\w+\\s+)?(?:ai|a\\.i\\.|models?|chatbots?|bots?|assistants?|llms?|gpt|version\\s+of\\s+(?:yourself|you|chatgpt))\\b',
  },
  { ...strong, anchors: ['jailbreak', 'jailbroken'], pattern: '\\b(?:jailbreak|jailbroken)\\b' },
]);

/** Standalone jailbreak markers, case-insensitive: "Do Anything Now", "DAN mode", "you are no longer bound by". */
const MARKER =
  /\bdo\s+anything\s+now\b|\b(?:dan|jailbreak|jailbroken|stan)\s+mode\b|🔓\s*JAILBREAK|\byou(?:'re|\s+are)\s+(?:now\s+)?(?:no\s+longer|not)\s+(?:bound|restricted|limited)\s+by\b|\byou(?:'re|\s+are)\s+(?:now\s+)?(?:free|freed)\s+(?:from|of)\s+(?:(?:all|any|your|the)\s+){0,2}(?:restrictions|rules|guidelines|polic(?:y|ies)|filters|constraints|programming)\b/gi;
const MARKER_ANCHOR = /\b(?:anything|mode|bound|restricted|limited|free)\b|JAILBREAK/i;
/** Known jailbreak persona names, case-sensitive (DAN, not Dan). */
const NAMES = /\b(?:DAN|STAN|DUDE|AIM|BetterDAN|BasedGPT|AntiGPT|anti-GPT|UCAR|DANs)\b/g;
const NAME = new RegExp(NAMES.source);

const refersToAI = (s: string) => AI_REFERENT.test(s) || NAME.test(s);

interface Hit {
  start: number;
  end: number;
  /** For a persona: counts without an AI word nearby. For a trait: its index in TRAITS (-1 for a name). */
  strong: boolean;
  trait?: number;
}

function collect(re: RegExp, text: string, strong: (m: RegExpExecArray) => boolean, out: Hit[]): void {
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && out.length < MAX_FINDINGS) out.push({ start: m.index, end: m.index + m[0].length, strong: strong(m) });
}

const BEFORE = 250;
const AFTER = 150;

function scanRoleplay(text: string, role: TextRole, out: Finding[], map?: Int32Array): void {
  const markers: Hit[] = [];
  if (MARKER_ANCHOR.test(text)) collect(MARKER, text, () => true, markers);
  const traits: Hit[] = [];
  forEachMatch(TRAITS, text, (k, m) => traits.push({ start: m.index, end: m.index + m[0].length, strong: false, trait: k }) < MAX_FINDINGS);
  collect(NAMES, text, () => true, traits);
  if (markers.length === 0 && traits.length === 0) return;
  const personas: Hit[] = [];
  if (traits.length > 0) {
    collect(PERSONA, text, () => true, personas);
    collect(YOU_ARE, text, () => false, personas);
  }

  const push = (score: number, start: number, end: number, what: string) => {
    score -= mentionDiscount(text, start, end);
    if (score < MIN_REPORTED_SCORE || out.length >= MAX_FINDINGS) return;
    out.push(makeFinding(META, score, what, role, map ? map[start] : start, map ? map[end - 1] + 1 : end));
  };
  for (const h of markers) push(roleScore(0.85, 0.9, role), h.start, h.end, 'jailbreak marker');
  for (const t of traits) {
    const near = (q: Hit) => q.end >= t.start - BEFORE && q.start <= t.end + AFTER;
    const p = personas.find((q) => near(q) && (q.strong || refersToAI(text.slice(Math.min(q.start, t.start), Math.max(q.end, t.end) + 40))));
    if (p !== undefined) push(roleScore(0.8, 0.85, role), Math.min(p.start, t.start), Math.max(p.end, t.end), 'role-play persona without restrictions');
    else {
      const alone = t.trait === undefined ? strong : TRAITS.rules[t.trait];
      push(roleScore(alone.user, alone.untrusted, role), t.start, t.end, 'unrestricted-AI wording');
    }
  }
}

export const roleplayDetector: Detector = {
  name: META.name,
  kind: META.kind,
  maxMatchLength: BEFORE + AFTER + 200,
  scan(text: string, role: TextRole): Finding[] {
    if (!scansRole(role)) return [];
    return scanWithNormalisation(text, (t, out, map) => scanRoleplay(t, role, out, map));
  },
};
