// The incremental output guard with small fake detectors defined here (an email regex and a
// secret-token regex): a match split across deltas at any position is caught whole, text far from
// a match goes out one holdBack late, block / flag / redact act as documented, end() flushes,
// surrogate pairs are never split, and the work stays linear in the completion's length.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Detector, Finding, TextRole } from '../../src/guardrails/detector.ts';
import { ChoiceGuards, LEFT_CONTEXT, RIGHT_CONTEXT, StreamGuard, type StreamAction, type StreamStep } from '../../src/guardrails/stream-guard.ts';

/** A detector from a global regex; `scanned` counts the characters it was given. */
function regexDetector(name: string, type: string, pattern: RegExp, maxMatchLength: number): Detector & { scanned: number; roles: Set<TextRole> } {
  const detector = {
    name, kind: 'pii' as const, maxMatchLength, scanned: 0, roles: new Set<TextRole>(),
    scan(text: string, role: TextRole): Finding[] {
      detector.scanned += text.length;
      detector.roles.add(role);
      return [...text.matchAll(pattern)].map((m) => ({
        detector: name, kind: 'pii' as const, type, score: 0.9, reason: `looks like ${type}`, start: m.index, end: m.index + m[0].length,
      }));
    },
  };
  return detector;
}

const email = () => regexDetector('pii.email', 'EMAIL', /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,3}\.[A-Za-z]{2,12}/g, 64 + 1 + 4 * 64 + 13);
const token = () => regexDetector('secret.token', 'TOKEN', /\bsk-[a-z0-9]{8,40}\b/g, 43);
/** Bounded, shorter patterns, so that the cut moves through short texts. */
const shortEmail = () => regexDetector('pii.email', 'EMAIL', /[a-z0-9._]{1,12}@[a-z0-9-]{1,10}(?:\.[a-z]{2,6}){1,2}/g, 37);
const shortToken = () => regexDetector('secret.token', 'TOKEN', /\bsk-[a-z0-9]{8,20}\b/g, 23);
const short = () => [shortEmail(), shortToken()];

/** Runs the deltas through a fresh guard; returns everything emitted and every step. */
function run(deltas: string[], action: StreamAction = 'redact', detectors: Detector[] = short()) {
  const guard = new StreamGuard({ detectors, action });
  const steps: StreamStep[] = deltas.map((d) => guard.push(d));
  steps.push(guard.end());
  return { guard, steps, text: steps.map((s) => s.emit).join(''), findings: steps.flatMap((s) => s.findings) };
}

/** The same detectors over the whole text at once, redacted. */
function batch(text: string, detectors: Detector[] = short()): string {
  const found = detectors.flatMap((d) => d.scan(text, 'completion')).sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const f of found) {
    if (f.start < at) continue;
    out += `${text.slice(at, f.start)}[${f.type}]`;
    at = f.end;
  }
  return out + text.slice(at);
}

const SAMPLE = 'Write to bob.smith@example.org, then wait a while before the key sk-abc123def456 — or write to ann@x.io';
const MATCHES = ['bob.smith@example.org', 'sk-abc123def456', 'ann@x.io'];

test('a match split in two at every position is redacted whole, and reported once with its place in the completion', () => {
  const expected = 'Write to [EMAIL], then wait a while before the key [TOKEN] — or write to [EMAIL]';
  assert.equal(batch(SAMPLE), expected);
  for (let i = 0; i <= SAMPLE.length; i++) {
    const { text, findings, steps, guard } = run([SAMPLE.slice(0, i), SAMPLE.slice(i)]);
    assert.equal(text, expected, `split at ${i}`);
    assert.deepEqual(findings.map((f) => SAMPLE.slice(f.start, f.end)), MATCHES, `split at ${i}`);
    if (i > guard.holdBack) assert.ok(steps[0]!.emit.length > 0, 'the first delta already let text out');
  }
});

test('split in three at every pair of positions, and one character at a time', () => {
  const expected = batch(SAMPLE);
  for (let i = 0; i <= SAMPLE.length; i++) {
    for (let j = i; j <= SAMPLE.length; j++) {
      assert.equal(run([SAMPLE.slice(0, i), SAMPLE.slice(i, j), SAMPLE.slice(j)]).text, expected, `split at ${i}, ${j}`);
    }
  }
  const tail = ' and that is all there is to say about it, really.';
  const { text, findings, steps } = run([...SAMPLE + tail]);
  assert.equal(text, expected + tail);
  assert.deepEqual(findings.map((f) => SAMPLE.slice(f.start, f.end)), MATCHES, 'each finding once, though the window slid over it many times');
  assert.ok(steps.findIndex((s) => s.emit.includes('[TOKEN]')) < steps.length - 1, 'redacted mid-stream, not at the end');
});

