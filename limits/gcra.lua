-- Rate-limit decisions, each over several checks (a rule's rate, a rule's
-- daily quota), made in one atomic step: each decision has the result it
-- would have had alone, in its own script, run right after those before
-- it in the batch.
--
-- KEYS: every key the batch names, each once: first the TAT keys (ARGV[2]
-- of them), then the quota keys, to which ":" and the day are appended,
-- so that a day's counter shares its key's hash slot.
-- ARGV[1]: the layout, bytes: per group of identical decisions (same
-- checks on the same keys), its count m and number of checks n, then 5
-- bytes per check: the key's index among the keys of its kind (2 bytes,
-- from 1), the limit's index in the table below (2 bytes, from 1), and
-- the rule's index in the decision (from 0).
-- ARGV[2]: the number of TAT keys.
-- ARGV[3..]: the limits, 2 numbers each: a rate's emission interval and
-- burst tolerance in microseconds, or 0 and a daily quota.
--
-- Returns, per group: a, how many of its m decisions are admitted (the
-- first a; once one is refused, the state it met is unchanged, so every
-- later one is refused alike); when a > 0, the first admitted decision's
-- figures {flags, limit, remaining, reset_us, step_us}: the k-th admitted
-- (from 0) has remaining - k and reset_us + k * step_us; when a < m, the
-- refusal's {flags, limit, reset_us, retry_us}. flags is 2 * (rule + 1)
-- plus 1 when the rule's daily quota decided, not its rate (rule -1: no
-- check). The deciding check is the refusing one with the longest wait,
-- or, when all admit, the one with the least room left. A decision
-- refused by one check counts against none.
--
-- Redis runs one script at a time, and here each redis.call costs more
-- than the arithmetic of a whole decision, each argument more than its
-- use: so the whole batch makes one TIME, one MGET, and one write for each
-- key an admitted decision changed, at the end, with its final value (a
-- TAT expires when it no longer holds anything back; a day's counter an
-- hour after the day, its expiry set once when it is created); keys and
-- limits come once however many decisions name them; and a group of
-- identical decisions is decided in closed form, not one by one.
local floor, tonumber, byte = math.floor, tonumber, string.byte
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local usPerDay = 86400000000
local day = floor(now / usPerDay)
local dayLeft = (day + 1) * usPerDay - now

local layout, ntat, nargs, nkeys = ARGV[1], tonumber(ARGV[2]), #ARGV, #KEYS
local interval, bound, nlimits = {}, {}, 0
for a = 3, nargs - 1, 2 do
  nlimits = nlimits + 1
  interval[nlimits], bound[nlimits] = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
end

-- cur: each key's number now (0 when absent); read: what Redis held.
local names, cur, read, dirty = {}, {}, {}, {}
if nkeys > 0 then
  for i = 1, ntat do names[i] = KEYS[i] end
  local suffix = ':' .. day
  for i = ntat + 1, nkeys do names[i] = KEYS[i] .. suffix end
  local values = redis.call('MGET', unpack(names))
  for i = 1, nkeys do
    local v = values[i]
    if v then
      v = tonumber(v)
      read[i], cur[i] = v, v
    else
      cur[i] = 0
    end
  end
end

local out, n = {}, 0
local ck, cl, cr, nv = {}, {}, {}, {}
local p, len = 1, #layout
while p <= len do
  local m, nc = byte(layout, p, p + 1)
  p = p + 2
  -- room: how many in a row every check admits.
  local room = m
  for c = 1, nc do
    local kh, kl, lh, ll, r = byte(layout, p, p + 4)
    p = p + 5
    local k, l = kh * 256 + kl, lh * 256 + ll
    local iv, b = interval[l], bound[l]
    if not b or not r then
      return redis.error_reply('gcra: malformed layout')
    end
    local fit
    if iv > 0 then
      local tat = cur[k]
      if not tat then return redis.error_reply('gcra: no key ' .. k) end
      if tat < now then tat = now end
      fit = floor((b - (tat - now)) / iv)
    else
      k = ntat + k
      if not cur[k] then return redis.error_reply('gcra: no key ' .. k) end
      fit = b - cur[k]
    end
    ck[c], cl[c], cr[c] = k, l, r
    if fit < room then room = fit end
  end
  if room < 0 then room = 0 end
  n = n + 1
  out[n] = room

  if room > 0 then
    -- Every check reads the value the decisions before this group left
    -- (should a decision name one key twice, the go-between sends it
    -- alone, and its last write wins, as one decision at a time would).
    local flags, limit, remaining, reset, step = 0, 0, 0, 0, 0
    local best
    for c = 1, nc do
      local k, l = ck[c], cl[c]
      local iv, b = interval[l], bound[l]
      local rem
      if iv > 0 then
        local tat = cur[k]
        if tat < now then tat = now end
        local nt = tat + iv
        rem = floor((b - (nt - now)) / iv)
        if not best or rem < best then
          best, flags, limit, reset, step = rem, 2 * cr[c] + 2, floor(b / iv), nt - now, iv
        end
        nv[c] = tat + room * iv
      else
        rem = b - cur[k] - 1
        if not best or rem < best then
          best, flags, limit, reset, step = rem, 2 * cr[c] + 3, b, dayLeft, 0
        end
        nv[c] = cur[k] + room
      end
    end
    if best then remaining = best end
    for c = 1, nc do
      cur[ck[c]] = nv[c]
      dirty[ck[c]] = true
    end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] = flags, limit, remaining, reset, step
    n = n + 5
  end

  if room < m then
    -- The refusal, on the state the admitted ones left.
    local flags, limit, reset, retry = 0, 0, 0, -1
    for c = 1, nc do
      local k, l = ck[c], cl[c]
      local iv, b = interval[l], bound[l]
      if iv > 0 then
        local tat = cur[k]
        if tat < now then tat = now end
        local wait = tat + iv - now - b
        if wait > 0 and wait > retry then
          flags, limit, reset, retry = 2 * cr[c] + 2, floor(b / iv), tat - now, wait
        end
      elseif cur[k] >= b and dayLeft > retry then
        flags, limit, reset, retry = 2 * cr[c] + 3, b, dayLeft, dayLeft
      end
    end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = flags, limit, reset, retry
    n = n + 4
  end
end

-- Numbers go to redis.call as they are: Redis writes an integral one
-- below 10^17 in full, so no string is built here.
for i = 1, ntat do
  if dirty[i] then
    local v = cur[i]
    redis.call('SET', names[i], v, 'PX', floor((v - now) / 1000) + 1)
  end
end
for i = ntat + 1, nkeys do
  if dirty[i] then
    local v = cur[i]
    if read[i] then
      redis.call('INCRBY', names[i], v - read[i])
    else
      redis.call('SET', names[i], v, 'PX', floor(dayLeft / 1000) + 3600000)
    end
  end
end
return out
