-- Move one observer's dispatch state only if it still `was` what the caller read (a reply or callback that lost
-- the race to another one changes nothing): decline, covered, undelivered, unreachable.
-- KEYS[1] the incident's per-observer dispatch states; args: observer, was, to
-- Returns 1 when moved, 0 when the state had already changed.
local a = cjson.decode(ARGV[1])
if redis.call('HGET', KEYS[1], a.observer) == a.was then
  redis.call('HSET', KEYS[1], a.observer, a.to)
  return 1
end
return 0
