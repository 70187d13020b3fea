"""Whether the hotline can send at all: the pause after a sender/account error, and lifting it.

When Twilio answers with an error about the hotline's own side (a rotated auth
token 20003, a suspended account 30002, a sending number that is not the
account's 21606, ... — `channels.twilio_errors` kind `sender`), every further
text would fail the same way, and blaming recipients for it would take the
whole roster off duty. So the first such error pauses sending: every send
raises `SendingPaused` without calling Twilio, work stays queued (dispatch
incidents stay in the due index, broadcast chunks re-run later), `/healthz`
says why, and a probe (`bot.dispatch.resume.probe`, scheduled with RQ's
`enqueue_in`) asks Twilio again with backoff and lifts the pause by itself.

A rate-limit storm (Twilio answering 429/20429 or 503 to every call) is the
same situation with a shorter clock: kind `throttle`. Retrying each job by
itself would burn RQ's Retry budget (about a minute) and hammer an API that
asked us to slow down; instead the first 429 pauses sending, the probe backs
off from THROTTLE_FIRST_S up to THROTTLE_MAX_S, and the resume re-drives
every waiting dispatch at once — with its wave clock moved on by the time
sending was paused, so a wave whose texts never left is not counted as
unanswered (`bot.dispatch.resume.redrive_waiting`).
"""

from __future__ import annotations

import logging

from . import store

log = logging.getLogger(__name__)

PROBE_FIRST_S = 15
"""First probe of a pause: soon enough that a quick fix (new token deployed) costs seconds."""

PROBE_MAX_S = 300
"""Probe backoff doubles up to this: a pause never waits more than five minutes to lift."""

THROTTLE_FIRST_S = 2
"""First probe after a 429: Twilio's rate limits are per second; most bursts clear at once."""

THROTTLE_MAX_S = 15
"""A rate-limit pause is probed at least this often: texts go out within ~15 s of Twilio recovering."""

THROTTLE_PAGE_AFTER_S = 10
"""Coordinators hear about a throttle that lasts this long (a one-second 429 blip is not news)."""

SENDER, THROTTLE = "sender", "throttle"
"""Why sending is paused: our account/sender is wrong, or Twilio is rate-limiting/unavailable."""

THROTTLE_STATUSES = (429, 503)
"""HTTP answers that mean "not now, try later" for every text, not just this one."""

THROTTLE_CODES = (20429, 20503)
"""Twilio's codes for the same (Too Many Requests, Service Unavailable)."""


def is_throttle(code: int | None, http_status: int | None) -> bool:
    """Whether a retryable failure is Twilio asking everyone to slow down (pause), not one text's bad luck."""
    return http_status in THROTTLE_STATUSES or code in THROTTLE_CODES


def paused(r) -> dict:
    """Why sending is paused ({} when it is not): code, reason, since."""
    return r.hgetall(store.sending_paused_key())


def pause(r, code: int | None, reason: str, now: float, kind: str = SENDER) -> bool:
    """Pause sending (a sender/account error, or a rate-limit `throttle`); True if this call started it.

    A sender error during a throttle turns the pause into a sender pause (its slower
    probe and its page); a 429 never turns a sender pause into a throttle.
    """
    key = store.sending_paused_key()
    started = r.hsetnx(key, "since", f"{now:.3f}")
    fields = {"code": str(code or ""), "reason": reason, "last": f"{now:.3f}"}
    if started or kind == SENDER:
        fields["kind"] = kind
    elif r.hget(key, "kind") != THROTTLE:
        return False  # a sender pause stays one: its cause is ours, not Twilio's load
    r.hset(key, mapping=fields)
    if started:
        log.error("sending paused: Twilio %s error %s (%s)", kind, code, reason)
    return bool(started)


def kind_of(info: dict) -> str:
    """The kind of a pause record (records from before throttles had none: sender)."""
    return info.get("kind") or SENDER


def resume(r) -> dict:
    """Lift the pause; return what it was ({} if there was none)."""
    pipe = r.pipeline(transaction=True)
    pipe.hgetall(store.sending_paused_key())
    pipe.delete(store.sending_paused_key())
    return pipe.execute()[0]


def problem(r) -> str | None:
    """A one-line health problem while paused, else None."""
    info = paused(r)
    if not info:
        return None
    if kind_of(info) == THROTTLE:
        return f"sending paused: Twilio is rate-limiting or unavailable (error {info.get('code') or '?'}); retrying"
    return f"sending paused: Twilio error {info.get('code') or '?'} ({info.get('reason', '')}) about our account/sender"


def next_probe_delay(r, kind: str = SENDER) -> int:
    """The delay before the next probe: doubling while pauses keep coming back, reset after quiet.

    A cause the account probe cannot see (a sending number that is not ours, 21606;
    a 429 on sends while the account GET answers) resumes, fails the next send and
    pauses again; the remembered delay keeps that loop to one try every few minutes
    (sender) or every THROTTLE_MAX_S (throttle) instead of every few seconds.
    """
    first, most = (THROTTLE_FIRST_S, THROTTLE_MAX_S) if kind == THROTTLE else (PROBE_FIRST_S, PROBE_MAX_S)
    key = store.sending_probe_key()
    last = r.get(key)
    delay = max(first, min(int(last) * 2, most)) if last else first
    r.set(key, str(delay), ex=most * 4)
    return delay
