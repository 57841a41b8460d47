// Native /v1/messages forwarding: the client's body goes upstream as-is (only `model` is
// replaced) and the provider's events go back raw; this only reads usage out of them.

import type { Deployment, MessagesPassthrough, SseEvent, StreamReducer, StreamStep, UpstreamFailure, Usage, UpstreamRequest } from '../types.ts';
import type { AnthropicUsage } from './anthropic-types.ts';
import { ANTHROPIC_VERSION } from './anthropic-types.ts';
import { parseApiBase } from '../shared/api-base.ts';
import { bodyErrorFailure, deltaChars, streamErrorFailure } from './anthropic-errors.ts';
import { bodyFailure } from '../shared/upstream-errors.ts';
import { usageFromAnthropic } from './anthropic-to-chat.ts';
import { mergeAnthropicUsage } from './anthropic-stream-to-chat.ts';

export const DEFAULT_API_BASE = 'https://api.anthropic.com';

type ClientHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Where POST /v1/messages goes: `{api_base}/v1/messages`, without doubling a trailing /v1. */
export function messagesTarget(dep: Deployment): Pick<UpstreamRequest, 'origin' | 'path'> {
  const base = parseApiBase(dep.apiBase ?? DEFAULT_API_BASE);
  const prefix = /\/v1$/.test(base.basePath) ? base.basePath : `${base.basePath}/v1`;
  return { origin: base.origin, path: `${prefix}/messages${base.query}` };
}

function headerText(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value.join(',') : value).trim();
  return text === '' ? undefined : text;
}

/** Joins comma-separated anthropic-beta lists, keeping the first occurrence of each flag. */
export function mergeBetas(...values: Array<string | undefined>): string | undefined {
  const flags = new Set<string>();
  for (const value of values) for (const flag of (value ?? '').split(',')) if (flag.trim()) flags.add(flag.trim());
  return flags.size > 0 ? [...flags].join(',') : undefined;
}

/**
 * Request headers for Anthropic: x-api-key, anthropic-version, anthropic-beta, then the
 * deployment's own headers (which win, except that anthropic-beta lists are merged).
 */
export function anthropicHeaders(dep: Deployment, stream: boolean, version = ANTHROPIC_VERSION, beta?: string): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    'x-api-key': dep.apiKey ?? '',
    'anthropic-version': version,
  };
  let betas = beta;
  for (const [name, value] of Object.entries(dep.headers)) {
    const key = name.toLowerCase();
    if (key === 'anthropic-beta') betas = mergeBetas(betas, value);
    else headers[key] = value;
  }
  const merged = mergeBetas(betas);
  if (merged) headers['anthropic-beta'] = merged;
  return headers;
}

export interface PassthroughUsageState {
  readonly usage: AnthropicUsage | undefined;
  readonly done: boolean;
}

/** Reads usage from message_start / message_delta; emits no chunks (events are forwarded raw). */
export const anthropicStreamUsage: StreamReducer<PassthroughUsageState> = {
  init: () => ({ usage: undefined, done: false }),
  step(state, event: SseEvent): StreamStep<PassthroughUsageState> {
    if (state.done) return { state, out: [] };
    let data: { type?: unknown; message?: { usage?: AnthropicUsage }; usage?: AnthropicUsage; delta?: { type?: unknown } };
    try {
      data = JSON.parse(event.data);
    } catch {
      return { state, out: [], error: bodyFailure('upstream_invalid_response', `stream event ${event.event ?? 'data'} is not JSON`) };
    }
    switch (data?.type ?? event.event) {
      case 'message_start':
        return { state: { ...state, usage: mergeAnthropicUsage(state.usage ?? {}, data.message?.usage) }, out: [] };
      case 'message_delta': {
        const next: PassthroughUsageState = { ...state, usage: mergeAnthropicUsage(state.usage ?? {}, data.usage) };
        const usage = usageFromAnthropic(next.usage);
        return usage ? { state: next, out: [], usage } : { state: next, out: [] };
      }
      case 'content_block_delta':
        return { state, out: [], outputChars: deltaChars(data.delta) };
      case 'message_stop':
        return { state: { ...state, done: true }, out: [], done: true };
      case 'error':
        return { state: { ...state, done: true }, out: [], error: streamErrorFailure(data) };
      default:
        return { state, out: [] };
    }
  },
};

export const anthropicMessagesPassthrough: MessagesPassthrough & { failureInBody(body: unknown): UpstreamFailure | undefined } = {
  toRequest(body: Record<string, unknown>, dep: Deployment, clientHeaders: ClientHeaders): UpstreamRequest {
    return {
      ...messagesTarget(dep),
      method: 'POST',
      headers: anthropicHeaders(
        dep,
        body.stream === true,
        headerText(clientHeaders['anthropic-version']) ?? ANTHROPIC_VERSION,
        headerText(clientHeaders['anthropic-beta']),
      ),
      body: JSON.stringify({ ...body, model: dep.model }),
    };
  },
  usageFromResponse(body: unknown): Usage | undefined {
    if (typeof body !== 'object' || body === null) return undefined;
    return usageFromAnthropic((body as { usage?: AnthropicUsage }).usage);
  },
  /**
   * The failure in a non-streaming body that came with HTTP 200 but is an Anthropic error
   * (`{"type":"error","error":{"type":"overloaded_error",...}}` → upstream_overloaded);
   * undefined for a normal message or anything else.
   */
  failureInBody(body: unknown): UpstreamFailure | undefined {
    return bodyErrorFailure(body);
  },
  streamUsage: anthropicStreamUsage,
};
