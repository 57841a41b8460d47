// Whether the simulated model calls a tool, which one, and with what arguments. Reads any
// tools/tool_choice shape without throwing: unknown shapes fall back to "auto".

import type { ChatRequest, FunctionTool } from '../types.ts';
import { contentText } from './simulator-prompt.ts';
import { isPlainObject, schemaValue } from './simulator-schema.ts';

type Mode = 'none' | 'auto' | 'required';

interface Choice {
  mode: Mode;
  /** Names the model may call; undefined means every tool. */
  allowed?: string[];
}

/** The request's function tools; entries that are not {function: {name}} are ignored. */
function functionTools(tools: unknown): FunctionTool[] {
  if (!Array.isArray(tools)) return [];
  return tools.filter((t): t is FunctionTool => isPlainObject(t) && isPlainObject(t.function) && typeof t.function.name === 'string');
}

/** The name in {function: {name}} or {name}. */
function nameOf(entry: unknown): string | undefined {
  if (!isPlainObject(entry)) return undefined;
  const fn = entry.function;
  if (isPlainObject(fn) && typeof fn.name === 'string') return fn.name;
  return typeof entry.name === 'string' ? entry.name : undefined;
}

function modeOf(value: unknown): Mode {
  if (value === 'none') return 'none';
  return value === 'required' || value === 'any' ? 'required' : 'auto';
}

/**
 * tool_choice as a mode plus the allowed names: 'none' | 'auto' | 'required', a named function
 * ({type:'function', function:{name}}, or Anthropic-style {type:'tool', name}), or
 * {type:'allowed_tools', allowed_tools:{mode, tools}} (also with mode/tools at the top level).
 */
function readChoice(choice: unknown): Choice {
  if (!isPlainObject(choice)) return { mode: modeOf(choice) };
  if (choice.type === 'allowed_tools') {
    const spec = isPlainObject(choice.allowed_tools) ? choice.allowed_tools : choice;
    const tools = Array.isArray(spec.tools) ? spec.tools.map(nameOf).filter((n): n is string => n !== undefined) : undefined;
    return { mode: modeOf(spec.mode), allowed: tools };
  }
  const name = nameOf(choice);
  if (name !== undefined) return { mode: 'required', allowed: [name] };
  return { mode: modeOf(choice.type) };
}

/** The last message that is not a tool result was written by the user and names the tool. */
function namedInLastUserTurn(req: ChatRequest, tools: FunctionTool[]): FunctionTool | undefined {
  const messages = Array.isArray(req.messages) ? req.messages : [];
  const last = [...messages].reverse().find((m) => m?.role === 'user');
  const text = last ? contentText(last.content) : '';
  return tools.find((t) => text.includes(t.function.name));
}

/** The tool the simulated model calls, or undefined when it answers in text. */
export function pickTool(req: ChatRequest): FunctionTool | undefined {
  const { mode, allowed } = readChoice(req.tool_choice);
  const tools = functionTools(req.tools).filter((t) => allowed === undefined || allowed.includes(t.function.name));
  if (tools.length === 0 || mode === 'none') return undefined;
  const named = namedInLastUserTurn(req, tools);
  if (mode === 'required') return named ?? tools[0];
  // auto: once a tool has answered, a model reports back in text rather than calling again.
  const lastRole = Array.isArray(req.messages) ? req.messages.at(-1)?.role : undefined;
  if (lastRole === 'tool' || lastRole === 'function') return undefined;
  return named;
}

/** Arguments (a JSON object) that satisfy the tool's parameters schema. */
export function toolArguments(tool: FunctionTool, seed: number): string {
  const params = tool.function.parameters;
  const value = isPlainObject(params) ? schemaValue(params, seed) : {};
  return JSON.stringify(isPlainObject(value) ? value : {});
}
