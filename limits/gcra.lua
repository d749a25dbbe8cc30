-- One rate-limit decision over several rules, atomically.
-- ARGV[3i-2..3i]: rule i's emission interval and burst tolerance in
-- microseconds (0, 0 for no rate) and its daily quota (0 for none).
-- KEYS, in rule order: the TAT key of each rule with a rate, then the
-- quota key of each rule with a quota; the counter of day d is that key
-- with ":d" appended, so it shares the key's hash slot.
-- Returns {allowed, quota_exceeded, rule (0-based, -1 for none), limit,
-- remaining, reset_us, retry_us} for the rule that decided: the refusing
-- rule with the longest wait, or, when all admit, the one with the least
-- room left. Only when every rule admits is anything written.
--
-- The commands are few on purpose, as Redis runs one script at a time: one
-- TIME, one MGET for every read, and when admitted one write per key, each
-- setting its own expiry (a TAT expires when it no longer holds anything
-- back; a day's counter an hour after the day, set once when it is created).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local usPerDay = 86400000000
local day = math.floor(now / usPerDay)
local dayLeft = (day + 1) * usPerDay - now

local nrules = #ARGV / 3
local rateAt, quotaAt, n = {}, {}, 0
for i = 1, nrules do
  if tonumber(ARGV[3 * i - 2]) > 0 then n = n + 1; rateAt[i] = n end
  if tonumber(ARGV[3 * i]) > 0 then n = n + 1; quotaAt[i] = n end
end
if n ~= #KEYS then
  return redis.error_reply('gcra: ' .. #KEYS .. ' keys for rules that need ' .. n)
end
local names = {}
for i = 1, n do names[i] = KEYS[i] end
for i = 1, nrules do
  local k = quotaAt[i]
  if k then names[k] = KEYS[k] .. ':' .. day end
end
local values = {}
if n > 0 then values = redis.call('MGET', unpack(names)) end

local allowed, qexceeded, rule, limit, remaining, reset, retry = 1, 0, -1, 0, -1, 0, 0
local newTAT = {}

local function consider(ok, isQuota, i, lim, rem, rst, rty)
  if ok == 0 then
    if allowed == 1 or rty > retry then
      allowed, qexceeded, rule, limit, remaining, reset, retry = 0, isQuota, i, lim, 0, rst, rty
    end
  elseif allowed == 1 and (rule < 0 or rem < remaining) then
    rule, limit, remaining, reset = i, lim, rem, rst
  end
end

for i = 1, nrules do
  local k = rateAt[i]
  if k then
    local interval = tonumber(ARGV[3 * i - 2])
    local tolerance = tonumber(ARGV[3 * i - 1])
    local tat = tonumber(values[k] or 0)
    if tat < now then tat = now end
    local nt = tat + interval
    if nt - now > tolerance then
      consider(0, 0, i - 1, math.floor(tolerance / interval), 0, tat - now, nt - now - tolerance)
    else
      newTAT[i] = nt
      consider(1, 0, i - 1, math.floor(tolerance / interval), math.floor((tolerance - (nt - now)) / interval), nt - now, 0)
    end
  end
  k = quotaAt[i]
  if k then
    local quota = tonumber(ARGV[3 * i])
    local used = tonumber(values[k] or 0)
    if used >= quota then
      consider(0, 1, i - 1, quota, 0, dayLeft, dayLeft)
    else
      consider(1, 1, i - 1, quota, quota - used - 1, dayLeft, 0)
    end
  end
end

if allowed == 1 then
  for i = 1, nrules do
    local k = rateAt[i]
    if k then
      redis.call('SET', names[k], string.format('%d', newTAT[i]), 'PX', math.floor((newTAT[i] - now) / 1000) + 1)
    end
    k = quotaAt[i]
    if k then
      if values[k] then
        redis.call('INCR', names[k])
      else
        redis.call('SET', names[k], 1, 'PX', math.floor(dayLeft / 1000) + 3600000)
      end
    end
  end
  if rule < 0 then remaining = 0 end
end
return {allowed, qexceeded, rule, limit, remaining, reset, retry}
