import type { RelayResult } from '../../pipeline/stream-relay.ts';
import type { Usage } from '../../providers/types.ts';
import type { Delivered } from '../../routing/reliable-call.ts';

export const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
});

/** Roughly four characters per token: only for output a broken stream delivered without usage. */
const CHARS_PER_TOKEN = 4;

/** What a relayed stream tells the router and settlement. */
export function delivered(relayed: RelayResult): Delivered {
  return {
    ...(relayed.usage ? { usage: relayed.usage } : { partialOutputTokens: Math.ceil(relayed.outputChars / CHARS_PER_TOKEN) }),
    ...(relayed.ttftMs !== undefined ? { ttftMs: relayed.ttftMs } : {}),
    ...(relayed.error ? { error: relayed.error } : {}),
  };
}

export function withUsage(headers: Record<string, string>, usage: Usage | undefined): Record<string, string> {
  if (usage) headers['x-usage-total-tokens'] = String(usage.totalTokens);
  return headers;
}
