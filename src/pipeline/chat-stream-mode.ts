// How a chat completion stream's events become what the client gets (a RelayMode for
// stream-relay.ts). OpenAI-wire providers' event data is forwarded as it came, unless the output
// guard or the cache needs the chunks: then each is parsed once, guarded (redacted, or the
// stream blocked), assembled for the cache, and serialised again. Translated providers' chunks
// are the adapter's canonical ones. The usage-only chunk reaches the client only if it asked.

import type { StreamAssembler } from '../cache/stream-assembler.ts';
import type { GatewayError } from '../errors/gateway-error.ts';
import { toOpenAIErrorBody } from '../errors/to-response.ts';
import { formatSseEvent } from '../providers/shared/sse-parser.ts';
import type { ChatChunk, SseEvent, StreamStep } from '../providers/types.ts';
import type { GuardedStream } from './guarded-stream.ts';
import type { RelayMode } from './stream-relay.ts';

const DONE = 'data: [DONE]\n\n';

export interface ChatStreamOptions {
  /** The provider speaks OpenAI's wire: event data is a chunk as the client expects it. */
  readonly passthrough: boolean;
  readonly clientWantsUsage: boolean;
  readonly guard?: GuardedStream;
  readonly assembler?: StreamAssembler;
}

/** A stream that fails after its first byte ends with OpenAI's error object, then [DONE]. */
function errorEvent(err: GatewayError): string {
  return formatSseEvent(JSON.stringify(toOpenAIErrorBody(err))) + DONE;
}

export function chatStreamMode(options: ChatStreamOptions): RelayMode {
  const { passthrough, clientWantsUsage, guard, assembler } = options;
  const keep = (chunk: ChatChunk) => clientWantsUsage || chunk.choices.length > 0;
  if (passthrough && !guard && !assembler) {
    return {
      raw: false,
      onEvent(event: SseEvent, step: StreamStep<unknown>) {
        if (event.data === '[DONE]') return '';
        if (step.usageOnly && !clientWantsUsage) return '';
        return formatSseEvent(event.data);
      },
      onEnd: () => DONE,
      errorEvent,
    };
  }
  let last: ChatChunk | undefined;
  const send = (chunks: readonly ChatChunk[]) => {
    let text = '';
    for (const chunk of chunks) {
      assembler?.add(chunk);
      if (keep(chunk)) text += formatSseEvent(JSON.stringify(chunk));
    }
    return text;
  };
  return {
    raw: false,
    onEvent(event, step) {
      let chunks: ChatChunk[];
      if (!passthrough) chunks = step.out;
      else if (event.data === '[DONE]') return '';
      else {
        try {
          chunks = [JSON.parse(event.data) as ChatChunk];
        } catch {
          return ''; // the provider's reducer reports a broken event
        }
      }
      if (chunks.length > 0) last = chunks[chunks.length - 1];
      return send(guard ? chunks.flatMap((chunk) => (Array.isArray(chunk.choices) ? guard.chunk(chunk) : [chunk])) : chunks);
    },
    onEnd() {
      const tail = guard && last ? send(guard.end(last)) : '';
      guard?.finish();
      return tail + DONE;
    },
    errorEvent(err) {
      guard?.finish();
      return errorEvent(err);
    },
  };
}
