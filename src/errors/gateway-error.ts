import type { FailureClass } from '../providers/types.ts';
import { ERROR_CODES, type ErrorCode, type ErrorType } from './codes.ts';

export interface GatewayErrorOptions {
  /** The request field the error is about, echoed as `param` in the envelope. */
  param?: string;
  /** The deployment that failed, for upstream errors. Never contains secrets. */
  deployment?: string;
  /** Seconds the client should wait, sent as Retry-After. */
  retryAfterSeconds?: number;
  /** Extra response headers (x-ratelimit-* on a limit refusal). */
  headers?: Readonly<Record<string, string>>;
  /** Structured detail sent in the error body as `error.limit` (which limit tripped). */
  limit?: Readonly<Record<string, unknown>>;
  /** Structured detail sent as `error.guardrail` (the direction and detector names of a block). */
  guardrail?: Readonly<Record<string, unknown>>;
  /** For a provider's failure: how the router treats it (retry, fall back, fail fast). */
  failureClass?: FailureClass;
  cause?: unknown;
}

/** The one error type the pipeline throws; `toErrorBody` turns it into the OpenAI envelope. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  readonly retryable: boolean;
  readonly param: string | null;
  readonly deployment: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly limit: Readonly<Record<string, unknown>> | undefined;
  readonly guardrail: Readonly<Record<string, unknown>> | undefined;
  readonly failureClass: FailureClass | undefined;
  readonly #options: GatewayErrorOptions;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const spec = ERROR_CODES[code];
    this.name = 'GatewayError';
    this.code = code;
    this.status = spec.status;
    this.type = spec.type;
    this.retryable = spec.retryable;
    this.param = options.param ?? null;
    this.deployment = options.deployment;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = options.headers;
    this.limit = options.limit;
    this.guardrail = options.guardrail;
    this.failureClass = options.failureClass;
    this.#options = options;
  }

  /** The same error with more response headers (e.g. how many attempts were made). */
  withHeaders(headers: Readonly<Record<string, string>>): GatewayError {
    return new GatewayError(this.code, this.message, { ...this.#options, headers: { ...this.headers, ...headers } });
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}