test('random texts and random deltas give what scanning the whole text gives', () => {
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const parts = ['a@b.io', 'bob.smith@example.org', 'sk-abcdef1234', 'sk-', '@', 'x', ' ', '.', ',', 'mail', 'sk-0123456789abcdef', 'ann@x.co.uk', '😀'];
  for (let round = 0; round < 300; round++) {
    let text = '';
    for (let k = random(30); k >= 0; k--) text += parts[random(parts.length)];
    const deltas: string[] = [];
    for (let at = 0; at < text.length;) {
      const size = 1 + random(12);
      deltas.push(text.slice(at, at + size));
      at += size;
    }
    for (const action of ['redact', 'flag'] as const) {
      const { text: out, findings } = run(deltas, action);
      assert.equal(out, action === 'redact' ? batch(text) : text, `round ${round}: ${JSON.stringify(deltas)}`);
      assert.equal(findings.length, short().flatMap((d) => d.scan(text, 'completion')).length, `round ${round}: each finding once`);
    }
  }
});

test('redaction happens mid-stream: a settled match goes out redacted before the completion ends', () => {
  const guard = new StreamGuard({ detectors: [token()], action: 'redact' });
  const first = guard.push(`key sk-abc123def456 then ${'x'.repeat(100)}`);
  assert.ok(first.emit.startsWith('key [TOKEN] then x'), first.emit);
  assert.deepEqual(first.findings.map((f) => [f.detector, f.start, f.end]), [['secret.token', 4, 19]]);
});

test('text far from any match is emitted with only holdBack delay', () => {
  const detectors = [email(), token()];
  const guard = new StreamGuard({ detectors, action: 'redact' });
  assert.equal(guard.holdBack, 334 + RIGHT_CONTEXT, 'the longest maxMatchLength, and room for look-ahead');
  const plain = 'lorem ipsum dolor sit amet '.repeat(40);
  const step = guard.push(plain);
  assert.equal(step.emit, plain.slice(0, plain.length - guard.holdBack));
  for (const delta of ['abc', 'de ', 'fghij']) assert.equal(guard.push(delta).emit.length, delta.length, 'once past holdBack, each delta moves the text on by its length');
  assert.equal(guard.end().emit.length, guard.holdBack);
});

test('a short completion is held whole, and end() flushes it after a final scan', () => {
  const guard = new StreamGuard({ detectors: [email()], action: 'redact' });
  assert.deepEqual(guard.push('mail me: ann@x.io'), { emit: '', findings: [] }, 'a match still open is not reported');
  const last = guard.end();
  assert.equal(last.emit, 'mail me: [EMAIL]');
  assert.deepEqual(last.findings.map((f) => [f.start, f.end]), [[9, 17]]);
  assert.deepEqual(guard.end(), { emit: '', findings: [] }, 'a second end() has nothing left');
});

test('block returns the findings and stops emitting', () => {
  const guard = new StreamGuard({ detectors: [token()], action: 'block' });
  const before = guard.push(`${'safe text. '.repeat(10)}`);
  assert.ok(before.emit.length > 0);
  const step = guard.push(`here: sk-abc123def456 ${'more text '.repeat(10)}`);
  assert.equal(step.emit, '');
  assert.equal(step.blocked?.length, 1);
  assert.deepEqual(step.findings, step.blocked);
  assert.equal(step.blocked![0]!.detector, 'secret.token');
  const after = guard.push('anything else');
  assert.equal(after.emit, '');
  assert.deepEqual(after.findings, [], 'no finding is reported twice');
  assert.equal(after.blocked, step.blocked, 'still blocked');
  assert.equal(guard.end().emit, '');
  const atEnd = run(['only at the end: sk-abc123def456'], 'block');
  assert.equal(atEnd.text, '');
  assert.equal(atEnd.steps.at(-1)!.blocked?.length, 1, 'a match settled by end() blocks too');
});

test('flag passes everything through but reports each finding once', () => {
  for (const size of [1, 3, 7, 1000]) {
    const deltas = SAMPLE.match(new RegExp(`[^]{1,${size}}`, 'g'))!;
    const { text, findings, steps } = run(deltas, 'flag');
    assert.equal(text, SAMPLE);
    assert.deepEqual(steps.slice(0, -1).map((s) => s.emit), deltas, 'nothing is held: each delta goes out at once');
    assert.deepEqual(findings.map((f) => SAMPLE.slice(f.start, f.end)), MATCHES);
  }
});

test('the caller\'s redactor gets each emitted segment and the findings\' spans within it', () => {
  const calls: [string, [number, number][]][] = [];
  let n = 0;
  const guard = new StreamGuard({
    detectors: [email()], action: 'redact',
    redactor: (text, findings) => {
      calls.push([text, findings.map((f) => [f.start, f.end])]);
      return findings.reduceRight((out, f) => `${out.slice(0, f.start)}[${f.type}_${++n}]${out.slice(f.end)}`, text);
    },
  });
  const out = [guard.push('a@b.io and c@d.io'), guard.end()].map((s) => s.emit).join('');
  assert.equal(out, '[EMAIL_2] and [EMAIL_1]');
  assert.deepEqual(calls, [['a@b.io and c@d.io', [[0, 6], [11, 17]]]]);
});

