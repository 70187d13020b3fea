-- Extend a fan-out lease only while this worker still holds it (token compare-and-pexpire).
-- KEYS[1] lock; args: token, ms
local a = cjson.decode(ARGV[1])
if redis.call('GET', KEYS[1]) == a.token then return redis.call('PEXPIRE', KEYS[1], a.ms) end
return 0
