// The labelled guardrail corpus (eval/guardrails/corpus/*.jsonl): every file parses, ids are
// unique, roles, splits and labels are known, about half the cases are held out, and the built-in
// detectors meet the quality targets on the whole corpus (the same check as
// `node eval/guardrails.ts --check`), so CI keeps them.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { builtinDetectors } from '../../src/guardrails/detectors/builtin-detectors.ts';
import { evaluate, knownLabels, loadCorpus, missedTargets, validate } from '../../eval/guardrails/harness.ts';

const CORPUS = join(import.meta.dirname, '..', '..', 'eval', 'guardrails', 'corpus');

describe('guardrail evaluation corpus', () => {
  const detectors = builtinDetectors();
  const cases = loadCorpus(CORPUS);

  test('every case is well-formed, with a unique id and known labels', () => {
    assert.deepEqual(validate(cases, knownLabels(detectors)), []);
  });

  test('the validator catches malformed cases', () => {
    const good = { id: 'x-1', role: 'user', text: 'hi', labels: [], split: 'tune', file: 't.jsonl:1' } as const;
    const problems = validate(
      [good, { ...good, file: 't.jsonl:2' }, { ...good, id: 'x-2', role: 'robot' as never, labels: ['nope'], split: 'dev' as never }, { ...good, id: 'x-3', labels: ['leak.system_prompt'] }],
      knownLabels(detectors),
    );
    assert.equal(problems.length, 5, problems.join('\n'));
  });

  test('at least 300 cases, about half of them held out, both splits with positives and negatives', () => {
    assert.ok(cases.length >= 300, `${cases.length} cases`);
    const holdout = cases.filter((c) => c.split === 'holdout');
    assert.ok(holdout.length >= cases.length * 0.4 && holdout.length <= cases.length * 0.6, `${holdout.length} of ${cases.length} held out`);
    for (const split of ['tune', 'holdout'])
      for (const kind of ['injection.', ''])
        assert.ok(
          cases.some((c) => c.split === split && (kind === '' ? c.labels.length === 0 : c.labels.some((l) => l.startsWith(kind)))),
          `${split} has ${kind || 'unlabelled'} cases`,
        );
  });

  test('injection and benign cases: at least 200, covering every injection detector and untrusted roles', () => {
    const mine = cases.filter((c) => /^(injection|benign)\.jsonl/.test(c.file));
    assert.ok(mine.length >= 200, `${mine.length} cases`);
    for (const d of detectors.filter((x) => x.kind === 'injection')) assert.ok(mine.filter((c) => c.labels.includes(d.name)).length >= 10, d.name);
    assert.ok(mine.some((c) => c.role === 'tool' && c.labels.length > 0) && mine.some((c) => c.role === 'context' && c.labels.length > 0));
    assert.ok(mine.some((c) => c.role === 'tool' && c.labels.length === 0) && mine.some((c) => c.role === 'context' && c.labels.length === 0));
  });

  test('the built-in detectors meet the quality targets on the whole corpus', () => {
    assert.deepEqual(missedTargets(evaluate(cases, detectors)), []);
  });
});
