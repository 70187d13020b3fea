"""The incident lifecycle as one service: verify, unfounded, close, reopen, note, merge, dispatch by hand, release.

One home for every decision a person makes about an incident, whoever makes it:
an observer's SMS (VERIFIED/UNFOUNDED/CLEAR, `replies.py`), a coordinator in the
console, or the `hotline incidents …` commands. Each function takes `by` (the
coordinator's name, `cli`, or the observer's roster name) and `now`, writes one
timeline event with `by`, one audit entry, and returns the incident's new status.

It lives in `bot/dispatch/` because verifying starts the community alert
(`bot.alerts`, a layer below) and dispatching by hand uses the waves' own
texting; the console and CLI (layers above) only call it.

Slow parts (texts) go to RQ on the `dispatch` queue, as everywhere else.
"""

from __future__ import annotations

import time

from .. import alerts, audit, contacts, incidents, observers, outbox, privacy, runtime, store
from ..errors import HotlineError, NoSuchIncident
from . import drive, fanout, plan, texts

NOTE_MAX = 500
"""Characters of a coordinator's note kept on the timeline."""

NOTIFY_TIMEOUT_S = 120
"""RQ timeout for telling an incident's observers it closed or merged: a few texts."""

DEBRIEF_OFFER_TTL_S = 24 * 3600
"""How long an observer stays owed a debrief (and its flow's session lives): the day of the scene."""

DEBRIEF_JOB = "bot.debrief.offer_by_text"
"""The RQ job (a layer above) that texts the debrief flow to observers of a closed incident."""


class BadAction(HotlineError):
    """An action that does not apply (unknown observer, merging into itself, …)."""

    status = 400


def _log(rt, incident_id: str, action: str, by: str, now: float, **fields) -> None:
    incidents.add_event(rt.r, incident_id, action, now, by=by, **fields)
    audit.record(rt.r, action, by, now, incident=incident_id, ref=incidents.ref_for(incident_id), **fields)


def _status(rt, incident_id: str, status: str, now: float, reason: str) -> str:
    """Change status (raises BadTransition/NoSuchIncident); return the previous one."""
    return incidents.set_status(rt.r, incident_id, status, now, reason, settings=rt.settings)


# ---- status ----------------------------------------------------------------------------
def verify_preview(rt, incident_id: str) -> dict:
    """What verifying would send the public: the alert text, the area, and to how many subscribers."""
    incident = incidents.get(rt.r, incident_id)
    if incident.get("lat") is None:
        return {"area": "", "zips": [], "subscribers": 0, "text": ""}
    return alerts.preview(rt, incident)


def verify(rt, incident_id: str, by: str, now: float, note: str = "", reason: str = "") -> dict:
    """Mark an incident verified and start the community alert (once); return the preview of what goes out."""
    preview = verify_preview(rt, incident_id)
    _status(rt, incident_id, "verified", now, reason or f"verified by {by}")
    _log(rt, incident_id, "verified", by, now, note=_clean(note), subscribers=preview["subscribers"])
    alerts.enqueue_broadcast(rt, incident_id, now)
    return preview


def unfounded(rt, incident_id: str, by: str, now: float, note: str = "", reason: str = "") -> None:
    """Mark an incident unfounded: seeking stops, observers asked or going are told to stand down."""
    _status(rt, incident_id, "unfounded", now, reason or f"unfounded by {by}")
    _log(rt, incident_id, "unfounded", by, now, note=_clean(note))
    plan.finish(rt, incident_id, plan.CLOSED)
    rt.queue("dispatch").enqueue(
        "bot.dispatch.replies.notify_covered", incident_id, True, job_timeout=plan.JOB_TIMEOUT_S
    )


def close(rt, incident_id: str, by: str, now: float, note: str = "", reason: str = "", tell: bool = True) -> None:
    """Close an incident: seeking stops; observers still asked or going hear it closed (unless `tell` is off)."""
    _status(rt, incident_id, "closed", now, reason or f"closed by {by}")
    _log(rt, incident_id, "closed", by, now, note=_clean(note))
    plan.finish(rt, incident_id, plan.CLOSED)
    if tell:
        rt.queue("dispatch").enqueue(notify_observers, incident_id, "closed", "", job_timeout=NOTIFY_TIMEOUT_S)


def reopen(rt, incident_id: str, by: str, now: float, note: str = "") -> None:
    """Put a closed or unfounded incident back on the board (dispatch does not restart by itself)."""
    status = incidents.earned_status(rt.r, incident_id)
    _status(rt, incident_id, status, now, f"reopened by {by}")
    rt.r.hdel(store.incident_key(incident_id), "closed_at", "closed_reason")
    plan.reclaim_code(rt.r, incident_id)  # its old code may name a newer incident by now
    _log(rt, incident_id, "reopened", by, now, note=_clean(note))


