// Budget periods: when a budget's counter starts from zero again. Fixed durations (1d, 24h,
// 7d, 30d, …) are aligned to the Unix epoch in UTC, so every replica agrees on the boundaries
// without talking to each other; `1mo` is the calendar month in UTC.

import { durationSeconds } from '../admin/duration.ts';

export interface Period {
  /** Stable name of the period, part of the counter id ("2026-12", "d86400-20423"). */
  readonly id: string;
  readonly startsAt: number;
  readonly endsAt: number;
}

/** The period of `duration` that contains `now` (epoch ms). `duration` is validated at config load. */
export function periodAt(duration: string, now: number): Period {
  if (duration === '1mo') {
    const at = new Date(now);
    const startsAt = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
    const endsAt = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
    return { id: `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`, startsAt, endsAt };
  }
  const seconds = durationSeconds(duration);
  if (seconds === undefined || seconds <= 0) throw new Error(`not a budget duration: ${duration}`);
  const length = seconds * 1000;
  const index = Math.floor(now / length);
  return { id: `p${seconds}-${index}`, startsAt: index * length, endsAt: (index + 1) * length };
}

/** A budget without a duration never resets (LiteLLM's max_budget without budget_duration). */
export const LIFETIME: Period = Object.freeze({ id: 'all', startsAt: 0, endsAt: Date.UTC(9999, 0, 1) });

/** periodAt, or LIFETIME when no duration is set. */
export function budgetPeriod(duration: string | undefined, now: number): Period {
  return duration === undefined ? LIFETIME : periodAt(duration, now);
}

/** The period of `duration` at `now`, with `undefined` meaning LIFETIME. */
export type PeriodOf = (duration: string | undefined, now: number) => Period;

/**
 * budgetPeriod, remembering the current period of each duration until it ends, so the request
 * path does no date arithmetic. At most `max` durations are kept (they come from config and the
 * admin API, so there are few).
 */
export function cachedBudgetPeriod(max = 256): PeriodOf {
  const current = new Map<string, Period>();
  return (duration, now) => {
    if (duration === undefined) return LIFETIME;
    const hit = current.get(duration);
    if (hit && now >= hit.startsAt && now < hit.endsAt) return hit;
    const period = periodAt(duration, now);
    if (current.size >= max && !hit) current.clear();
    current.set(duration, period);
    return period;
  };
}
