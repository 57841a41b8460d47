import type { ErrorCode } from '../../errors/codes.ts';
import type { FailureClass, UpstreamFailure, UpstreamResponse } from '../types.ts';

const MAX_MESSAGE = 600;

/** Seconds from Retry-After (seconds or HTTP date) or OpenAI's retry-after-ms header. */
export function retryAfterSeconds(headers: UpstreamResponse['headers'], now = Date.now()): number | undefined {
  const ms = headerValue(headers, 'retry-after-ms');
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms) / 1000);
  const value = headerValue(headers, 'retry-after');
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

export function headerValue(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The provider's own error text, trimmed, for messages that say what went wrong. */
export function providerMessage(bodyText: string, pick: (json: any) => unknown): string {
  let message: unknown;
  try {
    message = pick(JSON.parse(bodyText));
  } catch {
    message = undefined;
  }
  const text = typeof message === 'string' && message.trim() ? message.trim() : bodyText.trim();
  if (!text) return 'no error body';
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/** The status-based part of the classification every provider shares. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'upstream_auth_failed';
  if (status === 404) return 'upstream_not_found';
  if (status === 408) return 'upstream_timeout';
  if (status === 429) return 'upstream_rate_limited';
  if (status === 503 || status === 529) return 'upstream_overloaded';
  if (status >= 500 || status === 409) return 'upstream_error';
  return 'upstream_bad_request';
}

/**
 * The router's class for a provider failure code: transient ones (408, 409, 429, 5xx, 529)
 * are retried, a context-length or content-policy rejection goes to its dedicated fallback,
 * and the other 4xx fail fast.
 */
export function failureClass(code: ErrorCode): FailureClass {
  switch (code) {
    case 'upstream_rate_limited': return 'rate_limit';
    case 'upstream_timeout': return 'timeout';
    case 'upstream_error':
    case 'upstream_overloaded':
    case 'upstream_invalid_response':
    case 'upstream_stream_interrupted': return 'server_error';
    case 'upstream_unreachable': return 'connect_error';
    case 'context_length_exceeded': return 'context_window';
    case 'content_policy_violation': return 'content_policy';
    case 'upstream_auth_failed': return 'auth';
    case 'upstream_not_found': return 'not_found';
    default: return 'bad_request';
  }
}

/** A failure with no headers to read (reported inside a body or a stream). */
export function bodyFailure(code: ErrorCode, message: string): UpstreamFailure {
  return { code, message, class: failureClass(code) };
}

export function failure(code: ErrorCode, message: string, headers: UpstreamResponse['headers']): UpstreamFailure {
  const result: UpstreamFailure = bodyFailure(code, message);
  if (code === 'upstream_rate_limited' || code === 'upstream_overloaded') {
    const after = retryAfterSeconds(headers);
    if (after !== undefined) result.retryAfterSeconds = after;
  }
  return result;
}
