-- Store a conversation session only if its counter is still the one this message read ('*' = any),
-- so the second of two quick texts never writes back a step the first had already left.
-- KEYS[1] the session hash; KEYS[2] (optional) the message's once-only claim
-- args: expected, ttl_s, fields (flat list name, value, ...; empty = delete); with KEYS[2] also
-- receipt (the replies, JSON) and receipt_ttl_s. A claim still being processed starts with a NUL byte.
-- The claim takes the replies in the same step as the session: a message is answered wholly or
-- not at all, so no crash can leave the session advanced while its message still looks unprocessed
-- (a replay would apply it a second time and the report would drift out of step).
-- Returns 1 when stored (or deleted), 0 when another message won, {2, replies} when this message
-- was answered already (the call was resent after a reply lost with a dropped connection).
local a = cjson.decode(ARGV[1])
if KEYS[2] then
  local claim = redis.call('GET', KEYS[2])
  if claim and string.byte(claim, 1) ~= 0 then return {2, claim} end
end
local current = redis.call('HGET', KEYS[1], 'counter') or ''
if a.expected ~= '*' and current ~= a.expected then return 0 end
redis.call('DEL', KEYS[1])
if #a.fields > 0 then
  redis.call('HSET', KEYS[1], unpack(a.fields))
  redis.call('EXPIRE', KEYS[1], a.ttl_s)
end
if KEYS[2] then redis.call('SET', KEYS[2], a.receipt, 'EX', a.receipt_ttl_s) end
return 1
