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

test('declines when the key appears twice or the value differs', () => {
  assert.equal(spliceModel('{"model":"a","metadata":{"model":"b"}}', 'a', 'x'), undefined);
  assert.equal(spliceModel('{"model":"a"}', 'b', 'x'), undefined);
  assert.equal(spliceModel('{"messages":[]}', 'a', 'x'), undefined);
});
