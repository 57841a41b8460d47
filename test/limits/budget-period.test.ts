import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedBudgetPeriod, LIFETIME, periodAt } from '../../src/limits/budget-period.ts';

test('1mo is the calendar month in UTC, and resets at its boundary', () => {
  const dec = periodAt('1mo', Date.UTC(2026, 11, 31, 23, 59, 59, 999));
  assert.deepEqual(dec, { id: '2026-12', startsAt: Date.UTC(2026, 11, 1), endsAt: Date.UTC(2027, 0, 1) });
  assert.equal(periodAt('1mo', Date.UTC(2027, 0, 1)).id, '2027-01');
  assert.equal(periodAt('1mo', Date.UTC(2028, 1, 29, 12)).endsAt, Date.UTC(2028, 2, 1), 'leap February');
});

test('fixed durations are aligned to the epoch (UTC days for 1d and 24h)', () => {
  const at = Date.UTC(2026, 11, 1, 15, 30);
  const day = periodAt('1d', at);
  assert.equal(day.startsAt, Date.UTC(2026, 11, 1));
  assert.equal(day.endsAt, Date.UTC(2026, 11, 2));
  assert.deepEqual(periodAt('24h', at), day);
  const week = periodAt('7d', at);
  assert.equal(week.endsAt - week.startsAt, 7 * 86_400_000);
  assert.ok(week.startsAt <= at && at < week.endsAt);
  assert.notEqual(periodAt('1d', day.endsAt).id, day.id, 'the next day is a new period');
  assert.equal(periodAt('1d', day.endsAt - 1).id, day.id);
});

test('a bad duration is refused', () => {
  assert.throws(() => periodAt('soon', 0));
});

test('cachedBudgetPeriod: the same period as periodAt, kept until it ends, then the next; undefined is LIFETIME', () => {
  const periodOf = cachedBudgetPeriod();
  const day = Date.UTC(2026, 11, 15, 12);
  const first = periodOf('1d', day);
  assert.deepEqual(first, periodAt('1d', day));
  assert.equal(periodOf('1d', day + 3_600_000), first, 'the same object within the period');
  const next = periodOf('1d', first.endsAt);
  assert.deepEqual(next, periodAt('1d', first.endsAt));
  assert.notEqual(next.id, first.id);
  assert.deepEqual(periodOf('1d', first.endsAt - 1), first, 'an earlier instant still gets its own period');
  assert.deepEqual(periodOf('1mo', Date.UTC(2026, 11, 31, 23, 59)), periodAt('1mo', Date.UTC(2026, 11, 31, 23, 59)));
  assert.deepEqual(periodOf('1mo', Date.UTC(2027, 0, 1)).id, '2027-01');
  assert.equal(periodOf(undefined, day), LIFETIME);
});