def note(rt, incident_id: str, by: str, now: float, text: str) -> None:
    """Add a coordinator's note to the timeline (phone numbers in it are blanked)."""
    text = _clean(text)
    if not text:
        raise BadAction("a note needs text", code="note_needs_text")
    incidents.get(rt.r, incident_id)
    _log(rt, incident_id, "note", by, now, text=text)


def _clean(text: str | None) -> str:
    return privacy.redact((text or "").strip())[:NOTE_MAX]


def offer_debrief(r, observer_id: str, incident_id: str) -> bool:
    """Owe an observer who attended an incident its debrief (`bot.debrief` starts the flow); once per incident.

    True when this is a new offer. A later VERIFIED/CLEAR about the same incident,
    or the coordinator closing it after the observer texted CLEAR, offers nothing
    again; an offer for another incident replaces an older one.
    """
    key = store.observer_debrief_key(observer_id)
    if r.hget(key, "incident") == incident_id:
        return False
    pipe = r.pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping={"incident": incident_id, "state": "offer"})
    pipe.expire(key, DEBRIEF_OFFER_TTL_S)
    pipe.execute()
    return True


# ---- dispatch ------------------------------------------------------------------------
def _open_incident(rt, incident_id: str) -> dict:
    incident = incidents.get(rt.r, incident_id)
    if incident["status"] not in incidents.OPEN_STATUSES:
        raise incidents.BadTransition(
            f"incident {incident['ref']} is {incident['status']}",
            code="incident_not_open",
            ref=incident["ref"],
            status=incident["status"],
        )
    return incident


def dispatch_to(rt, incident_id: str, observer_ids: list[str], by: str, now: float) -> dict:
    """Text named observers the normal dispatch (with the incident's code); their YES counts like any other.

    Returns {"queued": [names], "skipped": {name: why}}: the texts go from an RQ job
    (a Twilio outage retries there instead of failing the coordinator's click).
    Someone already asked for this incident is not texted twice (one dispatch text per person).
    """
    _open_incident(rt, incident_id)
    if not observer_ids:
        raise BadAction("name at least one observer", code="dispatch_needs_observers")
    r = rt.r
    planned = r.hgetall(store.incident_plan_key(incident_id)) or plan.snapshot_plan(r, rt.settings, incident_id, now)
    if planned.get("state") != plan.SEEKING and int(planned.get("accepted") or 0) < int(planned.get("needed") or 1):
        r.hset(store.incident_plan_key(incident_id), "state", plan.SEEKING)  # stopped earlier: seek again
    states = r.hgetall(store.incident_dispatch_key(incident_id))
    queued, skipped = {}, {}
    for observer_id, observer in zip(observer_ids, observers.get_many(r, observer_ids)):
        if observer is None:
            raise BadAction(f"no observer {observer_id}", code="no_such_observer")
        name = observer.get("name", "?")
        if observer_id in states:
            skipped[name] = f"already {states[observer_id]}"
        else:
            queued[observer_id] = name
    _log(rt, incident_id, "dispatch_by_hand", by, now, observers=", ".join(queued.values()), skipped=", ".join(skipped))
    if queued:
        rt.queue("dispatch").enqueue(
            hand_dispatch, incident_id, list(queued), retry=plan.SEND_RETRY, job_timeout=plan.JOB_TIMEOUT_S
        )
    return {"queued": list(queued.values()), "skipped": skipped, "code": planned.get("code", "")}


def hand_dispatch(incident_id: str, observer_ids: list[str]) -> int:
    """RQ job. Text each chosen observer the dispatch, as a wave would (send records keep it to once each)."""
    rt = runtime.get()
    r, now = rt.r, time.time()
    try:
        incident = incidents.get(r, incident_id)
    except NoSuchIncident:
        return 0
    planned = r.hgetall(store.incident_plan_key(incident_id))
    wave = max(1, int(planned.get("wave") or 0))
    texted = 0
    for observer_id, observer in zip(observer_ids, observers.get_many(r, observer_ids)):
        if observer is None:
            continue
        km = fanout.km_to(incident, observer) if incident.get("lat") is not None else 0.0
        state = fanout.text_one(rt, incident, planned, observer_id, km, observer, wave, now, bound=False)
        texted += state in (plan.TEXTED, plan.ACCEPTED)
    return texted


def next_wave(rt, incident_id: str, by: str, now: float) -> None:
    """Send the next wave now instead of waiting for the current one's time to run out."""
    _open_incident(rt, incident_id)
    r = rt.r
    planned = r.hgetall(store.incident_plan_key(incident_id)) or plan.snapshot_plan(r, rt.settings, incident_id, now)
    r.hset(store.incident_plan_key(incident_id), "state", plan.SEEKING)
    _log(rt, incident_id, "next_wave", by, now, wave=int(planned.get("wave") or 0) + 1)
    rt.queue("dispatch").enqueue(
        drive.wave_timeout,
        incident_id,
        int(planned.get("wave") or 0),
        retry=plan.SEND_RETRY,
        job_timeout=plan.JOB_TIMEOUT_S,
    )


