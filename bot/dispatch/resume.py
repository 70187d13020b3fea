"""Lifting a sending pause by itself, and telling coordinators about it by whatever still works.

`outbox.on_sender_error` schedules `probe` (RQ `enqueue_in`) and `page_coordinators`
the first time Twilio answers with an error about the hotline's own account or
sender, or with a rate limit (429/20429, 503: a `throttle`; see `bot/sending.py`).
The probe asks Twilio about the account (one GET, no text to anyone); once it
answers, the pause is lifted and every incident that was waiting is driven again,
so queued dispatch goes out without anyone's help. The wave clock of each waiting
incident is moved on by the time sending was paused: a wave whose texts were held
is not treated as a wave nobody answered.

Coordinators hear about a sender pause at once; about a throttle once it has
lasted THROTTLE_PAGE_AFTER_S (from the probe, if any text still leaves: a 429 is
often intermittent), and when that page could not go out, at the resume how long
texts were held — through one set of exactly-once send records per pause. `/healthz`
answering 503 with the reason is what pages the operator meanwhile.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from .. import outbox, runtime, sending, store
from ..channels import twilio as twilio_channel
from ..errors import SendError
from . import coordinators, drive, texts
from .plan import SEEKING

log = logging.getLogger(__name__)

PAGE_TTL_S = 24 * 3600
"""Send records of one pause's pages (keyed by its start) are kept a day."""


def probe(delay_s: int = sending.PROBE_FIRST_S) -> str:
    """RQ job. Ask Twilio whether the account works again; resume and re-drive, or probe again later."""
    rt = runtime.get()
    r = rt.r
    info = sending.paused(r)
    if not info:
        return "sending"
    kind = sending.kind_of(info)
    failure = twilio_channel.check_account(rt.twilio, rt.settings.twilio_account_sid)
    if failure is not None:
        if kind == sending.THROTTLE and _lasting(info, time.time()) and not _paged(r, info):
            _page(rt, info, texts.say(rt.settings, "en", texts.SENDING_THROTTLED, code=info.get("code") or "?"))
        delay = sending.next_probe_delay(r, kind)
        rt.queue("dispatch").enqueue_in(timedelta(seconds=delay), probe, delay, job_timeout=60, result_ttl=600)
        log.warning("sending still paused: Twilio %s (%s); next probe in %ss", failure.code, failure.reason, delay)
        return f"paused: {failure.reason}"
    was = sending.resume(r)
    if not was:
        return "sending"  # another probe lifted it a moment ago
    now = time.time()
    held_s = max(0.0, now - float(was.get("since") or now))
    waiting = redrive_waiting(rt, held_s)
    if kind == sending.THROTTLE and _lasting(was, now) and not _paged(r, was):
        code = was.get("code") or "?"
        body = texts.say(rt.settings, "en", texts.SENDING_RESUMED, seconds=round(held_s), code=code, waiting=waiting)
        _page(rt, was, body)
    return f"resumed: re-driving {waiting}"


def _lasting(info: dict, now: float) -> bool:
    """Whether a throttle has lasted long enough to tell coordinators about."""
    return now - float(info.get("since") or now) >= sending.THROTTLE_PAGE_AFTER_S


def redrive_waiting(rt, held_s: float = 0.0) -> int:
    """Drive every incident still in the due index now, its wave deadline moved on by `held_s`.

    Their timers may have fired while paused: `timer_after` (the moved deadline)
    makes such a timer, and any that fires before it, a no-op, and the due index
    opens the next wave at the moved deadline instead.
    """
    r = rt.r
    waiting = r.zrange(store.dispatch_due_key(), 0, -1)
    for incident_id in waiting:
        if held_s > 0:
            _move_wave_clock(r, incident_id, held_s)
        drive.enqueue_refill(rt, incident_id)
    return len(waiting)


def _move_wave_clock(r, incident_id: str, held_s: float) -> None:
    """Move the wave's deadline on by the pause, if the pause held some of its texts back.

    A wave whose texts all went out before the pause keeps its deadline: its observers
    had the text all along, and the next wave (or the escalation) is already late.
    """
    key = store.incident_plan_key(incident_id)
    deadline, state = r.hmget(key, "deadline", "state")
    if not deadline or float(deadline) <= 0 or state != SEEKING:
        return
    held = any(
        (outbox.read_record(raw) or {}).get("state") in (outbox.RELEASED, outbox.CLAIMED, outbox.UNCERTAIN)
        for raw in r.hvals(store.incident_sends_key(incident_id))
    )
    if not held:
        return
    moved = float(deadline) + held_s
    r.hset(key, mapping={"deadline": f"{moved:.3f}", "timer_after": f"{moved:.3f}"})


def page_coordinators(code: int | None, kind: str = sending.SENDER) -> int:
    """RQ job. Try once to tell coordinators sending is paused for a sender error (another sender may work).

    When even this fails (the auth token itself is wrong), `/healthz` answering 503
    with the reason is what pages the operator. (`kind` is the pause's; a throttle
    is paged by `probe` once it has lasted, and at its resume if that page failed.)
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


def _pages_key(info: dict) -> str:
    return store.job_sends_key(f"sending-paused-{info.get('since', '')}")


def _paged(r, info: dict) -> bool:
    """Whether every coordinator already heard about this pause."""
    records = [outbox.read_record(v) or {} for v in r.hvals(_pages_key(info))]
    return bool(records) and all(rec.get("state") == outbox.SENT for rec in records)


def _page(rt, info: dict, body: str) -> int:
    """Text coordinators about one pause past the pause itself, at most once each (records keyed by its start)."""
    key = _pages_key(info)
    try:
        return coordinators.text_coordinators(rt, body, key, tag="paused", force=True)
    except SendError as exc:  # still refused: the resume (or the next page) tries the ones still owed
        log.warning("could not page every coordinator about the pause yet (Twilio %s)", exc.code)
        return 0
    finally:
        rt.r.expire(key, PAGE_TTL_S)
