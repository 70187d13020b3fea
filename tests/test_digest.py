"""Coordinators get a digest, not a storm: at most one text a minute, with counts, never none.

The drill this answers: 250 reports nobody could place became 250 texts on the
coordinators' phones in 73 s. Real Redis, the real twilio client against the
fake Twilio, RQ's own scheduled-job registry (no sleeping).
"""

from __future__ import annotations

import re
import threading

import pytest
from rq.registry import ScheduledJobRegistry
from test_reports import CALL

from bot import reports, runtime, store
from bot.conversation import ActionCall
from bot.dispatch import digest, watchdog

COORDINATORS = ("+13105550199", "+13105550198")


def _unplaced(n: int) -> ActionCall:
    # 250 callers: one number sending them all is a flood its cap holds (tests/test_flood_caps.py)
    call = {**CALL, "contact_id": f"c-unplaced-{n}"}
    return ActionCall(answers={"activity": "raid", "where": {"raw": f"behind the swap meet {n}"}}, **call)


def _callback() -> ActionCall:
    return ActionCall(answers={}, **{**CALL, "name": "handoff.callback"})


def _texts(twilio_outbox, to: str = COORDINATORS[0]) -> list[str]:
    return [m["body"] for m in twilio_outbox.messages() if m["to"] == to]


def _counted(body: str, what: str) -> int:
    found = re.search(rf"(\d+) {what}", body)
    return int(found.group(1)) if found else 0


def _two_coordinators(settings):
    return runtime.configure(settings.replace(coordinators=COORDINATORS))


def test_250_unplaced_reports_are_two_texts_with_the_right_counts(
    app, settings, worker, release_scheduled, twilio_outbox
):
    rt = _two_coordinators(settings)
    reports.submit(rt, _unplaced(0))
    worker()  # the worker is quicker than the flood: the first report is out before the second comes
    for n in range(1, 250):
        reports.submit(rt, _unplaced(n))
    worker()
    [first] = _texts(twilio_outbox)
    assert "could not be placed" in first and "swap meet 0" in first, "the first of a quiet period goes in full, now"
    last, due = (float(rt.r.get(store.digest_key(k))) for k in ("last", "due"))
    assert due == pytest.approx(last + digest.WINDOW_S), "nothing more until a minute after the last text"
    assert ScheduledJobRegistry(queue=rt.queue("dispatch")).count == 1, "one flush waits for the end of the minute"
    assert release_scheduled(digest.WINDOW_S + 1) == 1
    worker()
    first_again, second = _texts(twilio_outbox)
    assert _counted(second, "unplaced reports") == 249, second
    assert "U2, U3, U4" in second and "console" in second, "a few refs, the rest on the console"
    assert "swap meet" not in second, "a digest carries counts, not the callers' words"
    assert _texts(twilio_outbox, COORDINATORS[1]) == [first, second], "every coordinator, each once"
    release_scheduled(10 * digest.WINDOW_S)
    worker()
    assert len(_texts(twilio_outbox)) == 2, "a flushed window sends nothing more"
    assert rt.r.zcard(store.handoffs_key()) == 250, "every report is on the console's queue"


def test_a_flood_before_any_worker_ran_is_one_text_of_counts(app, settings, worker, twilio_outbox):
    rt = _two_coordinators(settings)
    for n in range(250):
        reports.submit(rt, _unplaced(n))
    worker()
    [text] = _texts(twilio_outbox)
    assert _counted(text, "unplaced reports") == 250 and "U1, U2, U3" in text, text


def test_a_mixed_flood_is_counted_per_kind(app, settings, worker, release_scheduled, twilio_outbox):
    rt = _two_coordinators(settings)
    reports.submit(rt, _unplaced(0))
    worker()  # the quiet period's first event: told at once
    for n in range(3):
        reports.submit(rt, _unplaced(n + 1))
    reports.request_callback(rt, _callback())
    digest.note(rt, "unusual", "17")
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    first, second = _texts(twilio_outbox)
    assert "3 unplaced reports" in second and "1 call-back request" in second, second
    assert "1 unusual burst" in second and "3235550140" not in second, "counts only: the number is on the console"


def test_a_lone_call_back_after_a_quiet_minute_is_told_with_its_number(
    app, settings, worker, release_scheduled, twilio_outbox
):
    rt = _two_coordinators(settings)
    reports.submit(rt, _unplaced(0))
    worker()
    reports.request_callback(rt, _callback())
    worker()
    assert len(_texts(twilio_outbox)) == 1, "inside the minute it waits"
    waiting = rt.r.hgetall(store.digest_key("pending"))
    assert waiting["sealed"] and not any("3235550140" in v for v in waiting.values()), "sealed while it waits"
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    assert "call-back" in _texts(twilio_outbox)[1] and "3235550140" in _texts(twilio_outbox)[1]


def test_a_retried_job_counts_its_event_once(app, settings):
    rt = _two_coordinators(settings)
    assert digest.note(rt, "flood", "5", event="job-1:flood") == digest.SCHEDULED
    assert digest.note(rt, "flood", "5", event="job-1:flood") == digest.SEEN
    assert rt.r.hget(store.digest_key("pending"), "n:flood") == "1"


