import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spliceModel } from '../../../src/providers/shared/model-splice.ts';

test('replaces only the model value and keeps every other byte', () => {
  const text = '{ "messages": [{"role":"user","content":"say \\"model\\": \\"x\\""}],\n  "model" :  "my-alias", "temperature":0.10}';
  const out = spliceModel(text, 'my-alias', 'gpt-4o-mini');
  assert.equal(out, '{ "messages": [{"role":"user","content":"say \\"model\\": \\"x\\""}],\n  "model" :  "gpt-4o-mini", "temperature":0.10}');
  assert.deepEqual(JSON.parse(out!), { ...JSON.parse(text), model: 'gpt-4o-mini' });
});

test('escaped alias values and targets that need escaping', () => {
  const out = spliceModel('{"model":"a\\/b"}', 'a/b', 'org/"quoted"');
  assert.deepEqual(JSON.parse(out!), { model: 'org/"quoted"' });
});

test('declines when the value differs or there is no model', () => {
  assert.equal(spliceModel('{"model":"a","metadata":{"model":"b"}}', 'a', 'x'), '{"model":"x","metadata":{"model":"b"}}');
  assert.equal(spliceModel('{"model":"a"}', 'b', 'x'), undefined);
  assert.equal(spliceModel('{"messages":[]}', 'a', 'x'), undefined);
});

test('an escaped spelling of the key counts as the key: no splice that would leave the real model untouched', () => {
  // JSON.parse sees model "gpt-4o" via "mod\u0065l"; a nested "model" must not be rewritten instead.
  assert.equal(spliceModel('{"mod\\u0065l":"gpt-4o","messages":[],"metadata":{"model":"gpt-4o"}}', 'gpt-4o', 'gpt-4o-mini'), '{"mod\\u0065l":"gpt-4o-mini","messages":[],"metadata":{"model":"gpt-4o"}}');
  assert.equal(spliceModel('{"model":"A","mod\\u0065l":"A"}', 'A', 'B'), undefined, 'duplicate top-level key');
});

test('nested model keys are ignored; only the top-level one is pinned', () => {
  const text = '{"metadata":{"model":"x"},"tools":[{"model":"y"}],"model":"alias","n":1}';
  assert.equal(spliceModel(text, 'alias', 'pinned'), '{"metadata":{"model":"x"},"tools":[{"model":"y"}],"model":"pinned","n":1}');
});

test('strings with braces, brackets, commas and escaped quotes do not confuse the scan', () => {
  const text = '{"messages":[{"role":"user","content":"a } ] , \\" \\\\\\" { \\"model\\":1"}],"model":"alias"}';
  const out = spliceModel(text, 'alias', 'pinned');
  assert.deepEqual(JSON.parse(out!), { ...JSON.parse(text), model: 'pinned' });
});

test('a non-string model or a non-object body is declined', () => {
  assert.equal(spliceModel('{"model":5}', '5', 'x'), undefined);
  assert.equal(spliceModel('["model","a"]', 'a', 'x'), undefined);
});
