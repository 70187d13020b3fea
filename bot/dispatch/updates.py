"""What observers read about a report's details, and the one batched update text after dispatch.

Observers are texted as soon as the hotline knows where and what; the caller
keeps answering (how many, what identifies them, anyone detained, cross
streets). Each answer updates the incident (`reports.update`); observers who
already accepted get ONE short update text per burst of answers: the first
change schedules an RQ job `UPDATE_DELAY_S` later (deduplicated per incident
by a Redis key), and every answer that lands before it runs rides along.
Observers still deciding read the same details in their accept reply.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import incidents, observers, outbox, runtime, store
from ..errors import NoSuchIncident
from . import texts
from .plan import ACCEPTED, JOB_TIMEOUT_S, SEND_RETRY

log = logging.getLogger(__name__)

UPDATE_DELAY_S = 20
"""Seconds between the first new detail and the update text: a caller answers a question in about
this long, so the next answer or two ride along in the same text instead of one text per answer."""

PENDING_TTL_S = UPDATE_DELAY_S + JOB_TIMEOUT_S
"""The dedupe key outlives the scheduled job; if the job is lost, the next change schedules another."""

_PLATE_RE = re.compile(r"\b(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{5,8}\b", re.IGNORECASE)
"""A licence-plate-like token (letters and digits, 5-8 long: 7ABC123)."""

MARKINGS_MAX = 80
"""Characters of the caller's own words about markings shown to observers."""


def enqueue(rt, incident_id: str, now: float | None = None) -> bool:
    """Schedule the batched update text for an incident unless one is already pending; True if scheduled."""
    if not rt.r.set(store.incident_update_key(incident_id), f"{now or time.time():.3f}", nx=True, ex=PENDING_TTL_S):
        return False
    rt.queue("dispatch").enqueue_in(
        timedelta(seconds=UPDATE_DELAY_S),
        send_update,
        incident_id,
        retry=SEND_RETRY,
        job_timeout=JOB_TIMEOUT_S,
        description=f"send_update {incident_id}",
    )
    return True


def send_update(incident_id: str) -> int:
    """RQ job. Text every observer who accepted the incident its current details, once per distinct text."""
    rt = runtime.get()
    r, s = rt.r, rt.settings
    r.delete(store.incident_update_key(incident_id))  # changes from now on schedule the next text
    try:
        incident = incidents.get(r, incident_id)
    except NoSuchIncident:
        return 0
    if incident["status"] not in incidents.OPEN_STATUSES:
        return 0
    code = r.hget(store.incident_plan_key(incident_id), "code") or ""
    states = r.hgetall(store.incident_dispatch_key(incident_id))
    accepted = [o for o, st in states.items() if st == ACCEPTED]
    sent = 0
    for observer_id, observer in zip(accepted, observers.get_many(r, accepted)):
        e164 = observers.number_of(s, observer) if observer else None
        if not e164:
            continue
        lang = observers.language_of(observer)
        body = texts.say(
            s,
            lang,
            texts.UPDATE,
            code=code,
            place=texts.place(incident, s, lang),
            map=texts.map_link(incident),
            details=describe(s, lang, incident, observer.get("timezone")),
        )
        digest = hashlib.sha256(body.encode()).hexdigest()[:12]
        record = outbox.send_once(
            rt,
            store.incident_sends_key(incident_id),
            f"update:{digest}:{observer_id}",  # the same details never twice to one observer
            e164,
            body,
            purpose="update",
            now=time.time(),
            ref={"incident_id": incident_id, "observer_id": observer_id},
        )
        sent += bool(record.get("new")) and record["state"] == outbox.SENT
    if sent:
        incidents.add_event(r, incident_id, "observers_updated", time.time(), observers=sent)
    return sent


def describe(settings, lang: str, incident: dict, timezone: str | None = None) -> str:
    """The details of a report in one short line in the observer's language ("agentes: 5; máscaras; ...")."""
    d = incident.get("details") or {}

    def say(msgid: str, **values) -> str:
        return texts.say(settings, lang, msgid, **values)

    parts = []
    if d.get("agents") not in (None, ""):
        parts.append(say(texts.AGENTS, n=d["agents"]))
    if d.get("vehicles") not in (None, ""):
        parts.append(say(texts.VEHICLES, n=d["vehicles"]))
    ids = d.get("identifiers") or []
    names = [
        say(texts.IDENTIFIER_NAMES[i]) for i in (ids if isinstance(ids, list) else [ids]) if i in texts.IDENTIFIER_NAMES
    ]
    if names:
        parts.append(", ".join(names))
    detained = texts.DETAINED.get(str(d.get("detained") or ""))
    if detained:
        parts.append(say(detained))
    markings = " ".join(str(d.get("markings") or "").split())[:MARKINGS_MAX]
    if _PLATE_RE.search(markings):  # the caller's own words only when they carry a plate, not "1 6 7"
        parts.append(f'"{markings}"')
    if d.get("started_at"):
        try:
            parts.append(say(texts.SINCE, time=local_time(float(d["started_at"]), timezone, settings)))
        except (TypeError, ValueError):  # a free-text time stays out rather than garbled
            pass
    return "; ".join(parts)


def local_time(epoch: float, timezone: str | None, settings) -> str:
    """A clock time as the network reads it ("13:05 PST"): HOTLINE_TIMEZONE, else the observer's zone, else UTC.

    The hotline's zone comes first: a roster imported without a time zone column stores UTC for everyone.
    """
    for name in (getattr(settings, "timezone", None), timezone, "UTC"):
        if not name:
            continue
        try:
            zone = ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return datetime.fromtimestamp(epoch, zone).strftime("%H:%M %Z")
    return datetime.fromtimestamp(epoch).strftime("%H:%M")
