// Canonical (OpenAI chat-completions) request → Anthropic Messages request.

import type { ChatMessage, ChatRequest, Deployment, FunctionTool, ToolChoice } from '../types.ts';
import type {
  AnthropicRequest, AnthropicRequestBlock, AnthropicTextBlock, AnthropicThinkingConfig, AnthropicTool,
  AnthropicToolChoice, AnthropicToolResultBlock, AnthropicToolUseBlock,
} from './anthropic-types.ts';
import { cacheControlOf, contentToBlocks, invalidRequest } from './chat-content-to-anthropic.ts';

export const DEFAULT_MAX_TOKENS = 4096;

/** Thinking budgets for OpenAI's reasoning_effort (Anthropic's minimum budget is 1024). */
export const REASONING_BUDGETS: Readonly<Record<string, number>> = { low: 1024, medium: 4096, high: 16384 };

interface Turn {
  role: 'user' | 'assistant';
  blocks: AnthropicRequestBlock[];
}

/** The output token limit Anthropic requires: the request's, else the model's, else 4096. */
export function maxTokensFor(req: ChatRequest, dep: Deployment): number {
  for (const value of [req.max_completion_tokens, req.max_tokens, dep.modelInfo.max_output_tokens, dep.modelInfo.max_tokens]) {
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return Math.floor(value);
  }
  return DEFAULT_MAX_TOKENS;
}

/** A message-level `cache_control` (as LiteLLM clients send it) marks the message's last block. */
function markLast(blocks: AnthropicRequestBlock[], message: ChatMessage): void {
  const cache = cacheControlOf(message.cache_control);
  const last = blocks.at(-1);
  if (cache && last && last.type !== 'thinking' && last.type !== 'redacted_thinking' && !last.cache_control) last.cache_control = cache;
}

function toolUse(call: unknown, param: string): AnthropicToolUseBlock {
  const c = call as { id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } } | null;
  if (!c || typeof c.id !== 'string' || typeof c.function?.name !== 'string') {
    throw invalidRequest('Each tool call needs an id and function.name.', param);
  }
  const args = c.function.arguments;
  let input: unknown = {};
  if (typeof args === 'string' && args.trim() !== '') {
    try {
      input = JSON.parse(args);
    } catch {
      throw invalidRequest(`Tool call ${c.id} has arguments that are not valid JSON; Anthropic needs a JSON object.`, param);
    }
  } else if (args !== undefined && args !== null && typeof args !== 'string') {
    throw invalidRequest(`Tool call ${c.id} needs function.arguments as a JSON string.`, param);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidRequest(`Tool call ${c.id} has arguments that are not a JSON object; Anthropic needs an object.`, param);
  }
  return { type: 'tool_use', id: c.id, name: c.function.name, input: input as Record<string, unknown> };
}

/** `thinking_blocks` on an assistant message (the shape responses expose) are passed back verbatim. */
function thinkingBlocks(value: unknown, param: string): AnthropicRequestBlock[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidRequest('thinking_blocks must be an array.', param);
  return value.map((block: unknown) => {
    const b = block as { type?: unknown; thinking?: unknown; signature?: unknown; data?: unknown } | null;
    if (b?.type === 'thinking' && typeof b.thinking === 'string' && typeof b.signature === 'string') {
      return { type: 'thinking', thinking: b.thinking, signature: b.signature };
    }
    if (b?.type === 'redacted_thinking' && typeof b.data === 'string') return { type: 'redacted_thinking', data: b.data };
    throw invalidRequest('thinking_blocks entries must be {type:"thinking",thinking,signature} or {type:"redacted_thinking",data}.', param);
  });
}

