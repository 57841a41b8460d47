/**
 * Full-jitter exponential backoff (AWS's "full jitter"): the wait before retry n (from 0) is
 * uniform in [0, min(max, initial · 2^n)], so clients that failed together do not retry together.
 */
export function fullJitterMs(retry: number, initialMs: number, maxMs: number, random: () => number): number {
  return random() * Math.min(maxMs, initialMs * 2 ** retry);
}
