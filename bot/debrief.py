"""Observers' debrief: what agents did at a scene, as codes, attached to the incident it is about.

After an observer texts VERIFIED, UNFOUNDED or CLEAR (or a coordinator closes
an incident they attended), the hotline starts the coordinators' flow
`flows/debrief.yaml` for them: agency, identification, badge, warrant, masks,
vehicles, plates, force, legal help, people detained. It runs on the same
engine, checker and catalogs as the reporters' flows; this module is its two
`do:` actions and the offer:

- `debrief.open` finds the incident the observer is being debriefed about (the
  offer `dispatch.lifecycle.offer_debrief` left) and returns its ref;
- `debrief.record` runs after every answer and folds the coded answers into
  `details.debrief` of that incident, so an observer who stops (DONE) or goes
  quiet leaves everything they did answer. The statistics that outlive
  retention (`bot.stats`) read those same fields; when the incident is counted
  as verified, the change is counted in the same transaction as the write.

Two observers of one scene write one `details.debrief`: a count keeps the
larger figure (each saw at least that many), any other answer the latest one,
and SKIP never erases what the other observer said.

An observer's session is the one conversation of their number (`conversation`
keys it by contact, as for everyone): the debrief never cuts short a report
they are in the middle of — it is offered again after their next text once that
report has ended (`offer_if_due`) — and an offer for a newer incident replaces
an unfinished debrief (whose answers are already on its incident).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import redis

from . import actions, conversation, incidents, observers, outbox, runtime, stats, store
from .actions import ActionCall, action, read
from .channels import Inbound
from .errors import HotlineError, NoSuchIncident, PermanentSend

log = logging.getLogger(__name__)

FLOW = "debrief"
"""The flow file (`flows/debrief.yaml`) the offer starts."""

CHOICES = stats.DEBRIEF_CODES
"""The coded answers a debrief keeps and the codes each may hold (their one home is `bot.stats`, which counts them).

The flow's option codes are these; SKIP and DONE are codes too, and are not
kept. A code a coordinator adds to the flow without adding it there is dropped
(the record stays comparable across versions of the flow)."""

COUNTS = stats.DEBRIEF_COUNTS
"""Numbers a debrief keeps; two observers' figures merge to the larger."""

MAX_COUNT = 500
"""Largest count kept (the flow's own `max`); anything above is a typo, not a raid."""

OFFER = "offer"
OPEN = "open"
"""States of an observer's debrief marker (`store.observer_debrief_key`): to start, started."""


class NoDebrief(HotlineError):
    """The observer has no incident waiting for a debrief (the offer expired or was never made)."""

    status = 404


def coded(answers: dict) -> dict:
    """The debrief fields of a session's answers that hold a known code (skips, DONE and raw text dropped)."""
    out: dict = {}
    for name, codes in CHOICES.items():
        value = answers.get(name)
        if name == "agency":
            picked = [c for c in (value if isinstance(value, list) else [value]) if c in codes]
            if picked:
                out[name] = picked
        elif value in codes:
            out[name] = value
    for name in COUNTS:
        value = answers.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
            out[name] = value
    return out


def merged(old: dict, new: dict) -> dict:
    """Fold one observer's coded answers into what the incident already holds."""
    out = dict(old)
    for name, value in new.items():
        if name in COUNTS and isinstance(out.get(name), int):
            out[name] = max(out[name], value)
        else:
            out[name] = value
    return out


def _finding(believed_raw: str | None) -> str:
    """What the statistics count an incident as: its latest verdict (closing keeps it)."""
    try:
        believed = json.loads(believed_raw or "[]")
    except ValueError:
        return ""
    if not isinstance(believed, list) or not believed:
        return ""
    return str(believed[-1]).split(":", 1)[0]


@dataclass(frozen=True)
class Attached:
    """What one debrief write changed: the fields, and whether the statistics moved."""

    changed: tuple[str, ...]
    counted: bool


