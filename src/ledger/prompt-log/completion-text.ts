// The text of a logged call's completion, taken out after the call: from an OpenAI chat
// completion or chunk stream, or an Anthropic message or event stream (the shapes a client
// of either API received).

function textOfContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : '')).join('');
}

/** A whole (non-streamed) answer: OpenAI `choices[].message`, Anthropic `content[]`, embeddings → ''. */
export function completionText(body: unknown): string {
  if (!body || typeof body !== 'object') return '';
  const b = body as { choices?: Array<{ message?: { content?: unknown; tool_calls?: Array<{ function?: { name?: string; arguments?: string } }> } }>; content?: unknown };
  if (Array.isArray(b.choices)) {
    return b.choices.map((c) => {
      const calls = (c.message?.tool_calls ?? []).map((t) => `${t.function?.name ?? ''}(${t.function?.arguments ?? ''})`).join('\n');
      return [textOfContent(c.message?.content), calls].filter(Boolean).join('\n');
    }).join('\n');
  }
  return textOfContent(b.content);
}

/** A stream's event data → its text: OpenAI chunk deltas (content, tool arguments) or Anthropic content_block_delta. */
export function streamedText(events: readonly string[]): string {
  let out = '';
  for (const data of events) {
    if (data === '[DONE]') continue;
    let event: any;
    try {
      event = JSON.parse(data);
    } catch {
      continue;
    }
    if (Array.isArray(event?.choices)) {
      for (const choice of event.choices) {
        const delta = choice?.delta;
        if (typeof delta?.content === 'string') out += delta.content;
        for (const call of Array.isArray(delta?.tool_calls) ? delta.tool_calls : []) if (typeof call?.function?.arguments === 'string') out += call.function.arguments;
      }
    } else if (event?.type === 'content_block_delta') {
      const delta = event.delta;
      out += typeof delta?.text === 'string' ? delta.text : typeof delta?.partial_json === 'string' ? delta.partial_json : '';
    }
  }
  return out;
}
