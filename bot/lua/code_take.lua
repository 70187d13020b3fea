-- Take the next dispatch code no open incident holds: one atomic step, a bounded number of probes.
-- A code held by an incident that is no longer open is taken over (codes are freed lazily, here), so
-- the cost never grows with the number of open incidents (a flood opens thousands).
-- KEYS[1] codes in use (hash code -> incident id), KEYS[2] the rotating cursor (a counter)
-- args: incident_id, ranges ({low, span}, shortest first), probes (per range), incident_tpl, open_statuses,
--   plan_key (optional): the incident's plan hash. A plan keeps the code it has; a code taken for it is
--   written into it in this same step, so two concurrent snapshots can never both take one.
-- Returns the code, or false when every probed code of every range is held by an open incident.
local a = cjson.decode(ARGV[1])
if a.plan_key then
  local held = redis.call('HGET', a.plan_key, 'code')
  if held then return held end
end
local open = {}
for _, s in ipairs(a.open_statuses) do open[s] = true end
local start = redis.call('INCR', KEYS[2])
for _, range in ipairs(a.ranges) do
  local low, span = range[1], range[2]
  for step = 0, math.min(span, a.probes) - 1 do
    local code = tostring(low + (start + step) % span)
    local holder = redis.call('HGET', KEYS[1], code)
    local free = not holder or holder == a.incident_id
    if not free then
      local status = redis.call('HGET', (string.gsub(a.incident_tpl, '@ID@', holder)), 'status')
      free = not (status and open[status])
    end
    if free then
      redis.call('HSET', KEYS[1], code, a.incident_id)
      if a.plan_key then redis.call('HSET', a.plan_key, 'code', code) end
      return code
    end
  end
end
return false
