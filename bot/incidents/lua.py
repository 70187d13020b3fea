"""The Lua scripts behind every incident decision, so each decision is one atomic step in Redis.

A merge must read the open incidents and write its choice with nothing in
between (two reports at the same instant must not both open an incident), so
it cannot be a read-then-write from Python; WATCH/MULTI would retry under load
exactly when reports pile up. Keys and key templates are passed in from
`bot/store.py`; `@ID@` in a template is replaced by an incident id.
"""

from __future__ import annotations

import redis

MERGE = r"""
local geo, tkey, seq, contact, closed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = tonumber(ARGV[1])
local lon, lat = ARGV[2], ARGV[3]
local prec = tonumber(ARGV[4])
local kind = ARGV[5]
local compat = {}
for k in string.gmatch(ARGV[6], '[^,]+') do compat[k] = true end
local base, window, ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local metres = {}
for m in string.gmatch(ARGV[10], '[^,]+') do table.insert(metres, tonumber(m)) end
local cap = metres[#metres]
local tinc, trep, tline = ARGV[11], ARGV[12], ARGV[13]
local cid, details, lang, channel = ARGV[14], ARGV[15], ARGV[16], ARGV[17]
local corroborate_at, count, expire_batch = tonumber(ARGV[18]), tonumber(ARGV[19]), tonumber(ARGV[20])
local function k(tpl, id) return (string.gsub(tpl, '@ID@', id)) end
local feed, feed_cap = KEYS[#KEYS], ARGV[21]
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
  redis.call('HSET', k(tinc, id), 'status', 'closed', 'closed_at', ARGV[1], 'closed_reason', 'expired')
  redis.call('XADD', k(tline, id), '*', 'event', 'status', 'at', ARGV[1], 'status', 'closed', 'reason', 'expired')
  changed(id, 'status')
end

local trust = redis.call('HGET', contact, 'trust') or ''
local blocked = trust == 'blocked'
local placed = lat ~= ''
if prec > cap then prec = cap end

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
    local p = math.max(math.min(tonumber(f[3]) or cap, cap), prec)
    if (f[1] == 'reported' or f[1] == 'corroborated' or f[1] == 'verified') and compat[f[2]]
       and c[2] <= base + p and now - tonumber(f[4]) <= window then
      found, found_dist = c[1], c[2]; break
    end
  end
end

-- 3a. join it
if found then
  local ikey = k(tinc, found)
  if blocked then
    redis.call('XADD', k(tline, found), '*', 'event', 'report_ignored', 'at', ARGV[1], 'reason', 'blocked contact',
      'reporter', cid)
    changed(found, 'report_ignored')
    return {found, 0, redis.call('SCARD', k(trep, found)), redis.call('HGET', ikey, 'status'), 0, 0}
  end
  local added = redis.call('SADD', k(trep, found), cid)
  local n = redis.call('SCARD', k(trep, found))
  redis.call('HINCRBY', ikey, 'reports', 1)
  local f = redis.call('HMGET', ikey, 'status', 'kind', 'precision_m', 'believed', 'last_at')
  -- a replayed late report never rewinds last_at
  if now > tonumber(f[5]) then redis.call('HSET', ikey, 'last_at', ARGV[1]) end
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
  redis.call('XADD', k(tline, found), '*', 'event', 'report', 'at', ARGV[1], 'reporter', cid,
    'new_reporter', added, 'kind', kind, 'lat', lat, 'lon', lon, 'precision_m', ARGV[4],
    'distance_m', string.format('%.0f', found_dist), 'details', details, 'language', lang, 'channel', channel)
  local st, escalated, why = f[1], 0, nil
  if st == 'reported' and trust == 'trusted' then why = 'trusted reporter'
  elseif st == 'reported' and n >= corroborate_at then why = n .. ' distinct reporters' end
  if why then
    local believed = cjson.decode(f[4] or '[]'); table.insert(believed, why)
    st, escalated = 'corroborated', 1
    redis.call('HSET', ikey, 'status', st, 'believed', cjson.encode(believed))
    redis.call('XADD', k(tline, found), '*', 'event', 'status', 'at', ARGV[1], 'status', st, 'reason', why)
  end
  changed(found, 'report')
  return {found, 0, n, st, 0, escalated}
end

-- 3b. or open a new one
local id = tostring(redis.call('INCR', seq))
local ikey = k(tinc, id)
local st, believed, reason = 'reported', {}, 'one report'
if trust == 'trusted' then st = 'corroborated'; reason = 'trusted reporter'; table.insert(believed, reason) end
if blocked then st = 'unfounded'; reason = 'blocked contact' end
redis.call('HSET', ikey, 'id', id, 'status', st, 'kind', kind, 'precision_m', ARGV[4], 'lat', lat, 'lon', lon,
  'created_at', ARGV[1], 'last_at', ARGV[1], 'reports', 1, 'believed', cjson.encode(believed),
  'details', details, 'language', lang, 'channel', channel)
local n = 0
if blocked then
  redis.call('HSET', ikey, 'closed_at', ARGV[1], 'closed_reason', reason)
  redis.call('ZADD', closed, now, id)
else
  n = redis.call('SADD', k(trep, id), cid)
  redis.call('ZADD', tkey, now, id)
  if placed then
    redis.call('GEOADD', geo, lon, lat, id)
    redis.call('GEOADD', class_key(prec), lon, lat, id)
  end
end
redis.call('XADD', k(tline, id), '*', 'event', 'created', 'at', ARGV[1], 'status', st, 'reason', reason)
redis.call('XADD', k(tline, id), '*', 'event', 'report', 'at', ARGV[1], 'reporter', cid, 'new_reporter', n,
  'kind', kind, 'lat', lat, 'lon', lon, 'precision_m', ARGV[4], 'details', details, 'language', lang,
  'channel', channel)
changed(id, 'created')
local dispatch = 1; if blocked then dispatch = 0 end
return {id, 1, n, st, dispatch, 0}
"""
"""Merge one report: KEYS geo, time, seq, contact, closed, one GEO set per precision class, then the feed."""

