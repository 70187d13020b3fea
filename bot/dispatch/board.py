"""What coordinators see: open incidents by urgency, one incident in full, the roster near a place.

Read-only views over incidents, dispatch state and the roster, shared by the
console API and the CLI. Observers appear by roster name (coordinators know
their volunteers), never by number; reporters appear as a short tag only.

Urgency (`needs_action`): an incident needs a coordinator when dispatch
escalated (too few in range accepted), when a wave's time ran out with nobody
accepted, when one observer accepted alone ("never work alone") and nobody else
is coming yet, when it has no place on the map, when a flood cap holds it from
dispatch, or when every observer in range is at their attention budget. Those come first on the
board, then incidents where someone is going or that are verified, then the rest.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from .. import i18n, incidents, observers, privacy, store
from . import lanes
from . import plan as waves

_PERSON_FIELDS = ("observer", "observer_id")


def _plans_and_states(r, ids: list[str]) -> tuple[list[dict], list[dict], list[list[str]]]:
    """Each incident's plan, per-observer states and the observers who reported arriving (one round trip)."""
    pipe = r.pipeline(transaction=False)
    for incident_id in ids:
        pipe.hgetall(store.incident_plan_key(incident_id))
        pipe.hgetall(store.incident_dispatch_key(incident_id))
        pipe.xrange(store.incident_timeline_key(incident_id))  # short streams: a few dozen events
    replies = pipe.execute()
    arrived = [
        [
            fields["observer"]
            for _id, fields in events
            if fields.get("event") == "observer_arrived" and "observer" in fields
        ]
        for events in replies[2::3]
    ]
    return replies[0::3], replies[1::3], arrived


def _names(r, observer_ids) -> dict[str, str]:
    ids = sorted(set(observer_ids))
    return {oid: (obs or {}).get("name", "?") for oid, obs in zip(ids, observers.get_many(r, ids))}


def needs_action(incident: dict, plan: dict, states: dict, now: float) -> list[str]:
    """The reasons an incident needs a coordinator now (empty when it does not)."""
    if incident.get("status") not in incidents.OPEN_STATUSES:
        return []
    reasons = []
    accepted = sum(1 for s in states.values() if s == waves.ACCEPTED)
    needed = int(plan.get("needed") or 1)
    if incident.get("lat") is None:
        reasons.append("unplaced")
    if incident.get("held"):
        reasons.append("held")  # a flood cap kept it from dispatch: a coordinator may release it
    if plan.get("waiting") == "1" and accepted < needed:
        reasons.append("waiting for observers")  # everyone in range is at their attention budget
    if plan.get("escalated") == "1" and accepted < needed:
        reasons.append("escalated")
    deadline = float(plan.get("deadline") or 0)
    if not accepted and plan.get("state") == waves.SEEKING and deadline and now > deadline:
        reasons.append("nobody accepted")
    if accepted == 1 and needed > 1:
        reasons.append("observer alone")
    if incident.get("unusual"):  # a burst of newcomers: maybe a trap (docs/incidents.md "Corroboration")
        reasons.append("unusual")
    return reasons


def queued_behind(incident: dict, plan: dict, states: dict) -> list[str]:
    """Why an incident's dispatch still waits on the LATER lane (`lanes.WHY_FIELD` values; [] when it does not).

    It waits from its plan until its start job opens the first wave (plan `wave` 0) and nobody has been
    texted; a coordinator's dispatch by hand or next wave ends the wait. A LATER plan from before the
    reason was kept waits with `["later"]`. Read from the plan the board already loads: no extra round trip.
    """
    if incident.get("status") not in incidents.OPEN_STATUSES or incident.get("held"):
        return []
    if lanes.of(plan) != lanes.LATER or plan.get("state") != waves.SEEKING or int(plan.get("wave") or 0):
        return []
    if any(s != waves.UNDELIVERED for s in states.values()):
        return []
    return lanes.why_of(plan) or ["later"]


def _rank(row: dict) -> tuple:
    if row["needs_action"]:
        group = 0
    elif row["accepted"] or row["status"] == "verified":
        group = 1
    else:
        group = 2
    return (group, row["created_at"] or "")


def summarize(rt, rows: list[dict], now: float) -> list[dict]:
    """Add `ref`, `code`, `needs_action`, `reasons`, `queued`, `accepted_by`, `arrived_by` (names); sort by urgency."""
    r = rt.r
    ids = [row["id"] for row in rows]
    plans, states, arrivals = _plans_and_states(r, ids)
    names = _names(r, [oid for st in states for oid in st] + [oid for a in arrivals for oid in a])
    out = []
    for row, plan, state, arrived in zip(rows, plans, states, arrivals):
        reasons = needs_action(row, plan, state, now)
        out.append(
            {
                **row,
                "details": _redacted(row.get("details") or {}),
                "ref": row.get("ref") or incidents.ref_for(row["id"]),
                "code": plan.get("code", ""),
                "needs_action": bool(reasons),
                "reasons": reasons,
                "queued": queued_behind(row, plan, state),
                "accepted_by": sorted(names[o] for o, s in state.items() if s == waves.ACCEPTED),
                "arrived_by": sorted({names[o] for o in arrived}),
                "dispatch_state": plan.get("state", ""),
                "wave": int(plan.get("wave") or 0),
                "needed": int(plan.get("needed") or 0),
            }
        )
    out.sort(key=_rank)
    return out


def _scrub(value):
    """Blank anything phone-like in free text (a caller may type a number); numbers and coordinates stay."""
    if not isinstance(value, str):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return privacy.redact(value)


