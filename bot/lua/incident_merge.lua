-- Merge one report into the nearest open, compatible incident, or open a new one: one atomic step,
-- so two reports at the same instant can never both open an incident (docs/incidents.md has the rule).
-- KEYS: geo, time, seq, contact, closed, one GEO set per precision class (KEYS[6..]), the feed,
--   then the day's stats hash and the stats days index (bot/stats.py), then the flood-cap verdict
--   flood_cap.lua just left for this contact and the cap scopes' sorted sets (bot/incidents/caps.py).
-- args: now (string, stored verbatim), lon, lat ('' when unplaced), precision_m (string), kind,
--   compatible (kinds), radius_m, window_s, ttl_s, class_metres (ascending), incident_tpl,
--   reporters_tpl, timeline_tpl (`@ID@` is the id), contact_id, details (JSON), language, channel,
--   corroborate_at, search_count, expire_batch, open_statuses, feed_cap,
--   stats_prefix ('area<tab>kind<tab>'), reported_ttl_s, stats_ordinal, stats_day,
--   area_m (a report vaguer than this — a ZIP, a city — only joins an incident by the incident's own radius),
--   corroboration (docs/incidents.md "Corroboration"): weights {phone, web, trusted, observer} (tenths),
--   corroborate_weight, observer_key (the reporter's roster hash, if any), new_contact_s, burst_at,
--   burst_window_s, newcomers_tpl
--   cap_keep_s (how long a cap scope remembers a new incident), held_reason,
--   contact_incidents (the key of this contact's incident index), index_from (store.contact_index_from_key),
--   crowded_at, crowded_m, crowded_window_s, crowded_scan (a new incident is "crowded" when at least crowded_at
--   of the crowded_scan nearest open incidents within crowded_m opened in the last crowded_window_s: its
--   dispatch queues behind those of quieter places, bot/dispatch/lanes.py),
--   due_key, due_s: an incident this report makes dispatchable is due for the watchdog due_s from now, in
--   this same step (the dispatch's own start may never come if the process or Redis dies right after)
-- Returns {id, is_new, reporters, status, dispatch, escalated, unusual (1 when this report flagged a burst), held,
-- crowded}: a new incident from a contact over its flood cap is kept and shown but held (dispatch 0); another
-- reporter not over theirs releases it (dispatch 1).
local a = cjson.decode(ARGV[1])
local geo, tkey, seq, contact, closed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local at = a.now
local now = tonumber(at)
local lon, lat = a.lon, a.lat
local prec_m = a.precision_m
local prec = tonumber(prec_m)
local kind = a.kind
local compat = {}
for _, c in ipairs(a.compatible) do compat[c] = true end
local is_open = {}
for _, s in ipairs(a.open_statuses) do is_open[s] = true end
local base, window, ttl = a.radius_m, a.window_s, a.ttl_s
local metres = a.class_metres
local cap = metres[#metres]
local tinc, trep, tline = a.incident_tpl, a.reporters_tpl, a.timeline_tpl
local cid, details, lang, channel = a.contact_id, a.details, a.language, a.channel
local corroborate_at, count, expire_batch = a.corroborate_at, a.search_count, a.expire_batch
local function k(tpl, id) return (string.gsub(tpl, '@ID@', id)) end
local ncls = #a.class_metres
local feed, feed_cap = KEYS[6 + ncls], a.feed_cap
local verdict = redis.call('GET', KEYS[9 + ncls])  -- the scope (1 = the contact) whose cap holds this report
local held_scope = tonumber(verdict or '0') or 0
local over_cap = held_scope > 0
local function counted(is_new)  -- statistics that outlive retention: counts only, never an id
  local skey, pre = KEYS[7 + ncls], a.stats_prefix
  redis.call('HINCRBY', skey, pre .. 'reports', 1)
  if is_new then redis.call('HINCRBY', skey, pre .. 'incidents', 1) end
  if redis.call('HSETNX', contact, 'reported', '1') == 1 then redis.call('HINCRBY', skey, pre .. 'reporters', 1) end
  if redis.call('TTL', contact) == -1 then redis.call('EXPIRE', contact, a.reported_ttl_s) end
  redis.call('ZADD', KEYS[8 + ncls], a.stats_ordinal, a.stats_day)
end
local function changed(id, what)  -- the console's change feed: which incident, what kind of change; no words
  redis.call('XADD', feed, 'MAXLEN', '~', feed_cap, '*', 'id', id, 'kind', what)
end
local function class_key(p)  -- the GEO set of a precision class: KEYS[6..]
  for i, m in ipairs(metres) do if p <= m then return KEYS[5 + i] end end
  return KEYS[5 + #metres]
end
local function unindex(id)
  redis.call('ZREM', tkey, id); redis.call('ZREM', geo, id)
  for i = 1, #metres do redis.call('ZREM', KEYS[5 + i], id) end
end

-- 1. close incidents with nothing new for `ttl` seconds (a bounded batch from the time index, never a scan)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', tkey, '-inf', '(' .. (now - ttl), 'LIMIT', 0, expire_batch)) do
  unindex(id)
  redis.call('ZADD', closed, now, id)
  redis.call('HSET', k(tinc, id), 'status', 'closed', 'closed_at', at, 'closed_reason', 'expired')
  redis.call('XADD', k(tline, id), '*', 'event', 'status', 'at', at, 'status', 'closed', 'reason', 'expired')
  changed(id, 'status')
end

local trust = redis.call('HGET', contact, 'trust') or ''
local blocked = trust == 'blocked'
local placed = lat ~= ''
if prec > cap then prec = cap end

-- What this reporter's word is worth (tenths), and whether they are new to the hotline: a de-identified
-- first-seen mark on the contact's hash (keyed by the HMAC of the number, never the number).
local w = a.weights
local first_seen = tonumber(redis.call('HGET', contact, 'first_seen') or '')
local is_observer = redis.call('EXISTS', a.observer_key) == 1
local weight, newcomer, source = w.phone, false, 'reporters'
if trust == 'trusted' then weight, source = w.trusted, 'trusted reporter'
elseif is_observer then weight, source = w.observer, 'observer reported'
elseif channel == 'web' then weight, newcomer = w.web, true  -- a server-issued chat id: never established
else newcomer = first_seen == nil or now - first_seen < a.new_contact_s end
if not blocked and first_seen == nil then redis.call('HSET', contact, 'first_seen', at) end
local function newcomers(id)  -- new reporters by time; members are report numbers, never contact ids
  return k(a.newcomers_tpl, id)
end

-- 2. the nearest open, compatible incident within window and radius; each precision class is
--    searched with exactly its own radius (base + the worse precision of the two)
local found, found_dist = nil, nil
if placed then
  local cands = {}
  for i, m in ipairs(metres) do
    local radius = base + math.max(prec, m)
    for _, hit in ipairs(redis.call('GEOSEARCH', KEYS[5 + i], 'FROMLONLAT', lon, lat, 'BYRADIUS', radius, 'm',
                                    'ASC', 'COUNT', count, 'WITHDIST')) do
      table.insert(cands, {hit[1], tonumber(hit[2])})
    end
  end
  table.sort(cands, function(a, b) return a[2] < b[2] end)
  for _, c in ipairs(cands) do
    local f = redis.call('HMGET', k(tinc, c[1]), 'status', 'kind', 'precision_m', 'last_at')
    local ip = math.min(tonumber(f[3]) or cap, cap)
    local p = math.max(ip, prec)
    -- A ZIP- or city-wide report says nothing about which street: it must not fold into a sharper
    -- incident kilometres away (a second raid would be hidden); it joins one only inside that one's radius.
    if prec > a.area_m and ip <= a.area_m then p = ip end
    if is_open[f[1]] and compat[f[2]]
       and c[2] <= base + p and now - tonumber(f[4]) <= window then
      found, found_dist = c[1], c[2]; break
    end
  end
end

-- 3a. join it
if found then
  local ikey = k(tinc, found)
  if blocked then
    redis.call('XADD', k(tline, found), '*', 'event', 'report_ignored', 'at', at, 'reason', 'blocked contact')
    changed(found, 'report_ignored')
    return {found, 0, redis.call('SCARD', k(trep, found)), redis.call('HGET', ikey, 'status'), 0, 0, 0, 0, 0}
  end
  local added = redis.call('SADD', k(trep, found), cid)
  if added == 1 then redis.call('SADD', a.contact_incidents, found) end
  local n = redis.call('SCARD', k(trep, found))
  local nth = redis.call('HINCRBY', ikey, 'reports', 1)
  local f = redis.call('HMGET', ikey, 'status', 'kind', 'precision_m', 'believed', 'last_at', 'weight', 'weight_known',
    'unusual', 'held')
  -- a replayed late report never rewinds last_at
  if now > tonumber(f[5]) then redis.call('HSET', ikey, 'last_at', at) end
  redis.call('ZADD', tkey, 'GT', now, found)
  if (f[2] == 'agents' or f[2] == 'other') and kind ~= 'agents' and kind ~= 'other' then
    redis.call('HSET', ikey, 'kind', kind)
  end
  if placed and prec < tonumber(f[3]) then  -- a sharper report moves the incident to its point
    redis.call('ZREM', class_key(tonumber(f[3])), found)
    redis.call('HSET', ikey, 'lat', lat, 'lon', lon, 'precision_m', prec)
    redis.call('GEOADD', geo, lon, lat, found)
    redis.call('GEOADD', class_key(prec), lon, lat, found)
  end
  redis.call('XADD', k(tline, found), '*', 'event', 'report', 'at', at,
    'new_reporter', added, 'kind', kind, 'lat', lat, 'lon', lon, 'precision_m', prec_m,
    'distance_m', string.format('%.0f', found_dist), 'details', details, 'language', lang, 'channel', channel)
  -- corroboration: each distinct reporter adds its weight once; a burst of newcomers is flagged unusual,
  -- and from then on only established numbers, trusted contacts and observers count
  local total = tonumber(f[6]) or (n - added) * w.phone  -- an incident opened before weights: phone numbers
  local known = tonumber(f[7]) or total
  local unusual, flagged = f[8] or '', 0
  if added == 1 then
    total = total + weight
    if newcomer then
      local nkey = newcomers(found)
      redis.call('ZADD', nkey, now, nth)
      redis.call('ZREMRANGEBYSCORE', nkey, '-inf', '(' .. (now - a.burst_window_s))
      redis.call('EXPIRE', nkey, ttl)
      local burst = redis.call('ZCARD', nkey)
      if unusual == '' and burst >= a.burst_at then
        unusual = burst .. ' new reporters within ' .. math.floor(a.burst_window_s / 60) .. ' min'
        flagged = 1
        redis.call('XADD', k(tline, found), '*', 'event', 'unusual', 'at', at, 'reason', unusual)
      end
    else
      known = known + weight
    end
    redis.call('HSET', ikey, 'weight', total, 'weight_known', known, 'unusual', unusual)
  end
  local score = total; if unusual ~= '' then score = known end
  local st, escalated, why = f[1], 0, nil
  if st == 'reported' and score >= a.corroborate_weight then
    if added == 1 and weight >= a.corroborate_weight then why = source
    else why = n .. ' distinct reporters' end
  end
  if why then
    local believed = cjson.decode(f[4] or '[]'); table.insert(believed, why)
    st, escalated = 'corroborated', 1
    redis.call('HSET', ikey, 'status', st, 'believed', cjson.encode(believed))
    redis.call('XADD', k(tline, found), '*', 'event', 'status', 'at', at, 'status', st, 'reason', why)
  elseif flagged == 1 and st == 'corroborated' and known < a.corroborate_weight then
    -- it was corroborated by newcomers only: the burst alone never lifts it above reported
    st = 'reported'
    redis.call('HSET', ikey, 'status', st)
    redis.call('XADD', k(tline, found), '*', 'event', 'status', 'at', at, 'status', st, 'reason', 'unusual: ' .. unusual)
  end
  -- held for its first reporter's flood cap: someone else, not over their own cap, reporting the same scene
  -- is a report like any other, and it goes out now
  local release, still_held = 0, 0
  if f[9] and f[9] ~= '' then
    if added == 1 and not over_cap then
      release = 1
      redis.call('HDEL', ikey, 'held')
      redis.call('XADD', k(tline, found), '*', 'event', 'released', 'at', at, 'reason', 'another reporter')
    else
      still_held = 1
    end
  end
  if release == 1 then redis.call('ZADD', a.due_key, 'NX', now + a.due_s, found) end
  changed(found, 'report')
  counted(false)
  return {found, 0, n, st, release, escalated, flagged, still_held, 0}
end

-- 3b. or open a new one; first, how crowded its place is with other new incidents (before it joins the index)
local crowded = 0
if placed and not blocked and a.crowded_at > 0 then
  local recent = 0
  for _, near in ipairs(redis.call('GEOSEARCH', geo, 'FROMLONLAT', lon, lat, 'BYRADIUS', a.crowded_m, 'm',
                                   'ASC', 'COUNT', a.crowded_scan)) do
    local opened = tonumber(redis.call('HGET', k(tinc, near), 'created_at') or '')
    if opened and now - opened <= a.crowded_window_s then recent = recent + 1 end
  end
  if recent >= a.crowded_at then crowded = 1 end
end
if redis.call('EXISTS', a.index_from) == 0 then  -- the first merge since contacts' incidents were indexed
  redis.call('SET', a.index_from, tonumber(redis.call('GET', seq) or '0') + 1)
end
local id = tostring(redis.call('INCR', seq))
local ikey = k(tinc, id)
local st, believed, reason = 'reported', {}, 'one report'
if weight >= a.corroborate_weight then st = 'corroborated'; reason = source; table.insert(believed, reason) end
if blocked then st = 'unfounded'; reason = 'blocked contact' end
local known = weight; if newcomer then known = 0 end
redis.call('HSET', ikey, 'id', id, 'status', st, 'kind', kind, 'precision_m', prec_m, 'lat', lat, 'lon', lon,
  'created_at', at, 'last_at', at, 'reports', 1, 'believed', cjson.encode(believed),
  'details', details, 'language', lang, 'channel', channel, 'weight', weight, 'weight_known', known, 'unusual', '',
  'anonymous_timeline', '1')  -- no event names a reporter: DELETE never has to rewrite this timeline
if newcomer and not blocked then
  redis.call('ZADD', newcomers(id), now, 1)
  redis.call('EXPIRE', newcomers(id), ttl)
end
local n = 0
if blocked then
  redis.call('HSET', ikey, 'closed_at', at, 'closed_reason', reason)
  redis.call('ZADD', closed, now, id)
else
  n = redis.call('SADD', k(trep, id), cid)
  redis.call('SADD', a.contact_incidents, id)
  redis.call('ZADD', tkey, now, id)
  if placed then
    redis.call('GEOADD', geo, lon, lat, id)
    redis.call('GEOADD', class_key(prec), lon, lat, id)
  end
end
redis.call('XADD', k(tline, id), '*', 'event', 'created', 'at', at, 'status', st, 'reason', reason)
redis.call('XADD', k(tline, id), '*', 'event', 'report', 'at', at, 'new_reporter', n,
  'kind', kind, 'lat', lat, 'lon', lon, 'precision_m', prec_m, 'details', details, 'language', lang,
  'channel', channel)
local held = 0
if not blocked and trust ~= 'trusted' then
  -- every new incident counts against its contact's caps; a held one only up to the scope that held it (a flood
  -- stays held by its own caps without using up a wider scope every other client shares)
  local last = #KEYS
  if over_cap then last = math.min(last, 9 + ncls + held_scope) end
  for i = 10 + ncls, last do
    redis.call('ZADD', KEYS[i], now, id)
    redis.call('EXPIRE', KEYS[i], a.cap_keep_s)
  end
  if over_cap then
    held = 1
    redis.call('HSET', ikey, 'held', a.held_reason)
    redis.call('XADD', k(tline, id), '*', 'event', 'held', 'at', at, 'reason', a.held_reason)
  end
end
changed(id, 'created')
if not blocked then counted(true) end
local dispatch = 1; if blocked or held == 1 then dispatch = 0 end
if dispatch == 1 then redis.call('ZADD', a.due_key, 'NX', now + a.due_s, id) end
return {id, 1, n, st, dispatch, 0, 0, held, crowded}
