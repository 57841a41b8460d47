import type { ChatChunk, ChatCompletion, ChatRequest, FinishReason, OpenAIUsage, ToolCall } from '../types.ts';
import { jsonTokens } from './simulator-json.ts';
import { completionId, readPrompt } from './simulator-prompt.ts';
import { countTokens, generateTokens, hashText } from './simulator-text.ts';
import { pickTool, toolArguments } from './simulator-tools.ts';

/** One simulated choice: text tokens, or a tool call. */
interface SimulatedChoice {
  tokens: string[];
  toolCall?: ToolCall;
  finishReason: FinishReason;
}

export interface SimulatedChat {
  id: string;
  created: number;
  model: string;
  choices: SimulatedChoice[];
  usage: OpenAIUsage;
}

function stopSequences(stop: unknown): string[] {
  const list: unknown[] = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop : [];
  return list.filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/**
 * Cuts the output before the first stop sequence to appear, i.e. the one whose first occurrence
 * ends earliest (a model stops as soon as it has produced one), even when it spans tokens.
 * Tokens before the cut keep their boundaries; the one the cut falls in keeps its head.
 */
export function applyStop(tokens: string[], stop: unknown): { tokens: string[]; stopped: boolean } {
  const text = tokens.join('');
  let cut = -1;
  let end = Infinity;
  for (const sequence of stopSequences(stop)) {
    const at = text.indexOf(sequence);
    if (at < 0) continue;
    const ends = at + sequence.length;
    if (ends < end || (ends === end && at < cut)) [cut, end] = [at, ends];
  }
  if (cut < 0) return { tokens, stopped: false };
  const kept: string[] = [];
  let length = 0;
  for (const token of tokens) {
    if (length + token.length > cut) {
      if (cut > length) kept.push(token.slice(0, cut - length));
      break;
    }
    kept.push(token);
    length += token.length;
  }
  return { tokens: kept, stopped: true };
}

/** The deterministic answer to a chat request: same request, same output and usage. */
export function simulateChat(req: ChatRequest, outputTokens: number, now: number): SimulatedChat {
  const prompt = readPrompt(req);
  const seed = hashText(`${req.model}\n${prompt.fingerprint}\n${JSON.stringify(req.tools ?? null)}`);
  const requested = req.max_completion_tokens ?? req.max_tokens;
  const limit = typeof requested === 'number' && requested >= 0 ? requested : Infinity;
  const n = typeof req.n === 'number' && Number.isInteger(req.n) && req.n > 1 ? req.n : 1;
  const tool = pickTool(req);
  const choices: SimulatedChoice[] = [];
  for (let index = 0; index < n; index++) {
    const choiceSeed = (seed + index * 7919) >>> 0;
    if (tool) {
      const toolCall: ToolCall = { id: `call_${choiceSeed.toString(36)}${index}`, type: 'function', function: { name: tool.function.name, arguments: toolArguments(tool, choiceSeed) } };
      choices.push({ tokens: [], toolCall, finishReason: 'tool_calls' });
      continue;
    }
    // The whole answer, then cut at max_tokens (JSON punctuation counts too), then at a stop sequence.
    const json = jsonTokens(req, choiceSeed, outputTokens);
    const full = json ?? generateTokens(choiceSeed, Math.max(1, Math.min(outputTokens, limit)));
    const truncated = (json ? json.length : outputTokens) > limit;
    const stopped = applyStop(full.slice(0, limit), req.stop);
    const finishReason: FinishReason = stopped.stopped ? 'stop' : truncated ? 'length' : 'stop';
    choices.push({ tokens: stopped.tokens, finishReason });
  }
  const promptTokens = prompt.tokens;
  const completionTokens = choices.reduce((sum, c) => sum + (c.toolCall ? countTokens(c.toolCall.function.arguments) + 3 : c.tokens.length), 0);
  return {
    id: completionId(seed, req),
    created: Math.floor(now / 1000),
    model: req.model,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
  };
}

export function toCompletion(sim: SimulatedChat): ChatCompletion {
  return {
    id: sim.id,
    object: 'chat.completion',
    created: sim.created,
    model: sim.model,
    choices: sim.choices.map((c, index) => ({
      index,
      message: c.toolCall
        ? { role: 'assistant', content: null, tool_calls: [c.toolCall], refusal: null }
        : { role: 'assistant', content: c.tokens.join(''), refusal: null },
      logprobs: null,
      finish_reason: c.finishReason,
    })),
    usage: sim.usage,
    system_fingerprint: 'fp_tollgate_simulator',
  };
}

/** The stream as OpenAI frames it: role chunk, one chunk per token, finish chunk, optional usage chunk. */
export function toChunks(sim: SimulatedChat, includeUsage: boolean): ChatChunk[] {
  const base = { id: sim.id, object: 'chat.completion.chunk' as const, created: sim.created, model: sim.model, system_fingerprint: 'fp_tollgate_simulator' };
  const usageField = includeUsage ? { usage: null } : {};
  const chunks: ChatChunk[] = [];
  sim.choices.forEach((c, index) => {
    chunks.push({ ...base, choices: [{ index, delta: { role: 'assistant', content: c.toolCall ? null : '', refusal: null }, logprobs: null, finish_reason: null }], ...usageField });
    if (c.toolCall) {
      const { id, type, function: fn } = c.toolCall;
      chunks.push({ ...base, choices: [{ index, delta: { tool_calls: [{ index: 0, id, type, function: { name: fn.name, arguments: '' } }] }, logprobs: null, finish_reason: null }], ...usageField });
      chunks.push({ ...base, choices: [{ index, delta: { tool_calls: [{ index: 0, function: { arguments: fn.arguments } }] }, logprobs: null, finish_reason: null }], ...usageField });
    }
    for (const token of c.tokens) chunks.push({ ...base, choices: [{ index, delta: { content: token }, logprobs: null, finish_reason: null }], ...usageField });
    chunks.push({ ...base, choices: [{ index, delta: {}, logprobs: null, finish_reason: c.finishReason }], ...usageField });
  });
  if (includeUsage) chunks.push({ ...base, choices: [], usage: sim.usage });
  return chunks;
}
