-- Forget that an observer was texted for an incident, if they are still only `texted`: the text failed
-- because of the hotline's own account or sender (a pause), so the drive after the pause must send it again.
-- KEYS[1] the incident's per-observer dispatch states, KEYS[2] its send records; args: observer
-- Returns 1 when forgotten, 0 when the observer had already answered or moved on.
local a = cjson.decode(ARGV[1])
if redis.call('HGET', KEYS[1], a.observer) == 'texted' then
  redis.call('HDEL', KEYS[1], a.observer)
  redis.call('HDEL', KEYS[2], a.observer)
  return 1
end
return 0
