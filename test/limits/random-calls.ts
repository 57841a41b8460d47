// A reproducible random sequence of CounterStore calls, for proving that two backends give the
// same answers: acquires of random mixes of limits, settles (some repeated, some late) with
// random corrections, and budgets() views, with a clock that moves forward across window,
// lease, reservation and budget-period boundaries.

import type { AcquireRequest, CounterStore, SettleRequest } from '../../src/limits/counter-store.ts';
import { T0 } from './counter-fixtures.ts';
import { seededRandom } from '../../src/providers/simulator/simulator-text.ts';

export type Call = (store: CounterStore) => Promise<unknown>;


const WINDOW_MS = 10_000;
const PERIOD_MS = 200_000;

export function randomCalls(seed: number, count: number): Call[] {
  const random = seededRandom(seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const chance = (p: number) => random() < p;
  const acquired: AcquireRequest[] = [];
  const settles: SettleRequest[] = [];
  const calls: Call[] = [];
  let now = T0 + int(0, WINDOW_MS);

  for (let i = 0; i < count; i++) {
    now += chance(0.1) ? int(5_000, 40_000) : int(0, 1_500);
    const period = Math.floor(now / PERIOD_MS);
    const periodEndsAt = (period + 1) * PERIOD_MS;
    const roll = random();
    if (roll < 0.6) {
      const request: AcquireRequest = {
        leaseId: `r-${seed}-${i}`,
        now,
        windows: [
          ...(chance(0.7) ? [{ id: 'rpm:a', limit: 6, windowMs: WINDOW_MS, cost: 1 }] : []),
          ...(chance(0.6) ? [{ id: 'tpm:a', limit: 300, windowMs: WINDOW_MS, cost: int(0, 120), correctable: chance(0.9) }] : []),
          ...(chance(0.2) ? [{ id: 'tpm:big', limit: 50, windowMs: 3 * WINDOW_MS, cost: int(0, 60), correctable: true }] : []),
        ],
        concurrency: [
          ...(chance(0.5) ? [{ id: 'cc:a', limit: 3, leaseMs: 7_000 }] : []),
          ...(chance(0.3) ? [{ id: 'cc:b', limit: 1, leaseMs: int(1_000, 4_000) }] : []),
        ],
        budgets: [
          ...(chance(0.6) ? [{ id: `usd:a:${period}`, limit: 1_000, amount: int(0, 400), periodEndsAt, reservationTtlMs: 8_000 }] : []),
          ...(chance(0.3) ? [{ id: `usd:b:${period}`, limit: 500, amount: int(0, 200), periodEndsAt, reservationTtlMs: 5_000 }] : []),
        ],
      };
      acquired.push(request);
      calls.push((store) => store.acquire(request));
    } else if (roll < 0.9 && acquired.length > 0) {
      const repeat = settles.length > 0 && chance(0.15);
      const settle = repeat ? { ...settles[int(0, settles.length - 1)], now } : settlement(acquired[int(0, acquired.length - 1)], now, int);
      settles.push(settle);
      calls.push((store) => store.settle(settle));
    } else {
      const ids = [`usd:a:${period}`, `usd:b:${period}`, `usd:a:${period - 1}`, 'usd:none'];
      const at = now;
      calls.push((store) => store.budgets(ids, at));
    }
  }
  return calls;
}

function settlement(request: AcquireRequest, now: number, int: (min: number, max: number) => number): SettleRequest {
  return {
    leaseId: request.leaseId,
    now,
    windows: request.windows.map((w) => ({ id: w.id, windowMs: w.windowMs, acquiredAt: request.now, delta: w.id === 'rpm:a' ? 0 : int(-w.cost - 50, 80) })),
    concurrency: request.concurrency.map((c) => c.id),
    budgets: request.budgets.map((b) => ({ id: b.id, actual: int(0, Math.floor(b.amount * 1.2)), periodEndsAt: b.periodEndsAt })),
  };
}
