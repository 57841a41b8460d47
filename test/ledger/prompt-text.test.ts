// What a prompt and a completion become before they are stored: redacted, without the end
// user's raw id or inline binary, and within max_chars, the prompt always valid JSON.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binaryNote, prepareCompletion, preparePrompt, TRUNCATED, TRUNCATED_SUFFIX } from '../../src/ledger/prompt-log/prompt-text.ts';
import { redactValue } from '../../src/redaction/redact.ts';

const KEY = 'sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe';

/** A seeded PRNG, so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `value` with inline binary strings replaced by their notes, as preparePrompt does. */
function withoutBinary(value: unknown): unknown {
  if (typeof value === 'string') return binaryNote(value) ?? value;
  if (Array.isArray(value)) return value.map(withoutBinary);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutBinary(v)]));
  return value;
}

describe('preparePrompt', () => {
  test('a small request: redacted JSON of the whole body, nothing cut', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: 'I am jane@example.com, key ' + KEY },
      ],
      temperature: 0.2,
      max_tokens: 100,
    };
    const prepared = preparePrompt(body, 100_000);
    assert.equal(prepared.truncated, false);
    assert.deepEqual(JSON.parse(prepared.text), redactValue(body));
    assert.match(prepared.text, /\[EMAIL\], key \[SECRET\]/);
  });

  test("the end user's raw id is left out (user, metadata.user_id); nested fields named user stay", () => {
    const body = {
      model: 'claude',
      user: 'customer-42',
      metadata: { user_id: 'customer-42', workflow: 'triage' },
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'lookup', input_schema: { properties: { user: { type: 'string' } } } }],
    };
    const parsed = JSON.parse(preparePrompt(body, 100_000).text);
    assert.equal(parsed.user, undefined);
    assert.deepEqual(parsed.metadata, { workflow: 'triage' });
    assert.deepEqual(parsed.tools[0].input_schema.properties.user, { type: 'string' });
    assert.equal(JSON.stringify(parsed).includes('customer-42'), false);
  });

  test('inline images, audio and files are replaced by a note', () => {
    const png = 'data:image/png;base64,' + 'iVBORw0KGgo'.repeat(500);
    const body = {
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: png } }, { type: 'text', text: 'what is this?' }] },
        { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQSkZJRg'.repeat(200) } }] },
      ],
    };
    const parsed = JSON.parse(preparePrompt(body, 100_000).text);
    assert.equal(parsed.messages[0].content[0].image_url.url, `[DATA image/png, ${png.length} chars omitted]`);
    assert.equal(parsed.messages[0].content[1].text, 'what is this?');
    assert.equal(parsed.messages[1].content[0].source.data, '[BASE64, 2800 chars omitted]');
    assert.equal(binaryNote('short base64 QUJD'), undefined);
    assert.equal(binaryNote('word '.repeat(500)), undefined, 'prose is not binary');
    assert.equal(binaryNote('x'.repeat(5000)), undefined, 'one letter repeated is not binary');
  });

  test('a long message is cut within max_chars, the JSON stays valid and says so', () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'lorem ipsum '.repeat(50_000) }, { role: 'user', content: 'second' }] };
    const prepared = preparePrompt(body, 2000);
    assert.equal(prepared.truncated, true);
    assert.ok(prepared.text.length <= 2000, `${prepared.text.length} chars`);
    const parsed = JSON.parse(prepared.text);
    assert.equal(parsed.model, 'gpt-4o');
    assert.ok(parsed.messages[0].content.endsWith(TRUNCATED_SUFFIX));
    assert.equal(parsed.messages.length, 1, 'nothing after the cut');
  });

  test('many small items: the array ends with a "[TRUNCATED]" element, an object with a "[TRUNCATED]" key', () => {
    const array = preparePrompt({ input: Array.from({ length: 10_000 }, (_, i) => i) }, 1000);
    const parsedArray = JSON.parse(array.text);
    assert.equal(parsedArray.input.at(-1), TRUNCATED);
    assert.deepEqual(parsedArray.input.slice(0, 3), [0, 1, 2]);
    assert.ok(array.text.length <= 1000);
    const object = preparePrompt(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])), 1000);
    const parsedObject = JSON.parse(object.text);
    assert.equal(parsedObject[TRUNCATED], true);
    assert.ok(object.text.length <= 1000);
  });

  test('a secret at the cut is redacted before the cut: no part of it is stored', () => {
    for (let pad = 900; pad < 1000; pad += 3) {
      const prepared = preparePrompt({ content: 'x'.repeat(pad) + ' ' + KEY + ' and jane@example.com' }, 1000);
      assert.equal(prepared.text.includes('sk-'), false, `pad ${pad}: ${prepared.text.slice(-80)}`);
      assert.equal(prepared.text.includes('jane'), false);
      JSON.parse(prepared.text);
    }
  });

  test('a huge body costs little: only what can reach the output is redacted', () => {
    const huge = { messages: [{ role: 'user', content: 'Contact jane@example.com or 555-123-4567. '.repeat(250_000) }] };
    const started = performance.now();
    const prepared = preparePrompt(huge, 10_000);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
    assert.ok(prepared.text.length <= 10_000);
    assert.equal(prepared.text.includes('jane'), false);
    assert.equal(prepared.text.includes('555-123'), false);
    assert.ok(prepared.truncated);
  });

  test('deep nesting is cut at 32 levels; odd values become JSON', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 200; i++) deep = [deep];
    const prepared = preparePrompt(deep, 100_000);
    assert.ok(prepared.truncated);
    assert.ok(prepared.text.includes(TRUNCATED));
    JSON.parse(prepared.text);
    assert.equal(preparePrompt(undefined, 1000).text, 'null');
    assert.equal(preparePrompt('plain text prompt with 4111111111111111', 1000).text, '"plain text prompt with [CARD]"');
    assert.equal(preparePrompt({ a: Number.NaN, b: undefined, c: () => 1, d: 4111111111111111, e: new Date(0) }, 1000).text, '{"a":null,"d":"[CARD]","e":"1970-01-01T00:00:00.000Z"}');
  });

  test('fuzz: whatever the shape and the limit, valid JSON within max_chars', () => {
    const random = prng(20240601);
    const words = ['hello', 'jane@example.com', '4111 1111 1111 1111', KEY, '"quoted"', 'back\\slash', 'line\nbreak', '🚀🚀', '\u0000nul', 'ünï', 'x'.repeat(300)];
    function value(depth: number): unknown {
      const r = random();
      if (depth > 5 || r < 0.3) return Array(1 + Math.floor(random() * 20)).fill(words[Math.floor(random() * words.length)]).join(' ');
      if (r < 0.4) return Math.floor(random() * 1e6);
      if (r < 0.45) return random() < 0.5 ? null : true;
      if (r < 0.75) return Array.from({ length: Math.floor(random() * 8) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 8) }, (_, i) => [`${i} ${words[Math.floor(random() * words.length)]!.slice(0, 40)}`, value(depth + 1)]));
    }
    for (let i = 0; i < 1000; i++) {
      const input = value(0);
      const maxChars = 100 + Math.floor(random() * 3000);
      const prepared = preparePrompt(input, maxChars);
      assert.ok(prepared.text.length <= maxChars, `case ${i}: ${prepared.text.length} > ${maxChars}`);
      const parsed = JSON.parse(prepared.text);
      const text = JSON.stringify(parsed);
      assert.equal(text.includes('jane@'), false, `case ${i}`);
      assert.equal(text.includes('sk-proj'), false, `case ${i}`);
      assert.equal(text.includes('4111 1111'), false, `case ${i}`);
      if (!prepared.truncated) assert.deepEqual(parsed, JSON.parse(JSON.stringify(redactValue(withoutBinary(input)))), `case ${i}`);
    }
  });
});

