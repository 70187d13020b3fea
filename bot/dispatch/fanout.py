"""Fan-out: who is asked next, and texting one observer at most once ever.

`pick` chooses the nearest on-duty observers (the reporter's language winning
near-ties); `text_one` claims the observer's slot, sends through the outbox's
exactly-once send records and turns the outcome into the observer's state.
"""

from __future__ import annotations

import logging
import time

from .. import geo, incidents, observers, outbox, store
from ..channels.twilio_errors import OPTED_OUT, RECIPIENT
from ..errors import PermanentSend, Reconciling
from . import attention, escalation, texts
from .plan import TEXTED, UNDELIVERED, UNREACHABLE

log = logging.getLogger(__name__)

LANGUAGE_PREFERENCE_KM = 1.0
"""Two observers closer than this count as equally near; the reporter's language wins."""

OPEN_TTL_S = 24 * 3600
"""An observer's open-dispatch codes are forgotten a day after their last dispatch."""


def km_to(incident: dict, observer: dict) -> float:
    """Great-circle distance from an observer's home to the incident."""
    return geo.distance_m(incident["lat"], incident["lon"], float(observer["lat"]), float(observer["lon"])) / 1000


def pick(
    r, incident: dict, exclude: set[str], now: float, count: int, budget: attention.Budget | None = None
) -> list[tuple[str, float, dict]]:
    """Choose the next observers: nearest on duty within their attention budget, the reporter's language
    winning near-ties (`budget.skipped` then says how many were passed over for their budget)."""
    if incident.get("lat") is None:
        return []
    found = observers.candidates_near(
        r,
        incident["lat"],
        incident["lon"],
        now,
        exclude=exclude,
        limit=count,
        tie_km=LANGUAGE_PREFERENCE_KM,
        admit=budget,
    )
    lang = incident.get("language") or "en"

    def rank(item):
        _, km, obs = item
        bonus = LANGUAGE_PREFERENCE_KM if lang in observers.languages_of(obs) else 0.0
        return km - bonus

    found.sort(key=rank)
    return found[:count]


AT_BUDGET = "at budget"
"""What `text_one` returns (never stored) when the observer reached their attention budget meanwhile."""


def text_one(
    rt,
    incident: dict,
    plan: dict,
    observer_id: str,
    km: float,
    observer: dict,
    wave: int,
    now: float,
    bound: bool = True,
) -> str:
    """Text one observer the dispatch (at most once ever) and return their new state.

    AT_BUDGET (nothing sent, nothing stored) when another incident took their last slot first;
    `bound=False` (a coordinator's dispatch by hand) is never refused for the budget.
    """
    r, settings = rt.r, rt.settings
    incident_id, code = incident["id"], plan["code"]
    e164 = observers.number_of(settings, observer)
    if not attention.take(r, settings, observer_id, incident_id, code, TEXTED, now, OPEN_TTL_S, bound):
        return AT_BUDGET
    if not e164:
        return set_unreachable(rt, incident_id, observer_id, observer, "sealed under another secret", now)
    lang = observers.language_of(observer)
    unconfirmed = bool(incident.get("unusual"))  # a burst of newcomers: the observer is told (docs/incidents.md)
    body = texts.say(
        settings,
        lang,
        texts.DISPATCH_UNCONFIRMED if unconfirmed else texts.DISPATCH,
        code=code,
        km=f"{km:.1f}",
        kind=texts.kind_name(settings, lang, incident.get("kind", "other")),
        place=texts.place(incident, settings, lang),
    )
    try:
        record = outbox.send_once(
            rt,
            store.incident_sends_key(incident_id),
            observer_id,
            e164,
            body,
            purpose="dispatch",
            now=now,
            ref={"incident_id": incident_id, "observer_id": observer_id},
            extra={"wave": wave, "km": f"{km:.1f}", **({"unconfirmed": 1} if unconfirmed else {})},
            validity_s=int(plan["timeout_s"]),  # later than the wave is worse than never: Twilio drops it (30036)
            language=lang,  # a WhatsApp observer outside the 24-hour window gets the `dispatch` template
            variables={
                "code": code,
                "ref": incident.get("ref", ""),
                "kind": texts.kind_name(settings, lang, incident.get("kind", "other")),
            },
        )
    except Reconciling:
        # An earlier attempt may still show up at Twilio: the slot stays theirs, and the drive
        # comes back to look again (drive._schedule) — a resend now could text them twice.
        return r.hget(store.incident_dispatch_key(incident_id), observer_id) or TEXTED
    except PermanentSend as exc:
        if exc.code == OPTED_OUT:  # the opt-out set is the record: a later START makes them eligible again
            return set_unreachable(rt, incident_id, observer_id, observer, "opted out", now, tell=False)
        if exc.kind == RECIPIENT:
            return set_unreachable(rt, incident_id, observer_id, observer, str(exc.code or "refused"), now)
        return not_delivered(rt, incident, observer_id, observer, exc.code, now)
    if record["state"] == outbox.SUPPRESSED:
        return set_unreachable(rt, incident_id, observer_id, observer, "opted out", now, tell=False)
    if record["state"] == outbox.FAILED:
        return r.hget(store.incident_dispatch_key(incident_id), observer_id) or UNREACHABLE
    if record.get("new"):
        # Counted against the number's rate after the fact: a dispatch text never waits,
        # it pushes bulk sends back instead.
        outbox.take_send_slot(r, outbox.sender_of(settings), settings.send_rate, time.time(), priority=True)
        incidents.add_event(
            r,
            incident_id,
            "dispatch_texted",
            now,
            observer=observer_id,
            name=observer.get("name", ""),
            wave=wave,
            km=f"{km:.1f}",
        )
    return r.hget(store.incident_dispatch_key(incident_id), observer_id) or TEXTED


def set_unreachable(
    rt, incident_id: str, observer_id: str, observer: dict, reason: str, now: float, tell: bool = True
) -> str:
    """Mark an observer unreachable for this dispatch (and on the roster), telling coordinators (their digest) once."""
    rt.r.hset(store.incident_dispatch_key(incident_id), observer_id, UNREACHABLE)
    incidents.add_event(
        rt.r,
        incident_id,
        "dispatch_unreachable",
        now,
        observer=observer_id,
        name=observer.get("name", ""),
        reason=reason,
    )
    if tell and observers.mark_unreachable(rt.r, observer_id, reason, now):
        escalation.unreachable(rt, incident_id, observer_id, observer.get("name", "?"), reason, now)
    return UNREACHABLE


def not_delivered(rt, incident: dict, observer_id: str, observer: dict, code, now: float) -> str:
    """A text refused for its content (not the person): the slot moves on, nobody leaves the roster.

    It would be refused for every observer, so coordinators are warned once per incident.
    """
    incident_id = incident["id"]
    rt.r.hset(store.incident_dispatch_key(incident_id), observer_id, UNDELIVERED)
    incidents.add_event(
        rt.r, incident_id, "dispatch_undelivered", now, observer=observer_id, name=observer.get("name", ""), code=code
    )
    escalation.content_refused(rt, incident, code, "dispatch")
    return UNDELIVERED
