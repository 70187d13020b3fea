"""A 429 storm longer than any retry budget: every dispatch text goes out once after it, coordinators hear.

The fake Twilio answers 429/20429 to every call until the test ends the outage.
Time is moved by releasing RQ's scheduled jobs (`release_scheduled`) and by
asking the watchdog about a later moment (`redrive_due(rt, later)`): one
"round" is everything RQ would run in the next minute. The real 150 s storm,
timed, is `bench/twilio_storm.py`.
"""

from __future__ import annotations

import re
import time

import pytest
from test_dispatch import add_observer, name_states, new_incident

from bot import dispatch, observers, sending, store
from bot.dispatch import plan as dispatch_plan
from bot.dispatch import resume

COORDINATOR = "+13105550199"
ROUNDS = 12
"""Rounds of storm: each releases every job due within a minute, so twelve outlast SEND_RETRY's old ~61 s
and the storm spans more than the wave timeout (60 s here)."""


@pytest.fixture
def settings(settings):
    return settings.replace(wave_size=2, wave_timeout_s=60, observers_needed=2)


@pytest.fixture
def roster(rt):
    people = [("A", 1), ("B", 2), ("C", 3), ("D", 4)]
    return {
        name: add_observer(rt.r, rt.settings, name, f"+1213555010{i}", km) for i, (name, km) in enumerate(people, 1)
    }


def storm_round(rt, worker, release_scheduled) -> None:
    release_scheduled(60)
    dispatch.redrive_due(rt, time.time() + 60)
    worker()


def sent_to(outbox_) -> list[str]:
    return [m["to"] for m in outbox_.messages()]


def test_a_429_storm_longer_than_the_retry_budget_sends_every_dispatch_text_once_after_it(
    rt, roster, worker, release_scheduled, twilio_outbox, client
):
    twilio_outbox.start_outage(429, 20429)
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert sending.kind_of(sending.paused(rt.r)) == sending.THROTTLE, "a rate limit pauses sending"
    wave_deadline = float(rt.r.hget(store.incident_plan_key(incident_id), "deadline"))
    for _ in range(ROUNDS):
        storm_round(rt, worker, release_scheduled)
    assert twilio_outbox.messages() == [], "nothing got through the storm"
    assert sending.paused(rt.r), "still paused, still probing"
    health = client.get("/healthz", headers={"X-Health-Token": "test-health-token"})
    assert health.status_code == 503
    assert any("rate-limiting" in p for p in health.get_json()["dispatch"]["problems"])
    assert twilio_outbox.recorder.outage_answers <= 4 * ROUNDS, "the storm was not hammered"

    # The storm began 150 s ago (as the bench's does): the wave clock moves on by that much.
    rt.r.hset(store.sending_paused_key(), "since", f"{time.time() - 150:.3f}")
    twilio_outbox.end_outage()
    storm_round(rt, worker, release_scheduled)
    assert not sending.paused(rt.r), "resumed by itself"
    observers_texted = [to for to in sent_to(twilio_outbox) if to != COORDINATOR]
    assert sorted(observers_texted) == ["+12135550101", "+12135550102"], "wave 1, each exactly once"
    plan = rt.r.hgetall(store.incident_plan_key(incident_id))
    assert plan["wave"] == "1", "the held wave was not skipped"
    assert float(plan["deadline"]) >= wave_deadline + 149, "the wave clock was paused while Twilio was"
    assert name_states(rt, incident_id, roster) == {"A": "texted", "B": "texted"}
    assert all(not observers.get(rt.r, oid).get("unreachable") for oid in roster.values()), "nobody blamed"

    told = [m["body"] for m in twilio_outbox.messages() if m["to"] == COORDINATOR]
    assert len(told) == 1 and "20429" in told[0], told
    held_s = int(re.search(r"refused texts for (\d+) s", told[0]).group(1))
    assert 150 <= held_s < 200, "coordinators hear how long texts were held"

    for _ in range(3):  # later rounds (stale timers, the watchdog) send nothing more
        release_scheduled(30)
        worker()
    assert len(sent_to(twilio_outbox)) == 3


def test_a_held_refill_moves_the_wave_clock_and_the_old_timer_does_not_open_the_next_wave_early(
    rt, roster, worker, release_scheduled, twilio_outbox
):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()  # A and B texted; wave 1's timer is scheduled
    key = store.incident_plan_key(incident_id)
    deadline = float(rt.r.hget(key, "deadline"))
    twilio_outbox.start_outage(429, 20429)
    dispatch.handle_reply(rt, roster["B"], "NO", time.time())  # B declines: C's text hits the storm
    worker()
    assert sending.paused(rt.r) and len(twilio_outbox.messages()) == 2
    rt.r.hset(store.sending_paused_key(), "since", f"{time.time() - 300:.3f}")  # it began 5 minutes ago
    twilio_outbox.end_outage()
    release_scheduled(sending.THROTTLE_MAX_S + 1)  # the probe: resumed, C texted now
    worker()
    observers_texted = sorted(to for to in sent_to(twilio_outbox) if to != COORDINATOR)
    assert observers_texted == ["+12135550101", "+12135550102", "+12135550103"]
    assert float(rt.r.hget(key, "deadline")) >= deadline + 299, "C's wave got its time back"
    release_scheduled(dispatch_plan.seconds(60).total_seconds() + 1)  # wave 1's timer, from before the pause
    worker()
    assert rt.r.hget(key, "wave") == "1" and len([t for t in sent_to(twilio_outbox) if t != COORDINATOR]) == 3


def test_a_wave_whose_texts_all_went_out_keeps_its_deadline_after_a_pause(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    key = store.incident_plan_key(incident_id)
    deadline = rt.r.hget(key, "deadline")
    resume.redrive_waiting(rt, held_s=300)
    assert rt.r.hget(key, "deadline") == deadline, "its observers had the text all along"


def test_coordinator_jobs_outlast_a_long_pause(rt, roster):
    from bot.dispatch import coordinators

    job = coordinators.enqueue(rt, "bot.reports.escalate_unplaced", "U1", "x", "raid", description="t")
    intervals = job.retry_intervals
    span = sum(intervals) + (job.retries_left - len(intervals)) * intervals[-1]  # RQ repeats the last interval
    assert span > 2 * 3600, "a call-back request survives a two-hour pause"


def test_deletions_at_twilio_wait_out_a_throttle_instead_of_hammering_it(rt, twilio_outbox):
    from bot import twilio_retention
    from bot.errors import RetryableSend

    seeded = twilio_outbox.add_inbound(rt.settings.twilio_account_sid)
    sending.pause(rt.r, 20429, "too_many_requests", time.time(), sending.THROTTLE)
    with pytest.raises(RetryableSend):
        twilio_retention.delete_message(seeded["sid"])  # RQ's DELETE_RETRY comes back later
    assert twilio_outbox.deleted() == [] and twilio_outbox.recorder.outage_answers == 0
    sending.resume(rt.r)
    assert twilio_retention.delete_message(seeded["sid"]) == "deleted"
