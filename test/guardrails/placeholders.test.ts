// Typed reversible placeholders: the same value gets the same placeholder in every message of a
// request, restore puts originals back, overlapping findings resolve to the longest, and a
// placeholder the user typed is never issued for a real value nor restored into one.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Finding } from '../../src/guardrails/detector.ts';
import { piiSecretDetectors } from '../../src/guardrails/detectors/pii-secret-detectors.ts';
import { chooseSpans, Pseudonymizer } from '../../src/guardrails/placeholders.ts';

function findingsIn(text: string): Finding[] {
  return piiSecretDetectors.flatMap((d) => d.scan(text, 'user'));
}

/** A finding for `value`'s first occurrence in `text`. */
function finding(text: string, value: string, type: string, score = 0.9, detector = `test.${type.toLowerCase()}`): Finding {
  const start = text.indexOf(value);
  assert.ok(start >= 0, `${value} in ${text}`);
  return { detector, kind: 'pii', type, score, reason: 'test', start, end: start + value.length };
}

function redactWithDetectors(p: Pseudonymizer, text: string, restorable = true): string {
  return p.redact(text, findingsIn(text), { restorable });
}

describe('Pseudonymizer.redact', () => {
  test('typed, numbered placeholders, the same value the same placeholder across messages', () => {
    const p = new Pseudonymizer();
    const first = redactWithDetectors(p, 'Mail jane@example.com or bob@example.org, card 4111 1111 1111 1111.');
    const second = redactWithDetectors(p, 'Did jane@example.com reply? Call +44 20 7946 0958.');
    assert.equal(first, 'Mail [EMAIL_1] or [EMAIL_2], card [CARD_1].');
    assert.equal(second, 'Did [EMAIL_1] reply? Call [PHONE_1].');
    assert.equal(p.size, 4);
  });

  test('secrets get their finer types', () => {
    const p = new Pseudonymizer();
    const out = redactWithDetectors(p, 'key sk-proj-FAKE9gfjCUvRXixImBrPktXGjG2GbYQUHG9Js1NyRk, id AKIAFAKEARWBPZ5V2CH6, password: "hunter2hunter2"');
    assert.equal(out, 'key [API_KEY_1], id [CLOUD_KEY_1], password: "[SECRET_1]"');
  });

  test('text without findings comes back unchanged', () => {
    const p = new Pseudonymizer();
    assert.equal(p.redact('nothing to see', []), 'nothing to see');
    assert.equal(p.size, 0);
  });

  test('findings outside the text are ignored; unknown type names become REDACTED', () => {
    const p = new Pseudonymizer();
    const text = 'value abc';
    const bad: Finding = { ...finding(text, 'abc', 'EMAIL'), start: 7, end: 99 };
    assert.equal(p.redact(text, [bad]), text);
    assert.equal(p.redact(text, [finding(text, 'abc', 'not a type')]), 'value [REDACTED_1]');
  });
});

describe('overlapping findings', () => {
  test('the longest span wins, then the higher score, then the earlier start', () => {
    const text = 'contact jane.doe@example.com now';
    const email = finding(text, 'jane.doe@example.com', 'EMAIL', 0.5);
    const inner = finding(text, 'example.com', 'URL', 0.99);
    assert.equal(new Pseudonymizer().redact(text, [inner, email]), 'contact [EMAIL_1] now');

    const tie = 'id 0123456789';
    const low = finding(tie, '0123456789', 'PHONE', 0.6);
    const high = finding(tie, '0123456789', 'ACCOUNT', 0.8);
    assert.equal(new Pseudonymizer().redact(tie, [low, high]), 'id [ACCOUNT_1]');

    const chain = 'abcdef';
    const left: Finding = { ...finding(chain, 'abcd', 'A'), score: 0.9 };
    const right: Finding = { ...finding(chain, 'cdef', 'B'), score: 0.9 };
    assert.deepEqual(chooseSpans(chain, [right, left]).map((f) => f.type), ['A']);
  });

  test('non-overlapping findings are all kept, in text order', () => {
    const text = 'a@example.com b@example.com';
    const spans = chooseSpans(text, [finding(text, 'b@example.com', 'EMAIL'), finding(text, 'a@example.com', 'EMAIL')]);
    assert.deepEqual(spans.map((f) => f.start), [0, 14]);
  });
});

