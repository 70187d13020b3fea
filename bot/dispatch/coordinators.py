"""Texting coordinators: the one implementation every escalation, warning and hand-off uses.

What they are told is composed where it happens (`escalation.py` for a dispatch
gone wrong, `reports.py` for unplaced reports and call-backs) and mostly batched
by `digest.py`; this module is how any of it reaches their phones.

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

from .. import outbox, store
from ..errors import PermanentSend, RetryableSend
from .plan import COORDINATOR_RETRY, JOB_TIMEOUT_S

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


def enqueue(
    rt,
    func,
    *args,
    description: str,
    job_timeout: int = JOB_TIMEOUT_S,
    delay: timedelta | None = None,
    at_front: bool = False,
):
    """Enqueue a coordinator-text job on `dispatch` with RQ Retry and a short failure TTL (after `delay`).

    `description` must not contain a caller's words or a number: RQ logs it. `at_front` puts it before
    the jobs already waiting (when it is due, for a delayed one).
    """
    options = dict(
        retry=COORDINATOR_RETRY,
        job_timeout=job_timeout,
        failure_ttl=FAILED_JOB_TTL_S,
        description=description,
        at_front=at_front,
    )
    queue = rt.queue("dispatch")
    if delay is not None:
        return queue.enqueue_in(delay, func, *args, **options)
    return queue.enqueue(func, *args, **options)
