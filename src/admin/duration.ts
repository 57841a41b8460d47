// Durations as LiteLLM writes them: a whole number and a unit, e.g. 30s, 15m, 24h, 7d, 1mo.
// Used by key `duration`, rotation `grace_period` and `budget_duration`.

const UNIT_SECONDS: Readonly<Record<string, number>> = Object.freeze({ s: 1, m: 60, h: 3600, d: 86_400, mo: 30 * 86_400 });

export const DURATION = /^(\d{1,10})(s|m|h|d|mo)$/;
export const DURATION_RULE = 'a whole number and a unit (s, m, h, d or mo = 30 days), such as 30s, 15m, 24h, 7d or 1mo';
/** Longer durations are refused so that now + duration is always a valid date. */
export const MAX_DURATION_SECONDS = 100 * 365 * 86_400;

/** Seconds in a duration, or undefined when the text is not one (or exceeds 100 years). */
export function durationSeconds(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2]!]!;
  return seconds <= MAX_DURATION_SECONDS ? seconds : undefined;
}
