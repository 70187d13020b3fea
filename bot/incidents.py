"""Incidents: folding reports of one scene together, corroboration, lifecycle, timeline.

A false split sends observers twice; a false merge hides a second raid. So the
merge decision (which open incident a report joins, or a new one) is made in one
Lua script: two reports arriving at the same instant can never both create an
incident. The rule itself is documented in docs/incidents.md.

Cluster note: the merge script reads the global open-incident sets and writes
per-incident keys (hash tag `{inc:ID}`) in one atomic step, so it needs all of
them on one Redis node. We run a single primary (replicas/Sentinel for failover):
the whole incident data set is small. Per-incident operations (dispatch, timeline)
stay cluster-ready through the hash tag; see docs/incidents.md "Redis Cluster".
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis

from . import store
from .errors import HotlineError, NoSuchIncident
from .geo import PRECISION_M, precision_class

KINDS = ("raid", "arrest", "checkpoint", "agents", "other")
"""Activity codes a report carries (the `activity` answer of the report flow)."""

COMPATIBLE = {
    "raid": {"raid", "arrest", "agents", "other"},
    "arrest": {"raid", "arrest", "checkpoint", "agents", "other"},
    "checkpoint": {"checkpoint", "arrest", "agents", "other"},
    "agents": set(KINDS),
    "other": set(KINDS),
}
"""Kinds that can describe one scene: a checkpoint and a home raid are two scenes."""

STATUSES = ("reported", "corroborated", "verified", "unfounded", "closed")
"""Lifecycle of an incident, in order."""

TRANSITIONS = {
    "reported": {"corroborated", "verified", "unfounded", "closed"},
    "corroborated": {"verified", "unfounded", "closed"},
    "verified": {"unfounded", "closed"},
    "unfounded": {"verified", "closed"},
    "closed": set(),
}
"""Status changes allowed (observers may correct verified/unfounded; closed is final)."""

OPEN_STATUSES = ("reported", "corroborated", "verified")
"""Statuses that keep an incident in the open set (joinable, listed)."""

CORROBORATE_AT = 2
"""Distinct reporters that make a reported incident corroborated."""

PRECISE_MAX_M = PRECISION_M["landmark"]
"""Incidents less precise than this are also indexed in the coarse GEO set."""

MERGE_PRECISION_CAP_M = PRECISION_M["city"]
"""Worst precision the merge radius accounts for; anything vaguer counts as a city."""

SEARCH_COUNT = 64
"""Nearest open incidents examined per report: bounds the work in a dense area."""

EXPIRE_BATCH = 20
"""Stale incidents closed per merge call, so cleanup never stalls a report."""

_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread
_REF_LEN = 5
_REF_SPACE = 32 ** _REF_LEN
_REF_MUL = 0x1A2B3C5  # odd, so multiplying is a bijection mod 2**25: refs never collide
_REF_INV = pow(_REF_MUL, -1, _REF_SPACE)


class BadTransition(HotlineError):
    """A status change the lifecycle does not allow."""

    status = 409


@dataclass(frozen=True)
class Report:
    """One submitted report, already located (lat/lon None when it could not be)."""

    contact_id: str
    lat: float | None
    lon: float | None
    precision_m: int | None
    kind: str
    details: dict = field(default_factory=dict)
    language: str = "en"
    channel: str = "sms"


@dataclass(frozen=True)
class Merge:
    """What merging one report did."""

    incident_id: str
    ref: str
    is_new: bool
    reporters: int
    status: str
    should_dispatch: bool
    escalated: bool = False
    """True when this report moved the incident from reported to corroborated."""


def ref_for(incident_id: str) -> str:
    """Return the short reference code a reporter is given for an incident."""
    n = (int(incident_id) * _REF_MUL) % _REF_SPACE
    chars = []
    for _ in range(_REF_LEN):
        n, digit = divmod(n, 32)
        chars.append(_REF_ALPHABET[digit])
    return "".join(reversed(chars))


def incident_id_for_ref(ref: str) -> str | None:
    """Return the incident id a reference code stands for; None when it is not one."""
    text = ref.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1").replace("-", "")
    if len(text) != _REF_LEN or any(c not in _REF_ALPHABET for c in text):
        return None
    n = 0
    for c in text:
        n = n * 32 + _REF_ALPHABET.index(c)
    seq = (n * _REF_INV) % _REF_SPACE
    return str(seq) if seq else None


def _iso(epoch: float | str | None) -> str | None:
    if epoch in (None, ""):
        return None
    return datetime.fromtimestamp(float(epoch), timezone.utc).isoformat()


def _tpl(builder) -> str:
    return builder("@ID@")


_scripts: dict[str, "redis.commands.core.Script"] = {}


def _run(r: redis.Redis, source: str, keys: list, args: list):
    """Run a Lua script by its SHA (loading it once), so the hot path sends no script text."""
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = r.register_script(source)
    return script(keys, args, client=r)


# One script per decision. KEYS and the key templates all come from store.py.
_MERGE_LUA = r"""
local geo, tkey, seq, contact, coarse = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = tonumber(ARGV[1])
local lon, lat = ARGV[2], ARGV[3]
local prec = tonumber(ARGV[4])
local kind = ARGV[5]
local compat = {}
for k in string.gmatch(ARGV[6], '[^,]+') do compat[k] = true end
local base = tonumber(ARGV[7])
local window = tonumber(ARGV[8])
local ttl = tonumber(ARGV[9])
local precise_max = tonumber(ARGV[10])
local cap = tonumber(ARGV[11])
local tinc, trep, ttl_key = ARGV[12], ARGV[13], ARGV[14]
local cid, details, lang, channel = ARGV[15], ARGV[16], ARGV[17], ARGV[18]
local corroborate_at = tonumber(ARGV[19])
local count = tonumber(ARGV[20])
local expire_batch = tonumber(ARGV[21])
local function k(tpl, id) return (string.gsub(tpl, '@ID@', id)) end

