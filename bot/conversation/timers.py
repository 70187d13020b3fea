"""Reminders and idle expiry as RQ scheduled jobs that cannot fire stale.

Each timer carries the session's step counter from when it was set; any text
from the contact bumps the counter, so a timer that finds the conversation
moved on (or gone) does nothing. Nudges were hand-built elsewhere
(rapidpro#282, #1141); here a step says `timeout: 15m` and `remind: ...`.

The conversation decides and never sends: `due` works out what a timer should
say and stores the session; the RQ job that texts it (`TIMER_JOB`) lives above
this package, beside the other senders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rq import Queue, Retry, get_current_job

from .. import privacy
from . import engine, registry, sessions
from .context import make_context, secret
from .model import Hotline

if TYPE_CHECKING:
    from redis.client import Pipeline

QUEUE = "default"
"""Timers are conversation work: below dispatch, above broadcasts."""

RETRY = Retry(max=2, interval=[30, 120])
"""A reminder that Twilio refused with a retryable error is tried twice more."""

TIMER_JOB = "bot.reminders.fire"
"""The RQ job a timer runs, named as a string: it sits above this package (RQ job paths are public)."""


@dataclass(frozen=True)
class Due:
    """What a timer found: a status for the job's result, and the texts to send (if any) to whom."""

    status: str
    address: str | None = None  # the sealed reply_to, opened: where the texts go
    bodies: list[str] = field(default_factory=list)


def timer_job_id(contact_id: str, counter: int, kind: str) -> str:
    """Return the job id of a timer, so setting the same timer twice schedules it once."""
    return f"hotline-timer-{kind}-{contact_id}-{counter}"


def queue_timer(rt: Hotline, pipe: Pipeline, contact_id: str, counter: int, kind: str, due_at: float) -> None:
    """Queue scheduling a timer on the caller's pipeline (written with the session)."""
    when = dt.datetime.fromtimestamp(due_at, tz=dt.UTC)
    rt.queue(QUEUE).enqueue_at(
        when,
        TIMER_JOB,
        contact_id,
        counter,
        kind,
        due_at,
        job_id=timer_job_id(contact_id, counter, kind),
        result_ttl=0,
        failure_ttl=24 * 3600,
        retry=RETRY,
        pipeline=pipe,
    )


def due(rt: Hotline, contact_id: str, counter: int, kind: str, due_at: float) -> Due:
    """Decide a step's reminder or the flow's expiry, unless the session moved on; store the session.

    The session is stored before anything is sent, so a retried job never texts twice.
    """
    session = sessions.load(rt.r, contact_id)
    if session is None or session.counter != counter:
        return Due("stale")
    reg = registry.for_folder(rt.settings.flows_dir, rt.settings.locales_dir)
    if reg.get(session.flow, session.version) is None:
        reg.fetch_version(rt.r, session.flow, session.version)
    ctx = make_context(rt.settings, reg, due_at)
    address = privacy.unseal(secret(rt.settings), session.reply_to) if session.reply_to else None
    ttl = sessions.ttl_s(reg.get(session.flow, session.version), rt.settings.session_ttl_s)
    if kind == "remind":
        if session.reminded == counter:
            return Due("already reminded")
        body = engine.reminder(ctx, session)
        if not body or not address:
            return Due("nothing to send")
        session.reminded = counter
        if not sessions.save_if_current(rt.r, contact_id, session, counter, ttl):
            return Due("stale")
        return Due("reminded", address, [body])
    if kind == "expire":
        turn = engine.expire(ctx, session)
        if not sessions.save_if_current(rt.r, contact_id, session, counter, ttl):
            return Due("stale")
        return Due("expired", address, list(turn.replies) if address else [])
    return Due("unknown timer")


def fire(contact_id: str, counter: int, kind: str, due_at: float) -> str:
    """RQ job of timers scheduled before the sending job moved up: hand them to TIMER_JOB.

    Kept so jobs already queued under this path still run; it enqueues, it never sends.
    """
    job = get_current_job()
    if job is None:  # called outside a worker: nothing queued it, nothing to hand on
        return "not a job"
    Queue(QUEUE, connection=job.connection).enqueue(
        TIMER_JOB, contact_id, counter, kind, due_at, result_ttl=0, retry=RETRY
    )
    return "moved"