describe('prepareCompletion', () => {
  test('redacted, whole when it fits', () => {
    assert.deepEqual(prepareCompletion('Sure, email jane@example.com.', 1000), { text: 'Sure, email [EMAIL].', truncated: false });
    assert.deepEqual(prepareCompletion('', 1000), { text: '', truncated: false });
  });

  test('cut to max_chars with a marker; never half a surrogate pair', () => {
    const prepared = prepareCompletion('word '.repeat(10_000), 1000);
    assert.equal(prepared.truncated, true);
    assert.equal(prepared.text.length, 1000);
    assert.ok(prepared.text.endsWith(TRUNCATED_SUFFIX));
    const emoji = prepareCompletion('🚀'.repeat(5000), 1001);
    assert.ok(emoji.text.isWellFormed());
    assert.ok(emoji.text.length <= 1001);
  });

  test('text every store accepts: no NUL, no unpaired surrogate', () => {
    assert.equal(prepareCompletion('a\u0000b', 100).text, 'a\uFFFDb');
    assert.equal(prepareCompletion('x\ud800y', 100).text, 'x\uFFFDy');
  });

  test('a secret at the cut is never stored in part', () => {
    for (let pad = 980; pad < 1000; pad++) {
      const prepared = prepareCompletion('y'.repeat(pad) + ' ' + KEY, 1000);
      assert.equal(prepared.text.includes('sk-'), false, `pad ${pad}`);
    }
  });
});