def stop(rt, incident_id: str, by: str, now: float) -> None:
    """Stop seeking observers: no more waves; those asked and not yet answering hear it is covered."""
    incidents.get(rt.r, incident_id)
    plan.finish(rt, incident_id, plan.CLOSED)
    _log(rt, incident_id, "dispatch_stopped", by, now)
    rt.queue("dispatch").enqueue("bot.dispatch.replies.notify_covered", incident_id, job_timeout=plan.JOB_TIMEOUT_S)


def release(rt, incident_id: str, by: str, now: float, note: str = "") -> None:
    """Dispatch an incident a flood cap held (bot.incidents.caps): a coordinator judged the report real."""
    incident = _open_incident(rt, incident_id)
    if not incident.get("held"):
        ref = incident["ref"]
        raise BadAction(
            f"incident {ref} is not held by a flood cap: it was released already, or never held",
            code="not_held",
            ref=ref,
        )
    if not rt.r.hdel(store.incident_key(incident_id), "held"):
        return  # released meanwhile (another coordinator, or a second reporter): dispatch already started
    _log(rt, incident_id, "released", by, now, note=_clean(note))
    drive.enqueue_start(rt, incident_id, now)


# ---- merge ---------------------------------------------------------------------------
def merge(rt, absorbed_id: str, into_id: str, by: str, now: float) -> None:
    """Fold one incident into another that is the same scene: reporters, timeline and dispatches combined.

    The absorbed incident closes (`merged_into` names the other); its observers'
    open codes now point at the surviving incident, and they get a text saying so.
    """
    if absorbed_id == into_id:
        raise BadAction("an incident cannot be merged into itself", code="merge_into_itself")
    r = rt.r
    absorbed = incidents.get(r, absorbed_id)
    into = _open_incident(rt, into_id)
    old_code = r.hget(store.incident_plan_key(absorbed_id), "code") or ""
    into_plan = r.hgetall(store.incident_plan_key(into_id)) or plan.snapshot_plan(r, rt.settings, into_id, now)
    states = r.hgetall(store.incident_dispatch_key(absorbed_id))
    pipe = r.pipeline(transaction=False)  # keys of two incidents: different hash tags, so no MULTI (cluster)
    reporters = r.smembers(store.incident_reporters_key(absorbed_id))
    if reporters:
        pipe.sadd(store.incident_reporters_key(into_id), *reporters)
        contacts.index(pipe, into_id, reporters)
    pipe.hincrby(store.incident_key(into_id), "reports", int(absorbed.get("reports") or 0))
    _add_weights(r, pipe, absorbed_id, into_id)
    for observer_id, state in states.items():
        pipe.hsetnx(store.incident_dispatch_key(into_id), observer_id, state)
        if state in (plan.TEXTED, plan.ACCEPTED):
            pipe.hdel(store.observer_open_key(observer_id), old_code)
            pipe.hset(store.observer_open_key(observer_id), into_plan["code"], into_id)
    pipe.hset(store.incident_key(absorbed_id), "merged_into", into_id)
    pipe.execute()
    for event in incidents.timeline(r, absorbed_id):
        fields = {k: v for k, v in event.items() if k not in ("id", "at", "event", "from_ref", "reporter")}
        if "kind" in fields:  # add_event's own parameter name; the incident's kind is a detail here
            fields["incident_kind"] = fields.pop("kind")
        incidents.add_event(r, into_id, event["event"], event["at"], from_ref=absorbed["ref"], **fields)
    accepted = sum(1 for s in r.hvals(store.incident_dispatch_key(into_id)) if s == plan.ACCEPTED)
    needed = int(into_plan.get("needed") or 1)
    r.hset(
        store.incident_plan_key(into_id),
        mapping={"accepted": accepted, **({"state": plan.FILLED} if accepted >= needed else {})},
    )
    close(rt, absorbed_id, by, now, reason=f"merged into {into['ref']}", tell=False)
    _log(rt, into_id, "merged", by, now, absorbed=absorbed["ref"])
    rt.queue("dispatch").enqueue(notify_observers, absorbed_id, "merged", old_code, job_timeout=NOTIFY_TIMEOUT_S)


