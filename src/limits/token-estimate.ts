// Input-token estimates before the call (for TPM limits and budget reservations), counted with
// a real BPE tokenizer; the limiter reconciles them with the provider's usage after the call.
//
// ── The tokenizer: gpt-tokenizer 4.0.0 ────────────────────────────────────────
// Measured 2026-12-01 on Node 24.21, 2 shared vCPUs, one fresh process per memory figure; encode
// = p50 over distinct slices of English text (vim's documentation), warm:
//
//   package                        runs as      RSS to load       load      encode o200k_base
//                                               o200k / cl100k    o200k     1 KB / 10 KB / 100 KB
//   gpt-tokenizer 4.0.0 (chosen)   pure JS      +43 / +27 MB ¹    0.17–0.25 s   150 µs / 1.3 ms / 11 ms
//   js-tiktoken 1.0.21             pure JS      +160 / +90 MB     0.42–0.68 s   550 µs / 6.7 ms / 40 ms
//   tiktoken 1.0.22                WASM ²       +70–77 / +53–64 MB 0.13–0.19 s   180 µs / 1.8 ms / 18 ms
//   @anthropic-ai/tokenizer 0.0.4  WASM ³       —                 —             —
//
//   ¹ read from the package's .tiktoken files by token-encodings.ts; importing its JS rank
//     modules instead costs +58–66 / +36–38 MB. cl100k_base encodes 1 KB / 10 KB / 100 KB in
//     117 µs / 1.1 ms / 8.8 ms.
//   ² ships its .wasm (5.6 MB) in the package and compiles it at load; not pure JS.
//   ³ Anthropic's pre-Claude-3 vocabulary (65k tokens) on tiktoken's WASM, one release (2024);
//     its README: "As of the Claude 3 models, this algorithm is no longer accurate". Neither
//     OpenAI encoding.
//
// Correctness: gpt-tokenizer and js-tiktoken produced tiktoken's token ids (tiktoken is OpenAI's
// Rust tokenizer) for 620 texts, 10.3 M characters (documentation, licences, this repository's
// source, random text in 14 scripts, special-token text), in both encodings. The one difference:
// gpt-tokenizer counts a piece that starts with U+FEFF (byte-order mark) 1–2 tokens high.
// gpt-tokenizer is the fastest and smallest of the pure-JS ones, MIT, maintained (27 releases,
// 4.0.0 in 2026), no dependencies.
//
// ── Cost per request (defaults; o200k_base loaded) ───────────────────────────
//   the bench's request (2 short messages)                     3 µs
//   1.5 KB system prompt + 1 KB user message, new text         170–300 µs; sent again: 9–11 µs
//   1.5 KB system prompt + 10 KB user message, new text        1.3–2.4 ms; sent again: 21 µs
//   1.5 KB system prompt + 100 KB user message (sampled)       1.5–2.1 ms; sent again: 0.5–1.1 ms
//   a 40-turn conversation, 1 KB a turn, history resent        160–360 µs a turn (only new text is tokenized)
// Worst cases, whole request: 32 MB of English (the default body limit) in one message 1.3–5.4 ms,
// in 10,000 messages 5–11 ms (one run of twelve hit a 99 ms GC pause); 1 MB of CJK without
// punctuation 6–16 ms; 1 MB of random letters without spaces 8–16 ms; 330 × 3,000 random letters + 2 MB more (1 M characters hashed, the
// exact budget spent on the slowest text there is, the rest sampled) 27–43 ms. For scale,
// JSON.parse of a 32 MB body takes ~75 ms. How the work is bounded: token-text-counter.ts.
//
// Memory: nothing until the first count. Then o200k_base costs +40–44 MB RSS (15 MB of heap) and
// 0.15–0.25 s, once per process; cl100k_base, if a model needs it, +13 MB and 60 ms more. Call
// preload() at startup when limits or budgets are configured, so no request waits for the load.
// The counting API is synchronous (the estimate feeds the reservation on the hot path); an async
// loadTokenEstimator() would only move the same one-off load behind an await in every caller.
//
// Sampling accuracy (texts over the 16 KiB exact budget; 8 KiB sampled): TypeScript's compiler
// messages in 13 languages, each 60k–180k characters, both encodings: every error within ±4.4 %
// (Chinese and Japanese included), mean |error| 1.3 %; the 13 concatenated (1.8 M characters):
// −1.1 %; 18 texts of 250k–300k characters (vim's documentation with its tables and code,
// licences, this repository's docs): mean |error| 1.4 %, max 4.7 %.
//
// Anthropic: Claude's tokenizer is not public (Anthropic: "it's no longer possible to provide
// ahead-of-time client-side accurate token counts", anthropic-sdk-python#375), so Messages bodies
// are counted in o200k_base. Against the two counts Anthropic publishes in its token-counting
// guide: 13 estimated for 14 billed ("Hello, Claude" with a system prompt), 415 for 403 (one
// tool). No larger comparison was available; treat the Claude estimates as approximate.

