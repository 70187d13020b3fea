"""Reminders and idle expiry as RQ scheduled jobs that cannot fire stale.

Each timer carries the session's step counter from when it was set; any text
from the contact bumps the counter, so a timer that finds the conversation
moved on (or gone) does nothing. Nudges were hand-built elsewhere
(rapidpro#282, #1141); here a step says `timeout: 15m` and `remind: ...`.
"""

from __future__ import annotations

import datetime as dt
import logging

from rq import Retry

from .. import outbox, privacy
from ..errors import PermanentSend
from . import engine, registry, sessions

log = logging.getLogger(__name__)

QUEUE = "default"
"""Timers are conversation work: below dispatch, above broadcasts."""

RETRY = Retry(max=2, interval=[30, 120])
"""A reminder that Twilio refused with a retryable error is tried twice more."""


def timer_job_id(contact_id: str, counter: int, kind: str) -> str:
    """Return the job id of a timer, so setting the same timer twice schedules it once."""
    return f"hotline-timer-{kind}-{contact_id}-{counter}"


def queue_timer(rt, pipe, contact_id: str, counter: int, kind: str, due_at: float) -> None:
    """Queue scheduling a timer on the caller's pipeline (written with the session)."""
    when = dt.datetime.fromtimestamp(due_at, tz=dt.UTC)
    rt.queue(QUEUE).enqueue_at(
        when,
        fire,
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


def fire(contact_id: str, counter: int, kind: str, due_at: float) -> str:
    """RQ job. Send a step's reminder or run the flow's expiry, unless the session moved on."""
    from .. import runtime
    from .runner import make_context

    rt = runtime.get()
    session = sessions.load(rt.r, contact_id)
    if session is None or session.counter != counter:
        return "stale"
    reg = registry.for_folder(rt.settings.flows_dir)
    if reg.get(session.flow, session.version) is None:
        reg.fetch_version(rt.r, session.flow, session.version)
    ctx = make_context(rt.settings, reg, due_at)
    e164 = privacy.unseal(rt.settings.secret, session.reply_to) if session.reply_to else None
    flow = reg.get(session.flow, session.version)
    ttl = (flow.expire_s if flow and flow.expire_s else rt.settings.session_ttl_s) + sessions.EXPIRE_GRACE_S
    if kind == "remind":
        if session.reminded == counter:
            return "already reminded"
        body = engine.reminder(ctx, session)
        if not body or not e164:
            return "nothing to send"
        session.reminded = counter
        if not sessions.save_if_current(rt.r, contact_id, session, counter, ttl):
            return "stale"
        _send(rt, e164, [body])
        return "reminded"
    if kind == "expire":
        turn = engine.expire(ctx, session)
        if not sessions.save_if_current(rt.r, contact_id, session, counter, ttl):
            return "stale"
        if e164 and turn.replies:
            _send(rt, e164, turn.replies)
        return "expired"
    return "unknown timer"


def _send(rt, e164: str, bodies: list[str]) -> None:
    for body in bodies:
        try:
            outbox.send(rt, e164, body, purpose="reminder")
        except PermanentSend as exc:  # opted out or unreachable: a reminder is not worth more
            log.info("reminder not delivered (code %s)", exc.code)