def test_concurrent_notes_open_one_window_and_concurrent_flushes_send_it_once(app, settings, twilio_outbox):
    rt = _two_coordinators(settings)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def noter():
        barrier.wait()
        for _ in range(25):
            outcomes.append(digest.note(rt, "unplaced"))

    threads = [threading.Thread(target=noter) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(digest.SCHEDULED) == 1 and len(outcomes) == 200
    flushed = threading.Barrier(6)

    def flusher():
        flushed.wait()
        digest.flush("0")

    threads = [threading.Thread(target=flusher) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for coordinator in COORDINATORS:
        [text] = _texts(twilio_outbox, coordinator)
        assert _counted(text, "unplaced reports") == 200


def test_a_flush_lost_with_its_worker_is_rescued_by_the_watchdog(app, settings, worker, twilio_outbox):
    rt = _two_coordinators(settings)
    digest.note(rt, "held", "3")
    # the worker that would have run the flush died and its job is gone (a restart with an emptied queue)
    rt.queue("dispatch").empty()
    assert digest.rescue(rt, 0.0) is False, "a flush not yet due is not rescued"
    rt.r.set(store.digest_key("due"), "1")  # long past
    assert digest.rescue(rt) is True
    assert digest.rescue(rt) is False, "one rescue per grace period, never a job storm"
    worker()
    [text] = _texts(twilio_outbox)
    assert "1 held report" in text, text


def test_the_scheduled_flush_lives_in_redis_and_survives_a_worker_restart(
    app, settings, worker, release_scheduled, twilio_outbox
):
    rt = _two_coordinators(settings)
    digest.note(rt, "flood", "1")
    worker()
    digest.note(rt, "flood", "2")
    digest.note(rt, "missed_call")
    registry = ScheduledJobRegistry(queue=rt.queue("dispatch"))
    assert registry.count == 1, "the end-of-window flush is an RQ scheduled job, kept in Redis"
    # a new worker process (a fresh runtime on the same Redis) picks it up
    fresh = runtime.configure(settings.replace(coordinators=COORDINATORS))
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    assert fresh.r.get(store.digest_key("inflight_id")) is None
    second = _texts(twilio_outbox)[1]
    assert "1 flood warning" in second and "1 missed call" in second, second


def test_a_twilio_500_is_retried_for_the_coordinators_still_owed(
    app, settings, worker, release_scheduled, twilio_outbox
):
    rt = _two_coordinators(settings)
    twilio_outbox.fail_next({"status": 500, "code": 20500, "message": "Internal"})
    digest.note(rt, "flood", "4")
    worker()
    for _ in range(3):
        release_scheduled(60)
        worker()
    assert len(_texts(twilio_outbox, COORDINATORS[0])) == 1 and len(_texts(twilio_outbox, COORDINATORS[1])) == 1


def test_the_watchdog_runs_the_rescue(app, settings, worker, twilio_outbox):
    rt = _two_coordinators(settings)
    digest.note(rt, "flood", "9")
    rt.queue("dispatch").empty()
    rt.r.set(store.digest_key("due"), "1")
    watchdog()  # the RQ job itself, run in-process
    worker()
    assert len(_texts(twilio_outbox)) == 1


def test_an_unknown_kind_is_refused(app, settings):
    with pytest.raises(ValueError, match="digest kind"):
        digest.note(_two_coordinators(settings), "everything")


def test_the_drill_250_unplaced_reports_through_signed_webhooks(
    settings, phone, worker, release_scheduled, twilio_outbox
):
    """The issue's drill end to end: 250 callers whose place nothing can read, each through the real flow."""

    def unplaced(n: int) -> None:
        caller = f"+1323556{n:04d}"
        phone.text("I see agents detaining someone", from_=caller)
        phone.text("behind the old blue warehouse", from_=caller)
        replies = phone.text("behind the old blue warehouse", from_=caller)
        assert replies[0].startswith("Report U"), replies  # the caller hears the same calm answer as always

    unplaced(0)
    worker()
    for n in range(1, 250):
        unplaced(n)
    worker()
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    texts = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert len(texts) == 2, texts
    assert "could not be placed" in texts[0] and _counted(texts[1], "unplaced reports") == 249


def test_two_events_at_once_are_both_told_in_full_three_are_counted(app, settings, worker, twilio_outbox):
    """An event and the one it causes in the same instant (a dead number, then the escalation) are read whole."""
    rt = _two_coordinators(settings)
    digest.note(rt, "unreachable", "4", event="u:4", detail="Hotline: observer Ana cannot be texted (30006).")
    digest.note(rt, "escalated", "4", event="e:4", detail="Hotline K3X9P: not enough observers in range can go.")
    worker()
    [text] = _texts(twilio_outbox)
    assert (
        text
        == "Hotline: observer Ana cannot be texted (30006).\n\nHotline K3X9P: not enough observers in range can go."
    )
    for n in range(3):
        digest.note(rt, "held", f"U{n}", event=f"h:{n}", detail=f"Hotline flood cap: report U{n} ...")
    rt.r.delete(store.digest_key("last"))  # as if the minute had passed
    digest.flush("0")
    assert "3 held reports" in _texts(twilio_outbox)[1], "three are a digest of counts"


@pytest.mark.parametrize("second", [{"detail": ""}, {"detail": "x" * digest.FULL_MAX_CHARS}])
def test_two_events_are_counted_when_one_has_no_text_or_both_would_be_too_long(
    app, settings, worker, twilio_outbox, second
):
    rt = _two_coordinators(settings)
    digest.note(rt, "callback", event="c:1", detail="A hotline caller asked for a call-back (en): {number}")
    digest.note(rt, "unusual", "5", event="u:5", **second)
    worker()
    [text] = _texts(twilio_outbox)
    assert "1 call-back request" in text and "1 unusual burst" in text and "{number}" not in text, text