import type { ChatRequest, Deployment, EmbeddingsRequest } from '../providers/types.ts';
import { encodingFor, isEncodingLoaded, loadEncoding, type EncodingName } from './token-encodings.ts';
import { createTextCounter, DEFAULT_TEXT_COUNTER_OPTIONS, type TextCounterOptions } from './token-text-counter.ts';

export { encodingFor, type EncodingName };
export type TokenEstimatorOptions = Partial<TextCounterOptions>;

/** OpenAI's cookbook: every message is framed as <|start|>{role/name}\n{content}<|end|>\n. */
export const TOKENS_PER_MESSAGE = 3;
/** OpenAI's cookbook: a message with a name costs the name's tokens and one more. */
export const TOKENS_PER_NAME = 1;
/** OpenAI's cookbook: every reply is primed with <|start|>assistant<|message|>. */
export const REPLY_PRIMING_TOKENS = 3;
/** Framing of one tool call or tool result around its name and arguments: a guess, as for a message. */
export const TOKENS_PER_TOOL_CALL = 3;
/** OpenAI vision pricing: an image at detail "low" costs 85 tokens. */
export const IMAGE_TOKENS_LOW = 85;
/**
 * OpenAI vision pricing, detail "high" (and "auto", which may pick it): 85 + 170 per 512-px tile
 * after scaling into 2048×2048 and the short side to 768; 765 is their worked 1024×1024 example
 * (4 tiles). Image dimensions are not decoded here. gpt-4o-mini and the patch-based models
 * (gpt-4.1-mini/nano, o4-mini) bill images differently; the usage reconciles it.
 */
export const IMAGE_TOKENS_HIGH = 765;
/**
 * Anthropic's vision guide: tokens ≈ width × height / 750, and an image over ~1.15 megapixels
 * (long edge over 1568 px) is scaled down first, so one image costs at most ~1,600 tokens.
 */
export const ANTHROPIC_IMAGE_TOKENS = 1600;
/**
 * A PDF or file block whose text is not in the request: one page at the top of Anthropic's
 * "1,500–3,000 tokens per page". Page counts are not read, so long documents are under-counted
 * until the usage reconciles them.
 */
export const DOCUMENT_TOKENS = 3000;
/**
 * Anthropic's tool-use pricing: with `tools`, a system prompt of 346 tokens (tool_choice auto or
 * none) or 313 (any or tool) is added on Claude 4 models (Claude 3 models: 159–530).
 */
export const ANTHROPIC_TOOL_PROMPT_TOKENS = { auto: 346, forced: 313 } as const;
/**
 * Claude's framing is not published: 3 a message (its role included) and 3 for the reply, with the
 * system prompt as bare text. With these, Anthropic's two published examples come out 13 for 14
 * and 415 for 403.
 */
export const ANTHROPIC_TOKENS_PER_MESSAGE = 3;
export const ANTHROPIC_REPLY_PRIMING_TOKENS = 3;
/** Output reserved when neither the request nor the deployment's model_info sets a maximum. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

export interface TokenEstimator {
  /** OpenAI chat completions request; `encoding` defaults to encodingFor(request.model). */
  chatInputTokens(request: ChatRequest, encoding?: EncodingName): number;
  /** Embeddings request: strings are tokenized, a token array counts its length. */
  embeddingsInputTokens(request: EmbeddingsRequest, encoding?: EncodingName): number;
  /** Anthropic /v1/messages body, approximated in o200k_base (Claude's tokenizer is not public). */
  messagesInputTokens(body: Record<string, unknown>, encoding?: EncodingName): number;
  /** One text, with the same cache and bounds. */
  textTokens(text: string, encoding?: EncodingName): number;
  /** Load encodings now (at startup, when limits or budgets are configured) rather than on a request. */
  preload(...encodings: EncodingName[]): void;
  /** The encodings loaded in this process. */
  loaded(): EncodingName[];
}

