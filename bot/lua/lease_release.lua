-- Release a lease or claim only if its holder still has it (token compare-and-delete): a fan-out lease, a message claim.
-- KEYS[1] lock; args: token
local a = cjson.decode(ARGV[1])
if redis.call('GET', KEYS[1]) == a.token then return redis.call('DEL', KEYS[1]) end
return 0
