// A cached completion replayed as an OpenAI stream, and a stream assembled back into the
// completion: the round trip is lossless for text, refusals, tool calls, finish reasons and usage.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayChunks, replayStream } from '../../src/cache/completion-replay.ts';
import { StreamAssembler } from '../../src/cache/stream-assembler.ts';
import type { ChatCompletion } from '../../src/providers/types.ts';

const usage = { prompt_tokens: 12, completion_tokens: 150, total_tokens: 162 };
const completion: ChatCompletion = {
  id: 'chatcmpl-replay', object: 'chat.completion', created: 1_764_000_000, model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_1',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'A long answer with an emoji 😀 '.repeat(10) }, finish_reason: 'stop', logprobs: null },
    { index: 1, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls', logprobs: null },
  ],
  usage,
};

test('the replay has the chunk shape of a provider stream, role first, usage last, then [DONE]', () => {
  const chunks = replayChunks(completion, true);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, completion.id);
    assert.equal(c.model, completion.model);
    assert.equal(c.system_fingerprint, 'fp_1');
  }
  assert.deepEqual(chunks[0]!.choices[0]!.delta, { role: 'assistant', content: '' });
  assert.deepEqual(chunks.at(-1)!.choices, []);
  assert.deepEqual(chunks.at(-1)!.usage, usage);
  const text = replayStream(completion, false);
  assert.ok(text.endsWith('data: [DONE]\n\n'));
  assert.ok(!text.includes('"usage"'), 'no usage chunk unless the client asked');
  for (const event of text.trim().split('\n\n')) assert.match(event, /^data: /);
  // No piece ends inside a surrogate pair.
  for (const c of chunks) {
    const content = c.choices[0]?.delta.content;
    if (typeof content === 'string' && content.length > 0) assert.ok(!/[\ud800-\udbff]$/.test(content) && !/^[\udc00-\udfff]/.test(content));
  }
});

test('assembling the replayed chunks gives the completion back', () => {
  const assembler = new StreamAssembler();
  for (const c of replayChunks(completion, true)) assembler.add(JSON.parse(JSON.stringify(c)));
  assert.deepEqual(assembler.completion(), completion);
});

test('a stream whose choice never finished assembles to nothing (it is not cached)', () => {
  const assembler = new StreamAssembler();
  const chunks = replayChunks(completion, false);
  for (const c of chunks.slice(0, 3)) assembler.add(c);
  assert.equal(assembler.completion(), undefined);
  assert.equal(new StreamAssembler().completion(), undefined);
});