describe('Pseudonymizer.restore', () => {
  test('puts the originals back, any number of times, and leaves the rest alone', () => {
    const p = new Pseudonymizer();
    redactWithDetectors(p, 'Write to jane@example.com about card 4111 1111 1111 1111.');
    assert.equal(p.restore('I emailed [EMAIL_1] ([EMAIL_1]) about [CARD_1]; [EMAIL_2] and [PHONE_1] are unknown.'), 'I emailed jane@example.com (jane@example.com) about 4111 1111 1111 1111; [EMAIL_2] and [PHONE_1] are unknown.');
    assert.equal(p.restore('no placeholders'), 'no placeholders');
  });

  test('restorable: false values stay placeholders, unless the user sent the value too', () => {
    const p = new Pseudonymizer();
    redactWithDetectors(p, 'Tool result: owner bob@example.org, backup carol@example.org', false);
    redactWithDetectors(p, 'Is bob@example.org the owner?');
    assert.equal(p.restore('[EMAIL_1] and [EMAIL_2]'), 'bob@example.org and [EMAIL_2]');
    assert.deepEqual(p.entries(), [{ placeholder: '[EMAIL_1]', original: 'bob@example.org', type: 'EMAIL' }]);
  });

  test('entries lists what restore puts back, in issue order', () => {
    const p = new Pseudonymizer();
    redactWithDetectors(p, 'a@example.com then 4111 1111 1111 1111 then b@example.com');
    assert.deepEqual(
      p.entries().map((e) => [e.placeholder, e.original, e.type]),
      [
        ['[EMAIL_1]', 'a@example.com', 'EMAIL'],
        ['[CARD_1]', '4111 1111 1111 1111', 'CARD'],
        ['[EMAIL_2]', 'b@example.com', 'EMAIL'],
      ],
    );
  });
});

describe('placeholders the user typed', () => {
  test('a literal placeholder in the input is never issued, so it is never restored', () => {
    const p = new Pseudonymizer();
    const out = redactWithDetectors(p, 'Print [EMAIL_1] and [EMAIL_2] verbatim. My address is jane@example.com');
    assert.equal(out, 'Print [EMAIL_1] and [EMAIL_2] verbatim. My address is [EMAIL_3]');
    assert.equal(p.restore('[EMAIL_1] [EMAIL_2] [EMAIL_3]'), '[EMAIL_1] [EMAIL_2] jane@example.com');
  });

  test('reserve() covers literals in messages redacted later', () => {
    const p = new Pseudonymizer();
    const messages = ['Tool data: owner bob@example.org', 'Now repeat [EMAIL_1] for me'];
    for (const m of messages) p.reserve(m);
    assert.equal(redactWithDetectors(p, messages[0]!), 'Tool data: owner [EMAIL_2]');
    assert.equal(p.restore('[EMAIL_1]'), '[EMAIL_1]');
  });

  test('a reserved literal that turns up after the placeholder was issued makes it ambiguous: never restored', () => {
    const p = new Pseudonymizer();
    redactWithDetectors(p, 'Tool data: owner bob@example.org');
    p.reserve('Now repeat [EMAIL_1] for me');
    assert.equal(p.restore('The owner is [EMAIL_1].'), 'The owner is [EMAIL_1].');
    assert.deepEqual(p.entries(), []);
    // The value still maps to the same placeholder for the model's sake.
    assert.equal(redactWithDetectors(p, 'bob@example.org again'), '[EMAIL_1] again');
  });

  test('redacting a completion that echoes an issued placeholder keeps it restorable (the output guard)', () => {
    const p = new Pseudonymizer();
    const prompt = 'My address is jane@example.com';
    p.reserve(prompt);
    redactWithDetectors(p, prompt);
    const completion = redactWithDetectors(p, 'I will write to [EMAIL_1] and cc bob@example.org.', false);
    assert.equal(completion, 'I will write to [EMAIL_1] and cc [EMAIL_2].');
    assert.equal(p.restore(completion), 'I will write to jane@example.com and cc [EMAIL_2].');
  });

  test('near-placeholders are plain text', () => {
    const p = new Pseudonymizer();
    redactWithDetectors(p, 'jane@example.com');
    assert.equal(p.restore('[EMAIL_01] [email_1] [EMAIL 1] [EMAIL_1'), '[EMAIL_01] [email_1] [EMAIL 1] [EMAIL_1');
  });
});

describe('Pseudonymizer on 1 MB inputs', () => {
  test('many findings in a 1 MB text, and a 1 MB text of placeholder-looking brackets', () => {
    const text = 'mail a1@example.com and card 4111 1111 1111 1111 '.repeat(20_000);
    const p = new Pseudonymizer();
    const out = p.redact(text, findingsIn(text));
    assert.equal(out, 'mail [EMAIL_1] and card [CARD_1] '.repeat(20_000));
    assert.equal(p.restore(out), text);
    const brackets = '[EMAIL_1][A_'.repeat(90_000);
    assert.equal(p.restore(brackets).length > 0, true);
    new Pseudonymizer().reserve(brackets);
  });

  test('many overlapping findings', () => {
    const text = 'x'.repeat(1_000_000);
    const findings: Finding[] = [];
    for (let i = 0; i < 2_000; i++) findings.push({ detector: 't', kind: 'pii', type: 'T', score: 0.5, reason: 't', start: i * 10, end: i * 10 + 500 });
    assert.ok(new Pseudonymizer().redact(text, findings).includes('[T_1]'));
  });
});
