"""Lifting a sending pause by itself, and telling coordinators about it by whatever still works.

`outbox.on_sender_error` schedules `probe` (RQ `enqueue_in`) and `page_coordinators`
the first time Twilio answers with an error about the hotline's own account or
sender (see `bot/sending.py`). The probe asks Twilio about the account (one GET,
no text to anyone); once it answers, the pause is lifted and every incident that
was waiting is driven again, so queued dispatch goes out without anyone's help.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from .. import outbox, runtime, sending, store
from ..channels import twilio as twilio_channel
from ..errors import SendError
from . import drive, texts

log = logging.getLogger(__name__)


def probe(delay_s: int = sending.PROBE_FIRST_S) -> str:
    """RQ job. Ask Twilio whether the account works again; resume and re-drive, or probe again later."""
    rt = runtime.get()
    r = rt.r
    if not sending.paused(r):
        return "sending"
    failure = twilio_channel.check_account(rt.twilio, rt.settings.twilio_account_sid)
    if failure is not None:
        delay = sending.next_probe_delay(r)
        rt.queue("dispatch").enqueue_in(timedelta(seconds=delay), probe, delay, job_timeout=60, result_ttl=600)
        log.warning("sending still paused: Twilio %s (%s); next probe in %ss", failure.code, failure.reason, delay)
        return f"paused: {failure.reason}"
    sending.resume(r)
    return f"resumed: re-driving {redrive_waiting(rt)}"


def redrive_waiting(rt) -> int:
    """Drive every incident still in the due index now (their timers may have fired while paused)."""
    waiting = rt.r.zrange(store.dispatch_due_key(), 0, -1)
    for incident_id in waiting:
        drive.enqueue_refill(rt, incident_id)
    return len(waiting)


def page_coordinators(code: int | None) -> int:
    """RQ job. Try once to tell coordinators sending is paused (another sender may still work).

    When even this fails (the auth token itself is wrong), `/healthz` answering 503
    with the reason is what pages the operator: the uptime check watches it.
    """
    rt = runtime.get()
    body = texts.say(rt.settings, "en", texts.SENDING_PAUSED, code=code or "?")
    sent = 0
    for e164 in rt.settings.coordinators:
        try:
            sent += bool(outbox.send(rt, e164, body, purpose="escalation", force=True))
        except SendError:
            log.error("could not page a coordinator about the sending pause (Twilio %s)", code)
    return sent