/** Nothing is loaded until the first count (or preload): the gateway pays no memory unless it counts. */
export function createTokenEstimator(options: TokenEstimatorOptions = {}): TokenEstimator {
  const counter = createTextCounter({ ...DEFAULT_TEXT_COUNTER_OPTIONS, ...options });
  const total = (tally: Tally, encoding: EncodingName): number => tally.fixed + counter.count(tally.texts, encoding);
  return {
    chatInputTokens(request, encoding = encodingFor(String(request.model ?? ''))) {
      const tally = newTally();
      addChat(tally, request);
      return total(tally, encoding);
    },
    embeddingsInputTokens(request, encoding = encodingFor(String(request.model ?? ''))) {
      const tally = newTally();
      const input: unknown = request.input;
      for (const item of Array.isArray(input) ? input : [input]) {
        if (typeof item === 'string') addText(tally, item);
        else if (typeof item === 'number') tally.fixed += 1;
        else if (Array.isArray(item)) tally.fixed += item.length;
      }
      return total(tally, encoding);
    },
    messagesInputTokens(body, encoding = 'o200k_base') {
      const tally = newTally();
      addMessages(tally, body);
      return total(tally, encoding);
    },
    textTokens(text, encoding = 'o200k_base') {
      return counter.count([text], encoding);
    },
    preload(...encodings) {
      for (const name of encodings.length > 0 ? encodings : (['o200k_base'] as const)) loadEncoding(name);
    },
    loaded() {
      return (['o200k_base', 'cl100k_base'] as const).filter(isEncodingLoaded);
    },
  };
}

/**
 * The most output tokens the request can cost: its max_completion_tokens ?? max_tokens, else the
 * deployment's model_info max_output_tokens ?? max_tokens, else DEFAULT_MAX_OUTPUT_TOKENS; times
 * n (choices). Reads the fields of both OpenAI and Anthropic bodies.
 */
export function maxOutputTokens(request: Readonly<Record<string, unknown>>, deployment: Pick<Deployment, 'modelInfo'>): number {
  const perChoice =
    positiveInteger(request.max_completion_tokens) ??
    positiveInteger(request.max_tokens) ??
    positiveInteger(deployment.modelInfo.max_output_tokens) ??
    positiveInteger(deployment.modelInfo.max_tokens) ??
    DEFAULT_MAX_OUTPUT_TOKENS;
  return perChoice * (positiveInteger(request.n) ?? 1);
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
}

// ── walking a request ─────────────────────────────────────────────────────────
// The walkers never throw on a malformed body: a field of the wrong type counts nothing.

interface Tally {
  texts: string[];
  fixed: number;
}

const newTally = (): Tally => ({ texts: [], fixed: 0 });
const MAX_DEPTH = 6;

type Obj = Record<string, unknown>;
const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

function addText(tally: Tally, value: unknown): void {
  if (typeof value === 'string' && value !== '') tally.texts.push(value);
}

/** Inline payloads (data: URLs, base64) are not text the model reads; they are left out of JSON. */
function dropBlobs(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.length >= 1024 && (value.startsWith('data:') || /^[A-Za-z0-9+/=\r\n]+$/.test(value.slice(0, 1024)))) return '';
  return value;
}

/** A structure the model reads as serialized JSON (tool definitions, schemas, tool inputs, unknown parts). */
function addJson(tally: Tally, value: unknown): void {
  if (value === undefined) return;
  try {
    addText(tally, typeof value === 'string' ? value : JSON.stringify(value, dropBlobs));
  } catch {
    // Too deeply nested to serialise: counts nothing, like any other malformed field.
  }
}

function addChat(tally: Tally, request: ChatRequest): void {
  for (const message of Array.isArray(request.messages) ? (request.messages as unknown[]) : []) {
    if (!isObject(message)) continue;
    tally.fixed += TOKENS_PER_MESSAGE;
    addText(tally, message.role);
    if (typeof message.name === 'string' && message.name !== '') {
      addText(tally, message.name);
      tally.fixed += TOKENS_PER_NAME;
    }
    addChatContent(tally, message.content);
    addText(tally, message.refusal);
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls as unknown[]) if (isObject(call)) addToolCall(tally, call.function);
    }
    addToolCall(tally, message.function_call); // the legacy single call
    // tool_call_id is not counted: an id the model is not shown as text.
  }
  tally.fixed += REPLY_PRIMING_TOKENS;
  // Tool definitions are rendered into the prompt in a format OpenAI does not publish; their JSON
  // is an approximation that over-counts: the cookbook's example is 119 estimated against 101
  // billed on gpt-4o and 105 on gpt-4.
  if (Array.isArray(request.tools) && request.tools.length > 0) addJson(tally, request.tools);
  if (Array.isArray(request.functions) && request.functions.length > 0) addJson(tally, request.functions);
  if (isObject(request.response_format)) addJson(tally, request.response_format.json_schema);
}

