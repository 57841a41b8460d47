// The built-in lexical embedder: unit length, deterministic, near-duplicates (case, spacing,
// punctuation, a spelling variant in a long text) score ≥ 0.95, texts that differ in a word that
// matters or are unrelated score well below, and paraphrases are NOT caught (it is lexical).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LexicalEmbedder } from '../../src/cache/lexical-embedder.ts';

const embedder = new LexicalEmbedder();
const embed = (text: string) => embedder.embedSync(text);

function cosine(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

const similarity = (a: string, b: string) => cosine(embed(a), embed(b));

test('lexical embedder: its id and dimensions; other dimensions get another id; bad dimensions are refused', () => {
  assert.equal(embedder.id, 'local-lexical-v1');
  assert.equal(embedder.dims, 256);
  const wide = new LexicalEmbedder({ dims: 512 });
  assert.equal(wide.dims, 512);
  assert.notEqual(wide.id, embedder.id);
  for (const dims of [0, 100, 32, 8192, 1.5]) assert.throws(() => new LexicalEmbedder({ dims }), RangeError);
});

test('lexical embedder: unit length, deterministic across instances, and embed() agrees with embedSync()', async () => {
  const texts = ['What is the capital of France?', 'x', '', '   ', '?!', '日本の首都はどこですか？', 'emoji 🎉 and \u0301 combining', 'a'.repeat(10_000)];
  const other = new LexicalEmbedder();
  for (const text of texts) {
    const v = embed(text);
    assert.equal(v.length, 256);
    assert.ok(Math.abs(cosine(v, v) - 1) < 1e-5, `unit length for ${JSON.stringify(text.slice(0, 20))}`);
    assert.deepEqual(v, other.embedSync(text));
    assert.deepEqual(await embedder.embed(text), v);
  }
});

test('lexical embedder: near-duplicates score at least 0.95', () => {
  const pairs: [string, string][] = [
    ['What is the capital of France?', 'what is the capital of france?'],
    ['What is the capital of France?', 'What is the capital of France'],
    ['What is the capital of France?', '  What  is the capital\tof France ? '],
    ['Explain how a TCP three-way handshake works, step by step.', 'Explain how a TCP three way handshake works step by step'],
    ['Write a Python function that reverses a linked list in place.', 'Write a python function that reverses a linked list in-place.'],
    ['Ｆｕｌｌｗｉｄｔｈ text', 'Fullwidth text'],
    [
      'Summarise the following article in three bullet points: The quick brown fox jumps over the lazy dog near the riverbank while the farmer watches from the hill.',
      'Summarize the following article in three bullet points: The quick brown fox jumps over the lazy dog near the riverbank while the farmer watches from the hill.',
    ],
  ];
  for (const [a, b] of pairs) assert.ok(similarity(a, b) >= 0.95, `${similarity(a, b).toFixed(3)}: ${a} | ${b}`);
});

test('lexical embedder: a different word that matters in a short prompt scores below 0.9; unrelated prompts below 0.35', () => {
  const different: [string, string][] = [
    ['What is the capital of France?', 'What is the capital of Germany?'],
    ['What is 17 * 23?', 'What is 17 * 24?'],
    ['What is 2+2?', 'What is 2-2?'],
    ['Is it safe to eat raw chicken?', 'Is it not safe to eat raw chicken?'],
    ['Translate "good morning" to French', 'Translate "good morning" to Spanish'],
  ];
  for (const [a, b] of different) assert.ok(similarity(a, b) < 0.9, `${similarity(a, b).toFixed(3)}: ${a} | ${b}`);
  const unrelated: [string, string][] = [
    ['Write a Python function that reverses a linked list in place.', 'What is the capital of France?'],
    ['Explain how a TCP three-way handshake works.', 'Give me a recipe for banana bread with walnuts.'],
    ['Give me a recipe for banana bread with walnuts.', 'Give me a list of the best hiking trails in Colorado.'],
    ['', 'anything at all'],
  ];
  for (const [a, b] of unrelated) assert.ok(similarity(a, b) < 0.35, `${similarity(a, b).toFixed(3)}: ${a} | ${b}`);
});

test('lexical embedder: it is lexical — a paraphrase is not a near-duplicate', () => {
  assert.ok(similarity('How tall is Mount Everest?', 'What is the height of Mount Everest?') < 0.8);
});

test('lexical embedder: it is lexical — in a long prompt one changed number or name still scores above 0.95 (why the threshold stays high)', () => {
  const review = 'You are reviewing a pull request for the billing service. The change adds a retry with exponential backoff to the invoice export job, caps the number of attempts, logs every failure with the customer id, and moves the export schedule from hourly to every 15 minutes. Please list the risks of this change, anything missing from the tests, and whether the new schedule could overload the warehouse database during month-end close.';
  assert.ok(similarity(review, review.replace('15 minutes', '5 minutes')) > 0.95);
  assert.ok(similarity(review, review.replace('billing', 'shipping')) > 0.95);
});