def _redacted(details: dict) -> dict:
    """A report's answers as the console shows them: the place label as located, the caller's words scrubbed."""
    return {
        k: v if k == "label" else [_scrub(x) for x in v] if isinstance(v, list) else _scrub(v)
        for k, v in details.items()
    }


def board(rt, now: float) -> list[dict]:
    """Open incidents for the console, most urgent first."""
    return summarize(rt, incidents.list_open(rt.r, now, rt.settings), now)


def iso_local(settings, epoch: float) -> str:
    """An ISO 8601 time with the network's UTC offset (HOTLINE_TIMEZONE), never a bare Z."""
    return datetime.fromtimestamp(float(epoch), ZoneInfo(settings.timezone)).isoformat(timespec="seconds")


def timeline(rt, incident_id: str, lang: str = "en") -> list[dict]:
    """An incident's events, oldest first, each with `kind`, `at` (ISO, local offset), `time` (local) and `by`."""
    events = incidents.timeline(rt.r, incident_id)
    names = _names(rt.r, [e[f] for e in events for f in _PERSON_FIELDS if e.get(f)])
    shown = []
    for event in sorted(events, key=lambda e: e["at"]):
        fields = {k: v for k, v in event.items() if k not in ("event", "at", "id", "reporter", "contact_id")}
        observer = next((event[f] for f in _PERSON_FIELDS if event.get(f)), None)
        if observer:
            fields["name"] = fields.get("name") or names.get(observer, "?")
        by = fields.pop("by", None) or (fields.get("name") if observer else "hotline")
        shown.append(
            {
                "kind": event.get("event", ""),
                "at": iso_local(rt.settings, event["at"]),
                "time": i18n.local_time(rt.settings, event["at"], lang, seconds=True),
                "by": by,
                **{k: _scrub(v) for k, v in fields.items() if k not in ("kind", "time")},
            }
        )
    return shown


def detail(rt, incident_id: str, now: float, lang: str = "en") -> dict:
    """One incident with its dispatch (who was asked, their state, distance) and timeline."""
    incident = incidents.get(rt.r, incident_id)
    row = summarize(rt, [incident], now)[0]
    pipe = rt.r.pipeline(transaction=False)
    pipe.hgetall(store.incident_dispatch_key(incident_id))
    pipe.hgetall(store.incident_sends_key(incident_id))
    pipe.hget(store.incident_key(incident_id), "merged_into")
    states, sends, merged_into = pipe.execute()
    names = _names(rt.r, states)
    row["dispatches"] = [
        {
            "observer_id": oid,
            "name": names[oid],
            "state": state,
            "km": (_send_extra(sends.get(oid)) or {}).get("km"),
        }
        for oid, state in sorted(states.items(), key=lambda item: names[item[0]])
    ]
    row["merged_into"] = incidents.ref_for(merged_into) if merged_into else None
    row["timeline"] = timeline(rt, incident_id, lang)
    return row


def _send_extra(raw: str | None) -> dict | None:
    from .. import outbox

    return outbox.read_record(raw) if raw else None


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def roster(rt, now: float, near: dict | None = None) -> list[dict]:
    """Every observer: name, languages, on duty now, unreachable, open dispatches; nearest first with `near`."""
    r = rt.r
    ids = sorted(r.smembers(store.observers_all_key()))
    pipe = r.pipeline(transaction=False)
    for oid in ids:
        pipe.hlen(store.observer_open_key(oid))
    open_counts = pipe.execute()
    rows = []
    for oid, obs, open_count in zip(ids, observers.get_many(r, ids), open_counts):
        if not obs:
            continue
        row = {
            "id": oid,
            "name": obs.get("name", "?"),
            "languages": observers.languages_of(obs),
            "on_duty": observers.is_on_duty(obs, now),
            "unreachable": obs.get("unreachable") or None,
            "open_dispatches": int(open_count),
            "radius_km": float(obs.get("radius_km") or 0),
            "place": obs.get("place", ""),
            # the console's map shows on-duty observers (coordinators only), to ~100 m: enough to pick who is near
            "lat": round(float(obs["lat"]), 3) if obs.get("lat") else None,
            "lon": round(float(obs["lon"]), 3) if obs.get("lon") else None,
        }
        if near is not None and near.get("lat") is not None and obs.get("lat"):
            row["km"] = round(_km(near["lat"], near["lon"], float(obs["lat"]), float(obs["lon"])), 1)
        rows.append(row)
    if near is not None:
        rows.sort(key=lambda o: (o.get("km") is None, o.get("km") or 0, o["name"]))
    else:
        rows.sort(key=lambda o: o["name"].lower())
    return rows


def find_observer(rt, name_or_id: str) -> str | None:
    """The observer id for a roster name (case-insensitive) or an id; None when there is no such observer."""
    r = rt.r
    wanted = (name_or_id or "").strip()
    if not wanted:
        return None
    if r.sismember(store.observers_all_key(), wanted):
        return wanted
    ids = sorted(r.smembers(store.observers_all_key()))
    matches = [
        oid
        for oid, obs in zip(ids, observers.get_many(r, ids))
        if obs and obs.get("name", "").lower() == wanted.lower()
    ]
    return matches[0] if len(matches) == 1 else None


def resolve(r, ref: str) -> str | None:
    """The incident id for a human ref (`K7Q2M`) or an id; None when neither names an incident."""
    ref = (ref or "").strip()
    if not ref or len(ref) > 24 or not ref.replace("-", "").isalnum():
        return None
    for candidate in (incidents.incident_id_for_ref(ref), ref if ref.isdigit() else None):
        if candidate and r.exists(store.incident_key(candidate)):
            return candidate
    return None
