// Today's spend per tenant next to its 7-day average, for the spend-spike rule.
//
// How today's spend is known without a database read per request:
// - Every few minutes (off the request path) one ledger query, spend grouped by tenant and UTC
//   day over the 7 days before today and today itself, gives each tenant's 7-day average (the
//   7 days' sum / 7) and its spend today as the ledger saw it ("ledger today").
// - Just before that query is sent, this replica's live per-tenant counters (fed by every
//   finished call) are copied ("live at load").
// - Today's spend is then ledger today + (live now − live at load): the ledger's view, which
//   includes other replicas and the time before this process started, plus what this replica
//   has seen since. Other replicas' spend since the last load shows up at the next load.
//
// Days are UTC days, as the ledger's day column is. Without a queryable ledger (no SQL sink)
// there is no average and the rule stays quiet.

import type { LedgerReader } from '../ledger/ledger-sink.ts';

const DAY_MS = 86_400_000;
/** Tenants counted live at most; beyond it new tenants are not counted (and are reported as untracked). */
export const MAX_TENANTS = 100_000;

export interface TenantToday {
  readonly tenant: string;
  /** US dollars spent today (UTC), estimated as described above. */
  readonly todayUsd: number;
  /** Average daily spend over the 7 UTC days before today (days without spend count as 0). */
  readonly averageUsd: number;
  /** Of those 7 days, how many had any spend: a tenant that is days old has no meaningful average. */
  readonly activeDays: number;
}

interface Baseline {
  readonly averageUsd: number;
  readonly activeDays: number;
  readonly ledgerTodayUsd: number;
  readonly liveAtLoad: number;
}

export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export class TenantSpend {
  readonly #maxTenants: number;
  #day = '';
  #dayStart = Infinity;
  #dayEnd = -Infinity;
  #live = new Map<string, number>();
  #loaded: { readonly day: string; readonly tenants: ReadonlyMap<string, Baseline> } | undefined;
  /** Spend events of tenants not counted because MAX_TENANTS were already. */
  untracked = 0;

  constructor(maxTenants = MAX_TENANTS) {
    this.#maxTenants = maxTenants;
  }

  /** A finished call's cost: O(1), no I/O. */
  add(tenant: string, usd: number, now: number): void {
    if (!(usd > 0)) return;
    this.#roll(now);
    const before = this.#live.get(tenant);
    if (before === undefined && this.#live.size >= this.#maxTenants) {
      this.untracked += 1;
      return;
    }
    this.#live.set(tenant, (before ?? 0) + usd);
  }

  /** The UTC day the loaded averages are for (undefined before the first load). */
  loadedDay(): string | undefined {
    return this.#loaded?.day;
  }

  /** Loads the averages and the ledger's view of today; rejects when the reader does. */
  async load(reader: LedgerReader, now: number): Promise<void> {
    this.#roll(now);
    const day = utcDay(now);
    const dayStart = Date.parse(`${day}T00:00:00.000Z`);
    const liveAtLoad = new Map(this.#live);
    const rows = await reader.spend({
      groupBy: ['tenant', 'day'],
      from: new Date(dayStart - 7 * DAY_MS).toISOString(),
      to: new Date(dayStart + DAY_MS).toISOString(),
      filters: {},
    });
    const sums = new Map<string, { past: number; activeDays: number; today: number }>();
    for (const row of rows) {
      const tenant = row.group.tenant;
      if (typeof tenant !== 'string' || !(row.cost_usd > 0)) continue;
      let sum = sums.get(tenant);
      if (!sum) {
        if (sums.size >= this.#maxTenants) continue;
        sum = { past: 0, activeDays: 0, today: 0 };
        sums.set(tenant, sum);
      }
      if (row.group.day === day) sum.today += row.cost_usd;
      else {
        sum.past += row.cost_usd;
        sum.activeDays += 1;
      }
    }
    const tenants = new Map<string, Baseline>();
    for (const [tenant, sum] of sums) {
      tenants.set(tenant, { averageUsd: sum.past / 7, activeDays: sum.activeDays, ledgerTodayUsd: sum.today, liveAtLoad: liveAtLoad.get(tenant) ?? 0 });
    }
    this.#loaded = { day, tenants };
  }

  /** Each tenant with an average, and its spend today; nothing while the averages are from another day. */
  *today(now: number): Iterable<TenantToday> {
    this.#roll(now);
    const loaded = this.#loaded;
    if (!loaded || loaded.day !== this.#day) return;
    for (const [tenant, b] of loaded.tenants) {
      const live = this.#live.get(tenant) ?? 0;
      yield { tenant, todayUsd: b.ledgerTodayUsd + Math.max(0, live - b.liveAtLoad), averageUsd: b.averageUsd, activeDays: b.activeDays };
    }
  }

  /** A new UTC day starts the live counts again (two comparisons on the request path; a date string once a day). */
  #roll(now: number): void {
    if (now >= this.#dayStart && now < this.#dayEnd) return;
    this.#dayStart = Math.floor(now / DAY_MS) * DAY_MS;
    this.#dayEnd = this.#dayStart + DAY_MS;
    this.#day = utcDay(now);
    this.#live = new Map();
  }
}
