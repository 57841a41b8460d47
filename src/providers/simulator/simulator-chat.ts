import type { ChatChunk, ChatCompletion, ChatRequest, FinishReason, FunctionTool, OpenAIUsage, ToolCall } from '../types.ts';
import { countTokens, generateTokens, hashText } from './simulator-text.ts';

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

function messageText(req: ChatRequest): string {
  return req.messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''))).join('\n');
}

function pickTool(req: ChatRequest): FunctionTool | undefined {
  const tools = req.tools ?? [];
  if (tools.length === 0 || req.tool_choice === 'none') return undefined;
  const choice = req.tool_choice;
  if (choice && typeof choice === 'object') return tools.find((t) => t.function.name === choice.function.name);
  if (choice === 'required') return tools[0];
  // auto: call a tool when the last user turn names it, as a model asked to use it would.
  const last = [...req.messages].reverse().find((m) => m.role === 'user');
  const text = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
  return tools.find((t) => text.includes(t.function.name));
}

/** Arguments that satisfy the tool's JSON schema's required string/number/boolean fields. */
function toolArguments(tool: FunctionTool, seed: number): string {
  const schema = (tool.function.parameters ?? {}) as { properties?: Record<string, { type?: string; enum?: unknown[] }>; required?: string[] };
  const args: Record<string, unknown> = {};
  for (const name of schema.required ?? Object.keys(schema.properties ?? {})) {
    const prop = schema.properties?.[name] ?? {};
    if (prop.enum?.length) args[name] = prop.enum[seed % prop.enum.length];
    else if (prop.type === 'number' || prop.type === 'integer') args[name] = seed % 100;
    else if (prop.type === 'boolean') args[name] = seed % 2 === 0;
    else args[name] = generateTokens(seed, 2).join('').replace(/\.$/, '');
  }
  return JSON.stringify(args);
}

function applyStop(tokens: string[], stop: ChatRequest['stop']): { tokens: string[]; stopped: boolean } {
  const sequences = stop === undefined || stop === null ? [] : Array.isArray(stop) ? stop : [stop];
  if (sequences.length === 0) return { tokens, stopped: false };
  let text = '';
  for (let i = 0; i < tokens.length; i++) {
    const next = text + tokens[i];
    const hit = sequences.map((s) => next.indexOf(s)).filter((at) => at >= 0).sort((a, b) => a - b)[0];
    if (hit !== undefined) {
      const kept = tokens.slice(0, i);
      const partial = next.slice(text.length, hit);
      if (partial) kept.push(partial);
      return { tokens: kept, stopped: true };
    }
    text = next;
  }
  return { tokens, stopped: false };
}

/** The deterministic answer to a chat request: same request, same output and usage. */
export function simulateChat(req: ChatRequest, outputTokens: number, now: number): SimulatedChat {
  const prompt = messageText(req);
  const seed = hashText(`${req.model}\n${prompt}\n${JSON.stringify(req.tools ?? null)}`);
  const limit = req.max_completion_tokens ?? req.max_tokens ?? Infinity;
  const n = Math.max(1, req.n ?? 1);
  const tool = pickTool(req);
  const json = req.response_format?.type === 'json_object' || req.response_format?.type === 'json_schema';
  const choices: SimulatedChoice[] = [];
  for (let index = 0; index < n; index++) {
    const choiceSeed = (seed + index * 7919) >>> 0;
    if (tool) {
      const toolCall: ToolCall = { id: `call_${choiceSeed.toString(36)}${index}`, type: 'function', function: { name: tool.function.name, arguments: toolArguments(tool, choiceSeed) } };
      choices.push({ tokens: [], toolCall, finishReason: 'tool_calls' });
      continue;
    }
    const wanted = Math.min(outputTokens, limit);
    let tokens = generateTokens(choiceSeed, Math.max(1, wanted));
    if (json) tokens = ['{"answer": "', ...tokens.map((t) => t.replace(/"/g, '')), '"}'];
    const stopped = applyStop(tokens, req.stop);
    tokens = stopped.tokens;
    const finishReason: FinishReason = stopped.stopped ? 'stop' : outputTokens > limit ? 'length' : 'stop';
    choices.push({ tokens, finishReason });
  }
  const promptTokens = countTokens(prompt) + 3 * req.messages.length;
  const completionTokens = choices.reduce((sum, c) => sum + (c.toolCall ? countTokens(c.toolCall.function.arguments) + 3 : c.tokens.length), 0);
  return {
    id: `chatcmpl-sim${seed.toString(36)}`,
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