def _add_weights(r, pipe, absorbed_id: str, into_id: str) -> None:
    """Queue adding the absorbed incident's corroboration weights (and an unusual flag) to the surviving one.

    A reporter of both counts twice: a coordinator merged them as one scene, and
    the status itself is not recomputed by a merge, only by later reports.
    """
    fields = ("weight", "weight_known", "unusual")
    (w1, k1, u1), (w2, k2, u2) = (r.hmget(store.incident_key(i), *fields) for i in (absorbed_id, into_id))
    if w1 is None or w2 is None:
        return  # one of them predates the weights
    pipe.hset(
        store.incident_key(into_id),
        mapping={"weight": int(w1) + int(w2), "weight_known": int(k1 or 0) + int(k2 or 0), "unusual": u2 or u1 or ""},
    )


# ---- jobs -------------------------------------------------------------------------------
def notify_observers(incident_id: str, why: str, old_code: str = "") -> int:
    """RQ job. Tell the observers still asked or going that an incident closed, merged or turned out unusual
    (`why`: closed, merged, unusual); return texts sent."""
    rt = runtime.get()
    r, s = rt.r, rt.settings
    planned = r.hgetall(store.incident_plan_key(incident_id))
    code = old_code or planned.get("code", "")
    merged_into = r.hget(store.incident_key(incident_id), "merged_into")
    new_code = r.hget(store.incident_plan_key(merged_into), "code") if merged_into else ""
    states = r.hgetall(store.incident_dispatch_key(incident_id))
    targets = [o for o, st in states.items() if st in (plan.TEXTED, plan.ACCEPTED)]
    owed = [o for o in targets if why == "closed" and states[o] == plan.ACCEPTED and offer_debrief(r, o, incident_id)]
    if why == "unusual":  # those whose dispatch text already said "unconfirmed" need no second word
        sends = r.hgetall(store.incident_sends_key(incident_id))
        targets = [o for o in targets if not (outbox.read_record(sends.get(o)) or {}).get("unconfirmed")]
    sent = 0
    for observer_id, observer in zip(targets, observers.get_many(r, targets)):
        e164 = observers.number_of(s, observer) if observer else None
        if not e164:
            continue
        if why == "closed":
            r.hdel(store.observer_open_key(observer_id), code)
        lang = observers.language_of(observer)
        if why == "merged":
            body = texts.say(s, lang, texts.MERGED, code=code, new_code=new_code)
        elif why == "unusual":
            body = texts.say(s, lang, texts.UNCONFIRMED, code=code)
        else:
            body = texts.say(s, lang, texts.CLOSED, code=code)
        record = outbox.send_once(
            rt,
            store.incident_sends_key(incident_id),
            f"{why}:{observer_id}",
            e164,
            body,
            purpose=why,
            now=time.time(),
            ref={"incident_id": incident_id},
        )
        sent += bool(record.get("new")) and record["state"] == outbox.SENT
    if owed:  # after the "closed" texts, so each observer reads them in that order
        rt.queue("dispatch").enqueue(
            DEBRIEF_JOB, owed, incident_id, retry=plan.SEND_RETRY, job_timeout=NOTIFY_TIMEOUT_S
        )
    return sent


ACTIONS = ("verify", "unfounded", "close", "reopen", "note", "dispatch", "next_wave", "stop", "merge", "release")
"""The actions the console and CLI offer (`dispatch` = dispatch_to)."""


def apply(rt, incident_id: str, action: str, by: str, params: dict, now: float | None = None) -> dict:
    """Run one named action with its parameters; return what it reports (empty for most)."""
    now = time.time() if now is None else now
    note_text = str(params.get("note") or "")
    if action == "verify":
        if params.get("preview"):
            return {"preview": verify_preview(rt, incident_id)}
        return {"preview": verify(rt, incident_id, by, now, note_text)}
    if action in ("unfounded", "close", "reopen", "release"):
        {"unfounded": unfounded, "close": close, "reopen": reopen, "release": release}[action](
            rt, incident_id, by, now, note_text
        )
        return {}
    if action == "note":
        note(rt, incident_id, by, now, str(params.get("text") or ""))
        return {}
    if action == "dispatch":
        return dispatch_to(rt, incident_id, list(params.get("observer_ids") or []), by, now)
    if action == "next_wave":
        next_wave(rt, incident_id, by, now)
        return {}
    if action == "stop":
        stop(rt, incident_id, by, now)
        return {}
    if action == "merge":
        merge(rt, incident_id, str(params.get("into_id") or ""), by, now)
        return {}
    raise BadAction(f"unknown action {action!r}; one of {', '.join(ACTIONS)}", code="unknown_action", actions=ACTIONS)


__all__ = [
    "ACTIONS",
    "BadAction",
    "NoSuchIncident",
    "apply",
    "close",
    "dispatch_to",
    "merge",
    "next_wave",
    "note",
    "release",
    "reopen",
    "stop",
    "unfounded",
    "verify",
    "verify_preview",
]
