// How failures from `pg` surface: our own StoreConflict passes through (argument errors are
// thrown before any query); everything else (refused or dropped connections, timeouts, admin
// shutdown, SQL errors) becomes StoreUnavailable with a message that names the server but
// never its credentials.

import { StoreConflict, StoreUnavailable } from '../identity-store.ts';

/** Node socket errors and SQLSTATEs that mean "the database is not there right now". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '57014', // query_canceled (statement_timeout)
]);

/** pg's own messages for timeouts and dropped sockets, which carry no code. */
const CONNECTION_MESSAGES = /timeout|terminated|Connection ended|not queryable|ended unexpectedly/i;

/** `user:secret@` → `user:***@`, and `password=...` → `password=***`. */
export function redactCredentials(text: string): string {
  return text
    .replace(/(\/\/[^/?#@:\s]*):[^/?#\s]*@/g, '$1:***@')
    .replace(/(password=)[^&\s]*/gi, '$1***');
}

export function isConnectionFailure(error: unknown): boolean {
  const code = errorCode(error);
  if (code && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return !code && CONNECTION_MESSAGES.test(errorMessage(error));
}

export function toStoreError(error: unknown, server: string): Error {
  if (error instanceof StoreConflict || error instanceof StoreUnavailable) return error;
  const code = errorCode(error);
  const reason = redactCredentials(errorMessage(error));
  const message = isConnectionFailure(error)
    ? `PostgreSQL at ${server} is unavailable: ${reason}`
    : `PostgreSQL at ${server} failed: ${reason}${code ? ` (SQLSTATE ${code})` : ''}`;
  return new StoreUnavailable(message, { cause: error });
}

function errorCode(error: unknown): string | undefined {
  const own = (error as { code?: unknown } | null)?.code;
  if (typeof own === 'string') return own;
  // Node reports a refused "localhost" (both ::1 and 127.0.0.1) as an AggregateError.
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return undefined;
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && !error.message) {
    return error.errors.map((e) => errorMessage(e)).join('; ') || 'connection failed';
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
