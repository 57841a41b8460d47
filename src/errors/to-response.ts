import { GatewayError, isGatewayError } from './gateway-error.ts';

export interface OpenAIErrorEnvelope {
  error: { message: string; type: string; code: string; param: string | null; limit?: Readonly<Record<string, unknown>>; guardrail?: Readonly<Record<string, unknown>> };
}

export interface AnthropicErrorEnvelope {
  type: 'error';
  error: { type: string; message: string; limit?: Readonly<Record<string, unknown>>; guardrail?: Readonly<Record<string, unknown>> };
}

/** Any thrown value becomes a GatewayError; unknown values become internal_error (the only 500). */
export function toGatewayError(err: unknown, requestId: string): GatewayError {
  if (isGatewayError(err)) return err;
  return new GatewayError('internal_error', `Internal gateway error (request id ${requestId}).`, { cause: err });
}

export function toOpenAIErrorBody(err: GatewayError): OpenAIErrorEnvelope {
  const error: OpenAIErrorEnvelope['error'] = { message: err.message, type: err.type, code: err.code, param: err.param };
  if (err.limit) error.limit = err.limit;
  if (err.guardrail) error.guardrail = err.guardrail;
  return { error };
}

// Anthropic SDKs pick their exception class from the HTTP status; the body type mirrors Anthropic's names.
const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  529: 'overloaded_error',
};

export function toAnthropicErrorBody(err: GatewayError): AnthropicErrorEnvelope {
  const type = ANTHROPIC_TYPES[err.status] ?? (err.status >= 500 ? 'api_error' : 'invalid_request_error');
  const error: AnthropicErrorEnvelope['error'] = { type, message: `${err.message} [${err.code}]` };
  if (err.limit) error.limit = err.limit;
  if (err.guardrail) error.guardrail = err.guardrail;
  return { type: 'error', error };
}

export function errorHeaders(err: GatewayError): Record<string, string> {
  const headers: Record<string, string> = { ...err.headers, 'x-gateway-error-code': err.code };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(0, Math.ceil(err.retryAfterSeconds)));
  if (err.deployment) headers['x-gateway-deployment'] = err.deployment;
  return headers;
}
