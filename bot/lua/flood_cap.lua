-- Flood caps: is this contact (or its channel) over its limit of new incidents? One atomic step,
-- queued in the same MULTI as the report's merge (bot/incidents/caps.py), so the webhook pays no
-- extra round trip. The verdict (the index of the scope that holds it) is left in KEYS[2] for
-- incident_merge.lua, which runs right after.
-- KEYS: the contact's hash (its `trust`), the verdict key, then one sorted set per cap scope, narrowest first
--   (the contact, a web chat's client, every web chat).
-- args: now, limits (per scope: a list of {window_s, max}), keep_s (the longest window),
--   member ('' = count nothing now: the merge adds the incident id if it opens one; an unplaced
--   report passes its ref, since it is always a new report)
-- Returns {held (0/1), the scope index that held it (0 = none), that scope's count in its window,
--   the first scope's (the contact's) count in its longest window before this report}.
local a = cjson.decode(ARGV[1])
local now = tonumber(a.now)
local verdict = KEYS[2]
if redis.call('HGET', KEYS[1], 'trust') == 'trusted' then  -- trusted contacts are never capped
  redis.call('DEL', verdict)
  return {0, 0, 0, 0}
end
local held, which, count, recent = 0, 0, 0, 0
for i, limits in ipairs(a.limits) do
  local key = KEYS[2 + i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now - a.keep_s))
  if i == 1 then recent = redis.call('ZCARD', key) end
  for _, limit in ipairs(limits) do
    local n = redis.call('ZCOUNT', key, now - limit[1], '+inf')
    if held == 0 and n >= limit[2] then held, which, count = 1, i, n end
  end
  if a.member ~= '' and (held == 0 or i <= which) then  -- held: counted up to the scope that held it
    redis.call('ZADD', key, now, a.member)
    redis.call('EXPIRE', key, a.keep_s)
  end
  -- a flood adds thousands; past the largest cap the exact count decides nothing
  local biggest = 0
  for _, limit in ipairs(limits) do if limit[2] > biggest then biggest = limit[2] end end
  redis.call('ZREMRANGEBYRANK', key, 0, -(biggest + 2))
end
-- the verdict names the scope that held it: the merge counts a held incident only up to that scope
if held == 1 then redis.call('SET', verdict, which, 'EX', 60) else redis.call('DEL', verdict) end
return {held, which, count, recent}
