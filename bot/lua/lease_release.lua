-- Release a fan-out lease only if this worker still holds it (token compare-and-delete).
-- KEYS[1] lock; args: token
local a = cjson.decode(ARGV[1])
if redis.call('GET', KEYS[1]) == a.token then return redis.call('DEL', KEYS[1]) end
return 0
