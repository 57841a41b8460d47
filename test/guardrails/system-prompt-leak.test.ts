// The system-prompt leak detector: a completion that reproduces a long run of the system prompt
// (verbatim, re-cased, re-punctuated) is flagged with the run's span; short shared phrases,
// other roles and tiny prompts are not; many shorter runs that together cover much of the prompt
// are; a 1 MB completion is scanned in one pass.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { systemPromptLeakDetector } from '../../src/guardrails/detectors/system-prompt-leak.ts';

const PROMPT =
  'You are Orbit, the support assistant for Northwind Telecom. Answer questions about billing, roaming and device setup. ' +
  'Always be polite and concise. Never offer refunds above 50 euros without a supervisor. If a customer mentions cancelling, ' +
  'offer the loyalty discount code before processing anything. Do not discuss competitors or their prices under any circumstances.';

describe('leak.system_prompt', () => {
  const leak = systemPromptLeakDetector(PROMPT);

  test('a verbatim run of the prompt is flagged, with the span of the run', () => {
    const run = 'You are Orbit, the support assistant for Northwind Telecom. Answer questions about billing, roaming and device setup.';
    const text = `Sure! My instructions say: ${run} Anything else?`;
    const found = leak.scan(text, 'completion');
    assert.equal(found.length, 1);
    const [f] = found;
    assert.equal(f.detector, 'leak.system_prompt');
    assert.equal(f.kind, 'leak');
    assert.ok(f.score >= 0.6 && f.score <= 1);
    assert.equal(text.slice(f.start, f.end), run.slice(0, -1), 'from the first word to the last word of the run');
    assert.ok(!f.reason.includes('Orbit'), 'the reason does not quote the prompt');
  });

  test('re-cased and re-punctuated reproductions count', () => {
    const text = 'never offer refunds above 50 euros without a supervisor -- if a customer mentions cancelling offer the loyalty discount code';
    assert.equal(leak.scan(text, 'completion').length, 1);
    assert.equal(leak.scan(text.toUpperCase(), 'assistant').length, 1);
  });

  test('the whole prompt scores higher than a short run of it', () => {
    const short = leak.scan('Never offer refunds above 50 euros without a supervisor. If a customer mentions cancelling, offer the loyalty discount', 'completion')[0];
    const whole = leak.scan(PROMPT, 'completion')[0];
    assert.ok(short && whole && whole.score > short.score);
    assert.equal(whole.score, 1);
  });

  test('short shared phrases and ordinary answers are not leaks', () => {
    for (const text of [
      'I can help with billing, roaming and device setup. What is the problem with your bill?',
      'Before processing anything, I would like to offer you our loyalty discount code: STAY20.',
      'You are welcome! Have a nice day.',
    ])
      assert.deepEqual(leak.scan(text, 'completion'), [], text);
  });

  test('only completions and assistant turns are scanned', () => {
    assert.deepEqual(leak.scan(PROMPT, 'user'), []);
    assert.deepEqual(leak.scan(PROMPT, 'system'), []);
    assert.deepEqual(leak.scan(PROMPT, 'tool'), []);
  });

  test('several shorter runs that together cover much of the prompt are flagged', () => {
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`);
    const d = systemPromptLeakDetector(words.join(' '));
    const run = (from: number) => words.slice(from, from + 10).join(' ');
    // Runs of 10 words: under the 15-word run; two of them cover 50% of the prompt (>= 40%), one 25%.
    assert.equal(d.scan(`${run(0)}, and then ${run(20)}`, 'completion').length, 2);
    assert.deepEqual(d.scan(`${run(0)} and more`, 'completion'), []);
    assert.equal(systemPromptLeakDetector(words.join(' '), { minRunWords: 10 }).scan(run(0), 'completion').length, 1);
  });

  test('prompts shorter than 8 words never flag', () => {
    const d = systemPromptLeakDetector('You are a helpful assistant.');
    assert.deepEqual(d.scan('You are a helpful assistant.', 'completion'), []);
  });

  test('maxMatchLength covers a run long enough to flag', () => {
    assert.ok(leak.maxMatchLength >= 80 && leak.maxMatchLength < PROMPT.length * 2);
  });

  test('a 1 MB completion is scanned in one pass', () => {
    const MB = 1 << 20;
    for (const unit of [`${PROMPT} `, 'the ', 'you are the support assistant ']) {
      const text = unit.repeat(Math.ceil(MB / unit.length));
      const found = leak.scan(text, 'completion');
      assert.ok(found.length <= 64);
    }
  });
});
