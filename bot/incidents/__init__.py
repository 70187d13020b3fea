"""Incidents: folding reports of one scene together, corroboration, lifecycle, timeline.

A false split sends observers twice; a false merge hides a second raid. So the
merge decision (which open incident a report joins, or a new one) is made in one
Lua script: two reports arriving at the same instant can never both create an
incident. The rule itself is documented in docs/incidents.md.

The Lua itself lives in `bot/lua/incident_*.lua`; the statuses it must know are passed in.
Cluster note: the merge script reads the
global open-incident sets and writes per-incident keys (hash tag `{inc:ID}`) in
one atomic step, so it needs all of them on one Redis node. We run a single primary (replicas/Sentinel for failover):
the whole incident data set is small. Per-incident operations (dispatch, timeline)
stay cluster-ready through the hash tag; see docs/incidents.md "Redis Cluster".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from .. import lua, stats, store
from ..errors import HotlineError, NoSuchIncident
from ..geo import PRECISION_M, precision_class
from ..i18n import N_
from . import caps, updates

KINDS = ("raid", "arrest", "checkpoint", "agents", "other")
"""Activity codes a report carries (the `activity` answer of the report flow)."""

KIND_NAMES = {
    "raid": N_("a raid"),
    "arrest": N_("an arrest"),
    "checkpoint": N_("a checkpoint"),
    "agents": N_("agents seen"),
    "other": N_("immigration activity"),
}
"""How a kind reads in a text (a gettext msgid), for dispatch, escalation and alerts alike."""

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
    "unfounded": {"verified", "closed", "reported", "corroborated"},
    "closed": {"reported", "corroborated"},
}
"""Status changes allowed (observers may correct verified/unfounded; a coordinator may reopen a closed one)."""

OPEN_STATUSES = ("reported", "corroborated", "verified")
"""Statuses that keep an incident in the open set (joinable, listed)."""

CLOSED_STATUSES = tuple(s for s in STATUSES if s not in OPEN_STATUSES)
"""Statuses that take an incident out of the open set; leaving one puts it back (the Lua is told these)."""

VERDICT_STATUSES = ("verified", "unfounded")
"""Statuses an observer's verdict sets; each adds its reason to the incident's `believed` list."""

CORROBORATE_AT = 2
"""Distinct reporters (phone numbers) that make a reported incident corroborated."""

WEIGHTS = {"phone": 10, "web": 5, "trusted": 20, "observer": 20}
"""What one distinct reporter's word is worth, in tenths of a phone number (docs/incidents.md "Corroboration").

A web chat id costs nothing to make, so it counts half; a contact a coordinator
trusts (`hotline contacts trust`) or an observer on the roster corroborates alone."""

CORROBORATE_WEIGHT = CORROBORATE_AT * WEIGHTS["phone"]
"""The weight of distinct reporters that makes a reported incident corroborated."""

NEW_CONTACT_S = 24 * 3600
"""A number whose first report is younger than this (or a web chat id, always) is a newcomer."""

BURST_AT = 5
"""Newcomers within BURST_WINDOW_S on one incident that make it "unusual": a real scene brings a neighbour or
three; a trap brings dozens of fresh numbers at once (the drill: 200 in seconds)."""

BURST_WINDOW_S = 10 * 60
"""How close together the newcomers of a burst arrive."""

DISPATCH_DUE_S = 10
"""A new incident to dispatch is due for the watchdog this long after it opened, written by the merge itself:
a process (or Redis) dying between the merge and the dispatch's start would otherwise leave it never
dispatched, its report's replay only joining it (`bot.dispatch.plan.START_GRACE_S` is this)."""

CROWDED_AT = 3
"""Other incidents opened within CROWDED_KM in CROWDED_WINDOW_S that make a new one "crowded".

Reports of one raid merge into one incident (the dedupe radius), so even a large
operation opens a few incidents in one neighbourhood in ten minutes; a flood
across the city opens hundreds. A crowded incident is dispatched like any other,
only behind the first dispatches of quieter places (bot/dispatch/lanes.py), which
outside a flood means at once. Three: by then a wave of three has asked most of
the observers within reach (each takes at most HOTLINE_OBSERVER_MAX_OPEN open
dispatches), so a fourth first-lane dispatch there would mostly wait for them;
with eight, a flood's first seconds put ~150 dispatches city-wide ahead of a
genuine report (bench/flood.py, the first sample 7.7 s)."""

CROWDED_KM = 3.0
"""The neighbourhood counted for CROWDED_AT: about the reach of one observer on foot or by car."""

CROWDED_WINDOW_S = 10 * 60
"""How recent the other incidents must be to make a place crowded."""

CROWDED_SCAN = 4 * CROWDED_AT
"""Nearest open incidents looked at: bounds the merge's work in a dense area (older ones count for nothing)."""

MERGE_PRECISION_CAP_M = PRECISION_M["city"]
"""Worst precision the merge radius accounts for; anything vaguer counts as a city."""

