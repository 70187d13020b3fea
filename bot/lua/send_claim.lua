-- Claim the right to text one recipient once (compare-and-set on a per-recipient send record).
-- Two workers retrying the same recipient can never both win the claim, and a stale claim is
-- taken over only by whoever read it last.
-- KEYS[1] the records hash; args: recipient, record (JSON to store), takeover ('' or the stale record read)
local a = cjson.decode(ARGV[1])
local cur = redis.call('HGET', KEYS[1], a.recipient)
if not cur or (a.takeover ~= '' and cur == a.takeover) then
  redis.call('HSET', KEYS[1], a.recipient, a.record)
  return {1, a.record}
end
return {0, cur}
