-- Append a timeline event, count it as activity and note it on the feed: one atomic step.
-- KEYS: incident, timeline, time, feed; args: id, now (string), feed_cap, fields (flat list
--   `event`, kind, `at`, now, name, value, ...)
-- Returns 0 when the incident does not exist.
local a = cjson.decode(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(a.fields))
redis.call('ZADD', KEYS[3], 'XX', 'GT', tonumber(a.now), a.id)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', a.feed_cap, '*', 'id', a.id, 'kind', a.fields[2])
return 1