-- 1. close incidents with nothing new for `ttl` seconds (bounded batch; the time index, never a scan)
local stale = redis.call('ZRANGEBYSCORE', tkey, '-inf', '(' .. (now - ttl), 'LIMIT', 0, expire_batch)
for _, id in ipairs(stale) do
  redis.call('ZREM', tkey, id); redis.call('ZREM', geo, id); redis.call('ZREM', coarse, id)
  redis.call('HSET', k(tinc, id), 'status', 'closed', 'closed_at', ARGV[1], 'closed_reason', 'expired')
  redis.call('XADD', k(ttl_key, id), '*', 'event', 'status', 'at', ARGV[1], 'status', 'closed', 'reason', 'expired')
end

local trust = redis.call('HGET', contact, 'trust') or ''
local blocked = trust == 'blocked'
local placed = lat ~= ''
if prec > cap then prec = cap end

-- 2. nearest open, compatible incident within window and radius
local found, found_dist = nil, nil
if placed then
  local seen, cands = {}, {}
  local wide = prec; if wide < precise_max then wide = precise_max end
  for _, hit in ipairs(redis.call('GEOSEARCH', geo, 'FROMLONLAT', lon, lat, 'BYRADIUS', base + wide, 'm', 'ASC', 'COUNT', count, 'WITHDIST')) do
    seen[hit[1]] = true; table.insert(cands, {hit[1], tonumber(hit[2])})
  end
  for _, hit in ipairs(redis.call('GEOSEARCH', coarse, 'FROMLONLAT', lon, lat, 'BYRADIUS', base + cap, 'm', 'ASC', 'COUNT', count, 'WITHDIST')) do
    if not seen[hit[1]] then table.insert(cands, {hit[1], tonumber(hit[2])}) end
  end
  table.sort(cands, function(a, b) return a[2] < b[2] end)
  for _, c in ipairs(cands) do
    local f = redis.call('HMGET', k(tinc, c[1]), 'status', 'kind', 'precision_m', 'last_at')
    local p = tonumber(f[3]) or cap
    if p > cap then p = cap end
    if p < prec then p = prec end
    local st = f[1]
    if (st == 'reported' or st == 'corroborated' or st == 'verified') and compat[f[2]]
       and c[2] <= base + p and now - tonumber(f[4]) <= window then
      found, found_dist = c[1], c[2]; break
    end
  end
