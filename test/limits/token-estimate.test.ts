// Token estimates: exact counts against OpenAI's tokenizer, the cookbook's chat accounting, tools,
// images, embeddings, Anthropic bodies, output maxima, lazy loading, and the bounds on huge input.
//
// Where expected counts come from:
// - token ids and the 129/124-token chat example: OpenAI's cookbook "How to count tokens with
//   tiktoken" (the ids as printed there; 129 and 124 as billed by the API);
// - the other counts: tiktoken 1.0.22 from npm, the WASM build of OpenAI's Rust tokenizer, run
//   separately (not gpt-tokenizer, the library under test).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { countTokens, encodingFor, loadEncoding, type EncodingName } from '../../src/limits/token-encodings.ts';
import {
  ANTHROPIC_IMAGE_TOKENS,
  ANTHROPIC_TOOL_PROMPT_TOKENS,
  createTokenEstimator,
  DEFAULT_MAX_OUTPUT_TOKENS,
  IMAGE_TOKENS_HIGH,
  IMAGE_TOKENS_LOW,
  maxOutputTokens,
  TOKENS_PER_TOOL_CALL,
} from '../../src/limits/token-estimate.ts';
import type { ChatMessage, ChatRequest, FunctionTool } from '../../src/providers/types.ts';

const estimator = createTokenEstimator();
const BOTH: EncodingName[] = ['o200k_base', 'cl100k_base'];
const chat = (messages: ChatMessage[], extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'gpt-4o', messages, ...extra });

test('token ids match the cookbook for both encodings', () => {
  const cookbook: Record<string, Partial<Record<EncodingName, number[]>>> = {
    'tiktoken is great!': { o200k_base: [83, 8251, 2488, 382, 2212, 0] },
    antidisestablishmentarianism: { cl100k_base: [519, 85342, 34500, 479, 8997, 2191], o200k_base: [493, 129901, 376, 160388, 21203, 2367] },
    '2 + 2 = 4': { cl100k_base: [17, 489, 220, 17, 284, 220, 19], o200k_base: [17, 659, 220, 17, 314, 220, 19] },
    'お誕生日おめでとう': { cl100k_base: [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699], o200k_base: [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669] },
  };
  for (const [text, ids] of Object.entries(cookbook)) {
    for (const [name, expected] of Object.entries(ids)) assert.deepEqual(loadEncoding(name as EncodingName).encode(text), expected, `${name}: ${text}`);
  }
});

test('exact counts for fixed strings, non-ASCII and emoji included', () => {
  // [text, o200k_base, cl100k_base]
  const cases: [string, number, number][] = [
    ['hello world', 2, 2],
    ['Hello, world!', 4, 4],
    ['tiktoken is great!', 6, 6],
    ['お誕生日おめでとう', 8, 9],
    ['Привет, мир!', 5, 7],
    ['Ελληνικά κείμενα', 6, 16],
    ['مرحبا بالعالم', 4, 10],
    ['naïve café résumé', 5, 7],
    ['👋🌍 héllo wörld', 9, 12],
    ['👨‍👩‍👧‍👦 family emoji', 13, 20],
    ['function add(a, b) {\n  return a + b;\n}\n', 14, 14],
    ['   leading and trailing   ', 5, 5],
    ['line one\n\nline two\r\n', 6, 6],
    ['<|endoftext|>', 7, 7], // special-token text in a prompt is ordinary text
  ];
  for (const [text, o200k, cl100k] of cases) {
    assert.equal(estimator.textTokens(text, 'o200k_base'), o200k, `o200k_base: ${JSON.stringify(text)}`);
    assert.equal(estimator.textTokens(text, 'cl100k_base'), cl100k, `cl100k_base: ${JSON.stringify(text)}`);
  }
  assert.equal(estimator.textTokens(''), 0);
});

// The cookbook's example conversation: the API billed 129 prompt tokens on gpt-3.5-turbo and gpt-4
// (cl100k_base), 124 on gpt-4o and gpt-4o-mini (o200k_base).
const COOKBOOK_MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

