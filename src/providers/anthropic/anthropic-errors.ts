import type { ErrorCode } from '../../errors/codes.ts';
import type { UpstreamFailure, UpstreamResponse } from '../types.ts';
import { bodyFailure, codeForStatus, failure, providerMessage } from '../shared/upstream-errors.ts';

// Anthropic's context-window rejections, e.g. "prompt is too long: 208310 tokens > 200000 maximum"
// and "input length and `max_tokens` exceed context limit: 197202 + 21333 > 200000, ...".
const CONTEXT_TOO_LONG = /prompt is too long|exceeds? (the )?context limit|context window|context length/i;
// e.g. "Output blocked by content filtering policy".
const CONTENT_POLICY = /content filtering policy|content policy/i;

/**
 * The gateway code for one of Anthropic's error types (`error.type` in the body or in an
 * in-stream `error` event); the HTTP status decides when the type is missing or unknown.
 */
export function anthropicErrorCode(errorType: string | undefined, message: string, status?: number): ErrorCode {
  switch (errorType) {
    case 'invalid_request_error':
      if (CONTEXT_TOO_LONG.test(message)) return 'context_length_exceeded';
      if (CONTENT_POLICY.test(message)) return 'content_policy_violation';
      return 'upstream_bad_request';
    case 'request_too_large':
      return 'upstream_bad_request';
    case 'authentication_error':
    case 'permission_error':
    // The account behind the deployment's key cannot pay: only an operator can fix it.
    case 'billing_error':
      return 'upstream_auth_failed';
    case 'not_found_error':
      return 'upstream_not_found';
    case 'rate_limit_error':
      return 'upstream_rate_limited';
    case 'overloaded_error':
      return 'upstream_overloaded';
    case 'timeout_error':
      return 'upstream_timeout';
    case 'api_error':
      return 'upstream_error';
    default:
      if (status === undefined) return 'upstream_error';
      if (status === 400 && CONTEXT_TOO_LONG.test(message)) return 'context_length_exceeded';
      return codeForStatus(status);
  }
}

function errorType(bodyText: string): string | undefined {
  try {
    const type: unknown = JSON.parse(bodyText)?.error?.type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

/** ProviderAdapter.mapError for Anthropic: body `{"type":"error","error":{"type","message"}}`. */
export function mapAnthropicError(status: number, bodyText: string, headers: UpstreamResponse['headers']): UpstreamFailure {
  const message = providerMessage(bodyText, (json) => json?.error?.message ?? json?.message);
  return failure(anthropicErrorCode(errorType(bodyText), message, status), message, headers);
}

function errorFields(data: unknown): { type: string | undefined; message: string | undefined } {
  const error = typeof data === 'object' && data !== null ? (data as { error?: unknown }).error : undefined;
  const fields = typeof error === 'object' && error !== null ? error as { type?: unknown; message?: unknown } : {};
  return {
    type: typeof fields.type === 'string' ? fields.type : undefined,
    message: typeof fields.message === 'string' && fields.message.trim() ? fields.message.trim() : undefined,
  };
}

/** The failure an in-stream `event: error` reports (there are no headers mid-stream). */
export function streamErrorFailure(data: unknown): UpstreamFailure {
  const { type, message = 'provider stream error' } = errorFields(data);
  return bodyFailure(anthropicErrorCode(type, message), message);
}

/**
 * The failure in a parsed response body that arrived with a success status but is an
 * Anthropic error (`{"type":"error","error":{"type":"overloaded_error","message":"..."}}`);
 * undefined for any other body. Bodies with no top-level `type` but an `error` object (as
 * some Anthropic-compatible servers send) count too. The error type alone decides the code,
 * since the status (200) says nothing.
 */
export function bodyErrorFailure(body: unknown): UpstreamFailure | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { type: topType, error } = body as { type?: unknown; error?: unknown };
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return undefined;
  if (topType !== 'error' && topType !== undefined) return undefined;
  const { type, message } = errorFields(body);
  const text = message === undefined ? `provider error${type ? ` (${type})` : ''}` : message.length > 600 ? `${message.slice(0, 600)}…` : message;
  return bodyFailure(anthropicErrorCode(type, text), text);
}

/** Characters of generated output in a content_block_delta (text, thinking or tool input). */
export function deltaChars(delta: { type?: unknown; text?: unknown; thinking?: unknown; partial_json?: unknown } | undefined): number {
  if (!delta) return 0;
  const value = delta.type === 'text_delta' ? delta.text : delta.type === 'thinking_delta' ? delta.thinking : delta.type === 'input_json_delta' ? delta.partial_json : undefined;
  return typeof value === 'string' ? value.length : 0;
}