end

-- 3a. join it
if found then
  local ikey = k(tinc, found)
  if blocked then
    redis.call('XADD', k(ttl_key, found), '*', 'event', 'report_ignored', 'at', ARGV[1], 'reason', 'blocked contact', 'reporter', cid)
    local st = redis.call('HGET', ikey, 'status')
    return {found, 0, redis.call('SCARD', k(trep, found)), st, 0, 0}
  end
  local added = redis.call('SADD', k(trep, found), cid)
  local n = redis.call('SCARD', k(trep, found))
  redis.call('HINCRBY', ikey, 'reports', 1)
  redis.call('HSET', ikey, 'last_at', ARGV[1])
  redis.call('ZADD', tkey, 'GT', now, found)
  local f = redis.call('HMGET', ikey, 'status', 'kind', 'precision_m', 'believed')
  if (f[2] == 'agents' or f[2] == 'other') and kind ~= 'agents' and kind ~= 'other' then
    redis.call('HSET', ikey, 'kind', kind)
  end
  if placed and prec < tonumber(f[3]) then  -- a sharper report moves the incident to its point
    redis.call('HSET', ikey, 'lat', lat, 'lon', lon, 'precision_m', prec)
    redis.call('GEOADD', geo, lon, lat, found)
    if prec <= precise_max then redis.call('ZREM', coarse, found) else redis.call('GEOADD', coarse, lon, lat, found) end
  end
  redis.call('XADD', k(ttl_key, found), '*', 'event', 'report', 'at', ARGV[1], 'reporter', cid,
    'new_reporter', added, 'kind', kind, 'lat', lat, 'lon', lon, 'precision_m', ARGV[4],
    'distance_m', string.format('%.0f', found_dist), 'details', details, 'language', lang, 'channel', channel)
  local st, escalated = f[1], 0
  local why = nil
  if st == 'reported' and trust == 'trusted' then why = 'trusted reporter'
  elseif st == 'reported' and n >= corroborate_at then why = n .. ' distinct reporters' end
  if why then
    local believed = cjson.decode(f[4] or '[]'); table.insert(believed, why)
    st, escalated = 'corroborated', 1
    redis.call('HSET', ikey, 'status', st, 'believed', cjson.encode(believed))
    redis.call('XADD', k(ttl_key, found), '*', 'event', 'status', 'at', ARGV[1], 'status', st, 'reason', why)
  end
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
if not blocked then
  n = redis.call('SADD', k(trep, id), cid)
  redis.call('ZADD', tkey, now, id)
  if placed then
    redis.call('GEOADD', geo, lon, lat, id)
    if prec > precise_max then redis.call('GEOADD', coarse, lon, lat, id) end
  end
end
redis.call('XADD', k(ttl_key, id), '*', 'event', 'created', 'at', ARGV[1], 'status', st, 'reason', reason)
redis.call('XADD', k(ttl_key, id), '*', 'event', 'report', 'at', ARGV[1], 'reporter', cid, 'new_reporter', n,
  'kind', kind, 'lat', lat, 'lon', lon, 'precision_m', ARGV[4], 'details', details, 'language', lang, 'channel', channel)
local dispatch = 1; if blocked then dispatch = 0 end
return {id, 1, n, st, dispatch, 0}
"""

_STATUS_LUA = r"""
local ikey, geo, tkey, coarse, tl = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, status, at, reason, allowed_from = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
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
  redis.call('ZREM', tkey, id); redis.call('ZREM', geo, id); redis.call('ZREM', coarse, id)
  redis.call('HSET', ikey, 'closed_at', at, 'closed_reason', reason)
