import type { FailureClass } from '../providers/types.ts';

/** One attempt, for logs, the ledger (via settle) and tests. */
export interface AttemptRecord {
  readonly alias: string;
  readonly deployment: string;
  readonly provider: string;
  /** ok: it served; failed: it answered an error; skipped: it was not called (cannot carry the request, or its own limit refused). */
  readonly outcome: 'ok' | 'failed' | 'skipped';
  readonly code?: string;
  readonly class?: FailureClass;
  readonly ms: number;
}

/** `alias/deployment:outcome(code)`, as the drill's x-gateway-route lists attempts. */
export function describeAttempt(a: AttemptRecord): string {
  return `${a.alias}/${a.deployment}:${a.outcome}${a.code ? `(${a.code})` : ''}`;
}

/**
 * What the client learns about how it was served: how many upstream attempts were made,
 * whether a fallback alias served, and (in a drill) the whole route.
 */
export function routeHeaders(attempts: readonly AttemptRecord[], requested: string, served: string | undefined, blocked: readonly string[]): Record<string, string> {
  const made = attemptsMade(attempts);
  const fellBack = served !== undefined && served !== requested;
  const headers: Record<string, string> = { 'x-gateway-attempts': String(made), 'x-gateway-fallback-used': fellBack ? 'true' : 'false' };
  if (fellBack) headers['x-gateway-fallback-alias'] = served;
  if (blocked.length > 0) headers['x-gateway-route'] = [...blocked.map((id) => `${id}:blocked`), ...attempts.map(describeAttempt)].join(', ');
  return headers;
}

export function attemptsMade(attempts: readonly AttemptRecord[]): number {
  let made = 0;
  for (const a of attempts) if (a.outcome !== 'skipped') made += 1;
  return made;
}