function assistantBlocks(m: ChatMessage, i: number): AnthropicRequestBlock[] {
  const blocks: AnthropicRequestBlock[] = thinkingBlocks(m.thinking_blocks, `messages[${i}].thinking_blocks`);
  blocks.push(...contentToBlocks(m.content, `messages[${i}].content`, false));
  if (m.tool_calls !== undefined && m.tool_calls !== null) {
    if (!Array.isArray(m.tool_calls)) throw invalidRequest('tool_calls must be an array.', `messages[${i}].tool_calls`);
    for (const call of m.tool_calls) blocks.push(toolUse(call, `messages[${i}].tool_calls`));
  }
  return blocks;
}

function toolResult(m: ChatMessage, i: number): AnthropicToolResultBlock {
  if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '') {
    throw invalidRequest('A tool message needs tool_call_id.', `messages[${i}].tool_call_id`);
  }
  const block: AnthropicToolResultBlock = { type: 'tool_result', tool_use_id: m.tool_call_id };
  if (typeof m.content === 'string') {
    if (m.content !== '') block.content = m.content;
  } else {
    const parts = contentToBlocks(m.content, `messages[${i}].content`, true);
    if (parts.length > 0) block.content = parts;
  }
  return block;
}

/** Messages → Anthropic's system blocks plus strictly alternating user/assistant turns. */
function translateMessages(messages: ChatMessage[]): { system: AnthropicTextBlock[]; turns: Turn[] } {
  if (!Array.isArray(messages)) throw invalidRequest('messages must be an array.', 'messages');
  const system: AnthropicTextBlock[] = [];
  const turns: Turn[] = [];
  const push = (role: Turn['role'], blocks: AnthropicRequestBlock[]): void => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    // Anthropic needs user and assistant turns to alternate: same-role neighbours merge.
    if (last && last.role === role) last.blocks.push(...blocks);
    else turns.push({ role, blocks });
  };
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null) throw invalidRequest('Each message must be an object.', `messages[${i}]`);
    let blocks: AnthropicRequestBlock[];
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = contentToBlocks(m.content, `messages[${i}].content`, false) as AnthropicTextBlock[];
        markLast(text, m);
        system.push(...text);
        return;
      }
      case 'user':
        blocks = contentToBlocks(m.content, `messages[${i}].content`, true);
        break;
      case 'assistant':
        blocks = assistantBlocks(m, i);
        break;
      case 'tool':
        blocks = [toolResult(m, i)];
        break;
      case 'function':
        throw invalidRequest('The deprecated "function" role is not supported; send tool messages with tool_call_id.', `messages[${i}].role`);
      default:
        throw invalidRequest(`Unknown message role "${String(m.role)}".`, `messages[${i}].role`);
    }
    markLast(blocks, m);
    push(m.role === 'assistant' ? 'assistant' : 'user', blocks);
  });
  // Anthropic rejects a final (prefill) assistant turn that ends in whitespace.
  const lastTurn = turns.at(-1);
  const last = lastTurn?.blocks.at(-1);
  if (lastTurn?.role === 'assistant' && last?.type === 'text') {
    last.text = last.text.trimEnd();
    if (last.text === '') lastTurn.blocks.pop();
    if (lastTurn.blocks.length === 0) turns.pop();
  }
  return { system, turns };
}

function isPlainText(block: AnthropicRequestBlock): block is AnthropicTextBlock {
  return block.type === 'text' && Object.keys(block).length === 2;
}

function translateTools(tools: FunctionTool[]): AnthropicTool[] {
  if (!Array.isArray(tools)) throw invalidRequest('tools must be an array.', 'tools');
  return tools.map((tool, i) => {
    if (tool?.type !== 'function' || typeof tool.function?.name !== 'string') {
      throw invalidRequest('Only function tools with function.name are supported.', `tools[${i}]`);
    }
    const out: AnthropicTool = {
      name: tool.function.name,
      ...(typeof tool.function.description === 'string' ? { description: tool.function.description } : {}),
      input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
    };
    const cache = cacheControlOf((tool as { cache_control?: unknown }).cache_control);
    if (cache) out.cache_control = cache;
    return out;
  });
}

function translateToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  let out: AnthropicToolChoice | undefined;
  if (choice === undefined || choice === null) out = undefined;
  else if (choice === 'none') return { type: 'none' };
  else if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'required') out = { type: 'any' };
  else if (typeof choice === 'object' && choice.type === 'function' && typeof choice.function?.name === 'string') {
    out = { type: 'tool', name: choice.function.name };
  } else {
    throw invalidRequest('tool_choice must be "none", "auto", "required" or {"type":"function","function":{"name":...}}.', 'tool_choice');
  }
  if (parallel === false) return { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}

function translateThinking(req: ChatRequest, maxTokens: number): AnthropicThinkingConfig | undefined {
  const thinking = req.thinking as { type?: unknown; budget_tokens?: unknown } | undefined | null;
  if (thinking !== undefined && thinking !== null) {
    if (thinking.type === 'disabled') return { type: 'disabled' };
    if (thinking.type === 'enabled' && typeof thinking.budget_tokens === 'number') return { type: 'enabled', budget_tokens: thinking.budget_tokens };
    throw invalidRequest('thinking must be {"type":"enabled","budget_tokens":N} or {"type":"disabled"}.', 'thinking');
  }
  const effort = req.reasoning_effort;
  if (effort === undefined || effort === null || effort === 'none' || effort === 'minimal') return undefined;
  const budget = typeof effort === 'string' ? REASONING_BUDGETS[effort] : undefined;
  if (budget === undefined) throw invalidRequest('reasoning_effort must be one of none, minimal, low, medium, high.', 'reasoning_effort');
  // The budget must stay below max_tokens and at or above Anthropic's minimum of 1024.
  const clamped = Math.min(budget, maxTokens - 1);
  if (clamped < 1024) throw invalidRequest(`reasoning_effort needs max_tokens above 1024 on Anthropic (got ${maxTokens}).`, 'reasoning_effort');
  return { type: 'enabled', budget_tokens: clamped };
}

function userId(req: ChatRequest): string | undefined {
  if (typeof req.user === 'string' && req.user !== '') return req.user;
  const fromMetadata = req.metadata?.user_id;
  return typeof fromMetadata === 'string' && fromMetadata !== '' ? fromMetadata : undefined;
}

/** A canonical chat request as the body of POST /v1/messages for the deployment's model. */
export function chatRequestToAnthropic(req: ChatRequest, dep: Deployment): AnthropicRequest {
  const { system, turns } = translateMessages(req.messages);
  const maxTokens = maxTokensFor(req, dep);
  const body: AnthropicRequest = {
    model: dep.model,
    max_tokens: maxTokens,
    messages: turns.map((t) => ({
      role: t.role,
      content: t.blocks.length === 1 && isPlainText(t.blocks[0]) ? t.blocks[0].text : t.blocks,
    })),
  };
  if (system.length === 1 && isPlainText(system[0])) body.system = system[0].text;
  else if (system.length > 0) body.system = system;
  if (Array.isArray(req.tools) && req.tools.length > 0) {
    body.tools = translateTools(req.tools);
    const choice = translateToolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice) body.tool_choice = choice;
  } else if (req.tools !== undefined && req.tools !== null && !Array.isArray(req.tools)) {
    throw invalidRequest('tools must be an array.', 'tools');
  }
  if (typeof req.stop === 'string') body.stop_sequences = [req.stop];
  else if (Array.isArray(req.stop) && req.stop.length > 0) body.stop_sequences = req.stop;
  if (typeof req.temperature === 'number') body.temperature = req.temperature;
  if (typeof req.top_p === 'number') body.top_p = req.top_p;
  if (typeof req.top_k === 'number') body.top_k = req.top_k;
  const user = userId(req);
  if (user) body.metadata = { user_id: user };
  const thinking = translateThinking(req, maxTokens);
  if (thinking) body.thinking = thinking;
  if (req.stream) body.stream = true;
  return body;
}
