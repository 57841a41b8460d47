/** The chat-completion requests every path is sent, serialised once. */
import type { RequestSpec, TargetSpec } from './load-protocol.ts';

const MESSAGES = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'Say hello in five words.' },
];

export function chatBody(model: string, stream: boolean): string {
  return JSON.stringify(
    stream
      ? { model, messages: MESSAGES, max_tokens: 32, stream: true, stream_options: { include_usage: true } }
      : { model, messages: MESSAGES, max_tokens: 32 },
  );
}

function spec(path: string, headers: Record<string, string>, body: string): RequestSpec {
  return { path, headers: { 'content-type': 'application/json', ...headers }, body };
}

/** Path prefix that makes the fake upstream answer after `delayMs`. */
export function delayPrefix(delayMs: number): string {
  return `/delay-${delayMs}`;
}

/** client → upstream, no gateway. */
export function directTarget(upstreamPort: number, delayMs: number): TargetSpec {
  const auth = { authorization: 'Bearer sk-upstream-fake' };
  return {
    name: 'direct',
    origin: `http://127.0.0.1:${upstreamPort}`,
    plain: spec('/v1/chat/completions', auth, chatBody('gpt-4o-mini', false)),
    delayed: spec(`${delayPrefix(delayMs)}/v1/chat/completions`, auth, chatBody('gpt-4o-mini', false)),
    stream: spec('/v1/chat/completions', auth, chatBody('gpt-4o-mini', true)),
  };
}
