// The exact cache key: what changes it (every parameter that can change the answer, including
// ones the gateway does not know), what does not (key order, whitespace, delivery and
// attribution fields), and that it leaves the body alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IGNORED_FIELDS, canonicalJson, exactCacheKey } from '../../src/cache/request-hash.ts';

const BODY = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello' },
  ],
  temperature: 0.2,
};

const key = (body: Record<string, unknown>, alias = 'chat-default', endpoint: 'chat' | 'messages' = 'chat') => exactCacheKey(alias, body, endpoint);

test('the key is SHA-256 hex, stable, and the body is not changed', () => {
  const body = structuredClone(BODY);
  const k = key(body);
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(key(body), k);
  assert.deepEqual(body, BODY);
});

test('key order at every depth and whitespace do not matter; undefined members are dropped', () => {
  const reordered = JSON.parse(`{ "temperature": 0.2,
    "messages": [ {"content": "Be brief.", "role": "system"}, {"content":"Hello","role":"user"} ],
    "model": "gpt-4o" }`);
  assert.equal(key(reordered), key(BODY));
  assert.equal(key({ ...BODY, top_p: undefined, messages: [{ ...BODY.messages[0], name: undefined }, BODY.messages[1]] }), key(BODY));
  assert.equal(key({ ...BODY, temperature: 1.0 }), key({ ...BODY, temperature: 1 }));
});

test('fields that do not change the answer do not change the key', () => {
  const variants: Record<string, unknown>[] = [
    { model: 'some-other-name' },
    { stream: true, stream_options: { include_usage: true } },
    { user: 'end-user-1' },
    { safety_identifier: 'u-1' },
    { metadata: { user_id: 'u-2', trace: 'x' } },
    { prompt_cache_key: 'pck' },
    { cache: { 'no-cache': true, ttl: 60 } },
    { tenant: 'acme', tenant_id: 'acme', feature: 'search', feature_id: 'search' },
  ];
  for (const extra of variants) assert.equal(key({ ...BODY, ...extra }), key(BODY), JSON.stringify(extra));
  assert.ok(IGNORED_FIELDS.has('model') && !IGNORED_FIELDS.has('temperature'));
});

test('every parameter that changes the answer changes the key, including unknown ones', () => {
  const variants: Record<string, unknown>[] = [
    { temperature: 0.3 },
    { temperature: null },
    { top_p: 0.9 },
    { top_k: 40 },
    { max_tokens: 100 },
    { max_completion_tokens: 100 },
    { stop: ['\n'] },
    { n: 2 },
    { seed: 7 },
    { logit_bias: { '50256': -100 } },
    { presence_penalty: 0.5 },
    { frequency_penalty: 0.5 },
    { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] },
    { tool_choice: 'required' },
    { response_format: { type: 'json_object' } },
    { system: 'You are terse.' },
    { reasoning_effort: 'high' },
    { a_parameter_invented_tomorrow: true },
    { messages: [...BODY.messages, { role: 'assistant', content: 'Hi' }] },
    { messages: [BODY.messages[1], BODY.messages[0]] },
    { messages: [BODY.messages[0], { role: 'user', content: 'Hello ' }] },
    { messages: [BODY.messages[0], { role: 'user', content: 'Héllo' }] },
    JSON.parse('{"__proto__": {"temperature": 0.2}}'),
  ];
  const keys = new Set([key(BODY)]);
  for (const change of variants) {
    const k = key({ ...BODY, ...change });
    assert.ok(!keys.has(k), `${JSON.stringify(change)} did not change the key (or collided)`);
    keys.add(k);
  }
});

test('the alias and the endpoint are part of the key; a body field cannot pose as them', () => {
  assert.notEqual(key(BODY, 'a'), key(BODY, 'b'));
  assert.notEqual(key(BODY, 'a', 'chat'), key(BODY, 'a', 'messages'));
  assert.notEqual(key({ ...BODY, alias: 'b' }, 'a'), key(BODY, 'b'));
  assert.notEqual(key({ ...BODY, endpoint: 'messages' }, 'a', 'chat'), key(BODY, 'a', 'messages'));
});

test('only top-level fields are ignored: nested metadata, user or model count', () => {
  const tool = (props: Record<string, unknown>) => ({ ...BODY, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: props } } }] });
  assert.notEqual(key(tool({ metadata: { type: 'string' } })), key(tool({})));
  assert.notEqual(key(tool({ user: { type: 'string' } })), key(tool({})));
  assert.notEqual(key({ ...BODY, messages: [{ role: 'user', content: 'Hello', metadata: 1 }] }), key({ ...BODY, messages: [{ role: 'user', content: 'Hello' }] }));
});

test('canonicalJson: JSON with sorted keys, array positions kept, cycles refused', () => {
  assert.equal(canonicalJson({ b: 1, a: [3, undefined, { d: null, c: 'x' }], e: undefined }), '{"a":[3,null,{"c":"x","d":null}],"b":1}');
  assert.equal(canonicalJson({ '\u00e9': 1, z: 2, A: 3 }), '{"A":3,"z":2,"é":1}');
  assert.equal(canonicalJson([-0, 1e21, 'a"b']), '[0,1e+21,"a\\"b"]');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.throws(() => canonicalJson(cycle), TypeError);
  // The same object twice (not a cycle) is fine.
  const shared = { x: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
});
