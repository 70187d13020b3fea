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
"""

from __future__ import annotations

import logging

from . import store

log = logging.getLogger(__name__)

PROBE_FIRST_S = 15
"""First probe of a pause: soon enough that a quick fix (new token deployed) costs seconds."""

PROBE_MAX_S = 300
"""Probe backoff doubles up to this: a pause never waits more than five minutes to lift."""


def paused(r) -> dict:
    """Why sending is paused ({} when it is not): code, reason, since."""
    return r.hgetall(store.sending_paused_key())


def pause(r, code: int | None, reason: str, now: float) -> bool:
    """Pause sending for a sender/account error; True if this call started the pause."""
    key = store.sending_paused_key()
    started = r.hsetnx(key, "since", f"{now:.3f}")
    r.hset(key, mapping={"code": str(code or ""), "reason": reason, "last": f"{now:.3f}"})
    if started:
        log.error("sending paused: Twilio sender/account error %s (%s)", code, reason)
    return bool(started)


def resume(r) -> bool:
    """Lift the pause; True if there was one."""
    return bool(r.delete(store.sending_paused_key()))


def problem(r) -> str | None:
    """A one-line health problem while paused, else None."""
    info = paused(r)
    if not info:
        return None
    return f"sending paused: Twilio error {info.get('code') or '?'} ({info.get('reason', '')}) about our account/sender"


def next_probe_delay(r) -> int:
    """The delay before the next probe: doubling while pauses keep coming back, reset after quiet.

    A cause the account probe cannot see (a sending number that is not ours, 21606)
    resumes, fails the next send and pauses again; the remembered delay keeps that
    loop to one text every few minutes instead of every few seconds.
    """
    key = store.sending_probe_key()
    last = r.get(key)
    delay = min(int(last) * 2, PROBE_MAX_S) if last else PROBE_FIRST_S
    r.set(key, str(delay), ex=PROBE_MAX_S * 4)
    return delay
