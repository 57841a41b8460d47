// injection.override: text that tries to cancel or replace the model's instructions: "ignore /
// disregard / forget (all) previous instructions", "ignore the above", "forget everything you were
// told", "your new instructions are", "previous rules no longer apply", "these instructions
// supersede ...", "this is your developer speaking", "you are now in developer mode", fake
// chat-template tokens (<|im_start|>system, [INST], <<SYS>>, </tool_result>), fake "### System:"
// and [system] headers, and notes addressed to the AI inside untrusted content. French, German,
// Spanish, Italian, Portuguese, Dutch and Chinese forms of "ignore previous instructions" too.
// "my previous instructions" (a user or an e-mail correcting itself) is not an override, nor is
// "override" alone (a programming word) unless it is "override your ...". Tool and retrieved
// content score higher than a user message; system prompts and completions are not scanned.

import type { Detector, Finding, TextRole } from '../detector.ts';
import { scanWithNormalisation } from './injection-normalise.ts';
import { compileRules, scansRole, scanRules, type DetectorMeta, type PhraseRule } from './injection-scoring.ts';

const META: DetectorMeta = { name: 'injection.override', kind: 'injection', type: 'INJECTION' };

const IGNORE =
  "(?:ignore|ignoring|disregard|disregarding|forget|discard|abandon|cancel|set\\s+aside|pay\\s+no\\s+attention\\s+to|(?:do\\s+not|don't|stop|no\\s+longer)\\s+(?:follow(?:ing)?|obey(?:ing)?|listen(?:ing)?\\s+to))";
/** Verbs that are everyday programming words: they count only with "your". */
const OVERRIDE = '(?:override|overrule|bypass|circumvent)';
/** Words between the verb and the object; at least one (OWN) must point at the model's own instructions, so
 * "ignore my previous instructions" (someone correcting themselves) does not match. */
const FILL = '(?:\\s+(?:all|any|every|of|the|these|those|this|that|other|given|above-mentioned|standard|usual|current|existing|default|preset|programmed)){0,4}';
const OWN = '(?:previous|prior|preceding|above|earlier|former|original|initial|old|system|your|developer|safety|base|core|hidden)';
const OBJ =
  "(?:instructions?|prompts?|rules?|guidelines?|guidance|directives?|directions?|commands?|constraints?|restrictions?|guardrails?|programming|policies|training|context|messages?|system\\s+(?:prompt|message))\\b";

/** Anchors of the IGNORE verbs ("follow" alone is too common a word to be worth a pass). */
const VERBS = [
  ...['ignor', 'disregard', 'forget', 'discard', 'abandon', 'cancel', 'set aside', 'pay no attention'],
  ...['do not', "don't", 'stop', 'no longer'].flatMap((not) => ['follow', 'obey', 'listen'].map((v) => `${not} ${v}`)),
];
const VOID = ['void', 'cancel', 'revoked', 'obsolete', 'null', 'invalid', 'overridden', 'lifted', 'suspended', 'disabled', 'test', 'fake', 'wrong', 'no longer'];

const MODES = ['developer', 'dev', 'god', 'jailbreak', 'debug', 'admin', 'sudo', 'unrestricted', 'unlocked'].map((m) => `${m} mode`);