MERGE_AREA_M = PRECISION_M["landmark"]
"""A report vaguer than a landmark (a ZIP, a city) joins a sharper incident only within that incident's
own radius: "3rd and State, South Gate" placed as South Gate must not fold into a street-precision
incident 2.5 km away without a dispatch of its own."""

SEARCH_COUNT = 16
"""Nearest open incidents of each precision class examined per report: bounds the work in a dense area."""

EXPIRE_BATCH = 20
"""Stale incidents closed per merge call, so cleanup never stalls a report."""

FEED_CAP = 10_000
"""Changes kept on the console's feed (trimmed approximately): hours of a raid's changes, a few MB at most.
A console that fell further behind reloads the whole board anyway (see `bot/incidents/feed.py`)."""

_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread
_REF_LEN = 5
_REF_SPACE = 32**_REF_LEN
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
    client: str = ""
    """A web chat's client as the keyed hash of its address (`Inbound.client`): its chats share flood caps."""


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
    unusual: bool = False
    """True when this report made the incident "unusual" (a burst of newcomers): coordinators are told once."""
    held: bool = False
    """True when the incident is held by its reporter's flood cap (kept and shown, not dispatched; `caps`)."""
    recent: int = 0
    """New incidents this contact opened in the last hour before this report (its flood-cap count)."""
    crowded: bool = False
    """True for a new incident opened where CROWDED_AT others opened within minutes (`bot/dispatch/lanes.py`)."""


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
    return datetime.fromtimestamp(float(epoch), UTC).isoformat()


def _tpl(builder) -> str:
    return builder("@ID@")


def _class_keys() -> list[str]:
    return [store.incidents_geo_class_key(name) for name in PRECISION_M]


_CLASS_METRES = list(PRECISION_M.values())


def merge_report(r: redis.Redis, report: Report, settings, now: float) -> Merge:
    """Fold one report into the nearest compatible open incident, or open a new one, atomically.

    The contact's flood caps (`caps`) are checked in the same MULTI: one round trip for both.
    `should_dispatch` is set for a new incident not held, and for a held one another reporter released.
    """
    kind = report.kind if report.kind in COMPATIBLE else "other"
    placed = report.lat is not None and report.lon is not None
    precision_m = int(report.precision_m or MERGE_PRECISION_CAP_M) if placed else MERGE_PRECISION_CAP_M
    keys = [
        store.incidents_geo_key(),
        store.incidents_time_key(),
        store.incident_seq_key(),
        store.contact_key(report.contact_id),
        store.incidents_closed_key(),
        *_class_keys(),
        store.incident_feed_key(),
    ]
    slot = stats.slot(settings, kind, report.lat if placed else None, report.lon if placed else None, now)
    keys += [slot.day_key, store.stats_days_key()]
    keys += caps.merge_keys(settings, report.contact_id, report.channel, report.client)
    pipe = r.pipeline(transaction=True)
    caps.queue_check(pipe, settings, report.contact_id, report.channel, now, client=report.client)
    lua.run(
        pipe,
        "incident_merge",
        keys,
        now=repr(float(now)),
        lon=repr(float(report.lon)) if placed else "",
        lat=repr(float(report.lat)) if placed else "",
        precision_m=str(precision_m),
        kind=kind,
        compatible=sorted(COMPATIBLE[kind]),
        radius_m=settings.dedupe_radius_m,
        window_s=settings.dedupe_window_min * 60,
        ttl_s=settings.incident_ttl_min * 60,
        class_metres=_CLASS_METRES,
        incident_tpl=_tpl(store.incident_key),
        reporters_tpl=_tpl(store.incident_reporters_key),
        timeline_tpl=_tpl(store.incident_timeline_key),
        contact_id=report.contact_id,
        details=json.dumps(report.details or {}, sort_keys=True, default=str),
        language=report.language,
        channel=report.channel,
        corroborate_at=CORROBORATE_AT,
        search_count=SEARCH_COUNT,
        expire_batch=EXPIRE_BATCH,
        open_statuses=OPEN_STATUSES,
        feed_cap=FEED_CAP,
        stats_prefix=slot.prefix,
        reported_ttl_s=stats.REPORTED_TTL_S,
        stats_ordinal=slot.ordinal,
        stats_day=slot.day,
        area_m=MERGE_AREA_M,
        weights=WEIGHTS,
        corroborate_weight=CORROBORATE_WEIGHT,
        observer_key=store.observer_key(report.contact_id),
        new_contact_s=NEW_CONTACT_S,
        burst_at=BURST_AT,
        burst_window_s=BURST_WINDOW_S,
        newcomers_tpl=_tpl(store.incident_newcomers_key),
        cap_keep_s=caps.keep_s(caps.scopes(settings, report.contact_id, report.channel, report.client)),
        held_reason=caps.HELD_REASON,
        contact_incidents=store.contact_incidents_key(report.contact_id),
        index_from=store.contact_index_from_key(),
        crowded_at=CROWDED_AT,
        crowded_m=int(CROWDED_KM * 1000),
        crowded_window_s=CROWDED_WINDOW_S,
        crowded_scan=CROWDED_SCAN,
        due_key=store.dispatch_due_key(),
        due_s=DISPATCH_DUE_S,
    )
    verdict, (incident_id, is_new, reporters, status, dispatch, escalated, unusual, held, crowded) = pipe.execute()
    incident_id = str(incident_id)
    return Merge(
        incident_id,
        ref_for(incident_id),
        bool(is_new),
        int(reporters),
        str(status),
        bool(dispatch),
        bool(escalated),
        bool(unusual),
        bool(held),
        int(verdict[3]),
        bool(crowded),
    )


