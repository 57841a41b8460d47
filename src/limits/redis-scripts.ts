// The Lua scripts of the Redis CounterStore: one per call, so each call is one round trip and
// runs atomically. They mirror src/limits/sliding-window.ts (the window math) and
// src/limits/memory-counter-store.ts (the order of checks, lazy expiry, settle rules) step for
// step: change one, change the other; the contract suite runs the same cases against both.
//
// Time is the `now` the gateway passes (its clock; replicas are NTP-synced), never Redis TIME,
// so tests inject a clock and every replica's window boundaries agree with its own headers.
// Numbers are Lua doubles: integers are exact up to 2^53. Every number written back goes
// through int() ("%.0f", and "0" for -0), since Lua would print 1e15 as "1e+15" and -0 as
// "-0", both of which HINCRBY refuses.
//
// Keys (all passed in KEYS; for Redis Cluster give the store a hash-tagged keyPrefix such as
// "{tg}:" so that every key of one call lands in one slot):
//   w:<id>:<index>  hash  n = count of window <index>; p:<lease> = 1 while a correctable lease is unsettled
//   c:<id>          zset  lease → expiresAt
//   b:<id>          hash  limit, spent, reserved; r:<lease> = reserved amount
//   bz:<id>         zset  r:<lease> → expiresAt (live reservation); t:<lease> → forgetAt (expired, unsettled)

import { createHash } from 'node:crypto';

const COMMON = `
local function int(x)
  if x == 0 then return '0' end -- not '-0', which HINCRBY refuses
  return string.format('%.0f', x)
end
local function num(v) return tonumber(v) or 0 end
local function floordiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local function ceildiv(a, b) return -floordiv(-a, b) end

-- expireReservations in memory-counter-store.ts: release what expired, remember it for a late settle.
local function expire_reservations(h, z, now, grace)
  local due = redis.call('ZRANGEBYSCORE', z, '-inf', now, 'WITHSCORES')
  for i = 1, #due, 2 do
    local member, at = due[i], tonumber(due[i + 1])
    redis.call('ZREM', z, member)
    if string.sub(member, 1, 2) == 'r:' then
      local amount = redis.call('HGET', h, member)
      if amount then
        redis.call('HDEL', h, member)
        redis.call('HINCRBY', h, 'reserved', int(-tonumber(amount)))
      end
      if at + grace > now then redis.call('ZADD', z, int(at + grace), 't:' .. string.sub(member, 3)) end
    end
  end
end
`;

const WINDOW_MATH = `
-- checkWindow / windowRetryAfter / reportWindow in sliding-window.ts.
local function check_window(limit, w, cost, now, cur, prev)
  local e = now - floordiv(now, w) * w
  local load = cur * w + prev * (w - e)
  local excess = load + cost * w - limit * w
  local used = ceildiv(load, w)
  if excess <= 0 then return true, used, 0 end
  if cost > limit then return false, used, w end
  if prev > 0 then
    local wait = ceildiv(excess, prev)
    if wait < w - e then return false, used, math.max(1, wait) end
  end
  local over = (cur + cost - limit) * w
  if over <= 0 then return false, used, w - e end
  return false, used, w - e + ceildiv(over, cur)
end

local function report_window(limit, w, now, cur, prev)
  local e = now - floordiv(now, w) * w
  local load = cur * w + prev * (w - e)
  local remaining = math.max(0, floordiv(limit * w - load, w))
  local reset = 0
  if cur > 0 then reset = 2 * w - e elseif prev > 0 then reset = w - e end
  return remaining, reset
end
`;

/**
 * KEYS: per window w:<id>:<current>, w:<id>:<previous>; per concurrency c:<id>; per budget b:<id>, bz:<id>.
 * ARGV: leaseId, now, #windows, #concurrency, #budgets, LATE_SETTLE_GRACE_MS, BUDGET_RETENTION_MS,
 * UNKNOWN_RETRY_MS, then limit, windowMs, cost, correctable (1|0) per window; limit, leaseMs per concurrency;
 * limit, amount, periodEndsAt, reservationTtlMs per budget.
 * Returns {ok, kind (1 window, 2 concurrency, 3 budget), index, used, retryAfterMs,
 * remaining, resetMs per window..., spent, reserved per budget (when ok)...}.
 */
