"""A flood of incidents nobody can take is a digest, not a storm, on the coordinators' phones.

Escalations ("not enough observers"), observers whose number cannot be texted and
texts the carrier refuses go through the coordinators' digest (bot/dispatch/
escalation.py): the first of a quiet minute at once and in full, the rest counted
into one text a minute. The incident's own record (flag, timeline, stats) is as
before. Real Redis, the real twilio client against the fake Twilio, real RQ jobs.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from rq.registry import ScheduledJobRegistry
from test_dispatch import SCENE, add_observer, new_incident

from bot import alerts, dispatch, incidents, observers, runtime, stats, store
from bot.channels.twilio import StatusUpdate
from bot.dispatch import digest, escalation

COORDINATORS = ("+13105550199", "+13105550198")


@pytest.fixture
def rt(app, settings):
    return runtime.configure(
        settings.replace(wave_size=2, wave_timeout_s=60, observers_needed=2, coordinators=COORDINATORS)
    )


def spots(rt, n: int, observer_km: float | None = None) -> list[str]:
    """`n` incidents ~3 km apart (one scene each), each with its own observer `observer_km` north if asked."""
    found = []
    for i in range(n):
        where = (SCENE[0] + i * 0.03, SCENE[1])
        if observer_km is not None:
            lat = where[0] + observer_km / 111.0 - SCENE[0]  # add_observer places them north of SCENE
            add_observer(rt.r, rt.settings, f"Obs{i}", f"+1213556{i:04d}", lat * 111.0, radius_km=1)
        found.append(new_incident(rt, reporter=f"+1323557{i:04d}", where=where))
    return found


def to(twilio_outbox, coordinator: str = COORDINATORS[0]) -> list[str]:
    return [m["body"] for m in twilio_outbox.messages() if m["to"] == coordinator]


def counted(body: str, what: str) -> int:
    found = re.search(rf"(\d+) {what}", body)
    return int(found.group(1)) if found else 0


def refs(rt, ids: list[str]) -> list[str]:
    return [incidents.get(rt.r, i)["ref"] for i in ids]


def test_50_incidents_escalating_in_a_minute_are_two_texts_per_coordinator(
    rt, worker, release_scheduled, twilio_outbox
):
    ids = spots(rt, 50)  # nobody on the roster: each escalates at once
    for incident_id in ids:
        dispatch.enqueue_start(rt, incident_id)
    worker()  # the first escalation's text goes before the 49 dispatch jobs behind it
    [first] = to(twilio_outbox)
    assert "not enough observers in range can go" in first and "Needed 2, accepted 0" in first, first
    assert f"Hotline {refs(rt, ids)[0]}:" in first, "the first in full, with its ref"
    assert release_scheduled(digest.WINDOW_S + 1) >= 1
    worker()
    for coordinator in COORDINATORS:
        texts = to(twilio_outbox, coordinator)
        assert len(texts) == 2 and texts[0] == first, texts
    second = to(twilio_outbox)[1]
    assert counted(second, "incidents without enough observers") == 49, second
    assert ", ".join(refs(rt, ids)[1:4]) in second and "console" in second, "three refs named, the rest on the board"
    for incident_id in ids:  # the incident's own record as before: flag, one timeline event each, counted
        assert rt.r.hget(store.incident_plan_key(incident_id), "escalated") == "1"
        events = [e["event"] for e in incidents.timeline(rt.r, incident_id)]
        assert events.count("dispatch_escalated") == 1
    assert stats.totals(rt.r, rt.settings)["escalations"] == 50
    release_scheduled(10 * digest.WINDOW_S)  # wave timers and later drives escalate nothing again
    worker()
    assert len(to(twilio_outbox)) == 2


def test_a_lone_escalation_goes_at_once_in_full_and_a_lone_one_later_in_the_minute_in_full_too(
    rt, worker, release_scheduled, twilio_outbox
):
    first_id, second_id = spots(rt, 2)
    dispatch.enqueue_start(rt, first_id)
    worker()
    [first] = to(twilio_outbox)
    assert f"Hotline {refs(rt, [first_id])[0]}: not enough observers" in first and "Declined: none" in first
    assert rt.r.exists(store.digest_key("pending")) == 0, "nothing left waiting"
    dispatch.enqueue_start(rt, second_id)
    worker()
    assert len(to(twilio_outbox)) == 1, "inside the minute it waits for the end of it"
    event = [e for e in incidents.timeline(rt.r, second_id) if e["event"] == "dispatch_escalated"]
    assert len(event) == 1 and rt.r.hget(store.incident_plan_key(second_id), "escalated") == "1", "on the board now"
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    second = to(twilio_outbox)[1]
    assert f"Hotline {refs(rt, [second_id])[0]}: not enough observers" in second, "alone in its batch: in full"


def _escalate_at_once(rt, incident: dict, plan: dict, drives: int) -> list[str]:
    """`drives` threads escalating one incident at the same instant; what each got back."""
    outcomes: list[str] = []
    barrier = threading.Barrier(drives)

    def drive():
        barrier.wait()
        outcomes.append(escalation.escalate(rt, incident, plan, {}, time.time()))

    threads = [threading.Thread(target=drive) for _ in range(drives)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_an_escalation_retried_after_a_crash_or_run_by_two_drives_at_once_is_counted_once(rt, worker, twilio_outbox):
    [incident_id] = spots(rt, 1)
    incident, plan = incidents.get(rt.r, incident_id), {"needed": "2"}
    # a worker noted it and died before it set the flag: the re-drive escalates again
    digest.note(rt, "escalated", incident_id, event=f"escalated:{incident_id}", detail="Hotline: the dead worker's")
    assert escalation.escalate(rt, incident, plan, {}, time.time()) == digest.SEEN
    outcomes = _escalate_at_once(rt, incident, plan, 4)
    assert set(outcomes) <= {"", digest.SEEN}, outcomes
    worker()
    assert len(to(twilio_outbox)) == 1 and len(to(twilio_outbox, COORDINATORS[1])) == 1
    assert [e["event"] for e in incidents.timeline(rt.r, incident_id)].count("dispatch_escalated") == 1
    assert stats.totals(rt.r, rt.settings)["escalations"] == 1
    assert rt.r.hget(store.digest_key("inflight"), "n:escalated") is None, "sent and done"


def test_two_drives_escalating_at_once_write_one_timeline_event(rt, worker, twilio_outbox):
    [incident_id] = spots(rt, 1)
    incident, plan = incidents.get(rt.r, incident_id), {"needed": "2"}
    outcomes = _escalate_at_once(rt, incident, plan, 6)
    assert outcomes.count(digest.SCHEDULED) == 1, outcomes
    worker()
    assert len(to(twilio_outbox)) == 1
    assert [e["event"] for e in incidents.timeline(rt.r, incident_id)].count("dispatch_escalated") == 1
    assert stats.totals(rt.r, rt.settings)["escalations"] == 1


def _ten_dispatches_then_callbacks(
    rt, worker, release_scheduled, twilio_outbox, status: str, code: int, repeat: int = 1
) -> tuple[str, str]:
    """Ten incidents, one observer texted each; Twilio then reports every text `status`/`code` (`repeat` times each
    after the first). Returns the two texts each coordinator got: the first at once, the minute's digest after it."""
    ids = spots(rt, 10, observer_km=0.5)
    for incident_id in ids:
        dispatch.enqueue_start(rt, incident_id)
    worker()
    sent = list(twilio_outbox.messages())
    assert len(sent) == 10 and not to(twilio_outbox), "one observer texted per incident"
    dispatch.record_status(rt, StatusUpdate(sent[0]["sid"], status, code), time.time())
    worker()  # the first of a quiet minute: at once
    for message in sent[1:]:
        for _ in range(repeat):
            dispatch.record_status(rt, StatusUpdate(message["sid"], status, code), time.time())
    worker()
    [first] = to(twilio_outbox)
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    assert [len(to(twilio_outbox, c)) for c in COORDINATORS] == [2, 2]
    return first, to(twilio_outbox)[1]


