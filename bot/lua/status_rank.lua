-- Apply a Twilio status callback by rank: callbacks arrive unordered and twice, so `delivered`
-- stays delivered whatever arrives after it (only `read` may follow), a lower-ranked status is
-- ignored and a repeated one is a no-op.
-- KEYS[1] the outbound message's hash; args: status, rank, error_code
-- Returns 1 when the stored status changed.
local a = cjson.decode(ARGV[1])
local cur = redis.call('HGET', KEYS[1], 'status')
local cur_rank = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if (cur == 'delivered' or cur == 'read') and a.status ~= 'read' then return 0 end
if tonumber(a.rank) < cur_rank then return 0 end
if cur == a.status then return 0 end
redis.call('HSET', KEYS[1], 'status', a.status, 'rank', a.rank, 'error_code', a.error_code)
return 1
