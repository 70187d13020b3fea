-- Store a conversation session only if its counter is still the one this message read ('*' = any),
-- so the second of two quick texts never writes back a step the first had already left.
-- KEYS[1] the session hash; args: expected, ttl_s, fields (flat list name, value, ...; empty = delete)
-- Returns 1 when stored (or deleted), 0 when another message won.
local a = cjson.decode(ARGV[1])
local current = redis.call('HGET', KEYS[1], 'counter') or ''
if a.expected ~= '*' and current ~= a.expected then return 0 end
redis.call('DEL', KEYS[1])
if #a.fields > 0 then
  redis.call('HSET', KEYS[1], unpack(a.fields))
  redis.call('EXPIRE', KEYS[1], a.ttl_s)
end
return 1
