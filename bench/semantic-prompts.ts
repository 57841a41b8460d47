// Synthetic prompts for the semantic-cache benchmark: seeded, varied in length (a few words to
// a few hundred), built from shared templates and a shared vocabulary so that unrelated
// prompts still have words in common (the hard case for an index: many partial matches), and
// near-duplicates of them (case, punctuation, a typo, a word added) as a client would resend.

export type Random = () => number;

/** mulberry32: a seeded uniform generator in [0, 1). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMON = 'the a of to and in is for on with that this how what why can you me my it be as at by from or an are'.split(' ');
const TOPICS = 'database index query cache latency router gateway budget invoice customer order payment refund shipment warehouse kubernetes cluster container python typescript rust golang function class module test deploy release migration schema table column user account password login token session email message queue stream event metric alert dashboard report chart graph network socket server client request response error timeout retry backoff memory thread process file folder disk backup restore recipe garden travel hotel flight museum history poem story song letter essay summary contract policy'.split(' ');
const VERBS = 'explain write fix debug optimise summarise translate compare list describe design review refactor test document convert generate analyse improve check find create delete update rename migrate deploy'.split(' ');
const ADJECTIVES = 'fast slow simple complex short long formal friendly detailed brief secure reliable cheap modern legacy large small distributed concurrent'.split(' ');
const TEMPLATES = [
  'How do I {verb} a {adj} {topic} in {topic}?',
  '{Verb} the following {topic} {topic} code and tell me what is wrong: {words}',
  'Write a {adj} {topic} about {topic} and {topic} for my {topic}.',
  'What is the difference between a {topic} and a {topic}?',
  'Can you {verb} this {topic} for me? {words}',
  'Summarise the following {topic} in three bullet points: {words}',
  'I have a {adj} {topic} that keeps failing with a {topic} {topic}. {words} What should I check first?',
  '{Verb} my {topic}: {words}',
];

export function syntheticPrompt(random: Random): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  // Lengths: mostly short, some paragraphs, a few long documents.
  const r = random();
  const wordCount = r < 0.6 ? 4 + Math.floor(random() * 20) : r < 0.9 ? 30 + Math.floor(random() * 100) : 150 + Math.floor(random() * 250);
  const words = () => {
    const out: string[] = [];
    for (let i = 0; i < wordCount; i++) {
      out.push(zipfWord(random));
      if (random() < 0.08) out[out.length - 1] += pick([',', '.', '?', ':']);
    }
    return out.join(' ');
  };
  return pick(TEMPLATES).replace(/\{(\w+)\}/g, (_, slot: string) => {
    if (slot === 'verb') return pick(VERBS);
    if (slot === 'Verb') return capitalise(pick(VERBS));
    if (slot === 'adj') return pick(ADJECTIVES);
    if (slot === 'topic') return pick(TOPICS);
    return words();
  });
}

/** A near-duplicate a client might send: other case or spacing, punctuation dropped, one typo, or a word added. */
export function nearDuplicate(prompt: string, random: Random): string {
  const kind = Math.floor(random() * 4);
  if (kind === 0) return `  ${prompt.toLowerCase()}  `;
  if (kind === 1) return prompt.replace(/[?.,:!]/g, '');
  if (kind === 2) return `${prompt} please`;
  // One typo in the longest word: two adjacent letters swapped.
  const words = prompt.split(' ');
  let at = 0;
  for (let i = 1; i < words.length; i++) if (words[i].length > words[at].length) at = i;
  const w = words[at];
  if (w.length >= 4) words[at] = `${w.slice(0, 1)}${w[2]}${w[1]}${w.slice(3)}`;
  return words.join(' ');
}

// A vocabulary with a Zipf distribution, as in natural text: the common words and the topic
// words first, then pseudo-words made of syllables.
const SYLLABLES = 'ka lo mi ne ru sa ti po ve da ri mo lu fe gi ba to ze ni pa'.split(' ');
const VOCABULARY: string[] = [...COMMON, ...TOPICS, ...VERBS, ...ADJECTIVES];
for (let i = 0; VOCABULARY.length < 20_000; i++) {
  let word = '';
  for (let n = i; word.length < 4 || n > 0; n = Math.floor(n / SYLLABLES.length)) word += SYLLABLES[n % SYLLABLES.length];
  VOCABULARY.push(word);
}
const ZIPF = (() => {
  const cdf = new Float64Array(VOCABULARY.length);
  let sum = 0;
  for (let r = 0; r < cdf.length; r++) cdf[r] = sum += 1 / (r + 1);
  return cdf.map((c) => c / sum);
})();

function zipfWord(random: Random): string {
  const u = random();
  let lo = 0;
  let hi = ZIPF.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ZIPF[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo];
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