def earned_status(r: redis.Redis, incident_id: str) -> str:
    """`corroborated` or `reported`: what an incident's reporters earn it by the weights (a reopened one goes back
    to this). Once unusual, newcomers count for nothing; an incident from before the weights counts its reporters."""
    weight, known, unusual = r.hmget(store.incident_key(incident_id), "weight", "weight_known", "unusual")
    if weight is None:
        reporters = r.scard(store.incident_reporters_key(incident_id))
        return "corroborated" if reporters >= CORROBORATE_AT else "reported"
    score = float(known or 0) if unusual else float(weight)
    return "corroborated" if score >= CORROBORATE_WEIGHT else "reported"


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


def _reasons(raw: str | None) -> list[str]:
    """Read the `believed` list (Lua's cjson writes an empty list as {})."""
    value = json.loads(raw or "[]")
    return list(value) if isinstance(value, list) else []


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
        "reporters": int(reporters) + int(data.get("reporters_forgotten") or 0),  # DELETE and thinning keep the count
        "reports": int(data.get("reports", 0)),
        # every observer in the dispatch hash was texted, except where the text never arrived
        "texted": sum(1 for s in states if s != "undelivered"),
        "accepted": sum(1 for s in states if s == "accepted"),
        "created_at": _iso(data.get("created_at")),
        "last_at": _iso(data.get("last_at")),
        "believed": _reasons(data.get("believed")),
        "unusual": data.get("unusual") or "",
        "details": json.loads(data.get("details") or "{}"),
        "language": data.get("language", "en"),
        "channel": data.get("channel", ""),
        "held": data.get("held", ""),
    }


def view_of(data: dict) -> dict:
    """An incident's view from its stored hash alone (no reporter or dispatch counts): for a transaction's read."""
    return _view(data, 0, [])


def expire_stale(r: redis.Redis, settings, now: float) -> list[str]:
    """Close every open incident with nothing new for HOTLINE_INCIDENT_TTL_MIN; return their ids."""
    cutoff = now - settings.incident_ttl_min * 60
    stale = r.zrangebyscore(store.incidents_time_key(), "-inf", f"({cutoff!r}")
    for incident_id in stale:
        try:
            set_status(r, incident_id, "closed", now, "expired", settings=settings)
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
    keys = [
        store.incident_key(incident_id),
        store.incident_timeline_key(incident_id),
        store.incidents_time_key(),
        store.incident_feed_key(),
    ]
    if not lua.run(r, "incident_event", keys, id=incident_id, now=repr(float(now)), feed_cap=FEED_CAP, fields=flat):
        raise NoSuchIncident(f"no incident {incident_id}")
    return incident_id


def set_status(r: redis.Redis, incident_id: str, status: str, now: float, reason: str, settings=None) -> str:
    """Move an incident to a new status if the lifecycle allows it; return the previous status.

    With settings, a finding (verified, unfounded) is counted in the statistics that outlive retention.
    """
    if status not in TRANSITIONS:
        raise BadTransition(f"unknown status {status!r}", code="unknown_status")
    keys = [
        store.incident_key(incident_id),
        store.incidents_geo_key(),
        store.incidents_time_key(),
        store.incident_timeline_key(incident_id),
        store.incidents_closed_key(),
        *_class_keys(),
        store.incident_feed_key(),
    ]
    outcome, previous = lua.run(
        r,
        "incident_status",
        keys,
        id=incident_id,
        status=status,
        now=repr(float(now)),
        reason=reason or "",
        allowed_from=[s for s, nexts in TRANSITIONS.items() if status in nexts],
        verdicts=VERDICT_STATUSES,
        closing=CLOSED_STATUSES,
        class_metres=_CLASS_METRES,
        feed_cap=FEED_CAP,
    )
    if outcome == "missing":
        raise NoSuchIncident(f"no incident {incident_id}")
    if outcome == "refused":
        raise BadTransition(
            f"incident {incident_id} is {previous}; cannot become {status}",
            code="bad_transition",
            ref=ref_for(incident_id),
            status=previous,
            wanted=status,
        )
    if settings is not None and status in VERDICT_STATUSES:
        stats.record_status(r, settings, get(r, incident_id), previous, status)
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


def update_report(r: redis.Redis, incident_id: str, details: dict, place: dict | None, now: float):
    """Merge a report's later answers (and a sharper place) into its open incident; return what changed."""
    return updates.update_report(r, incident_id, details, place, now, FEED_CAP)
