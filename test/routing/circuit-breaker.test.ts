// CircuitBreaker as pure state with explicit timestamps: when it opens, for how long,
// the half-open probe, and what a remote replica's open() does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreaker, type BreakerSettings } from '../../src/routing/circuit-breaker.ts';

const SETTINGS: BreakerSettings = { enabled: true, allowedFails: 2, windowMs: 1_000, cooldownMs: 500 };

function breaker(settings: Partial<BreakerSettings> = {}): CircuitBreaker {
  return new CircuitBreaker({ ...SETTINGS, ...settings });
}

/** A breaker opened at t=100 by three quick failures: cooling until 600. */
function opened(): CircuitBreaker {
  const b = breaker();
  b.failure(100, 'server_error');
  b.failure(100, 'server_error');
  assert.equal(b.failure(100, 'server_error'), 600);
  return b;
}

test('a new breaker is closed and available', () => {
  const b = breaker();
  assert.equal(b.state(0), 'closed');
  assert.equal(b.availability(0), 'available');
  assert.equal(b.cooldownUntil(0), undefined);
  assert.equal(b.reason, undefined);
  assert.equal(b.success(0), false);
});

test('allowedFails failures keep it closed; one more within the window opens it for cooldownMs', () => {
  const b = breaker();
  assert.equal(b.failure(0, 'timeout'), undefined);
  assert.equal(b.failure(400, 'timeout'), undefined);
  assert.equal(b.state(400), 'closed');
  assert.equal(b.failure(900, 'server_error'), 1_400);
  assert.equal(b.state(900), 'cooling');
  assert.equal(b.availability(1_399), 'cooling');
  assert.equal(b.cooldownUntil(1_000), 1_400);
  assert.equal(b.reason, 'server_error');
});

test('allowedFails 0: the first failure opens it', () => {
  const b = breaker({ allowedFails: 0 });
  assert.equal(b.failure(10, 'connect_error'), 510);
});

test('failures older than the window do not count', () => {
  const b = breaker();
  b.failure(0, 'timeout');
  b.failure(100, 'timeout');
  // At 1000 the failure at 0 is exactly windowMs old: out of the window.
  assert.equal(b.failure(1_000, 'timeout'), undefined);
  assert.equal(b.state(1_000), 'closed');
  // 100 and 1000 are in the window: one more opens it.
  assert.equal(b.failure(1_050, 'timeout'), 1_550);
});

test('failures spread wider than the window never open it', () => {
  const b = breaker();
  for (let t = 0; t < 20_000; t += 600) assert.equal(b.failure(t, 'timeout'), undefined);
  assert.equal(b.state(20_000), 'closed');
});

test('successes in between do not reset the count: failures within the window are what trips it', () => {
  const b = breaker();
  b.failure(0, 'timeout');
  assert.equal(b.success(1), false);
  b.failure(2, 'timeout');
  assert.equal(b.success(3), false);
  assert.equal(b.failure(4, 'timeout'), 504);
  assert.equal(b.state(5), 'cooling');
});

test('a success during the cooldown (a call that started before it) changes nothing', () => {
  const b = opened();
  assert.equal(b.success(300), false);
  assert.equal(b.state(300), 'cooling');
  assert.equal(b.availability(300), 'cooling');
});

test('Retry-After opens it at once, for at least that long', () => {
  const b = breaker();
  assert.equal(b.failure(0, 'rate_limit', 2_000), 2_000);
  assert.equal(b.state(1_999), 'cooling');
  assert.equal(b.state(2_000), 'half_open');
  assert.equal(b.reason, 'rate_limit');
});

test('a Retry-After shorter than cooldownMs does not shorten a trip of the failure count', () => {
  const b = breaker({ allowedFails: 0 });
  assert.equal(b.failure(0, 'rate_limit', 100), 500);
});

test('Retry-After lengthens an open cooldown but never shortens it', () => {
  const b = opened(); // until 600
  assert.equal(b.failure(200, 'rate_limit', 100), undefined);
  assert.equal(b.cooldownUntil(200), 600);
  assert.equal(b.failure(200, 'rate_limit', 3_000), 3_200);
  assert.equal(b.cooldownUntil(300), 3_200);
  assert.equal(b.failure(300, 'rate_limit', 1_000), undefined);
  assert.equal(b.cooldownUntil(300), 3_200);
});