test('surrogate pairs are never split, whatever the holdBack and the deltas', () => {
  const text = '😀a😀😀b😀 ann@x.io 😀😀😀';
  for (let maxLength = 1; maxLength <= 6; maxLength++) {
    const detector = () => regexDetector('pii.a', 'A', /a/g, maxLength);
    for (const deltas of [[...text], text.split(''), [text.slice(0, 3), text.slice(3, 8), text.slice(8)]]) {
      const { steps, text: out } = run(deltas, 'redact', [detector()]);
      assert.equal(out, batch(text, [detector()]));
      for (const step of steps) assert.ok(step.emit.isWellFormed(), `maxMatchLength ${maxLength}: ${JSON.stringify(step.emit)} splits a pair`);
    }
  }
});

test('detectors see the completion role', () => {
  const detector = email();
  run(['hello'], 'redact', [detector]);
  assert.deepEqual([...detector.roles], ['completion']);
});

test('linear: 10,000 tiny deltas of a 200 KB completion scan about the text plus a window per delta, not the text per delta', (t) => {
  const detectors = [email(), token()];
  const words = ['alpha', 'beta', 'gamma', 'delta', 'x.y@mail.example.com', 'sk-0123abcd4567', 'omega'];
  let completion = '';
  for (let i = 0; completion.length < 200_000; i++) completion += `${words[(i * 5 + (i >> 3)) % words.length]} `;
  completion = completion.slice(0, 200_000);
  const deltas: string[] = [];
  for (let at = 0; at < completion.length; at += 20) deltas.push(completion.slice(at, at + 20));
  assert.equal(deltas.length, 10_000);
  const { text, findings, guard } = run(deltas, 'redact', detectors);
  const expected = batch(completion, [email(), token()]);
  assert.equal(text, expected, 'the same as scanning the whole completion at once');
  assert.equal(findings.length, expected.split('[').length - 1, 'each match reported once');
  // Per push: the left context, the held text (at most holdBack plus a match straddling the cut)
  // and the delta; twice when a match from the context into the held text forces a second scan.
  const window = LEFT_CONTEXT + 2 * guard.holdBack + 1;
  for (const d of detectors) {
    t.diagnostic(`${d.name}: ${d.scanned} characters scanned for a ${completion.length}-character completion in ${deltas.length} deltas (holdBack ${guard.holdBack})`);
    assert.ok(d.scanned <= 2 * (completion.length + deltas.length * window), `${d.name} scanned ${d.scanned} characters`);
    assert.ok(d.scanned < completion.length * 40, 'far below the ~1e9 of rescanning the text per delta');
  }
});

test('ChoiceGuards keeps one guard per choice index', () => {
  const guards = new ChoiceGuards({ detectors: [email()], action: 'redact' });
  guards.choice(0).push('mail ann@');
  guards.choice(1).push('nothing here');
  guards.choice(0).push('x.io now');
  assert.equal(guards.choice(0), guards.choice(0));
  const ends = guards.endAll();
  assert.equal(ends.get(0)!.emit, 'mail [EMAIL] now');
  assert.equal(ends.get(1)!.emit, 'nothing here');
});

test('with the real PII and secret detectors: random deltas give the whole-text redaction, and prose is held back only a little', async () => {
  const { piiSecretDetectors } = await import('../../src/guardrails/detectors/pii-secret-detectors.ts');
  const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0ZXN0LXVzZXItNDIiLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLW5vdC1yZWFsLWp1c3QtZm9yLXRlc3Rz';
  const texts = [
    `Write to jane.doe@example.com or call +44 20 7946 0958 today. ${'Plain words follow here. '.repeat(8)}`,
    `Use the header Authorization: Bearer ${jwt} and then password: "correct horse battery staple" please.`,
    `config: api_key = sk-proj-FAKEFAKEabcdefghijklmnopqrstuvwxyz0123456789 and card 4111 1111 1111 1111 ok`,
  ];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const text of texts) {
    const whole = new StreamGuard({ detectors: piiSecretDetectors, action: 'redact' });
    const expected = whole.push(text).emit + whole.end().emit;
    for (let round = 0; round < 30; round++) {
      const guard = new StreamGuard({ detectors: piiSecretDetectors, action: 'redact' });
      let out = '';
      for (let at = 0; at < text.length;) {
        const size = 1 + Math.floor(random() * 12);
        out += guard.push(text.slice(at, at + size)).emit;
        at += size;
      }
      out += guard.end().emit;
      assert.equal(out, expected, `round ${round}`);
    }
    assert.ok(!expected.includes('jane.doe@example.com') && !expected.includes(jwt) && !expected.includes('4111 1111'), expected);
  }
  // Prose with no secret-sounding word: what is held is the last word and the spaced patterns' reach, not 1 KB.
  const guard = new StreamGuard({ detectors: piiSecretDetectors, action: 'redact' });
  const prose = 'The quick brown fox jumps over the lazy dog near the river bank. '.repeat(4);
  const emitted = guard.push(prose).emit;
  assert.ok(prose.length - emitted.length <= 48, `held ${prose.length - emitted.length} characters`);
});
