-- One atomic step per accept: read the count, compare with the plan's `needed`, and take a slot
-- or answer covered, so the first `needed` YES replies win even in the same millisecond.
-- KEYS[1] the incident's per-observer dispatch states, KEYS[2] its plan; args: observer
-- Returns {outcome, accepted}: unknown | already | closed | full | won.
local a = cjson.decode(ARGV[1])
local state = redis.call('HGET', KEYS[1], a.observer)
if not state then return {'unknown', 0} end
if state == 'accepted' then return {'already', 0} end
if redis.call('HGET', KEYS[2], 'state') == 'closed' then return {'closed', 0} end
local needed = tonumber(redis.call('HGET', KEYS[2], 'needed') or '1')
local n = tonumber(redis.call('HGET', KEYS[2], 'accepted') or '0')
if n >= needed then
  redis.call('HSET', KEYS[1], a.observer, 'covered')
  return {'full', n}
end
redis.call('HSET', KEYS[1], a.observer, 'accepted')
n = redis.call('HINCRBY', KEYS[2], 'accepted', 1)
if n >= needed then redis.call('HSET', KEYS[2], 'state', 'filled') end
return {'won', n}