test('chat accounting reproduces the cookbook: 129 tokens in cl100k_base, 124 in o200k_base', () => {
  for (const model of ['gpt-3.5-turbo', 'gpt-4', 'gpt-4-0613']) assert.equal(estimator.chatInputTokens(chat(COOKBOOK_MESSAGES, { model })), 129, model);
  for (const model of ['gpt-4o', 'gpt-4o-mini']) assert.equal(estimator.chatInputTokens(chat(COOKBOOK_MESSAGES, { model })), 124, model);
  // The encoding argument overrides the model's.
  assert.equal(estimator.chatInputTokens(chat(COOKBOOK_MESSAGES, { model: 'my-alias' }), 'cl100k_base'), 129);
});

test('chat overhead: 3 per message plus its role, 1 more and the name for a name, 3 to prime the reply', () => {
  assert.equal(estimator.chatInputTokens(chat([])), 3);
  assert.equal(estimator.chatInputTokens(chat([{ role: 'user', content: 'hello world' }])), 3 + 1 + 2 + 3);
  assert.equal(estimator.chatInputTokens(chat([{ role: 'user', name: 'example_user', content: 'hello world' }])), 3 + 1 + 2 + 3 + 1 + estimator.textTokens('example_user'));
  // Content parts: the text parts' tokens, as if one string.
  const parts = estimator.chatInputTokens(chat([{ role: 'user', content: [{ type: 'text', text: 'hello' }, { type: 'text', text: ' world' }] }]));
  assert.equal(parts, 3 + 1 + 2 + 3);
  // Malformed messages count nothing rather than throw.
  assert.equal(estimator.chatInputTokens(chat([null, 42, { role: 'user', content: { not: 'content' } }] as unknown as ChatMessage[])), 3 + 1 + 3);
});

const WEATHER_TOOL: FunctionTool = {
  type: 'function',
  function: {
    name: 'get_current_weather',
    description: 'Get the current weather in a given location',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
        unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['location'],
    },
  },
};

test('tool definitions are counted as their JSON (an over-estimate of the cookbook example)', () => {
  const messages: ChatMessage[] = [
    { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
    { role: 'user', content: "What's the weather like in San Francisco?" },
  ];
  for (const [model, billed] of [['gpt-4o', 101], ['gpt-4', 105]] as const) {
    const without = estimator.chatInputTokens(chat(messages, { model }));
    const withTools = estimator.chatInputTokens(chat(messages, { model, tools: [WEATHER_TOOL] }));
    assert.equal(withTools - without, estimator.textTokens(JSON.stringify([WEATHER_TOOL]), encodingFor(model)));
    // The cookbook's billed counts; serialised JSON over-counts OpenAI's internal rendering by < 20 %.
    assert.ok(withTools >= billed && withTools <= billed * 1.2, `${model}: ${withTools} against ${billed} billed`);
  }
  const schema = { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { city: { type: 'string' } } } } };
  const plain = estimator.chatInputTokens(chat(messages));
  assert.equal(estimator.chatInputTokens(chat(messages, { response_format: schema })) - plain, estimator.textTokens(JSON.stringify(schema.json_schema)));
});

test('tool calls and tool results are counted; ids are not', () => {
  const call = { id: 'call_abc123', type: 'function' as const, function: { name: 'get_current_weather', arguments: '{"location":"Paris"}' } };
  const assistant = estimator.chatInputTokens(chat([{ role: 'assistant', content: null, tool_calls: [call] }]));
  assert.equal(assistant, 3 + 1 + TOKENS_PER_TOOL_CALL + estimator.textTokens('get_current_weather') + estimator.textTokens('{"location":"Paris"}') + 3);
  const result = estimator.chatInputTokens(chat([{ role: 'tool', tool_call_id: 'call_abc123', content: '{"temperature":21}' }]));
  assert.equal(result, 3 + 1 + estimator.textTokens('{"temperature":21}') + 3);
});

