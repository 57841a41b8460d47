// OpenAI's rate-limit response headers, from the windows one request touched. Where several
// scopes limit requests (key, team, tenant, ...), the headers describe the tightest one: the
// window with the fewest units left.
//   x-ratelimit-limit-requests  x-ratelimit-remaining-requests  x-ratelimit-reset-requests
//   x-ratelimit-limit-tokens    x-ratelimit-remaining-tokens    x-ratelimit-reset-tokens
// Reset values use OpenAI's duration format: "20ms", "1.5s", "6m0s".

import type { WindowState } from './counter-store.ts';
import type { CounterMeta } from './limit-plan.ts';

/** OpenAI's reset format. */
export function formatReset(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 1000) return `${whole}ms`;
  if (whole < 60_000) return `${Number((whole / 1000).toFixed(3))}s`;
  const minutes = Math.floor(whole / 60_000);
  return `${minutes}m${Number(((whole - minutes * 60_000) / 1000).toFixed(3))}s`;
}

export function rateLimitHeaders(windows: readonly WindowState[], meta: ReadonlyMap<string, CounterMeta>, into: Record<string, string> = {}): Record<string, string> {
  let requests: WindowState | undefined;
  let tokens: WindowState | undefined;
  for (const w of windows) {
    const unit = meta.get(w.id)?.unit;
    if (unit === 'requests') requests = tighter(requests, w);
    else if (unit === 'tokens') tokens = tighter(tokens, w);
  }
  if (requests) set(into, 'requests', requests);
  if (tokens) set(into, 'tokens', tokens);
  return into;
}

function tighter(a: WindowState | undefined, b: WindowState): WindowState {
  if (!a) return b;
  if (b.remaining !== a.remaining) return b.remaining < a.remaining ? b : a;
  return b.resetMs > a.resetMs ? b : a;
}

function set(into: Record<string, string>, unit: string, w: WindowState): void {
  into[`x-ratelimit-limit-${unit}`] = String(w.limit);
  into[`x-ratelimit-remaining-${unit}`] = String(w.remaining);
  into[`x-ratelimit-reset-${unit}`] = formatReset(w.resetMs);
}
