"""Dispatch: waves of on-duty observers, atomic claims, escalation, scene reports, status callbacks.

A network must be able to trust that the nearest free observers are asked,
nobody is texted twice, two YES replies never both take one slot, and somebody
hears when nobody is going. The parts: `plan` (states, the frozen plan),
`lease` (one driver per incident), `drive` (the wave loop and its jobs),
`fanout` (who next, one text each), `escalation` (what coordinators are told when a
dispatch goes wrong), `digest` (their one text a minute), `coordinators` (how every coordinator text goes),
`watchdog` (re-drive, heartbeats), `replies` (what an observer's text means),
`status` (Twilio callbacks), `texts` (every sentence, as gettext msgids).
RQ stores a job's dotted path: `waves` re-exports the jobs queued before the
split (`bot.dispatch.waves.start_dispatch`, ...) so none is orphaned.
"""

from __future__ import annotations

import threading
import time

from .. import observers, sending, store
from . import texts
from .coordinators import text_coordinators
from .drive import advance, enqueue_start, start_dispatch, wave_timeout
from .plan import ACCEPTED, COVERED, DECLINED, TEXTED, UNDELIVERED, UNREACHABLE
from .replies import follow_up_reporters, handle_reply, notify_covered, parse
from .status import record_status
from .watchdog import beat, ensure_watchdog, redrive_due, watchdog

OVERDUE_S = 30
"""A dispatch due this long ago and still not driven means the workers are not keeping up."""

NOBODY_WARNING_EVERY_S = 3600
"""Coordinators hear "no observer on duty" at most once an hour."""


def handle_join(rt, e164: str, text: str, now: float) -> list[str] | None:
    """Enroll a volunteer who texts `JOIN CODE`; None when the text is not a join."""
    words = text.strip().split()
    if len(words) != 2 or words[0].lower() not in observers.JOIN_WORDS:
        return None
    try:
        observer_id = observers.enroll(rt.r, rt.settings, words[1], e164, now)
    except ValueError:  # the code's defaults no longer validate (a coordinator's typo)
        observer_id = None
    lang = observers.JOIN_WORDS[words[0].lower()]
    if observer_id is None:
        return [texts.say(rt.settings, lang, texts.BAD_JOIN)]
    observer = observers.get(rt.r, observer_id) or {}
    lang = observers.language_of(observer)
    return [texts.say(rt.settings, lang, texts.JOINED, name=observer.get("name", ""))]


def health(rt, now: float | None = None) -> dict:
    """Report whether dispatch can work: observers on duty, worker and watchdog alive, nothing overdue."""
    now = time.time() if now is None else now
    r = rt.r
    pipe = r.pipeline(transaction=False)
    for name in ("worker", "worker:seen", "watchdog", "watchdog:seen"):
        pipe.get(store.heartbeat_key(name))
    pipe.zcount(store.dispatch_due_key(), "-inf", now - OVERDUE_S)
    pipe.scard(store.observers_all_key())
    worker, worker_seen, watchdog_at, watchdog_seen, overdue, roster = pipe.execute()
    on_duty = observers.on_duty_count(r, now) if roster else 0
    report = {
        "ok": True,
        "roster": roster,
        "on_duty": on_duty,
        "overdue": overdue,
        "worker_age_s": round(now - float(worker), 1) if worker else None,
        "watchdog_age_s": round(now - float(watchdog_at), 1) if watchdog_at else None,
    }
    problems = []
    if not roster:
        problems.append("no observers on the roster")  # nobody can be dispatched: not `ok` (hotline observers import)
    if not (rt.settings.twilio_account_sid and rt.settings.twilio_auth_token):
        problems.append("no Twilio credentials")  # nothing can be sent (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)
    if roster and not on_duty:
        problems.append("no observer on duty")
    if worker_seen and not worker:
        problems.append("worker heartbeat stopped")
    elif watchdog_seen and not watchdog_at:
        problems.append("scheduler stopped (watchdog not running)")
    if overdue:
        problems.append("dispatch overdue")
    paused = sending.problem(r)
    if paused:
        problems.append(paused)
    report["problems"] = problems
    report["ok"] = not problems
    if any("stopped" in p for p in problems):
        _warn_in_background(rt, "; ".join(problems), now)
    return report


def _warn_in_background(rt, problem: str, now: float) -> None:
    """Text coordinators (at most hourly) that the worker side is down, off the request thread.

    The web process is the one left to notice a dead worker, and /healthz is
    what an uptime check polls; the text must not hold up the answer.
    """
    if not rt.r.set(store.heartbeat_key("down-warned"), f"{now:.0f}", nx=True, ex=NOBODY_WARNING_EVERY_S):
        return
    body = texts.say(rt.settings, "en", texts.WORKER_DOWN, problem=problem)
    threading.Thread(target=text_coordinators, args=(rt, body), daemon=True).start()


def warn_if_uncovered(rt, now: float) -> bool:
    """Text coordinators (at most hourly) when the roster has nobody on duty; return True if texted."""
    r = rt.r
    if not r.scard(store.observers_all_key()) or observers.on_duty_count(r, now):
        return False
    if not r.set(store.heartbeat_key("nobody-on-duty-warned"), f"{now:.0f}", nx=True, ex=NOBODY_WARNING_EVERY_S):
        return False
    return text_coordinators(rt, texts.say(rt.settings, "en", texts.NOBODY_ON_DUTY)) > 0


__all__ = [
    "handle_reply",
    "handle_join",
    "record_status",
    "enqueue_start",
    "start_dispatch",
    "wave_timeout",
    "watchdog",
    "ensure_watchdog",
    "redrive_due",
    "advance",
    "health",
    "beat",
    "warn_if_uncovered",
    "notify_covered",
    "follow_up_reporters",
    "parse",
    "TEXTED",
    "ACCEPTED",
    "DECLINED",
    "COVERED",
    "UNDELIVERED",
    "UNREACHABLE",
]