def attach(r, settings, incident_id: str, answers: dict, now: float, observer_id: str = "") -> Attached:
    """Fold coded debrief answers into the incident's `details.debrief` and the statistics, atomically.

    The one path every debrief takes (the flow's `debrief.record`, the generated
    history in tests/test_stats.py): the incident hash is WATCHed, and when the
    incident is counted as verified the outcome counts move by the difference
    in the same MULTI, so a verdict changing meanwhile retries instead of
    counting twice. Raises NoSuchIncident when retention already deleted it.
    """
    new = coded(answers)
    key = store.incident_key(incident_id)
    while True:
        with r.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                data = pipe.hgetall(key)
                if not data:
                    raise NoSuchIncident(f"no incident {incident_id}")
                details = json.loads(data.get("details") or "{}")
                old = details.get("debrief") or {}
                after = merged(old, new)
                changed = tuple(sorted(k for k in after if after[k] != old.get(k)))
                if not changed:
                    return Attached((), False)
                view = incidents.view_of(data)
                counted = _finding(data.get("believed")) == "verified"
                pipe.multi()
                pipe.hset(key, "details", json.dumps({**details, "debrief": after}, sort_keys=True))
                if counted:
                    stats.queue_outcome_change(pipe, settings, view, {**details, "debrief": after})
                pipe.execute()
                break
            except redis.WatchError:  # the incident changed meanwhile (a verdict, a report): decide again
                continue
    fields = {name: ",".join(after[name]) if name == "agency" else after[name] for name in changed}
    incidents.add_event(r, incident_id, "debrief", now, observer=observer_id, **fields)
    return Attached(changed, counted)


# ---- the flow's actions ---------------------------------------------------------------
@action("debrief.open", returns=("ref", "incident_id"))
def open_debrief(rt, call: ActionCall) -> dict:
    """Find the incident this observer is being debriefed about (`debrief.open`); mark the debrief started."""
    r = rt.r
    marker = r.hgetall(store.observer_debrief_key(call.contact_id))
    incident_id = marker.get("incident")
    if not incident_id:
        raise NoDebrief("no debrief waiting")
    incident = incidents.get(r, incident_id)
    r.hset(store.observer_debrief_key(call.contact_id), "state", OPEN)
    return {"ref": incident["ref"], "incident_id": incident_id}


@action(
    "debrief.record",
    reads=(
        read("debrief", "debrief.open", required=True),
        *(read(name, "choice") for name in CHOICES),
        *(read(name, "number") for name in COUNTS),
    ),
)
def record(rt, call: ActionCall) -> dict:
    """Attach the answers so far to the debriefed incident (`debrief.record`, after every answer)."""
    opened = call.answers.get("debrief") or {}
    incident_id = str(opened.get("incident_id") or "")
    if not incident_id:
        raise NoDebrief("the debrief has no incident")
    attach(rt.r, rt.settings, incident_id, call.answers, call.now, observer_id=call.contact_id)
    return {}


# ---- offering it ---------------------------------------------------------------------
def offer_if_due(rt, observer_id: str, address: str, now: float, table: dict) -> list[str]:
    """Start the debrief an observer is owed, if any and if they are not in another conversation.

    The router calls this after each text of an observer (one HGET); the replies
    go after the answer to their text. Returns the flow's first texts, or [].
    """
    key = store.observer_debrief_key(observer_id)
    if rt.r.hget(key, "state") != OFFER:
        return []
    observer = observers.get(rt.r, observer_id) or {}
    started = conversation.begin(
        rt,
        observer_id,
        FLOW,
        Inbound(channel="sms", address=address, body="", message_sid=""),
        now,
        table,
        observers.language_of(observer),
        replaces=(FLOW,),
    )
    if started is None:
        return []  # in the middle of a report of their own: offered after their next text
    if rt.r.hget(key, "state") == OFFER:  # the flow could not open it (the incident is gone): drop the offer
        rt.r.delete(key)
    return started


def offer_by_text(observer_ids: list[str], incident_id: str) -> int:
    """RQ job. Text each observer the debrief they are owed (after a coordinator closed `incident_id`).

    Safe to retry: the flow is started once and its first texts (the greeting and
    the first question, in one SMS) are kept in the incident's send records, so a
    Twilio outage retried by RQ sends that same text once (`outbox.send_once`).
    """
    rt = runtime.get()
    table = actions.declared()
    records = store.incident_sends_key(incident_id)
    sent = 0
    for observer_id in observer_ids:
        observer = observers.get(rt.r, observer_id)
        e164 = observers.number_of(rt.settings, observer) if observer else None
        if not e164:
            continue
        field = f"debrief_text:{observer_id}"
        body = rt.r.hget(records, field)
        if body is None:  # first attempt: start the flow (a retry must not restart it)
            body = "\n".join(offer_if_due(rt, observer_id, e164, time.time(), table))
            rt.r.hset(records, field, body)
        if not body:
            continue  # opted out, in a report of their own (offered after their next text), or nothing owed
        try:
            record = outbox.send_once(
                rt,
                records,
                f"debrief:{observer_id}",
                e164,
                body,
                purpose="debrief",
                now=time.time(),
                ref={"incident_id": incident_id},
            )
        except PermanentSend as exc:  # unreachable: the record stays without their debrief
            log.info("debrief not delivered (code %s)", exc.code)
            continue
        sent += bool(record.get("new")) and record["state"] == outbox.SENT
    return sent
