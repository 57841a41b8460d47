import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulateChat, toChunks, toCompletion } from '../../../src/providers/simulator/simulator-chat.ts';
import type { ChatRequest } from '../../../src/providers/types.ts';

const REQ: ChatRequest = { model: 'sim-1', messages: [{ role: 'user', content: 'How do budgets work?' }] };

function answer(req: ChatRequest, output = 30) {
  const sim = simulateChat(req, output, 0);
  const streamed = toChunks(sim, false).filter((c) => c.choices[0]?.index === 0).map((c) => c.choices[0]!.delta.content ?? '').join('');
  const c = toCompletion(sim);
  assert.equal(streamed, c.choices[0]!.message.content, 'the stream reassembles to the same content');
  return { content: c.choices[0]!.message.content!, finish: c.choices[0]!.finish_reason, tokens: sim.usage.completion_tokens, id: c.id, prompt: sim.usage.prompt_tokens, chunks: sim.choices[0]!.tokens };
}

test('a stop sequence spanning a token boundary cuts before its first character', () => {
  const full = answer(REQ);
  const tokens = simulateChat(REQ, 30, 0).choices[0]!.tokens;
  for (let i = 1; i < 6; i++) {
    const at = tokens.slice(0, i).join('').length;
    const stop = full.content.slice(Math.max(0, at - 3), at + 2);
    const cut = answer({ ...REQ, stop });
    assert.equal(cut.content, full.content.slice(0, full.content.indexOf(stop)), `stop ${JSON.stringify(stop)}`);
    assert.equal(cut.finish, 'stop');
    assert.equal(cut.tokens, cut.chunks.length);
    assert.ok(cut.tokens <= i, `${cut.tokens} tokens before a stop inside token ${i}`);
  }
  const first = full.content.slice(0, 6);
  assert.equal(answer({ ...REQ, stop: first }).content, '', 'a stop at the very start leaves nothing');
});

test('with several stop sequences the first one to appear wins, wherever it is in the list', () => {
  const full = answer(REQ).content;
  const early = full.slice(8, 12);
  const late = full.slice(20, 26);
  const cut = answer({ ...REQ, stop: ['never-appears', late, early] });
  assert.equal(cut.content, full.slice(0, full.indexOf(early)));
  assert.equal(answer({ ...REQ, stop: ['', 'never-appears'] }).content, full, 'an empty stop string is ignored');
});

test('a stop sequence beyond max_tokens leaves a length-truncated answer', () => {
  const full = answer(REQ);
  const cut = answer({ ...REQ, max_tokens: 3, stop: full.content.slice(-8) });
  assert.equal(cut.finish, 'length');
  assert.equal(cut.tokens, 3);
});

test('content parts and a plain string are the same prompt: same answer and usage', () => {
  const plain = answer({ ...REQ, messages: [{ role: 'user', content: 'hello there' }] });
  const parts = answer({ ...REQ, messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }] });
  assert.equal(parts.content, plain.content);
  assert.equal(parts.prompt, plain.prompt);
  assert.equal(plain.prompt, 2 + 3, 'two words plus the per-message overhead');
});

test('an image part counts a fixed number of tokens and changes the answer', () => {
  const plain = answer({ ...REQ, messages: [{ role: 'user', content: 'what is this' }] });
  const image = (url: string): ChatRequest => ({ ...REQ, messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url } }] }] });
  const a = answer(image('https://example.com/a.png'));
  assert.equal(a.prompt, plain.prompt + 85);
  assert.equal(answer(image('https://example.com/averyveryverylongname/b.png')).prompt, a.prompt, 'the URL is not counted as text');
  assert.notEqual(a.content, plain.content);
  assert.notEqual(answer(image('https://example.com/b.png')).content, a.content);
});

test('assistant tool calls count as prompt text; null content counts nothing', () => {
  const base: ChatRequest['messages'] = [{ role: 'user', content: 'hi' }];
  const withCall = answer({ ...REQ, messages: [...base, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] }] });
  const empty = answer({ ...REQ, messages: [...base, { role: 'assistant', content: null }] });
  assert.equal(empty.prompt, 1 + 3 + 3);
  assert.ok(withCall.prompt > empty.prompt);
});

test('the id reflects output-affecting params; the same request keeps its id and content', () => {
  const base = answer(REQ);
  assert.equal(answer(structuredClone(REQ)).id, base.id);
  assert.equal(answer({ ...REQ, stream: true, user: 'u1' }).id, base.id, 'stream and user do not change the answer');
  const variants: Partial<ChatRequest>[] = [
    { n: 2 }, { stop: 'zzz' }, { max_tokens: 100 }, { max_completion_tokens: 100 }, { response_format: { type: 'text' } }, { temperature: 0.3 }, { seed: 7 },
    { tools: [{ type: 'function', function: { name: 'nothing_named' } }] }, { tool_choice: 'none' },
  ];
  const ids = new Set([base.id]);
  for (const v of variants) {
    const other = answer({ ...REQ, ...v });
    assert.ok(!ids.has(other.id), `${JSON.stringify(v)} gets its own id`);
    ids.add(other.id);
    assert.equal(answer({ ...REQ, ...v }).id, other.id, `${JSON.stringify(v)} is deterministic`);
  }
  assert.equal(answer({ ...REQ, temperature: 0.3, seed: 7, max_tokens: 100 }).content, base.content, 'params that do not shorten the text leave it as is');
});
