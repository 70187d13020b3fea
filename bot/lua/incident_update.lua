-- Fold a report's later answers into its open incident: details, a sharper point, one timeline event.
-- KEYS: incident, geo, time, timeline, one GEO set per precision class (narrowest first), feed (last).
-- args: id, now (string), details (JSON object), lat/lon ('' = no place), precision_m,
--   label, precision (class name), class_metres (list), feed_cap.
-- Returns the names that changed ('place' when the point moved); empty when nothing did or it is closed.
local a = cjson.decode(ARGV[1])
local ikey, geo, tkey, tline, feed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[#KEYS]
local metres = a.class_metres
local function class_key(p)
  for i, m in ipairs(metres) do if p <= m then return KEYS[4 + i] end end
  return KEYS[4 + #metres]
end
local f = redis.call('HMGET', ikey, 'status', 'details', 'precision_m')
if not f[1] or not (f[1] == 'reported' or f[1] == 'corroborated' or f[1] == 'verified') then return {} end
local d = cjson.decode(f[2] or '{}')
local new = cjson.decode(a.details)
local changed = {}
for k, v in pairs(new) do
  if cjson.encode(d[k]) ~= cjson.encode(v) then d[k] = v; table.insert(changed, k) end
end
local current = tonumber(f[3]) or metres[#metres]
local prec = tonumber(a.precision_m)
local moved = a.lat ~= '' and prec < current  -- only a sharper place moves the incident (cross streets after a ZIP)
if moved then
  redis.call('ZREM', class_key(current), a.id)
  redis.call('HSET', ikey, 'lat', a.lat, 'lon', a.lon, 'precision_m', prec)
  redis.call('GEOADD', geo, a.lon, a.lat, a.id)
  redis.call('GEOADD', class_key(prec), a.lon, a.lat, a.id)
  d['label'] = a.label; d['precision'] = a.precision
  table.insert(changed, 'place')
end
if #changed == 0 then return {} end
table.sort(changed)
redis.call('HSET', ikey, 'details', cjson.encode(d), 'last_at', a.now)
redis.call('ZADD', tkey, 'XX', 'GT', tonumber(a.now), a.id)
local event = {'event', 'report_update', 'at', a.now, 'fields', table.concat(changed, ',')}
if moved then
  for _, x in ipairs({'lat', a.lat, 'lon', a.lon, 'precision_m', tostring(prec), 'label', a.label}) do
    table.insert(event, x)
  end
end
redis.call('XADD', tline, '*', unpack(event))
redis.call('XADD', feed, 'MAXLEN', '~', a.feed_cap, '*', 'id', a.id, 'kind', 'report_update')
return changed
