-- One decision on a campaign's shared budget, atomic on the Redis server.
--
-- KEYS: 1 log   sorted set of departures (member: grant id, score: time in microseconds)
--       2 held  sorted set of grants not yet reported sent (score: the reserved time)
--       3 lease sorted set of the same grants (score: when the grant is forgotten)
--       4 state hash: cool (end of the 429 cooldown), nb (nothing leaves before)
-- ARGV: 1 window_us  2 tps  3 lease_us  4 reserve (share kept for sends)  5 slowdown (share)
--       6 cooldown_us  7 ttl_ms (keys expire when idle)  8 retry_after_us (-1: no 429 to note)
--       9 priority (-1: nothing to acquire)  10 id of the new grant
--       11 settle (1: after a restart, wait until what it lost is out of every window)
--       12 n, then n pairs (id, age_us): grants that left age_us ago
--       then m, then m ids: grants given back unsent
-- Returns {status, wait_us, now_us}: status 1 = slot reserved wait_us from now,
-- 0 = every slot is promised to unsent grants (ask again in wait_us), -1 = nothing asked.
--
-- Time is the server's (TIME), never the callers'.  A grant not yet reported sent counts
-- in every window from its reserved time on (it may leave late, after a stall); once
-- reported it is a point at its departure.  A slot is reserved at the earliest time g at
-- which every window (x - window, x] with x >= g stays within the capacity.

local log, held, lease, state = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local window = tonumber(ARGV[1])
local tps = tonumber(ARGV[2])
local lease_us = tonumber(ARGV[3])
local reserve = tonumber(ARGV[4])
local slowdown = tonumber(ARGV[5])
local cooldown = tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local retry_after = tonumber(ARGV[8])
local priority = tonumber(ARGV[9])
local new_id = ARGV[10]
local settle = tonumber(ARGV[11])

local function fmt(x)
  return string.format('%d', x)
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- Grants whose holder went silent (a crashed process) stop counting after their lease.
local expired = redis.call('ZRANGEBYSCORE', lease, '-inf', fmt(now))
for _, id in ipairs(expired) do
  redis.call('ZREM', held, id)
  redis.call('ZREM', lease, id)
end

local i = 12
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  local id, age = ARGV[i], tonumber(ARGV[i + 1])
  i = i + 2
  local at = now - age
  local reserved = redis.call('ZSCORE', held, id)
  if reserved then
    reserved = tonumber(reserved)
    if at < reserved then
      at = reserved
    end
    redis.call('ZREM', held, id)
    redis.call('ZREM', lease, id)
  end
  redis.call('ZADD', log, fmt(at), id)
end
n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  redis.call('ZREM', held, ARGV[i])
  redis.call('ZREM', lease, ARGV[i])
  i = i + 1
end
redis.call('ZREMRANGEBYSCORE', log, '-inf', fmt(now - window))

local cool = tonumber(redis.call('HGET', state, 'cool') or '0')
local not_before = tonumber(redis.call('HGET', state, 'nb') or '0')
if redis.call('EXISTS', state) == 0 then
  -- No state: first use, idle long enough for the keys to expire, or a server that
  -- restarted and lost the log.  In the last case the departures before the restart,
  -- and the slots reserved then (at most one window ahead), are unknown: nothing leaves
  -- until they are surely out of every window, two windows after the start.
  local uptime = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)'))
  if settle == 1 and uptime ~= nil and uptime * 1000000 < 2 * window then
    not_before = now - uptime * 1000000 + 2 * window
  end
  redis.call('HSET', state, 'since', fmt(now), 'nb', fmt(not_before))
end
if retry_after >= 0 then
  cool = now + cooldown
  if now + retry_after > not_before then
    not_before = now + retry_after
  end
  redis.call('HSET', state, 'cool', fmt(cool), 'nb', fmt(not_before))
end

local function touch()
  for _, key in ipairs(KEYS) do
    redis.call('PEXPIRE', key, ttl)
  end
end

if priority < 0 then
  touch()
  return {-1, 0, now}
end

local cap = tps
if now < cool then
  cap = math.max(1, math.floor(tps * slowdown))
end
if priority >= 2 then
  -- Reads and polls leave a share of every window to sends and retries.
  cap = cap - math.min(cap - 1, math.ceil(cap * reserve))
end
local start = now
if not_before > start then
  start = not_before
end

local points = {}
local rows = redis.call('ZRANGEBYSCORE', log, '(' .. fmt(start - window), '+inf', 'WITHSCORES')
for j = 2, #rows, 2 do
  points[#points + 1] = tonumber(rows[j])
end
local pending = {}
rows = redis.call('ZRANGE', held, 0, -1, 'WITHSCORES')
for j = 2, #rows, 2 do
  pending[#pending + 1] = tonumber(rows[j])
end
if #pending + 1 > cap then
  -- Every slot is promised to grants that have not been reported sent yet.
  -- Unsent grants are reported within moments of leaving: look again soon.
  local first = pending[1]
  local hint = math.min(math.floor(window / tps / 2), 50000)
  if first > now then
    hint = hint + first - now
  end
  touch()
  return {0, hint, now}
end

-- Candidate start times: now, and every time the count of some window can change.
local xs = {start}
for _, p in ipairs(points) do
  if p > start then
    xs[#xs + 1] = p
  end
  if p + window > start then
    xs[#xs + 1] = p + window
  end
end
for _, q in ipairs(pending) do
  if q > start then
    xs[#xs + 1] = q
  end
end
table.sort(xs)
-- f(x) = departures in (x - window, x] + unsent grants reserved at or before x.
local f = {}
local a, b, c = 0, 0, 0
for k, x in ipairs(xs) do
  while a < #points and points[a + 1] <= x do
    a = a + 1
  end
  while b < #points and points[b + 1] + window <= x do
    b = b + 1
  end
  while c < #pending and pending[c + 1] <= x do
    c = c + 1
  end
  f[k] = a - b + c
end
-- The earliest candidate from which on every window has room for one more.
local best = nil
local worst = -1
for k = #xs, 1, -1 do
  if f[k] > worst then
    worst = f[k]
  end
  if worst + 1 > cap then
    break
  end
  best = xs[k]
end

redis.call('ZADD', held, fmt(best), new_id)
redis.call('ZADD', lease, fmt(best + lease_us), new_id)
touch()
return {1, best - now, now}
