-- Compare-and-set an incident's status as the lifecycle allows, moving it out of (or back into)
-- the open set: one atomic step.
-- KEYS: incident, geo, time, timeline, closed, one GEO set per precision class (KEYS[6..]), then the feed.
-- args: id, status, now (string), reason, allowed_from (statuses that may become `status`),
--   verdicts (statuses that record a belief), closing (statuses outside the open set),
--   class_metres, feed_cap
-- Returns {'ok', previous} | {'missing', ''} | {'refused', current}.
local a = cjson.decode(ARGV[1])
local ikey, geo, tkey, tl, closed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, status, at, reason = a.id, a.status, a.now, a.reason
local function set(list) local t = {} for _, v in ipairs(list) do t[v] = true end return t end
local allowed, verdict, closing = set(a.allowed_from), set(a.verdicts), set(a.closing)
local metres = a.class_metres
local cur = redis.call('HGET', ikey, 'status')
if not cur then return {'missing', ''} end
if not allowed[cur] then return {'refused', cur} end
redis.call('HSET', ikey, 'status', status, 'status_at', at)
if verdict[status] then
  local believed = cjson.decode(redis.call('HGET', ikey, 'believed') or '[]')
  table.insert(believed, status .. ': ' .. reason)
  redis.call('HSET', ikey, 'believed', cjson.encode(believed))
end
if closing[status] then
  redis.call('ZREM', tkey, id); redis.call('ZREM', geo, id)
  for i = 1, #metres do redis.call('ZREM', KEYS[5 + i], id) end
  redis.call('ZADD', closed, tonumber(at), id)
  redis.call('HSET', ikey, 'closed_at', at, 'closed_reason', reason)
elseif closing[cur] then  -- a correction or a coordinator's reopen puts it back in the open set
  redis.call('ZREM', closed, id)
  redis.call('ZADD', tkey, tonumber(at), id)
  local f = redis.call('HMGET', ikey, 'lat', 'lon', 'precision_m')
  if f[1] and f[1] ~= '' then
    redis.call('GEOADD', geo, f[2], f[1], id)
    local p, key = tonumber(f[3]), KEYS[5 + #metres]
    for i, m in ipairs(metres) do if p <= m then key = KEYS[5 + i]; break end end
    redis.call('GEOADD', key, f[2], f[1], id)
  end
end
redis.call('XADD', tl, '*', 'event', 'status', 'at', at, 'status', status, 'reason', reason)
redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', a.feed_cap, '*', 'id', id, 'kind', 'status')
return {'ok', cur}
