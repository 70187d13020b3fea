"""Observers' attention budget: at most N open dispatches at once and M texts an hour; the rest go to others or wait.

Issue 12's city-wide drill: 200 numbers, 203 incidents, 73 dispatch texts to
one observer. Real Redis, the real twilio client against the fake Twilio.
"""

from __future__ import annotations

import time

import pytest
from test_dispatch import SCENE, add_observer, new_incident, texted

from bot import dispatch, incidents, store
from bot.config import Settings
from bot.dispatch import attention, board, lifecycle
from bot.errors import ConfigError

A, B = "+12135550101", "+12135550102"


@pytest.fixture
def settings(settings):
    """One observer per wave and per incident, so every text shows who was picked."""
    return settings.replace(
        wave_size=1, observers_needed=1, wave_timeout_s=60, observer_max_open=1, observer_max_hour=3
    )


def _spot(km_north: float) -> tuple[float, float]:
    return (SCENE[0] + km_north / 111.0, SCENE[1])


def _dispatch(rt, worker, reporter: str, where=SCENE) -> str:
    incident_id = new_incident(rt, reporter=reporter, where=where)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    return incident_id


def _code(rt, incident_id: str) -> str:
    return rt.r.hget(store.incident_plan_key(incident_id), "code")


def test_an_observer_with_an_open_dispatch_is_skipped_for_the_next_nearest(rt, worker, twilio_outbox, settings):
    add_observer(rt.r, settings, "A", A, 1)
    add_observer(rt.r, settings, "B", B, 2)
    _dispatch(rt, worker, "+13235550001")
    assert len(texted(twilio_outbox, A)) == 1 and not texted(twilio_outbox, B)
    _dispatch(rt, worker, "+13235550002", where=_spot(-0.5))  # a second scene, still nearest to A
    assert len(texted(twilio_outbox, A)) == 1, "A already has an open dispatch: not asked again"
    assert len(texted(twilio_outbox, B)) == 1, "the next nearest is asked instead"


def test_the_hourly_budget_holds_even_when_each_dispatch_was_answered(rt, worker, phone, twilio_outbox, settings):
    rt.settings = settings = settings.replace(observer_max_open=5, observer_max_hour=2)  # the jobs' runtime too
    add_observer(rt.r, settings, "A", A, 1)
    add_observer(rt.r, settings, "B", B, 2)
    for n in range(3):
        incident_id = _dispatch(rt, worker, f"+1323555001{n}", where=_spot(-n))
        if len(texted(twilio_outbox, A)) > n:  # A answers each one: nothing stays open
            phone.text(f"NO {_code(rt, incident_id)}", from_=A)
            worker()
    assert len(texted(twilio_outbox, A)) == 2, "two texts an hour, then A is left alone"
    assert texted(twilio_outbox, B), "the third scene went to B"


def test_the_budget_frees_up_as_the_hour_passes(rt, worker, settings):
    observer = add_observer(rt.r, settings, "A", A, 1)
    now = time.time()
    for n in range(3):
        assert attention.take(rt.r, settings, observer, f"i{n}", f"1{n}", "texted", now - 100 + n, 600, bound=False)
    budget = attention.Budget(rt.r, settings.replace(observer_max_open=9), now)
    assert budget([observer]) == set() and budget.skipped == 1
    later = attention.Budget(rt.r, settings.replace(observer_max_open=9), now + 3600)
    assert later([observer]) == {observer}, "an hour on, the texts no longer count"
    assert attention.Budget(rt.r, settings, now)([]) == set()


def test_when_everyone_in_range_is_at_their_budget_the_dispatch_waits_instead_of_escalating(
    rt, worker, phone, release_scheduled, twilio_outbox, settings
):
    add_observer(rt.r, settings, "A", A, 1)
    first = _dispatch(rt, worker, "+13235550001")
    second = _dispatch(rt, worker, "+13235550002", where=_spot(-0.5))
    assert len(texted(twilio_outbox, A)) == 1
    assert not [m for m in twilio_outbox.messages() if m["to"] in settings.coordinators], "no escalation: it waits"
    row = next(i for i in board.board(rt, time.time()) if i["id"] == second)
    assert "waiting for observers" in row["reasons"], "the board says why nothing went out"

    phone.text(f"NO {_code(rt, first)}", from_=A)  # A frees up
    worker()
    release_scheduled(settings.wave_timeout_s + 1)  # the waiting dispatch's next wave
    worker()
    bodies = [m["body"] for m in texted(twilio_outbox, A)]
    assert len(bodies) == 2 and _code(rt, second) in bodies[1], "the waiting scene goes to A once A is free"
    row = next(i for i in board.board(rt, time.time()) if i["id"] == second)
    assert "waiting for observers" not in row["reasons"]


def test_two_workers_filling_two_incidents_at_once_cannot_both_take_the_last_slot(rt, twilio_outbox, settings):
    """Both drives passed the budget's pre-filter (`Budget`) before either texted: the slot's claim decides."""
    from bot.dispatch import fanout, plan

    observer = add_observer(rt.r, settings, "A", A, 1)
    found = []
    for n in range(2):
        incident_id = new_incident(rt, reporter=f"+1323555000{n}", where=_spot(-n))
        found.append((incidents.get(rt.r, incident_id), plan.snapshot_plan(rt.r, settings, incident_id, time.time())))
    assert attention.Budget(rt.r, settings, time.time())([observer]) == {observer}, "both would see A free"
    profile = rt.r.hgetall(store.observer_key(observer))
    states = [fanout.text_one(rt, inc, planned, observer, 1.0, profile, 1, time.time()) for inc, planned in found]
    assert states == ["texted", fanout.AT_BUDGET]
    assert len(texted(twilio_outbox, A)) == 1, "one text: the second incident's drive passes A over"
    assert not rt.r.hexists(store.incident_dispatch_key(found[1][0]["id"]), observer), "nothing stored for it"


def test_nobody_in_range_at_all_still_escalates_at_once(rt, worker, twilio_outbox, settings):
    add_observer(rt.r, settings, "Far", A, 40)
    _dispatch(rt, worker, "+13235550001")
    assert [m for m in twilio_outbox.messages() if m["to"] in settings.coordinators], "exhausted, not waiting"


def test_a_coordinators_dispatch_by_hand_is_not_bound_by_the_budget(rt, worker, twilio_outbox, settings):
    observer = add_observer(rt.r, settings, "A", A, 1)
    _dispatch(rt, worker, "+13235550001")
    second = new_incident(rt, reporter="+13235550002", where=_spot(-0.5))
    lifecycle.dispatch_to(rt, second, [observer], "maria", time.time())
    worker()
    assert len(texted(twilio_outbox, A)) == 2, "a person chose to ask A again"


@pytest.mark.parametrize("name", ["HOTLINE_OBSERVER_MAX_OPEN", "HOTLINE_OBSERVER_MAX_HOUR"])
@pytest.mark.parametrize("raw", ["0", "-1", "many"])
def test_a_budget_that_is_not_a_positive_number_is_refused_at_start(tmp_path, name, raw):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path), name: raw})