STATUS = r"""
local ikey, geo, tkey, tl, closed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, status, at, reason, allowed_from = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local metres = {}
for m in string.gmatch(ARGV[6], '[^,]+') do table.insert(metres, tonumber(m)) end
local cur = redis.call('HGET', ikey, 'status')
if not cur then return {'missing', ''} end
if not string.find(',' .. allowed_from .. ',', ',' .. cur .. ',', 1, true) then return {'refused', cur} end
redis.call('HSET', ikey, 'status', status, 'status_at', at)
if status == 'verified' or status == 'unfounded' then
  local believed = cjson.decode(redis.call('HGET', ikey, 'believed') or '[]')
  table.insert(believed, status .. ': ' .. reason)
  redis.call('HSET', ikey, 'believed', cjson.encode(believed))
end
if status == 'unfounded' or status == 'closed' then
  redis.call('ZREM', tkey, id); redis.call('ZREM', geo, id)
  for i = 1, #metres do redis.call('ZREM', KEYS[5 + i], id) end
  redis.call('ZADD', closed, tonumber(at), id)
  redis.call('HSET', ikey, 'closed_at', at, 'closed_reason', reason)
elseif cur == 'unfounded' then  -- an observer's correction puts it back in the open set
  redis.call('ZREM', closed, id)
  redis.call('ZADD', tkey, tonumber(at), id)
  local f = redis.call('HMGET', ikey, 'lat', 'lon', 'precision_m')
  if f[1] and f[1] ~= '' then
    redis.call('GEOADD', geo, f[2], f[1], id)
    local p, key = tonumber(f[3]), KEYS[5 + #metres]
    for i, m in ipairs(metres) do if p <= m then key = KEYS[5 + i]; break end end
    redis.call('GEOADD', key, f[2], f[1], id)
  end
end
redis.call('XADD', tl, '*', 'event', 'status', 'at', at, 'status', status, 'reason', reason)
redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', ARGV[7], '*', 'id', id, 'kind', 'status')
return {'ok', cur}
"""
"""Compare-and-set an incident's status: KEYS incident, geo, time, timeline, closed, class GEO sets, feed."""

EVENT = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
redis.call('ZADD', KEYS[3], 'XX', 'GT', tonumber(ARGV[2]), ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'id', ARGV[1], 'kind', ARGV[5])
return 1
"""
"""Append a timeline event, count it as activity and note it on the feed: KEYS incident, timeline, time, feed.

ARGV: id, now, feed cap, then the event's fields (`event`, kind, ...), so ARGV[5] is the kind."""

_scripts: dict[str, redis.commands.core.Script] = {}


def run(r: redis.Redis, source: str, keys: list, args: list):
    """Run a script by its SHA (loading it once), so the hot path sends no script text."""
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = r.register_script(source)
    return script(keys, args, client=r)