const ACQUIRE = `${COMMON}${WINDOW_MATH}
local lease, now = ARGV[1], tonumber(ARGV[2])
local nw, nc, nb = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local grace, retention, unknown_retry = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local refusal = nil
local k, a = 1, 9

local windows = {}
for i = 1, nw do
  local win = { cur_key = KEYS[k], limit = tonumber(ARGV[a]), w = tonumber(ARGV[a + 1]), cost = tonumber(ARGV[a + 2]), correctable = ARGV[a + 3] == '1' }
  win.cur = num(redis.call('HGET', KEYS[k], 'n'))
  win.prev = num(redis.call('HGET', KEYS[k + 1], 'n'))
  k, a = k + 2, a + 4
  local fits, used, retry = check_window(win.limit, win.w, win.cost, now, win.cur, win.prev)
  if not fits and not refusal then refusal = { 1, i, used, retry } end
  windows[i] = win
end

local leases = {}
for i = 1, nc do
  local key, limit, lease_ms = KEYS[k], tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  k, a = k + 1, a + 2
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local count = redis.call('ZCARD', key)
  if count >= limit and not refusal then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local retry = unknown_retry
    if first[2] then retry = math.min(tonumber(first[2]) - now, lease_ms) end
    refusal = { 2, i, count, retry }
  end
  leases[i] = { key = key, lease_ms = lease_ms }
end

local budgets = {}
for i = 1, nb do
  local h, z = KEYS[k], KEYS[k + 1]
  local b = { h = h, z = z, limit = tonumber(ARGV[a]), amount = tonumber(ARGV[a + 1]), ends = tonumber(ARGV[a + 2]), ttl = tonumber(ARGV[a + 3]) }
  k, a = k + 2, a + 4
  expire_reservations(h, z, now, grace)
  local row = redis.call('HMGET', h, 'spent', 'reserved', 'r:' .. lease)
  b.fresh = not row[1] and not row[2]
  b.spent, b.reserved, b.old = num(row[1]), num(row[2]), num(row[3])
  local used = b.spent + b.reserved
  if used + b.amount > b.limit and not refusal then refusal = { 3, i, used, math.max(1, b.ends - now) } end
  budgets[i] = b
end

if refusal then
  local out = { 0, refusal[1], refusal[2], refusal[3], refusal[4] }
  for i = 1, nw do
    local win = windows[i]
    local remaining, reset = report_window(win.limit, win.w, now, win.cur, win.prev)
    out[#out + 1] = remaining
    out[#out + 1] = reset
  end
  return out
end

local out = { 1, 0, 0, 0, 0 }
for i = 1, nw do
  local win = windows[i]
  redis.call('HINCRBY', win.cur_key, 'n', int(win.cost))
  if win.correctable then redis.call('HSET', win.cur_key, 'p:' .. lease, '1') end
  -- A slot that already counted something exists with its expiry (every writer sets it).
  if win.cur == 0 then redis.call('PEXPIRE', win.cur_key, int(2 * win.w)) end
  local remaining, reset = report_window(win.limit, win.w, now, win.cur + win.cost, win.prev)
  out[#out + 1] = remaining
  out[#out + 1] = reset
end
for i = 1, nc do
  local l = leases[i]
  redis.call('ZADD', l.key, int(now + l.lease_ms), lease)
  local last = redis.call('ZRANGE', l.key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', l.key, int(math.max(1, tonumber(last[2]) - now)))
end
for i = 1, nb do
  local b = budgets[i]
  -- A leaseId is unique per acquire; should one come twice, its reservation is replaced.
  local reserved = b.reserved + b.amount - b.old
  redis.call('HSET', b.h, 'r:' .. lease, int(b.amount), 'reserved', int(reserved), 'spent', int(b.spent), 'limit', int(b.limit))
  redis.call('ZADD', b.z, int(now + b.ttl), 'r:' .. lease)
  local keep = int(math.max(1, b.ends - now + retention))
  -- The hash keeps the expiry it got when created; the zset is deleted whenever it empties.
  if b.fresh then redis.call('PEXPIRE', b.h, keep) end
  redis.call('PEXPIRE', b.z, keep)
  out[#out + 1] = b.spent
  out[#out + 1] = reserved
end
return out
`;

