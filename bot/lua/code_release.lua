-- Free a dispatch code only if it still names the incident that held it (compare-and-delete),
-- so a worker that read it stale can never free a code another incident has just taken.
-- KEYS[1] codes in use (hash code -> incident id); args: code, incident_id
local a = cjson.decode(ARGV[1])
if redis.call('HGET', KEYS[1], a.code) == a.incident_id then return redis.call('HDEL', KEYS[1], a.code) end
return 0