test('a zero or negative Retry-After counts as a plain failure', () => {
  const b = breaker();
  assert.equal(b.failure(0, 'rate_limit', 0), undefined);
  assert.equal(b.failure(0, 'rate_limit', -5), undefined);
  assert.equal(b.state(0), 'closed');
});

test('when the cooldown ends it is half-open and offers the probe', () => {
  const b = opened();
  assert.equal(b.availability(599), 'cooling');
  assert.equal(b.state(600), 'half_open');
  assert.equal(b.availability(600), 'probe');
  assert.equal(b.cooldownUntil(600), undefined);
});

test('a claimed probe makes others see cooling until its lease passes', () => {
  const b = opened();
  b.claimProbe(600, 1_000);
  assert.equal(b.availability(600), 'cooling');
  assert.equal(b.availability(1_599), 'cooling');
  assert.equal(b.state(1_000), 'half_open');
  // The lease passed without an answer: another request may probe.
  assert.equal(b.availability(1_600), 'probe');
});

test('probe success closes the breaker (success() returns true) and clears the reason', () => {
  const b = opened();
  b.claimProbe(600, 1_000);
  assert.equal(b.success(650), true);
  assert.equal(b.state(700), 'closed');
  assert.equal(b.availability(700), 'available');
  assert.equal(b.reason, undefined);
  assert.equal(b.success(700), false);
  // Closed again with a fresh count: allowedFails failures are tolerated.
  assert.equal(b.failure(800, 'timeout'), undefined);
  assert.equal(b.failure(800, 'timeout'), undefined);
  assert.equal(b.state(800), 'closed');
});

test('probe failure re-opens it for cooldownMs at once', () => {
  const b = opened();
  b.claimProbe(700, 1_000);
  assert.equal(b.failure(750, 'timeout'), 1_250);
  assert.equal(b.state(750), 'cooling');
  assert.equal(b.availability(1_249), 'cooling');
  assert.equal(b.availability(1_250), 'probe');
  assert.equal(b.reason, 'timeout');
});

test('probe failure with Retry-After re-opens it for the longer of the two', () => {
  const b = opened();
  b.claimProbe(700, 1_000);
  assert.equal(b.failure(700, 'rate_limit', 5_000), 5_700);
});

test('enabled: false never opens, not even for Retry-After', () => {
  const b = breaker({ enabled: false, allowedFails: 0 });
  for (let i = 0; i < 50; i++) assert.equal(b.failure(i, 'server_error'), undefined);
  assert.equal(b.failure(50, 'rate_limit', 60_000), undefined);
  assert.equal(b.state(50), 'closed');
  assert.equal(b.availability(50), 'available');
});

test('open(until) from a remote replica cools it until then with the given reason', () => {
  const b = breaker();
  b.open(5_000, 'another replica');
  assert.equal(b.state(0), 'cooling');
  assert.equal(b.cooldownUntil(0), 5_000);
  assert.equal(b.reason, 'another replica');
  assert.equal(b.availability(5_000), 'probe');
});

test('open(until) lengthens a cooldown but never shortens it', () => {
  const b = opened(); // until 600
  b.open(400, 'shorter');
  assert.equal(b.cooldownUntil(100), 600);
  assert.equal(b.reason, 'server_error');
  b.open(900, 'longer');
  assert.equal(b.cooldownUntil(100), 900);
  assert.equal(b.reason, 'longer');
});

test('open(until) while a probe is in flight ends the claim and cools again', () => {
  const b = opened();
  b.claimProbe(600, 10_000);
  b.open(2_000, 'another replica');
  assert.equal(b.state(1_000), 'cooling');
  // The old claim is gone: at 2000 a new probe is offered, not blocked until 10600.
  assert.equal(b.availability(2_000), 'probe');
});

test('a remote open resets the local failure count', () => {
  const b = breaker();
  b.failure(0, 'timeout');
  b.failure(0, 'timeout');
  b.open(100, 'another replica');
  b.claimProbe(100, 50);
  assert.equal(b.success(100), true);
  assert.equal(b.failure(200, 'timeout'), undefined);
});