function addToolCall(tally: Tally, fn: unknown): void {
  if (!isObject(fn)) return;
  tally.fixed += TOKENS_PER_TOOL_CALL;
  addText(tally, fn.name);
  addJson(tally, fn.arguments);
}

function addChatContent(tally: Tally, content: unknown): void {
  if (typeof content === 'string') return addText(tally, content);
  if (!Array.isArray(content)) return;
  for (const part of content as unknown[]) {
    if (!isObject(part)) continue;
    switch (part.type) {
      case 'text':
        addText(tally, part.text);
        break;
      case 'refusal':
        addText(tally, part.refusal);
        break;
      case 'image_url': {
        const detail = isObject(part.image_url) ? part.image_url.detail : undefined;
        tally.fixed += detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
        break;
      }
      case 'file':
        tally.fixed += DOCUMENT_TOKENS;
        break;
      default:
        addJson(tally, part); // input_audio and anything newer: its JSON without the payload
    }
  }
}

function addMessages(tally: Tally, body: Obj): void {
  // The system prompt leads the prompt as bare text.
  if (typeof body.system === 'string') addText(tally, body.system);
  else if (Array.isArray(body.system)) for (const block of body.system as unknown[]) addBlock(tally, block, 0);
  for (const message of Array.isArray(body.messages) ? (body.messages as unknown[]) : []) {
    if (!isObject(message)) continue;
    tally.fixed += ANTHROPIC_TOKENS_PER_MESSAGE;
    addBlocks(tally, message.content, 0);
  }
  tally.fixed += ANTHROPIC_REPLY_PRIMING_TOKENS;
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    addJson(tally, body.tools);
    const choice = isObject(body.tool_choice) ? body.tool_choice.type : undefined;
    tally.fixed += choice === 'any' || choice === 'tool' ? ANTHROPIC_TOOL_PROMPT_TOKENS.forced : ANTHROPIC_TOOL_PROMPT_TOKENS.auto;
  }
}

function addBlocks(tally: Tally, content: unknown, depth: number): void {
  if (typeof content === 'string') addText(tally, content);
  else if (Array.isArray(content)) for (const block of content as unknown[]) addBlock(tally, block, depth);
}

function addBlock(tally: Tally, block: unknown, depth: number): void {
  if (!isObject(block) || depth > MAX_DEPTH) return;
  const type = typeof block.type === 'string' ? block.type : '';
  switch (type) {
    case 'text':
      return addText(tally, block.text);
    case 'image':
      tally.fixed += ANTHROPIC_IMAGE_TOKENS;
      return;
    case 'document': {
      addText(tally, block.title);
      addText(tally, block.context);
      const source = isObject(block.source) ? block.source : {};
      if (source.type === 'text') addText(tally, source.data);
      else if (source.type === 'content') addBlocks(tally, source.content, depth + 1);
      else tally.fixed += DOCUMENT_TOKENS;
      return;
    }
    case 'tool_use':
    case 'server_tool_use':
      tally.fixed += TOKENS_PER_TOOL_CALL;
      addText(tally, block.name);
      addJson(tally, block.input ?? {});
      return;
    case 'thinking':
      return addText(tally, block.thinking);
    case 'redacted_thinking':
      return; // encrypted; not countable
    case 'search_result':
      addText(tally, block.title);
      addText(tally, block.source);
      return addBlocks(tally, block.content, depth + 1);
    default:
      if (type.endsWith('tool_result')) {
        // tool_result, and the server tools' web_search_tool_result etc.
        tally.fixed += TOKENS_PER_TOOL_CALL;
        if (typeof block.content === 'string' || (Array.isArray(block.content) && block.content.every(isObject))) return addBlocks(tally, block.content, depth + 1);
        return addJson(tally, block.content);
      }
      return addJson(tally, block);
  }
}
