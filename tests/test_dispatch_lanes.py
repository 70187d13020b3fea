"""Dispatch lanes (bot/dispatch/lanes.py): a flood's dispatches queue behind a quiet place's, and stay there.

A report in a place where `incidents.CROWDED_AT` others opened within minutes, or a
contact's second new incident in the hour, is planned on the LATER lane; every job
for it afterwards (wave timer, watchdog re-drive, a pause's re-drive) goes on that
lane, so a flood cannot come back in front of a genuine report when its waves time
out. A coordinator's release goes FIRST.
"""

from __future__ import annotations

import re
import time

import pytest
from rq.registry import ScheduledJobRegistry
from test_dispatch import add_observer

from bot import incidents, reports, store
from bot.conversation import ActionCall
from bot.dispatch import lanes, lifecycle, redrive_due, resume

SCENE = (33.9795, -118.2200)


@pytest.fixture
def settings(settings):
    # no flood caps in the way: every report here is a different contact's first
    return settings.replace(observer_max_open=100, observer_max_hour=100)


def _submit(rt, n: int, km_north: float, km_east: float = 0.0, now: float | None = None) -> dict:
    """Contact n's first report, a new incident `km_north`/`km_east` km from the scene."""
    place = {"lat": SCENE[0] + km_north / 111.0, "lon": SCENE[1] + km_east / 92.0, "precision_m": 20, "label": "x"}
    call = ActionCall(
        name="report.submit",
        contact_id=f"contact-{n}",
        e164="+13235550140",
        answers={"activity": "raid", "where": place},
        language="en",
        channel="sms",
        now=time.time() if now is None else now,
    )
    return incidents.get(rt.r, reports.submit(rt, call)["incident_id"])


def _crowd(rt, count: int, now: float | None = None) -> list[dict]:
    """`count` contacts' first reports on a 0.6 km grid around the scene (all within 3 km of each other)."""
    return [_submit(rt, i, (i % 4) * 0.6, (i // 4) * 0.6, now) for i in range(count)]


def _queued(rt, lane: str) -> list[str]:
    queue = rt.queue(lane)
    return [queue.fetch_job(job_id).args[0] for job_id in queue.job_ids]


def _lane(rt, incident_id: str) -> str:
    return lanes.of(rt.r.hgetall(store.incident_plan_key(incident_id)))


def test_a_crowded_place_queues_behind_a_quiet_one(rt):
    crowd = _crowd(rt, incidents.CROWDED_AT + 4)
    genuine = _submit(rt, 99, 25.0)  # 25 km north: nothing else opened there
    first = _queued(rt, lanes.FIRST)
    later = _queued(rt, lanes.LATER)
    assert first == [i["id"] for i in crowd[: incidents.CROWDED_AT]] + [genuine["id"]]
    assert later == [i["id"] for i in crowd[incidents.CROWDED_AT :]], "the 9th incident within 3 km waits behind"
    assert _lane(rt, crowd[-1]["id"]) == lanes.LATER and _lane(rt, genuine["id"]) == lanes.FIRST
    planned = [e for e in incidents.timeline(rt.r, crowd[-1]["id"]) if e["event"] == "dispatch_planned"]
    assert planned[0]["lane"] == lanes.LATER, "the timeline says why it waited"


def test_only_recent_incidents_make_a_place_crowded(rt):
    long_ago = time.time() - incidents.CROWDED_WINDOW_S - 60
    _crowd(rt, incidents.CROWDED_AT + 4, now=long_ago)
    rt.queue(lanes.FIRST).empty()
    rt.queue(lanes.LATER).empty()
    today = _submit(rt, 50, 0.3, 0.3)
    assert _queued(rt, lanes.FIRST) == [today["id"]], "a busy morning does not make the afternoon crowded"


def test_a_closed_incident_does_not_crowd_its_place(rt):
    crowd = _crowd(rt, incidents.CROWDED_AT)
    for incident in crowd[:2]:
        incidents.set_status(rt.r, incident["id"], "unfounded", time.time(), reason="test")
    fresh = _submit(rt, 50, 0.3, 0.3)
    assert _lane(rt, fresh["id"]) == lanes.FIRST


def test_a_later_incidents_wave_timer_and_redrives_stay_on_its_lane(rt, worker, settings, twilio_outbox):
    add_observer(rt.r, settings, "A", "+12135550101", 0.5)
    crowd = _crowd(rt, incidents.CROWDED_AT + 1)
    late, early = crowd[-1]["id"], crowd[0]["id"]
    worker()
    waits = {lane: ScheduledJobRegistry(queue=rt.queue(lane)).get_job_ids() for lane in (lanes.FIRST, lanes.LATER)}
    assert f"hotline-wave-{late}-1" in waits[lanes.LATER], "its wave timer fires on its own lane"
    assert f"hotline-wave-{early}-1" in waits[lanes.FIRST]
    assert f"hotline-wave-{late}-1" not in waits[lanes.FIRST]

    # its wave deadline lapses with nobody driving it: the watchdog re-drives it on its lane
    rt.r.zadd(store.dispatch_due_key(), {late: 1, early: 1})
    assert sorted(redrive_due(rt, time.time())) == sorted([late, early])
    assert _queued(rt, lanes.LATER) == [late]
    assert _queued(rt, lanes.FIRST) == [early]

    # and so does the re-drive after a sending pause
    rt.queue(lanes.FIRST).empty()
    rt.queue(lanes.LATER).empty()
    resume.redrive_waiting(rt)
    assert late in _queued(rt, lanes.LATER) and late not in _queued(rt, lanes.FIRST)


def test_a_quiet_places_observer_is_texted_before_the_crowds_later_ones(rt, worker, settings, twilio_outbox):
    for i in range(3):
        add_observer(rt.r, settings, f"C{i}", f"+1213555011{i}", 0.5 + i * 0.2)
    add_observer(rt.r, settings, "G", "+12135550199", 25.0, radius_km=1)
    crowd = _crowd(rt, incidents.CROWDED_AT + 4)
    genuine = _submit(rt, 99, 25.0)  # reported last, after the whole crowd
    worker()
    codes = {i["id"]: rt.r.hget(store.incident_plan_key(i["id"]), "code") for i in [*crowd, genuine]}
    order = []
    for message in twilio_outbox.messages():
        found = re.search(r"Reply YES (\d+)", message["body"])
        if found:
            order.append(next(i for i, code in codes.items() if code == found.group(1)))
    first_later = min(order.index(i["id"]) for i in crowd[incidents.CROWDED_AT :])
    assert order.index(genuine["id"]) < first_later, "the quiet place's report went out before the crowd's later ones"
    assert {i["id"] for i in crowd} <= set(order), "the crowd's later incidents are dispatched too, not dropped"


def test_a_released_incident_goes_first(rt):
    """A coordinator who releases a held report judged it real: its dispatch goes first, crowded or not."""
    crowd = _crowd(rt, incidents.CROWDED_AT + 1)
    late = crowd[-1]["id"]
    rt.queue(lanes.LATER).empty()
    rt.r.hset(store.incident_key(late), "held", "flood cap")
    lifecycle.release(rt, late, "maria", time.time())
    assert _queued(rt, lanes.FIRST)[-1] == late and _lane(rt, late) == lanes.FIRST
