-- Rate-limit decisions, each over several rules, made in order in one
-- atomic step: each decision has the result it would have had alone, in
-- its own script, run right after those before it in the batch.
-- ARGV holds the decisions one after another: a decision's number of
-- rules r, then 3 numbers per rule, its emission interval and burst
-- tolerance in microseconds (0, 0 for no rate) and its daily quota (0 for
-- none).
-- KEYS holds the decisions' keys in the same order; within a decision, per
-- rule, its TAT key when it has a rate, then its quota key when it has a
-- quota. The counter of day d is the quota key with ":d" appended, so it
-- shares the key's hash slot.
-- Returns 7 numbers per decision, {allowed, by_quota, rule (0-based,
-- -1 for none), limit, remaining, reset_us, retry_us}, for the rule that
-- decided (by_quota: 1 when its daily quota decided, 0 for its rate): the refusing rule with the longest wait, or, when all admit,
-- the one with the least room left. A decision refused by one rule counts
-- against none.
--
-- The commands are few on purpose, as Redis runs one script at a time:
-- one TIME and one MGET for the whole batch, and one write for each key
-- some admitted decision changed, at the end, with its final value (a TAT
-- expires when it no longer holds anything back; a day's counter an hour
-- after the day, its expiry set once when it is created). Between the
-- read and the writes the values live in a Lua table, so that a decision
-- sees the ones before it in the batch.
local floor, tonumber = math.floor, tonumber
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local usPerDay = 86400000000
local day = floor(now / usPerDay)
local dayLeft = (day + 1) * usPerDay - now
local daySuffix = ':' .. day

-- Read the numbers, name every key, and each one once for the read.
local nargs = #ARGV
local num, names, distinct, seen = {}, {}, {}, {}
for i = 1, nargs do num[i] = tonumber(ARGV[i]) end
local a, k = 1, 0
while a <= nargs do
  local nrules = num[a]
  for i = 1, nrules do
    local b = a + 3 * i - 2
    if num[b] > 0 then
      k = k + 1
      names[k] = KEYS[k]
    end
    if num[b + 2] > 0 then
      k = k + 1
      names[k] = KEYS[k] .. daySuffix
    end
  end
  a = a + 1 + 3 * nrules
end
if k ~= #KEYS then
  return redis.error_reply('gcra: ' .. #KEYS .. ' keys for rules that need ' .. k)
end
for i = 1, k do
  local name = names[i]
  if not seen[name] then
    seen[name] = true
    distinct[#distinct + 1] = name
  end
end

-- value: a key's number now (nil when absent); read: what Redis held;
-- kind: 'tat' or 'quota' for a key an admitted decision changed, in
-- order of first change.
local value, read, kind, changed = {}, {}, {}, {}
if #distinct > 0 then
  local values = redis.call('MGET', unpack(distinct))
  for i, name in ipairs(distinct) do
    if values[i] then
      value[name] = tonumber(values[i])
      read[name] = value[name]
    end
  end
end

-- The figures of the rule that decides the decision at hand, and the
-- writes it makes if every rule admits it.
local allowed, byquota, rule, limit, remaining, reset, retry
local wnames, wvalues, wkinds, nw = {}, {}, {}, 0
local function consider(ok, isQuota, i, lim, rem, rst, rty)
  if ok == 0 then
    if allowed == 1 or rty > retry then
      allowed, byquota, rule, limit, remaining, reset, retry = 0, isQuota, i, lim, 0, rst, rty
    end
  elseif allowed == 1 and (rule < 0 or rem < remaining) then
    byquota, rule, limit, remaining, reset = isQuota, i, lim, rem, rst
  end
end
local function write(name, v, kd)
  nw = nw + 1
  wnames[nw], wvalues[nw], wkinds[nw] = name, v, kd
end

local out, n = {}, 0
a, k = 1, 0
while a <= nargs do
  local nrules = num[a]
  allowed, byquota, rule, limit, remaining, reset, retry = 1, 0, -1, 0, -1, 0, 0
  nw = 0
  for i = 1, nrules do
    local b = a + 3 * i - 2
    local interval = num[b]
    if interval > 0 then
      k = k + 1
      local tolerance = num[b + 1]
      local tat = value[names[k]] or 0
      if tat < now then tat = now end
      local nt = tat + interval
      if nt - now > tolerance then
        consider(0, 0, i - 1, floor(tolerance / interval), 0, tat - now, nt - now - tolerance)
      else
        write(names[k], nt, 'tat')
        consider(1, 0, i - 1, floor(tolerance / interval), floor((tolerance - (nt - now)) / interval), nt - now, 0)
      end
    end
    local quota = num[b + 2]
    if quota > 0 then
      k = k + 1
      local used = value[names[k]] or 0
      if used >= quota then
        consider(0, 1, i - 1, quota, 0, dayLeft, dayLeft)
      else
        write(names[k], used + 1, 'quota')
        consider(1, 1, i - 1, quota, quota - used - 1, dayLeft, 0)
      end
    end
  end
  if allowed == 1 then
    for j = 1, nw do
      local name = wnames[j]
      if not kind[name] then
        kind[name] = wkinds[j]
        changed[#changed + 1] = name
      end
      value[name] = wvalues[j]
    end
    if rule < 0 then remaining = 0 end
  end
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = allowed, byquota, rule, limit
  out[n + 5], out[n + 6], out[n + 7] = remaining, reset, retry
  n = n + 7
  a = a + 1 + 3 * nrules
end

for _, name in ipairs(changed) do
  local v = value[name]
  if kind[name] == 'tat' then
    redis.call('SET', name, string.format('%d', v), 'PX', floor((v - now) / 1000) + 1)
  elseif read[name] then
    redis.call('INCRBY', name, v - read[name])
  else
    redis.call('SET', name, string.format('%d', v), 'PX', floor(dayLeft / 1000) + 3600000)
  end
end
return out
