-- GCRA (the generic cell rate algorithm, as in redis-cell) on one sender's "theoretical arrival
-- time": every worker process respects one per-number rate without a lock. A forced take
-- (dispatch) always goes now and pushes bulk sends back instead.
-- KEYS[1] the sender's rate key; args: now (s), interval (s per send), force (bool)
-- Returns the seconds to wait first, as a string ('0' = go now).
local a = cjson.decode(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local now, interval = tonumber(a.now), tonumber(a.interval)
if tat < now then tat = now end
local wait = tat - now
if wait > 0 and not a.force then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat + interval - now) * 1000) + 1000)
return '0'
