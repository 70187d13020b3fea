"""What coordinators are told when a dispatch goes wrong: too few observers, a dead number, a refused text.

Each of these is one event per incident (or per observer), so a flood of 1,000
incidents would be 1,000 texts on every coordinator's phone if each were texted
on its own. They are noted in the coordinators' digest (`digest.py`) instead:
the first after a quiet minute still goes at once and in full (an escalation
names who declined and who never answered); the rest of that minute is counted,
"37 incidents without enough observers (K3X9P, ...)", and the board has the
details. Each note carries an event id, so a retried job or a second worker
counts it once; the digest texts each coordinator each batch once.

The incident's own record does not wait for the text: the `escalated` flag, the
`dispatch_escalated` event and the `escalations` count are written when the
dispatch runs out of observers, as the board needs them at once.
"""

from __future__ import annotations

from .. import incidents, observers, stats, store
from . import digest, texts
from .plan import ACCEPTED, DECLINED, TEXTED, UNDELIVERED, UNREACHABLE

CONTENT_WARNING_TTL_S = 24 * 3600
"""Coordinators hear about a refused (filtered) text once per incident."""


def escalate(rt, incident: dict, plan: dict, states: dict, now: float) -> str:
    """Tell coordinators nobody (or too few) in range accepted, naming who declined or never answered.

    Returns what the digest did with it (`digest.note`: SCHEDULED, BATCHED or SEEN for a repeat), or ""
    when this incident has escalated already.
    """
    r = rt.r
    incident_id = incident["id"]
    if r.hget(store.incident_plan_key(incident_id), "escalated") == "1":
        return ""
    ids = list(states)
    names = {oid: (obs or {}).get("name", "?") for oid, obs in zip(ids, observers.get_many(r, ids))}

    def who(state: str) -> str:
        found = [names[o] for o, s in states.items() if s == state]
        return ", ".join(found) or texts.say(rt.settings, "en", texts.NONE)

    body = texts.say(
        rt.settings,
        "en",
        texts.ESCALATE,
        ref=incident["ref"],
        kind=texts.kind_name(rt.settings, "en", incident.get("kind", "other")),
        place=texts.place(incident),
        needed=plan["needed"],
        accepted=sum(1 for s in states.values() if s == ACCEPTED),
        declined=who(DECLINED),
        silent=who(TEXTED),
        unreachable=who(UNREACHABLE)
        if any(s in (UNREACHABLE, UNDELIVERED) for s in states.values())
        else texts.say(rt.settings, "en", texts.NONE),
    )
    # Noted before the flag is set: a worker killed in between leaves the flag unset, the re-drive escalates
    # again, and the event id keeps it to one count.
    told = digest.note(rt, "escalated", incident_id, event=f"escalated:{incident_id}", detail=body, now=now)
    if not r.hsetnx(store.incident_plan_key(incident_id), "escalated", "1"):
        return told  # a concurrent drive escalated too; the digest counted it once
    stats.record_dispatch(r, rt.settings, incident, "escalations")
    incidents.add_event(
        r,
        incident_id,
        "dispatch_escalated",
        now,
        coordinators=len(rt.settings.coordinators),  # whom it is for: the digest sends it (now, or in a minute)
        declined=sum(1 for s in states.values() if s == DECLINED),
        silent=sum(1 for s in states.values() if s == TEXTED),
    )
    return told


def unreachable(rt, incident_id: str, observer_id: str, name: str, reason: str, now: float | None = None) -> str:
    """Tell coordinators an observer's number cannot be texted (counted once per observer however many
    incidents found it out at once). Returns what the digest did (`digest.note`)."""
    body = texts.say(rt.settings, "en", texts.UNREACHABLE, name=name or "?", reason=reason)
    return digest.note(rt, "unreachable", incident_id or None, event=f"unreachable:{observer_id}", detail=body, now=now)


def content_refused(rt, incident: dict, code, purpose: str) -> bool:
    """Tell coordinators (once per incident) that Twilio or the carrier refuses this text as content.

    30007 (filtered) and its kin hit every recipient of the same text: one warning,
    not one per observer, and the observers stay on the roster. True when this call told them.
    """
    key = store.warned_once_key(f"content:{incident['id']}")
    if rt.r.exists(key):
        return False
    body = texts.say(rt.settings, "en", texts.FILTERED, ref=incident.get("ref", ""), purpose=purpose, code=code)
    told = digest.note(rt, "refused", incident["id"], event=f"refused:{incident['id']}", detail=body)
    # Marked after the note: a crash in between tells again (the event id counts it once), never not at all.
    rt.r.set(key, str(code), ex=CONTENT_WARNING_TTL_S)
    return told != digest.SEEN
