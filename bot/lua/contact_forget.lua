-- DELETE: take a contact's id out of every open incident it reported to (kept count, no id), and with
-- `erase` also forget its session, preferences, sealed reply number and WhatsApp window -- keeping a
-- coordinator's block, so DELETE cannot clear one. One step, whatever the number of open incidents:
-- the incidents are the contact's own index (kept by the merge).
-- KEYS[1] the contact's incident index (set), KEYS[2] the index's "complete from" marker (string),
--   then with erase: session, contact hash, sealed reply number, WhatsApp window.
-- args: contact_id, reporters_tpl, incident_tpl (`@ID@` is the id), erase (bool)
-- Returns {removed (count), incidents whose timeline may still name the contact (written before
-- timelines stopped naming reporters: `anonymous_timeline` unset), the index marker or false}.
local a = cjson.decode(ARGV[1])
local function k(tpl, id) return (string.gsub(tpl, '@ID@', id)) end
local removed, rewrite = 0, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('SREM', k(a.reporters_tpl, id), a.contact_id) == 1 then
    removed = removed + 1
    local ikey = k(a.incident_tpl, id)
    redis.call('HINCRBY', ikey, 'reporters_forgotten', 1)  -- incidents adds it to the count
    if redis.call('HGET', ikey, 'anonymous_timeline') ~= '1' then table.insert(rewrite, id) end
  end
end
redis.call('DEL', KEYS[1])
if a.erase then
  local blocked = redis.call('HGET', KEYS[4], 'trust') == 'blocked'
  redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6])
  if blocked then redis.call('HSET', KEYS[4], 'trust', 'blocked') end
end
return {removed, rewrite, redis.call('GET', KEYS[2])}