/**
 * KEYS: per correctable window w:<id>:<index of acquiredAt>; per concurrency c:<id>; per budget b:<id>, bz:<id>.
 * ARGV: leaseId, now, #windows, #concurrency, #budgets, LATE_SETTLE_GRACE_MS, BUDGET_RETENTION_MS,
 * then delta, windowMs per window; actual, periodEndsAt per budget.
 */
const SETTLE = `${COMMON}
local lease, now = ARGV[1], tonumber(ARGV[2])
local nw, nc, nb = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local grace, retention = tonumber(ARGV[6]), tonumber(ARGV[7])
local k, a = 1, 8
for i = 1, nw do
  local key, delta, w = KEYS[k], tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  k, a = k + 1, a + 2
  -- Only a lease this window counted, and only once (the key keeps its expiry: it holds n).
  if redis.call('HDEL', key, 'p:' .. lease) == 1 and delta ~= 0 then
    redis.call('HSET', key, 'n', int(math.max(0, num(redis.call('HGET', key, 'n')) + delta)))
  end
end
for i = 1, nc do
  redis.call('ZREM', KEYS[k], lease)
  k = k + 1
end
for i = 1, nb do
  local h, z, actual, ends = KEYS[k], KEYS[k + 1], tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  k, a = k + 2, a + 2
  expire_reservations(h, z, now, grace)
  local amount = redis.call('HGET', h, 'r:' .. lease)
  if amount then
    -- The hash holds a live reservation, so it exists with its expiry: no need to set it again.
    redis.call('HDEL', h, 'r:' .. lease)
    redis.call('ZREM', z, 'r:' .. lease)
    redis.call('HINCRBY', h, 'reserved', int(-tonumber(amount)))
    redis.call('HINCRBY', h, 'spent', int(actual))
  elseif redis.call('ZREM', z, 't:' .. lease) == 1 then
    -- Expired before it was settled: the reservation was released already, the spend is real.
    redis.call('HINCRBY', h, 'spent', int(actual))
    local keep = int(math.max(1, ends - now + retention))
    redis.call('PEXPIRE', h, keep)
    redis.call('PEXPIRE', z, keep)
  end
end
return 1
`;

/**
 * KEYS: per budget b:<id>. ARGV: chargeId, now, BUDGET_RETENTION_MS, then amount, periodEndsAt per
 * budget. c:<chargeId> in the hash marks a charge applied, so a retried charge adds nothing.
 */
const CHARGE = `${COMMON}
local charge, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #KEYS do
  local h, amount, ends = KEYS[i], tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if redis.call('HSETNX', h, 'c:' .. charge, '1') == 1 then
    redis.call('HINCRBY', h, 'spent', int(amount))
    redis.call('PEXPIRE', h, int(math.max(1, ends - now + retention)))
  end
end
return 1
`;

/** KEYS: per budget b:<id>, bz:<id>. ARGV: now, LATE_SETTLE_GRACE_MS. Returns limit, spent, reserved per budget. */
const BUDGETS = `${COMMON}
local now, grace = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for k = 1, #KEYS, 2 do
  expire_reservations(KEYS[k], KEYS[k + 1], now, grace)
  local row = redis.call('HMGET', KEYS[k], 'limit', 'spent', 'reserved')
  out[#out + 1] = num(row[1])
  out[#out + 1] = num(row[2])
  out[#out + 1] = num(row[3])
end
return out
`;

export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

function script(name: string, source: string): LuaScript {
  return { name, source, sha1: createHash('sha1').update(source).digest('hex') };
}

export const ACQUIRE_SCRIPT = script('acquire', ACQUIRE);
export const SETTLE_SCRIPT = script('settle', SETTLE);
export const BUDGETS_SCRIPT = script('budgets', BUDGETS);
export const CHARGE_SCRIPT = script('charge', CHARGE);