test('images cost a fixed estimate by detail, whatever the size of the data URL', () => {
  const image = (detail?: string, url = 'https://example.com/cat.png') => chat([{ role: 'user', content: [{ type: 'image_url', image_url: detail ? { url, detail } : { url } }] }]);
  const base = 3 + 1 + 3;
  assert.equal(estimator.chatInputTokens(image('low')), base + IMAGE_TOKENS_LOW);
  assert.equal(estimator.chatInputTokens(image('high')), base + IMAGE_TOKENS_HIGH);
  assert.equal(estimator.chatInputTokens(image('auto')), base + IMAGE_TOKENS_HIGH);
  assert.equal(estimator.chatInputTokens(image()), base + IMAGE_TOKENS_HIGH);
  assert.equal(estimator.chatInputTokens(image('low', `data:image/png;base64,${'iVBORw0KGgo'.repeat(100_000)}`)), base + IMAGE_TOKENS_LOW);
  // An audio part's base64 payload is left out; the rest of the part is counted.
  const audio = estimator.chatInputTokens(chat([{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGR'.repeat(50_000), format: 'wav' } }] }]));
  assert.ok(audio > base && audio < base + 40, `audio part: ${audio}`);
});

test('embeddings: strings are tokenized, a token array counts its length', () => {
  assert.equal(estimator.embeddingsInputTokens({ model: 'text-embedding-3-small', input: 'hello world' }), 2);
  assert.equal(estimator.embeddingsInputTokens({ model: 'text-embedding-3-small', input: ['hello world', 'Привет, мир!'] }), 2 + 7);
  assert.equal(estimator.embeddingsInputTokens({ model: 'text-embedding-3-small', input: [15339, 1917, 0] }), 3);
  assert.equal(estimator.embeddingsInputTokens({ model: 'text-embedding-3-small', input: [[15339, 1917], [0]] }), 3);
  // The model picks the encoding: text-embedding-3 is cl100k_base.
  assert.equal(estimator.embeddingsInputTokens({ model: 'text-embedding-3-large', input: 'Ελληνικά κείμενα' }), 16);
});

test('Anthropic bodies: close to the two published count_tokens examples', () => {
  // Anthropic's token-counting guide: 14 input tokens for this body, and 403 for the one with a tool.
  const hello = estimator.messagesInputTokens({ model: 'claude-sonnet-4-5', system: 'You are a scientist', messages: [{ role: 'user', content: 'Hello, Claude' }] });
  assert.ok(Math.abs(hello - 14) <= 14 * 0.1, `hello: ${hello} against 14`);
  const tools = [
    {
      name: 'get_weather',
      description: 'Get the current weather in a given location',
      input_schema: { type: 'object', properties: { location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' } }, required: ['location'] },
    },
  ];
  const withTool = estimator.messagesInputTokens({ model: 'claude-sonnet-4-5', tools, messages: [{ role: 'user', content: "What's the weather like in San Francisco?" }] });
  assert.ok(Math.abs(withTool - 403) <= 403 * 0.1, `tools: ${withTool} against 403`);
  const forced = estimator.messagesInputTokens({ model: 'claude-sonnet-4-5', tools, tool_choice: { type: 'any' }, messages: [{ role: 'user', content: "What's the weather like in San Francisco?" }] });
  assert.equal(withTool - forced, ANTHROPIC_TOOL_PROMPT_TOKENS.auto - ANTHROPIC_TOOL_PROMPT_TOKENS.forced);
});

test('Anthropic blocks: system blocks, images, tool_use, tool_result, documents, thinking', () => {
  const one = (content: unknown) => estimator.messagesInputTokens({ messages: [{ role: 'user', content }] });
  const empty = one([]);
  assert.equal(empty, 3 + 3);
  assert.equal(estimator.messagesInputTokens({ system: [{ type: 'text', text: 'hello world' }], messages: [] }), 2 + 3);
  assert.equal(one([{ type: 'text', text: 'hello world' }]), empty + 2);
  assert.equal(one([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo'.repeat(10_000) } }]), empty + ANTHROPIC_IMAGE_TOKENS);
  const input = { location: 'Paris' };
  assert.equal(one([{ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input }]), empty + TOKENS_PER_TOOL_CALL + estimator.textTokens('get_weather') + estimator.textTokens(JSON.stringify(input)));
  assert.equal(one([{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'hello world' }]), empty + TOKENS_PER_TOOL_CALL + 2);
  assert.equal(one([{ type: 'tool_result', tool_use_id: 'toolu_01', content: [{ type: 'text', text: 'hello world' }, { type: 'image', source: {} }] }]), empty + TOKENS_PER_TOOL_CALL + 2 + ANTHROPIC_IMAGE_TOKENS);
  assert.equal(one([{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'hello world' } }]), empty + 2);
  assert.equal(one([{ type: 'thinking', thinking: 'hello world', signature: 'x'.repeat(500) }]), empty + 2);
  assert.equal(one([{ type: 'redacted_thinking', data: 'x'.repeat(500) }]), empty);
});

test('maxOutputTokens: the request, else the model_info, else the default; times n', () => {
  const dep = (modelInfo: Record<string, unknown> = {}) => ({ modelInfo });
  assert.equal(maxOutputTokens({ max_completion_tokens: 500, max_tokens: 900 }, dep({ max_output_tokens: 100 })), 500);
  assert.equal(maxOutputTokens({ max_tokens: 900 }, dep({ max_output_tokens: 100 })), 900);
  assert.equal(maxOutputTokens({}, dep({ max_output_tokens: 16_384, max_tokens: 8192 })), 16_384);
  assert.equal(maxOutputTokens({}, dep({ max_tokens: 8192 })), 8192);
  assert.equal(maxOutputTokens({}, dep()), DEFAULT_MAX_OUTPUT_TOKENS);
  assert.equal(maxOutputTokens({ max_tokens: 100, n: 3 }, dep()), 300);
  assert.equal(maxOutputTokens({ max_tokens: null, max_completion_tokens: 0, n: null }, dep({ max_output_tokens: 'lots' })), DEFAULT_MAX_OUTPUT_TOKENS);
});

test('encodingFor: o200k_base for current families and unknown models, cl100k_base for the older ones', () => {
  const o200k = ['gpt-4o', 'gpt-4o-mini-2024-07-18', 'chatgpt-4o-latest', 'gpt-4.1-nano', 'gpt-4.5-preview', 'gpt-5', 'gpt-5-mini', 'o1', 'o3-mini', 'o4-mini', 'gpt-oss-120b', 'openai/gpt-4o', 'ft:gpt-4o-mini:org::abc', 'claude-sonnet-4-5', 'my-alias', ''];
  const cl100k = ['gpt-4', 'gpt-4-0613', 'gpt-4-turbo', 'gpt-3.5-turbo', 'azure/gpt-35-turbo', 'text-embedding-3-small', 'text-embedding-ada-002', 'ft:gpt-3.5-turbo-0125:org::x'];
  for (const model of o200k) assert.equal(encodingFor(model), 'o200k_base', model);
  for (const model of cl100k) assert.equal(encodingFor(model), 'cl100k_base', model);
});

test('nothing is loaded until the first count: no encoding, no memory', () => {
  const module = fileURLToPath(new URL('../../src/limits/token-estimate.ts', import.meta.url));
  const script = `
    const { createTokenEstimator } = await import(${JSON.stringify(module)});
    const mb = () => process.memoryUsage().rss / 1048576;
    globalThis.gc(); const before = mb();
    const estimator = createTokenEstimator();
    const beforeCount = estimator.loaded();
    globalThis.gc(); const idle = mb();
    const n = estimator.chatInputTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello world' }] });
    globalThis.gc(); const after = mb();
    console.log(JSON.stringify({ beforeCount, afterCount: estimator.loaded(), idle: idle - before, loaded: after - before, n }));`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const r = JSON.parse(out) as { beforeCount: string[]; afterCount: string[]; idle: number; loaded: number; n: number };
  assert.deepEqual(r.beforeCount, []);
  assert.deepEqual(r.afterCount, ['o200k_base']);
  assert.equal(r.n, 9);
  assert.ok(r.idle < 2, `creating an estimator grew RSS by ${r.idle.toFixed(1)} MB`);
  assert.ok(r.loaded > 15, `loading o200k_base grew RSS by only ${r.loaded.toFixed(1)} MB: was it loaded before?`);
});

/**
 * Natural language that does not change under us: TypeScript's localized compiler messages (a
 * pinned dev dependency), one message a line; 60k–180k characters a language.
 */
function compilerMessages(language: string): string {
  const lib = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'lib');
  return Object.values(JSON.parse(readFileSync(join(lib, language, 'diagnosticMessages.generated.json'), 'utf8')) as Record<string, string>).join('\n');
}

test('a long prompt is estimated from a sample: within 5 % on natural language, in bounded time', () => {
  const languages = ['de', 'fr', 'ru', 'zh-cn'];
  const texts = languages.map((language) => [language, compilerMessages(language)] as const);
  texts.push(['all four, one after another', texts.map(([, text]) => text).join('\n\n')]);
  for (const [name, text] of texts) {
    for (const encoding of BOTH) {
      const exact = countTokens(loadEncoding(encoding), text);
      const estimate = createTokenEstimator().chatInputTokens(chat([{ role: 'user', content: text }]), encoding) - (3 + 1 + 3);
      assert.ok(Math.abs(estimate - exact) / exact < 0.05, `${name}, ${encoding}: ${estimate} estimated, ${exact} exact`);
    }
  }
  // 32 MB of text (the default body limit) in one message or in 10,000: a few ms either way.
  const big = texts[0][1].repeat(Math.ceil(32_000_000 / texts[0][1].length)).slice(0, 32_000_000);
  const split = Array.from({ length: 10_000 }, (_, i) => ({ role: 'user' as const, content: big.slice(i * 3200, (i + 1) * 3200) }));
  for (const messages of [[{ role: 'user' as const, content: big }], split]) {
    const started = performance.now();
    const n = createTokenEstimator().chatInputTokens(chat(messages));
    const ms = performance.now() - started;
    assert.ok(n > 7_000_000 && n < 9_000_000, `estimate ${n}`);
    assert.ok(ms < 250, `estimating 32 MB of text took ${ms.toFixed(0)} ms`);
  }
});

test('long runs without spaces are cut, so the tokenizer stays linear: counts within 0.1 %', () => {
  // Unguarded, 16,000 CJK characters take ~0.5–0.9 s in one piece; [o200k_base, cl100k_base] from tiktoken.
  const runs: [string, string, number, number][] = [
    ['a×16000', 'a'.repeat(16_000), 2000, 2000],
    ['-×16000', '-'.repeat(16_000), 250, 250],
    ['CJK×16000', Array.from({ length: 16_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 3000))).join(''), 28_856, 34_012],
    ['letters×16000', Array.from({ length: 16_000 }, (_, i) => String.fromCharCode(97 + ((i * i * 31 + i * 7) % 26))).join(''), 8615, 8615],
  ];
  for (const [name, text, ...expected] of runs) {
    for (const [i, encoding] of BOTH.entries()) {
      const started = performance.now();
      const n = countTokens(loadEncoding(encoding), text);
      const ms = performance.now() - started;
      assert.ok(Math.abs(n - expected[i]) <= expected[i] * 0.001, `${encoding} ${name}: ${n}, tiktoken ${expected[i]}`);
      assert.ok(ms < 250, `${encoding} ${name}: ${ms.toFixed(0)} ms`);
    }
  }
});

test('the count cache returns the same counts as counting afresh', () => {
  const uncached = createTokenEstimator({ cacheEntries: 0 });
  const cached = createTokenEstimator({ cacheEntries: 4 });
  const text = compilerMessages('de');
  const history: ChatMessage[] = [];
  for (let turn = 0; turn < 12; turn++) {
    history.push({ role: turn % 2 ? 'assistant' : 'user', content: text.slice(turn * 1000, turn * 1000 + 1000) });
    assert.equal(cached.chatInputTokens(chat(history)), uncached.chatInputTokens(chat(history)), `turn ${turn}`);
  }
});