def test_a_flood_of_dead_numbers_in_status_callbacks_is_two_texts_counting_each_observer_once(
    rt, worker, release_scheduled, twilio_outbox
):
    first, second = _ten_dispatches_then_callbacks(
        rt, worker, release_scheduled, twilio_outbox, "failed", 30006, repeat=2
    )  # each reported twice, as Twilio does
    assert "cannot be texted (landline_or_unreachable)" in first, first
    assert counted(second, "observers who cannot be texted") == 9, second
    assert counted(second, "incidents without enough observers") == 10, "their incidents escalated, counted too"
    for i in range(10):  # the roster marks as before
        oid = next(o for o in rt.r.smembers(store.observers_all_key()) if observers.get(rt.r, o)["name"] == f"Obs{i}")
        assert observers.get(rt.r, oid)["unreachable"] == "landline_or_unreachable"


def test_a_dead_number_found_again_later_is_not_counted_again_while_it_stays_marked(rt, worker, twilio_outbox):
    """An observer texted for two incidents before the first failure came back: the second failure, past the
    digest's ten-minute memory of the event, was counted as one more observer who cannot be texted."""
    add_observer(rt.r, rt.settings, "Ana", "+12135550101", 0.5)
    first = new_incident(rt)
    second = new_incident(rt, reporter="+13235550124", where=(SCENE[0] + 0.004, SCENE[1]))
    for incident_id in (first, second):
        dispatch.enqueue_start(rt, incident_id)
    worker()
    texts = [m for m in twilio_outbox.messages() if m["to"] == "+12135550101"]
    assert len(texts) == 2, "texted for both before anything came back"
    dispatch.record_status(rt, StatusUpdate(texts[0]["sid"], "failed", 30006), time.time())
    told = rt.r.hget(store.digest_key("pending"), "n:unreachable") or rt.r.exists(store.digest_key("due"))
    assert told, "the first failure is told"
    rt.r.delete(store.digest_key("pending"), *rt.r.scan_iter(store.digest_key("event:*")))  # ten minutes on
    dispatch.record_status(rt, StatusUpdate(texts[1]["sid"], "failed", 30006), time.time())
    assert rt.r.hget(store.digest_key("pending"), "n:unreachable") is None, "still marked: nothing new to tell"


