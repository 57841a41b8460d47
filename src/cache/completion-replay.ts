// A cached chat.completion replayed as an OpenAI stream: the chunks a provider would have sent
// (role first, the content in pieces, tool calls, the finish reason), the usage chunk when the
// client asked for it (stream_options.include_usage), then [DONE]. Pure.

import { formatSseEvent } from '../providers/shared/sse-parser.ts';
import type { ChatChunk, ChatCompletion } from '../providers/types.ts';

/** Characters of content per replayed chunk (providers send a few tokens per chunk). */
const PIECE = 64;

function chunk(completion: ChatCompletion, id: string, choices: ChatChunk['choices'], usage?: ChatChunk['usage']): ChatChunk {
  return {
    id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
    ...(completion.system_fingerprint !== undefined ? { system_fingerprint: completion.system_fingerprint } : {}),
    choices,
    ...(usage !== undefined ? { usage } : {}),
  };
}

/** Splits without cutting a surrogate pair in two. */
function pieces(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    let end = Math.min(text.length, at + PIECE);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end += 1;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

/** The chunks of the replayed stream, in order. */
export function replayChunks(completion: ChatCompletion, includeUsage: boolean): ChatChunk[] {
  const id = completion.id;
  const out: ChatChunk[] = [];
  for (const choice of completion.choices) {
    const index = choice.index;
    const message = choice.message;
    // As providers do: content "" opens a text answer, null one made of tool calls only.
    out.push(chunk(completion, id, [{ index, delta: { role: 'assistant', content: message.content === null ? null : '' }, logprobs: null, finish_reason: null }]));
    if (typeof message.refusal === 'string' && message.refusal !== '') {
      out.push(chunk(completion, id, [{ index, delta: { refusal: message.refusal }, logprobs: null, finish_reason: null }]));
    }
    for (const piece of pieces(typeof message.content === 'string' ? message.content : '')) {
      out.push(chunk(completion, id, [{ index, delta: { content: piece }, logprobs: null, finish_reason: null }]));
    }
    (message.tool_calls ?? []).forEach((call, i) => {
      out.push(chunk(completion, id, [{
        index, logprobs: null, finish_reason: null,
        delta: { tool_calls: [{ index: i, id: call.id, type: 'function', function: { name: call.function.name, arguments: call.function.arguments } }] },
      }]));
    });
    out.push(chunk(completion, id, [{ index, delta: {}, logprobs: null, finish_reason: choice.finish_reason ?? 'stop' }]));
  }
  if (includeUsage && completion.usage) out.push(chunk(completion, id, [], completion.usage));
  return out;
}

/** The whole replayed stream as SSE text, ending with data: [DONE]. */
export function replayStream(completion: ChatCompletion, includeUsage: boolean): string {
  let text = '';
  for (const c of replayChunks(completion, includeUsage)) text += formatSseEvent(JSON.stringify(c));
  return `${text}data: [DONE]\n\n`;
}
