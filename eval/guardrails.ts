// npm run eval:guardrails — runs the built-in detectors over the labelled corpus in
// eval/guardrails/corpus/ and prints precision and recall per detector and per kind, for the tune
// half, the held-out half and both.
//
//   node eval/guardrails.ts                  markdown tables (tune, holdout, all)
//   node eval/guardrails.ts --json           the same figures as JSON
//   node eval/guardrails.ts --check          also exit 1 when a quality target is missed
//   node eval/guardrails.ts --split tune     only that split's table (tune while tuning: never look
//                                            at holdout results while changing a detector)
//   node eval/guardrails.ts --errors         also list the case ids each row got wrong

import { join } from 'node:path';
import { builtinDetectors } from '../src/guardrails/detectors/builtin-detectors.ts';
import { evaluate, knownLabels, loadCorpus, missedTargets, SPLITS, validate, type SplitOrAll } from './guardrails/harness.ts';
import { errors, json, markdown } from './guardrails/report.ts';

const args = process.argv.slice(2);
const splitArg = args.includes('--split') ? args[args.indexOf('--split') + 1] : undefined;
if (splitArg !== undefined && !SPLITS.includes(splitArg as SplitOrAll)) {
  console.error(`--split must be one of ${SPLITS.join(', ')}`);
  process.exit(2);
}
const splits: readonly SplitOrAll[] = splitArg === undefined ? SPLITS : [splitArg as SplitOrAll];

const detectors = builtinDetectors();
const cases = loadCorpus(join(import.meta.dirname, 'guardrails', 'corpus'));
const problems = validate(cases, knownLabels(detectors));
if (problems.length > 0) {
  console.error(`The corpus has ${problems.length} format problems:\n${problems.join('\n')}`);
  process.exit(2);
}
const result = evaluate(cases, detectors);
console.log(args.includes('--json') ? json(result) : markdown(result, splits));
if (args.includes('--errors')) console.log(errors(result, splits));
if (args.includes('--check')) {
  const missed = missedTargets(result);
  if (missed.length > 0) {
    console.error(`Targets missed:\n${missed.join('\n')}`);
    process.exit(1);
  }
  console.error('All targets met.');
}