const RULES: readonly PhraseRule[] = [
  // ignore (all) previous instructions / forget your rules / disregard the system prompt
  { anchors: VERBS, pattern: `\\b${IGNORE}${FILL}(?:\\s+${OWN}){1,3}(?:\\s+(?:set\\s+of\\s+)?)?\\s*${OBJ}`, user: 0.85, untrusted: 0.95, reason: 'instruction-override phrase' },
  { anchors: ['overrid', 'overrul', 'bypass', 'circumvent'], pattern: `\\b${OVERRIDE}(?:\\s+(?:all|any|of)){0,3}\\s+your(?:\\s+${OWN}){0,2}\\s+${OBJ}`, user: 0.8, untrusted: 0.9, reason: 'instruction-override phrase' },
  // ignore all instructions and say ... (no pointer to whose instructions: needs the follow-up order)
  {
    anchors: VERBS,
    pattern: `\\b${IGNORE}\\s+(?:all|any)(?:\\s+(?:of\\s+)?(?:the|these|those|other))?\\s+${OBJ}\\s*(?:and|,|\\.)\\s*(?:instead\\s+|just\\s+|now\\s+)?(?:say|tell|write|output|print|respond|reply|answer|give|reveal|send|act|follow|obey|comply|return|translate|repeat)\\b`,
    user: 0.8,
    untrusted: 0.9,
    reason: 'instruction-override phrase',
  },
  { anchors: VERBS, pattern: `\\b${IGNORE}\\s+(?:all|any)(?:\\s+(?:of\\s+)?(?:the|these|those|other))?\\s+${OBJ}`, user: 0.4, untrusted: 0.45, reason: 'instruction-override phrase' },
  // ignore the above / ignore everything before this line / forget everything you were told
  {
    anchors: VERBS,
    pattern: `\\b${IGNORE}\\s+(?:(?:all|everything|anything)\\s+)?(?:of\\s+)?(?:the\\s+|what\\s+is\\s+|what's\\s+)?(?:above|foregoing|preceding)(?:\\s+(?:text|prompt|content|input|messages?|this\\s+line))?(?=\\s*(?:[.,;:!\\n]|and\\b|then\\b|instead\\b|$))`,
    user: 0.8,
    untrusted: 0.9,
    reason: 'instruction to ignore the preceding text',
  },
  {
    anchors: VERBS,
    pattern: `\\b${IGNORE}\\s+(?:about\\s+)?(?:everything|all|anything|what|whatever)\\s+(?:(?:that\\s+)?(?:you\\s+(?:were|have\\s+been|'ve\\s+been)\\s+(?:told|taught|instructed|given))|(?:written\\s+|said\\s+|stated\\s+)?(?:above|before\\s+this|previously|prior\\s+to\\s+this)|(?:that\\s+)?came\\s+before)`,
    user: 0.8,
    untrusted: 0.9,
    reason: 'instruction to ignore the preceding text',
  },
  // disregard the user / the user's question (untrusted content redirecting the task)
  { anchors: ['ignor', 'disregard'], pattern: `\\b(?:ignore|disregard)\\s+the\\s+user(?:'s\\s+(?:question|request|message|query|instructions?))?\\b`, user: 0.3, untrusted: 0.75, reason: 'instruction to ignore the user' },
  // previous rules no longer apply / all earlier guidance is void
  {
    anchors: VOID,
    pattern: `\\b(?:all\\s+)?${OWN}\\s+(?:\\w+\\s+)?${OBJ}\\s+(?:(?:are|were|is|was|have\\s+been|has\\s+been)\\s+)?(?:now\\s+)?(?:void|cancell?ed|revoked|obsolete|null|invalid|overridden|lifted|suspended|disabled|a\\s+test|fake|wrong|no\\s+longer\\s+(?:apply|applies|valid|in\\s+effect|relevant|active))\\b`,
    user: 0.7,
    untrusted: 0.85,
    reason: 'claim that earlier instructions no longer apply',
  },
  {
    anchors: VOID,
    pattern: `\\b(?:the\\s+)?${OBJ}\\s+(?:above|before\\s+this|you\\s+(?:were|have\\s+been)\\s+given)\\s+(?:are|were|is|was)\\s+(?:now\\s+)?(?:void|cancell?ed|revoked|obsolete|invalid|wrong|a\\s+test|fake|no\\s+longer\\s+(?:valid|in\\s+effect|relevant))\\b`,
    user: 0.7,
    untrusted: 0.85,
    reason: 'claim that earlier instructions no longer apply',
  },
  {
    anchors: ['safety', 'content', 'ethical', 'moral'],
    pattern: `\\b(?:safety|content|ethical|moral)\\s+(?:filters?|guidelines?|rules?|polic(?:y|ies)|restrictions?|protocols?|checks?)\\s+(?:are|is|have\\s+been|has\\s+been)\\s+(?:now\\s+)?(?:off|disabled|removed|lifted|deactivated|turned\\s+off|suspended|bypassed)\\b`,
    user: 0.7,
    untrusted: 0.85,
    reason: 'claim that safety rules are switched off',
  },
  // your new instructions are / new system directive:
  { anchors: ['new', 'real', 'actual', 'updated', 'true'], pattern: `\\byour\\s+(?:new|real|actual|updated|true)\\s+(?:instructions?|task|role|rules?|directives?|objective|goal|purpose|mission)\\s+(?:is|are|will\\s+be)\\b`, user: 0.7, untrusted: 0.85, reason: 'replacement instructions' },
  { anchors: ['new'], pattern: `\\bnew\\s+system\\s+(?:directive|instruction|prompt|rule)s?\\b`, user: 0.6, untrusted: 0.8, reason: 'replacement instructions' },
  { anchors: ['new', 'updated', 'real', 'actual', 'revised'], pattern: `\\b(?:new|updated|real|actual|revised)\\s+(?:system\\s+)?(?:instructions?|directives?|rules?|task)(?:\\s+for\\s+(?:the|any|all)\\s+(?:ai|assistants?|agents?|models?|llms?)\\b[^:\\n]{0,40})?\\s*:`, user: 0.35, untrusted: 0.6, reason: 'replacement instructions' },
  // developer / god mode
  {
    anchors: ['you are now', "you're now"],
    pattern: `\\byou(?:'re|\\s+are)\\s+now\\s+(?:in|running\\s+in|operating\\s+in|entering)\\s+(?:\\w+\\s+)?(?:developer|dev|debug|admin|god|sudo|root|maintenance|unrestricted|jailbreak|jailbroken|unlocked)\\s+mode\\b`,
    user: 0.8,
    untrusted: 0.9,
    reason: 'mode-switch override',
  },
  { anchors: MODES, pattern: `\\b(?:developer|dev|god|jailbreak|debug|admin|sudo|unrestricted|unlocked)\\s+mode\\s+(?:(?:is\\s+)?now\\s+)?(?:enabled|activated|engaged|unlocked)(?!\\s+(?:by|in|on|for|when|if)\\b)`, user: 0.55, untrusted: 0.6, reason: 'mode-switch override' },
  // these instructions supersede all previous ones / this is your developer speaking
  {
    anchors: ['supersed', 'precedence'],
    pattern: `\\b(?:supersedes?|take[s]?\\s+precedence\\s+over)\\s+(?:all\\s+|any\\s+)?(?:of\\s+)?(?:the\\s+|your\\s+)?(?:previous|prior|earlier|above|preceding|original|existing|other|system)\\s+(?:\\w+\\s+)?${OBJ}`,
    user: 0.6,
    untrusted: 0.75,
    reason: 'claim that new instructions take precedence',
  },
  { anchors: ['this is your', 'as your'], pattern: `\\b(?:this\\s+is\\s+your|as\\s+your)\\s+(?:developer|creator|admin(?:istrator)?|owner|operator|programmer|maker)s?\\b`, user: 0.55, untrusted: 0.75, reason: 'claimed authority over the model' },
  // fake chat-template tokens and role headers
  { anchors: ['<|', '[inst', '[system]'], pattern: `<\\|im_start\\|>\\s*(?:system|assistant)\\b|<\\|start_header_id\\|>\\s*system\\b|<\\|system\\|>|\\[INST\\]\\s*<<SYS>>|\\[system\\]\\(#`, user: 0.75, untrusted: 0.85, reason: 'fake chat-template role marker', inCode: 0.4 },
  { anchors: ['<|', '<<', '[inst', '[/inst', '<tool', '</tool', '<function', '</function', '<start_of'], pattern: `<\\|(?:im_start|im_end|endoftext|eot_id|end_header_id|begin_of_text)\\|>|<<\\/?SYS>>|\\[\\/?INST\\]|<\\/?(?:tool_result|tool_output|function_results)>|<start_of_turn>`, user: 0.4, untrusted: 0.6, reason: 'chat-template token', inCode: 0.4 },
  {
    anchors: ['sys'],
    pattern: `(?:^|\\n)[ \\t]*(?:#{1,6}[ \\t]*|\\*\\*|\\[)?(?:system|sys)(?:[ \\t]+(?:message|prompt|override|instructions?|note|notice|update|directive))?[ \\t]*(?:\\]|\\*\\*)?[ \\t]*:[ \\t]*\\n?[ \\t]*(?=(?:you|the\\s+(?:assistant|ai|model|previous)|ignore|disregard|forget|from\\s+now|new|all\\s+(?:previous|prior)|previous|your|do\\s+not|don't|answer|respond|comply|always|never|safety|override)\\b)`,
    user: 0.55,
    untrusted: 0.75,
    reason: 'fake system header',
  },
  { anchors: ['[system', '[admin', '[developer', 'override'], pattern: `\\[(?:system|admin|developer)(?:\\s+(?:message|note|override|instructions?|notice))?\\]|#{2,}\\s*system\\s+override\\b|\\b(?:system|admin|security)\\s+override\\s*(?:#|:|!)`, user: 0.45, untrusted: 0.7, reason: 'fake system header' },
  { anchors: ['instruction'], pattern: `(?:^|\\n)#{2,4}[ \\t]*instruction[ \\t]*:?[ \\t]*\\n`, user: 0.3, untrusted: 0.55, reason: 'fake instruction-template header' },
  // notes addressed to the AI inside untrusted content
  {
    anchors: ['if you are', 'note', 'message', 'instruction', 'ai', 'llm', 'dear', 'hey', 'attention', 'hello', 'agent'],
    pattern: `\\bif\\s+you\\s+are\\s+an?\\s+(?:ai|llm|large\\s+language\\s+model|language\\s+model|assistant|chatbot|ai\\s+(?:assistant|agent|model))\\b|\\b(?:note|message|instructions?)\\s+(?:to|for)\\s+(?:the\\s+|any\\s+|all\\s+)?(?:ai|llms?|language\\s+models?|assistants?|chatbots?|agents?|bots?|ai\\s+(?:assistants?|agents?|models?|systems?))\\b|\\b(?:ai|llm)\\s+(?:assistants?|agents?|models?)\\s*(?:,\\s*|reading\\s+this|processing\\s+this|summari[sz]ing\\s+this|screening\\s+this|parsing\\s+this|:)|\\b(?:dear|hey|attention|hello)\\s+(?:ai|assistant|agent|llm|chatbot|bot|copilot|gpt|claude)\\b|\\bagent\\s+instructions\\s*:`,
    user: 0.2,
    untrusted: 0.6,
    reason: 'instructions addressed to the AI',
  },
  // other languages: ignore previous instructions
  {
    anchors: ['ignor', 'oubli', 'vergiss', 'vergessen', 'olvid', 'dimentic', 'esque', 'negeer', 'vergeet', '忽略'],
    pattern:
      "\\b(?:ignore[zr]?|oublie[zr]?)\\s+(?:toutes\\s+|tous\\s+)?(?:les\\s+|tes\\s+|vos\\s+)?(?:instructions|consignes|règles|directives)\\s+(?:précédentes|antérieures|ci-dessus)|\\b(?:ignoriere|ignorieren\\s+sie|vergiss|vergessen\\s+sie)\\s+(?:alle\\s+)?(?:vorherigen|bisherigen|vorigen|obigen|deine|ihre)\\s+(?:anweisungen|instruktionen|regeln|befehle)|\\b(?:ignora|ignore|olvida|olvide|dimentica|esqueça|esquece)\\s+(?:todas\\s+|tutte\\s+)?(?:las\\s+|le\\s+|as\\s+)?(?:instrucciones|reglas|indicaciones|istruzioni|regole|instruções|regras)\\s+(?:anteriores|previas|precedenti)|\\b(?:negeer|vergeet)\\s+(?:alle\\s+)?(?:voorgaande|vorige|eerdere)\\s+(?:instructies|regels)|忽略(?:之前|以上|上面|先前|前面)?的?(?:所有|全部)?(?:指令|指示|说明|规则)",
    user: 0.85,
    untrusted: 0.95,
    reason: 'instruction-override phrase',
  },
];

const TABLE = compileRules(RULES);

export const overrideDetector: Detector = {
  name: META.name,
  kind: META.kind,
  maxMatchLength: 400,
  scan(text: string, role: TextRole): Finding[] {
    if (!scansRole(role)) return [];
    return scanWithNormalisation(text, (t, out, map) => scanRules(TABLE, META, t, role, out, map));
  },
};
