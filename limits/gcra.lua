-- One rate-limit decision over several rules, atomically.
-- KEYS[i]: the key of rule i. ARGV[3i-2..3i]: the rule's emission interval
-- and burst tolerance in microseconds (0, 0 for no rate) and its daily
-- quota (0 for none).
-- Returns {allowed, quota_exceeded, rule (0-based, -1 for none), limit,
-- remaining, reset_us, retry_us} for the rule that decided: the refusing
-- rule with the longest wait, or, when all admit, the one with the least
-- room left. Only when every rule admits is anything written.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local usPerDay = 86400000000
local day = math.floor(now / usPerDay)
local dayLeft = (day + 1) * usPerDay - now

local allowed, qexceeded, rule, limit, remaining, reset, retry = 1, 0, -1, 0, -1, 0, 0
local newTAT, qkeys = {}, {}

local function consider(ok, isQuota, i, lim, rem, rst, rty)
  if ok == 0 then
    if allowed == 1 or rty > retry then
      allowed, qexceeded, rule, limit, remaining, reset, retry = 0, isQuota, i, lim, 0, rst, rty
    end
  elseif allowed == 1 and (rule < 0 or rem < remaining) then
    rule, limit, remaining, reset = i, lim, rem, rst
  end
end

for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i - 2])
  local tolerance = tonumber(ARGV[3 * i - 1])
  local quota = tonumber(ARGV[3 * i])
  if interval > 0 then
    local tat = tonumber(redis.call('GET', KEYS[i] .. ':tat') or '0')
    if tat < now then tat = now end
    local nt = tat + interval
    if nt - now > tolerance then
      consider(0, 0, i - 1, math.floor(tolerance / interval), 0, tat - now, nt - now - tolerance)
    else
      newTAT[i] = nt
      consider(1, 0, i - 1, math.floor(tolerance / interval), math.floor((tolerance - (nt - now)) / interval), nt - now, 0)
    end
  end
  if quota > 0 then
    local qk = KEYS[i] .. ':day:' .. day
    qkeys[i] = qk
    local used = tonumber(redis.call('GET', qk) or '0')
    if used >= quota then
      consider(0, 1, i - 1, quota, 0, dayLeft, dayLeft)
    else
      consider(1, 1, i - 1, quota, quota - used - 1, dayLeft, 0)
    end
  end
end

if allowed == 1 then
  for i = 1, #KEYS do
    if newTAT[i] then
      redis.call('SET', KEYS[i] .. ':tat', string.format('%d', newTAT[i]), 'PX', math.floor((newTAT[i] - now) / 1000) + 1)
    end
    if qkeys[i] then
      redis.call('INCR', qkeys[i])
      redis.call('PEXPIRE', qkeys[i], math.floor(dayLeft / 1000) + 3600000)
    end
  end
  if rule < 0 then remaining = 0 end
end
return {allowed, qexceeded, rule, limit, remaining, reset, retry}
