"""Texting coordinators: the one implementation every escalation, warning and hand-off uses.

Coordinator texts are the ones that most need to arrive (nobody can go, a
report could not be placed, a caller asked for a call-back), so each goes:

- through the outbox's exactly-once send records when the caller has a
  records key, so an RQ retry never texts a coordinator twice;
- past a per-recipient guard: one refused or failing number never stops the
  next coordinator from hearing now;
- from jobs enqueued by `enqueue` with RQ `Retry` (a Twilio 500 or 429 is
  tried again for hours: `COORDINATOR_RETRY`) and a short `failure_ttl`, because such a job's arguments can
  carry a sealed number or a caller's own words and RQ would otherwise keep a
  failed job for a year.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from rq import get_current_job

from .. import incidents, observers, outbox, stats, store
from ..errors import PermanentSend, RetryableSend
from . import texts
from .plan import ACCEPTED, COORDINATOR_RETRY, DECLINED, JOB_TIMEOUT_S, TEXTED, UNDELIVERED, UNREACHABLE

log = logging.getLogger(__name__)

FAILED_JOB_TTL_S = 12 * 3600
"""A coordinator job that failed every retry is kept 12 h for the operator to see, then forgotten:
its arguments may hold a sealed number (kept 12 h as a reply-to, reports.REPLY_TO_TTL_S) or a caller's words."""

RECORDS_TTL_S = 24 * 3600
"""Send records of a job without an incident outlive every retry (COORDINATOR_RETRY spans under 3 hours)."""


def text_coordinators(
    rt, body: str, records_key: str | None = None, tag: str = "escalation", *, force: bool = False
) -> int:
    """Text every coordinator (never rate-delayed: escalations are urgent); return how many got it.

    With a records key each coordinator gets this text at most once, however
    often the job is retried, and a retryable failure (5xx, 429, timeout) is
    raised after every other coordinator was tried, so the caller's RQ Retry
    comes back for exactly the ones still owed. Without one (best-effort
    warnings outside a job) a failure is logged and the others still go.
    `force` tries Twilio even while sending is paused (the page about the pause).
    """
    sent = 0
    owed: RetryableSend | None = None
    for index, e164 in enumerate(rt.settings.coordinators):
        try:
            if records_key:
                record = outbox.send_once(
                    rt,
                    records_key,
                    f"{tag}:coordinator{index}",
                    e164,
                    body,
                    purpose="escalation",
                    now=time.time(),
                    force=force,
                )
                sent += record["state"] == outbox.SENT
            elif outbox.send(rt, e164, body, purpose="escalation", force=force):
                sent += 1
        except PermanentSend as exc:  # one bad coordinator number must not silence the others
            log.warning("coordinator %d refused a text (Twilio %s)", index, exc.code)
        except RetryableSend as exc:
            log.warning("coordinator %d could not be texted yet: %s", index, exc)
            owed = exc
    if records_key and owed is not None:
        raise owed
    return sent


CONTENT_WARNING_TTL_S = 24 * 3600
"""Coordinators hear about a refused (filtered) text once per incident."""


def warn_content_refused(rt, incident: dict, code, purpose: str) -> bool:
    """Tell coordinators (once per incident) that Twilio or the carrier refuses this text as content.

    30007 (filtered) and its kin hit every recipient of the same text: one warning,
    not one per observer, and the observers stay on the roster.
    """
    key = store.warned_once_key(f"content:{incident['id']}")
    if not rt.r.set(key, str(code), nx=True, ex=CONTENT_WARNING_TTL_S):
        return False
    body = texts.say(rt.settings, "en", texts.FILTERED, ref=incident.get("ref", ""), purpose=purpose, code=code)
    return text_coordinators(rt, body) > 0


def text_coordinators_once(rt, body: str) -> int:
    """`text_coordinators` for a job with no incident: records under the RQ job's id (stable across its
    retries), kept a day. Called outside a job (a shell, a test) it just sends, best effort."""
    job = get_current_job()
    if job is None:
        return text_coordinators(rt, body)
    key = store.job_sends_key(job.id)
    try:
        return text_coordinators(rt, body, key, tag="job")
    finally:
        rt.r.expire(key, RECORDS_TTL_S)


def enqueue(rt, func, *args, description: str, job_timeout: int = JOB_TIMEOUT_S, delay: timedelta | None = None):
    """Enqueue a coordinator-text job on `dispatch` with RQ Retry and a short failure TTL (after `delay`).

    `description` must not contain a caller's words or a number: RQ logs it.
    """
    options = dict(
        retry=COORDINATOR_RETRY, job_timeout=job_timeout, failure_ttl=FAILED_JOB_TTL_S, description=description
    )
    queue = rt.queue("dispatch")
    if delay is not None:
        return queue.enqueue_in(delay, func, *args, **options)
    return queue.enqueue(func, *args, **options)


def escalate(rt, incident: dict, plan: dict, states: dict, now: float) -> None:
    """Tell coordinators nobody (or too few) in range accepted, naming who declined or never answered."""
    r = rt.r
    incident_id = incident["id"]
    if r.hget(store.incident_plan_key(incident_id), "escalated") == "1":
        return
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
    sent = text_coordinators(rt, body, store.incident_sends_key(incident_id), "escalated")
    if not r.hsetnx(store.incident_plan_key(incident_id), "escalated", "1"):
        return  # a concurrent drive escalated too; the send records kept it to one text each
    stats.record_dispatch(r, rt.settings, incident, "escalations")
    incidents.add_event(
        r,
        incident_id,
        "dispatch_escalated",
        now,
        coordinators=sent,
        declined=sum(1 for s in states.values() if s == DECLINED),
        silent=sum(1 for s in states.values() if s == TEXTED),
    )
