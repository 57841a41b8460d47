// What the semantic cache embeds: the window of turns (the last user turn, what follows it, the
// configured context before it, the system prompt if asked), attachments as markers and as an
// exact key, and the conversion of OpenAI and Anthropic requests.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromAnthropicRequest, fromOpenAiMessages } from '../../src/cache/semantic-conversation.ts';
import { attachmentKey, semanticText, type SemanticConversation } from '../../src/cache/semantic-text.ts';

const alone = { contextTurns: 0, includeSystem: false };

const chat: SemanticConversation = {
  system: 'You are terse.',
  turns: [
    { role: 'user', text: 'first question' },
    { role: 'assistant', text: 'first answer' },
    { role: 'user', text: ' second question ' },
  ],
};

test('semantic text: the last user turn alone is its text', () => {
  assert.equal(semanticText(chat, alone), 'second question');
});

test('semantic text: context turns and the system prompt are labelled lines, oldest first', () => {
  assert.equal(semanticText(chat, { contextTurns: 1, includeSystem: false }), 'assistant: first answer\nuser: second question');
  assert.equal(semanticText(chat, { contextTurns: 5, includeSystem: true }), 'system: You are terse.\nuser: first question\nassistant: first answer\nuser: second question');
  assert.equal(semanticText({ system: '  ', turns: chat.turns }, { contextTurns: 0, includeSystem: true }), 'second question');
  assert.equal(semanticText(chat, { contextTurns: 0, includeSystem: true }), 'system: You are terse.\nuser: second question');
});

test('semantic text: what follows the last user turn (tool results, a prefill) is always included', () => {
  const withTool: SemanticConversation = { system: '', turns: [...chat.turns, { role: 'assistant', text: 'lookup {"q":1}' }, { role: 'tool', text: 'result 42' }] };
  assert.equal(semanticText(withTool, alone), 'user: second question\nassistant: lookup {"q":1}\ntool: result 42');
});

test('semantic text: no user turn, no text; a bad contextTurns is refused', () => {
  assert.equal(semanticText({ system: 'sys', turns: [{ role: 'assistant', text: 'hi' }] }, alone), undefined);
  assert.equal(semanticText({ system: 'sys', turns: [] }, { contextTurns: 0, includeSystem: true }), undefined);
  assert.throws(() => semanticText(chat, { contextTurns: -1, includeSystem: false }), RangeError);
  assert.throws(() => semanticText(chat, { contextTurns: 1.5, includeSystem: false }), RangeError);
});

test('semantic text: attachments change the text and the attachment key; none gives an empty key', () => {
  const image = (url: string) => fromOpenAiMessages([{ role: 'user', content: [{ type: 'text', text: 'Describe this image' }, { type: 'image_url', image_url: { url } }] }]);
  const a = image('https://example.com/a.png');
  const b = image('https://example.com/b.png');
  assert.notEqual(semanticText(a, alone), semanticText(b, alone));
  assert.match(semanticText(a, alone)!, /^Describe this image \[attachment [\w-]+\]$/);
  assert.notEqual(attachmentKey(a, alone), '');
  assert.notEqual(attachmentKey(a, alone), attachmentKey(b, alone));
  assert.equal(attachmentKey(a, alone), attachmentKey(image('https://example.com/a.png'), alone));
  assert.equal(attachmentKey(chat, alone), '');
  // Only the window counts: an image in a turn left out of the window does not.
  const earlier: SemanticConversation = { system: '', turns: [...a.turns, { role: 'assistant', text: 'a cat' }, { role: 'user', text: 'thanks' }] };
  assert.equal(attachmentKey(earlier, alone), '');
  assert.notEqual(attachmentKey(earlier, { contextTurns: 2, includeSystem: false }), '');
});

test('semantic conversation: OpenAI messages — system and developer make the system prompt; parts, tool calls, refusals', () => {
  const conversation = fromOpenAiMessages([
    { role: 'system', content: 'Be brief.' },
    { role: 'developer', content: [{ type: 'text', text: 'No emojis.' }] },
    { role: 'user', content: [{ type: 'text', text: 'Weather in' }, { type: 'text', text: 'Paris?' }, { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: '18C, cloudy' },
    { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot.' }] },
    'junk',
    { content: 'no role' },
  ]);
  assert.equal(conversation.system, 'Be brief.\nNo emojis.');
  assert.deepEqual(conversation.turns.map((t) => [t.role, t.text, t.attachments?.length ?? 0]), [
    ['user', 'Weather in\nParis?', 1],
    ['assistant', 'weather {"city":"Paris"}', 0],
    ['tool', '18C, cloudy', 0],
    ['assistant', 'I cannot.', 0],
  ]);
});

test('semantic conversation: Anthropic requests — system string or blocks; text, tool use, tool results, images', () => {
  const blocks = fromAnthropicRequest([{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Be kind.' }], [
    { role: 'user', content: 'What is in this picture?' },
    { role: 'assistant', content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 't1', name: 'vision', input: { detail: 'high' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'a cat' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } }] }] },
  ]);
  assert.equal(blocks.system, 'Be brief.\nBe kind.');
  assert.deepEqual(blocks.turns.map((t) => [t.role, t.text, t.attachments?.length ?? 0]), [
    ['user', 'What is in this picture?', 0],
    ['assistant', 'Let me look.\nvision {"detail":"high"}', 0],
    ['user', 'a cat', 1],
  ]);
  assert.equal(fromAnthropicRequest('Plain system.', []).system, 'Plain system.');
  assert.equal(fromAnthropicRequest(undefined, [{ role: 'user', content: 'hi' }]).system, '');
  // The same question through either API embeds the same text.
  const openai = fromOpenAiMessages([{ role: 'system', content: 'S' }, { role: 'user', content: 'Same question?' }]);
  const anthropic = fromAnthropicRequest('S', [{ role: 'user', content: [{ type: 'text', text: 'Same question?' }] }]);
  for (const options of [alone, { contextTurns: 2, includeSystem: true }]) assert.equal(semanticText(openai, options), semanticText(anthropic, options));
});
