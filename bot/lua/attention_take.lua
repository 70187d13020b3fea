-- Claim an observer's dispatch slot for one incident within their attention budget, atomically: two
-- workers filling two incidents at once can never both take an observer's last open slot or text.
-- KEYS: the incident's dispatch states (hash), the observer's open codes (hash), their texts this hour (zset)
-- args: observer_id, code, incident_id, now, open_ttl_s, hour_s, max_open, max_hour (0 = unbounded: by hand), texted
-- Returns 1 when the slot is theirs (already was: a resend, or now), 0 when they are at their budget.
local a = cjson.decode(ARGV[1])
local states, open, asked = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(a.now)
if redis.call('HEXISTS', states, a.observer_id) == 0 then
  if a.max_open > 0 then
    redis.call('ZREMRANGEBYSCORE', asked, '-inf', '(' .. (now - a.hour_s))
    if redis.call('HLEN', open) >= a.max_open or redis.call('ZCARD', asked) >= a.max_hour then return 0 end
  end
  redis.call('HSET', states, a.observer_id, a.texted)
end
redis.call('HSET', open, a.code, a.incident_id)
redis.call('EXPIRE', open, a.open_ttl_s)
redis.call('ZADD', asked, 'NX', now, a.incident_id)
redis.call('ZREMRANGEBYSCORE', asked, '-inf', '(' .. (now - a.hour_s))
redis.call('EXPIRE', asked, a.hour_s)
return 1