elseif cur == 'unfounded' then
  local f = redis.call('HMGET', ikey, 'lat', 'lon', 'precision_m')
  redis.call('ZADD', tkey, tonumber(at), id)
  if f[1] ~= '' then redis.call('GEOADD', geo, f[2], f[1], id) end
end
redis.call('XADD', tl, '*', 'event', 'status', 'at', at, 'status', status, 'reason', reason)
return {'ok', cur}
"""

_EVENT_LUA = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('ZADD', KEYS[3], 'XX', 'GT', tonumber(ARGV[2]), ARGV[1])
return 1
"""


def merge_report(r: redis.Redis, report: Report, settings, now: float) -> Merge:
    """Fold one report into the nearest compatible open incident, or open a new one, atomically."""
    kind = report.kind if report.kind in COMPATIBLE else "other"
    placed = report.lat is not None and report.lon is not None
    precision_m = int(report.precision_m or MERGE_PRECISION_CAP_M) if placed else MERGE_PRECISION_CAP_M
    keys = [store.incidents_geo_key(), store.incidents_time_key(), store.incident_seq_key(),
            store.contact_key(report.contact_id), store.incidents_coarse_geo_key()]
    args = [
        repr(float(now)),
        repr(float(report.lon)) if placed else "", repr(float(report.lat)) if placed else "",
        precision_m, kind, ",".join(sorted(COMPATIBLE[kind])),
        settings.dedupe_radius_m, settings.dedupe_window_min * 60, settings.incident_ttl_min * 60,
        PRECISE_MAX_M, MERGE_PRECISION_CAP_M,
        _tpl(store.incident_key), _tpl(store.incident_reporters_key), _tpl(store.incident_timeline_key),
        report.contact_id, json.dumps(report.details or {}, sort_keys=True, default=str),
        report.language, report.channel, CORROBORATE_AT, SEARCH_COUNT, EXPIRE_BATCH,
    ]
    incident_id, is_new, reporters, status, dispatch, escalated = _run(r, _MERGE_LUA, keys, args)
    incident_id = str(incident_id)
    return Merge(incident_id, ref_for(incident_id), bool(is_new), int(reporters), str(status),
                 bool(dispatch), bool(escalated))


def get(r: redis.Redis, incident_id: str) -> dict:
    """Return one incident with its counts; raise NoSuchIncident when it does not exist."""
    with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(store.incident_key(incident_id))
        pipe.scard(store.incident_reporters_key(incident_id))
        pipe.hvals(store.incident_dispatch_key(incident_id))
        data, reporters, states = pipe.execute()
    if not data:
        raise NoSuchIncident(f"no incident {incident_id}")
    return _view(data, reporters, states)


def _view(data: dict, reporters: int, states: list[str]) -> dict:
    placed = data.get("lat", "") != ""
    precision_m = int(data.get("precision_m") or MERGE_PRECISION_CAP_M)
    return {
        "id": data["id"],
        "ref": ref_for(data["id"]),
        "status": data["status"],
        "kind": data.get("kind", "other"),
        "lat": float(data["lat"]) if placed else None,
        "lon": float(data["lon"]) if placed else None,
        "precision": precision_class(precision_m) if placed else "unknown",
        "precision_m": precision_m if placed else None,
        "reporters": int(reporters),
        "reports": int(data.get("reports", 0)),
        # every observer in the dispatch hash was texted, except where the text never arrived
        "texted": sum(1 for s in states if s != "undelivered"),
        "accepted": sum(1 for s in states if s == "accepted"),
        "created_at": _iso(data.get("created_at")),
        "last_at": _iso(data.get("last_at")),
        "believed": json.loads(data.get("believed") or "[]"),
        "details": json.loads(data.get("details") or "{}"),
        "language": data.get("language", "en"),
        "channel": data.get("channel", ""),
    }