def test_one_observer_found_dead_by_many_incidents_at_once_is_one_count(rt):
    for incident_id in ("1", "2", "3"):
        escalation.unreachable(rt, incident_id, "obs-x", "X", "30006")
    assert rt.r.hget(store.digest_key("pending"), "n:unreachable") == "1"


def test_refused_texts_in_a_flood_are_warned_once_per_incident_and_two_texts_per_coordinator(
    rt, worker, release_scheduled, twilio_outbox
):
    first, second = _ten_dispatches_then_callbacks(rt, worker, release_scheduled, twilio_outbox, "undelivered", 30007)
    assert "the carrier refused a dispatch text (error 30007)" in first, first
    assert counted(second, "incidents whose texts the carrier refuses") == 9, second
    assert counted(second, "incidents without enough observers") == 10, "nobody left in range: escalated too"
    assert not any(observers.get(rt.r, o).get("unreachable") for o in rt.r.smembers(store.observers_all_key()))


@pytest.mark.parametrize(
    "code,told,what",
    [
        (21211, "observer Obs0 cannot be texted (21211)", "observers who cannot be texted"),
        (21617, "the carrier refused a dispatch text (error 21617)", "incidents whose texts the carrier refuses"),
    ],
)
def test_texts_refused_at_sending_in_a_flood_are_counted_not_texted_each(
    rt, worker, release_scheduled, twilio_outbox, code, told, what
):
    for incident_id in spots(rt, 6, observer_km=0.5):
        twilio_outbox.fail_next({"status": 400, "code": code, "message": "refused"})  # this incident's one text
        dispatch.enqueue_start(rt, incident_id)
        worker()
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    texts = to(twilio_outbox)
    assert len(texts) == 2 and len(to(twilio_outbox, COORDINATORS[1])) == 2, texts
    # the first drive's refusal and the escalation it caused were noted before the flush ran: both in full, one text
    assert told in texts[0] and "not enough observers in range can go" in texts[0], texts
    assert texts[0].count("\n\n") == 1, "two texts in one"
    assert counted(texts[1], what) == 5 and counted(texts[1], "incidents without enough observers") == 5, texts


def test_the_first_flush_goes_ahead_of_a_backlog_of_dispatch_jobs(rt):
    for incident_id in spots(rt, 3):
        dispatch.enqueue_start(rt, incident_id)
    assert digest.note(rt, "escalated", "1", event="escalated:1") == digest.SCHEDULED
    queue = rt.queue("dispatch")
    assert queue.jobs[0].func_name == "bot.dispatch.digest.flush", [j.func_name for j in queue.jobs]
    digest.note(rt, "escalated", "2", event="escalated:2")
    rt.r.set(store.digest_key("last"), f"{time.time():.3f}")  # a digest just went: the next waits out the minute
    rt.r.delete(store.digest_key("due"))
    digest.note(rt, "escalated", "3", event="escalated:3")
    [scheduled] = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert queue.fetch_job(scheduled).enqueue_at_front, "the end-of-minute flush goes to the front when due"


def test_whatsapp_alert_warnings_of_many_broadcasts_are_two_texts(rt, worker, release_scheduled, twilio_outbox):
    """Another per-event coordinator text a busy day multiplies: once per broadcast, so once per verified incident."""
    ids = spots(rt, 5)
    rt.queue("dispatch").enqueue(alerts.WARN_JOB, ids[0], 63016)
    worker()
    for incident_id in ids[1:]:
        rt.queue("dispatch").enqueue(alerts.WARN_JOB, incident_id, 63016)
        rt.queue("dispatch").enqueue(alerts.WARN_JOB, incident_id, 63016)  # a job run twice counts once
    worker()
    [first] = to(twilio_outbox)
    assert f"Hotline {refs(rt, ids)[0]}: WhatsApp alerts" in first and "63016" in first, first
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    assert [len(to(twilio_outbox, c)) for c in COORDINATORS] == [2, 2]
    assert counted(to(twilio_outbox)[1], "incidents whose WhatsApp alerts failed") == 4
    assert all("alert_undelivered" in [e["event"] for e in incidents.timeline(rt.r, i)] for i in ids)


def test_warning_jobs_queued_before_the_digest_still_reach_it(rt, worker, release_scheduled, twilio_outbox):
    """RQ keeps a queued job's dotted path: the old per-event jobs now count into the digest."""
    [incident_id] = spots(rt, 1)
    rt.queue("dispatch").enqueue("bot.dispatch.status.tell_coordinators_unreachable", "Ana", "30006")
    rt.queue("dispatch").enqueue("bot.dispatch.status.tell_coordinators_refused", incident_id, 30007)
    worker()
    [first] = to(twilio_outbox)
    assert "observer Ana cannot be texted (30006)" in first, first
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    second = to(twilio_outbox)[1]
    assert "the carrier refused a dispatch text (error 30007)" in second, "alone in its minute: in full"