def expire_stale(r: redis.Redis, settings, now: float) -> list[str]:
    """Close every open incident with nothing new for HOTLINE_INCIDENT_TTL_MIN; return their ids."""
    cutoff = now - settings.incident_ttl_min * 60
    stale = r.zrangebyscore(store.incidents_time_key(), "-inf", f"({cutoff!r}")
    for incident_id in stale:
        try:
            set_status(r, incident_id, "closed", now, "expired")
        except (BadTransition, NoSuchIncident):  # raced with another closer: already gone
            r.zrem(store.incidents_time_key(), incident_id)
    return stale


def list_open(r: redis.Redis, now: float | None = None, settings=None) -> list[dict]:
    """Return open incidents, most recently active first (expiring stale ones when given settings)."""
    if settings is not None and now is not None:
        expire_stale(r, settings, now)
    ids = r.zrevrange(store.incidents_time_key(), 0, -1)
    with r.pipeline(transaction=False) as pipe:
        for incident_id in ids:
            pipe.hgetall(store.incident_key(incident_id))
            pipe.scard(store.incident_reporters_key(incident_id))
            pipe.hvals(store.incident_dispatch_key(incident_id))
        replies = pipe.execute()
    views = []
    for i in range(0, len(replies), 3):
        if replies[i]:
            views.append(_view(replies[i], replies[i + 1], replies[i + 2]))
    return views


def add_event(r: redis.Redis, incident_id: str, kind: str, now: float, **fields) -> str:
    """Append one event to an incident's timeline and count it as activity; return the entry id."""
    flat: list[str] = ["event", kind, "at", repr(float(now))]
    for name, value in fields.items():
        if name in ("event", "at"):
            raise ValueError(f"timeline field {name!r} is reserved")
        flat += [name, "" if value is None else str(value)]
    keys = [store.incident_key(incident_id), store.incident_timeline_key(incident_id), store.incidents_time_key()]
    if not _run(r, _EVENT_LUA, keys, [incident_id, repr(float(now)), *flat]):
        raise NoSuchIncident(f"no incident {incident_id}")
    return incident_id


def set_status(r: redis.Redis, incident_id: str, status: str, now: float, reason: str) -> str:
    """Move an incident to a new status if the lifecycle allows it; return the previous status."""
    if status not in TRANSITIONS:
        raise BadTransition(f"unknown status {status!r}")
    allowed_from = ",".join(s for s, nexts in TRANSITIONS.items() if status in nexts)
    keys = [store.incident_key(incident_id), store.incidents_geo_key(), store.incidents_time_key(),
            store.incidents_coarse_geo_key(), store.incident_timeline_key(incident_id)]
    outcome, previous = _run(r, _STATUS_LUA, keys, [incident_id, status, repr(float(now)), reason or "", allowed_from])
    if outcome == "missing":
        raise NoSuchIncident(f"no incident {incident_id}")
    if outcome == "refused":
        raise BadTransition(f"incident {incident_id} is {previous}; cannot become {status}")
    return previous


TRUST_LEVELS = ("trusted", "blocked")
"""Values of the `trust` field of a contact's hash (absent = an ordinary reporter)."""


def set_trust(r: redis.Redis, contact_id: str, level: str | None) -> None:
    """Mark a contact trusted or blocked, or clear the mark (None); other contact fields are untouched."""
    if level is None:
        r.hdel(store.contact_key(contact_id), "trust")
        return
    if level not in TRUST_LEVELS:
        raise ValueError(f"trust must be one of {', '.join(TRUST_LEVELS)}, got {level!r}")
    r.hset(store.contact_key(contact_id), "trust", level)


def trust_of(r: redis.Redis, contact_id: str) -> str | None:
    """Return a contact's trust mark, or None for an ordinary reporter."""
    return r.hget(store.contact_key(contact_id), "trust")


def timeline(r: redis.Redis, incident_id: str) -> list[dict]:
    """Return an incident's timeline, oldest first, each entry with its stream id and time."""
    entries = []
    for entry_id, fields in r.xrange(store.incident_timeline_key(incident_id)):
        item = dict(fields)
        item["id"] = entry_id
        item["at"] = float(item.get("at", 0))
        entries.append(item)
    return entries
