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
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from test_dispatch import add_observer

from bot import incidents, reports, store
from bot.conversation import ActionCall
from bot.dispatch import lanes, lifecycle, plan, redrive_due, resume

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


def test_a_later_incidents_start_job_waiting_its_turn_is_left_alone_and_a_lost_one_re_driven_in_seconds(rt):
    """The Redis-loss drill: a crowded place's start job lost with the killed Redis waited two minutes
    (the later lane's old grace) for the watchdog; queued ones must not be driven twice meanwhile."""
    crowd = _crowd(rt, incidents.CROWDED_AT + 2)
    waiting, lost = crowd[-2]["id"], crowd[-1]["id"]
    queue = rt.queue(lanes.LATER)
    queue.remove(rt.r.hget(store.incident_plan_key(lost), "start_job"))  # a worker took it and died with Redis
    later = time.time() + plan.START_GRACE_S + 1
    driven = redrive_due(rt, later)
    assert lost in driven and waiting not in driven, "the lost one at once; the queued one waits its turn"
    assert _queued(rt, lanes.LATER).count(waiting) == 1, "not queued twice"
    assert rt.r.zscore(store.dispatch_due_key(), waiting) > later, "looked at again later"


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


def test_a_waiting_incidents_unusual_notice_waits_on_its_lane_too(rt):
    """The flood drill: 289 "unconfirmed" notices of a trap's incidents went on the first lane, in front of
    genuine reports' dispatches; each goes on its incident's lane, after that incident's own start."""
    crowd = _crowd(rt, incidents.CROWDED_AT + 1)
    waiting = crowd[-1]
    assert _lane(rt, waiting["id"]) == lanes.LATER
    n = incidents.CROWDED_AT
    for k in range(incidents.BURST_AT):  # never-seen numbers at that very spot: a burst
        _submit(rt, 500 + k, (n % 4) * 0.6, (n // 4) * 0.6)
    assert incidents.get(rt.r, waiting["id"])["unusual"]

    def notices(lane: str) -> list[tuple]:
        return [job.args for job in rt.queue(lane).jobs if job.func_name.endswith("notify_observers")]

    assert notices(lanes.FIRST) == []
    assert notices(lanes.LATER) == [(waiting["id"], "unusual")]
    assert _queued(rt, lanes.LATER).index(waiting["id"]) == 0, "after the incident's own start job"


def test_a_released_incident_goes_first(rt):
    """A coordinator who releases a held report judged it real: its dispatch goes first, crowded or not."""
    crowd = _crowd(rt, incidents.CROWDED_AT + 1)
    late = crowd[-1]["id"]
    rt.queue(lanes.LATER).empty()
    rt.r.hset(store.incident_key(late), "held", "flood cap")
    lifecycle.release(rt, late, "maria", time.time())
    assert _queued(rt, lanes.FIRST)[-1] == late and _lane(rt, late) == lanes.FIRST


# ---- the console says a dispatch waits on the later lane, and why ---------------------------------
def _board(console) -> dict[str, dict]:
    return {row["id"]: row for row in console.get("/dashboard/api/incidents").get_json()}


def _first_lane_only(rt) -> None:
    """Run what the first lane holds, as a worker does while the later lane still waits."""
    SimpleWorker([rt.queue(lanes.FIRST)], connection=rt.r_raw).work(burst=True)


def test_the_board_says_a_crowded_places_dispatch_waits_until_its_observers_are_texted(
    rt, coordinator, worker, settings, twilio_outbox
):
    add_observer(rt.r, settings, "A", "+12135550101", 0.5)
    crowd = _crowd(rt, incidents.CROWDED_AT + 1)
    late = crowd[-1]["id"]
    assert rt.r.hget(store.incident_plan_key(late), lanes.WHY_FIELD) == lanes.CROWDED, "kept next to its lane"
    console = coordinator()
    rows = _board(console)
    assert rows[late]["queued"] == ["crowded"]
    assert [rows[i["id"]]["queued"] for i in crowd[:-1]] == [[]] * incidents.CROWDED_AT, "first-lane ones do not wait"
    assert not rows[late]["needs_action"], "waiting is no alarm: a flood would fill Needs action with its own"
    detail = console.get(f"/dashboard/api/incidents/{rows[late]['ref']}").get_json()
    assert detail["queued"] == ["crowded"], "the incident's own view says it too"

    _first_lane_only(rt)
    assert _board(console)[late]["queued"] == ["crowded"], "still behind: the later lane has not run"
    worker()
    row = _board(console)[late]
    assert row["texted"] == 1 and row["queued"] == [], "gone once its observer is texted"


def test_the_board_says_a_contacts_later_report_waits_and_both_reasons_when_both_hold(rt, coordinator):
    first = _submit(rt, 7, 25.0)  # a quiet place, 25 km north
    again = _submit(rt, 7, 0.0, 25.0)  # the same contact's next scene, 25 km east: quiet too
    crowd = _crowd(rt, incidents.CROWDED_AT)  # contacts 0..2 around the scene
    both = _submit(rt, 0, 1.0, 1.0)  # contact 0 again, a new scene 1.4 km from its first: now crowded
    rows = _board(coordinator())
    assert rows[first["id"]]["queued"] == [] and all(rows[i["id"]]["queued"] == [] for i in crowd)
    assert rows[again["id"]]["queued"] == ["repeat"]
    assert rows[both["id"]]["queued"] == ["crowded", "repeat"]


def test_a_coordinators_next_wave_dispatches_a_waiting_incident_from_the_first_lane(
    rt, coordinator, settings, twilio_outbox
):
    add_observer(rt.r, settings, "A", "+12135550101", 0.5)
    late = _crowd(rt, incidents.CROWDED_AT + 1)[-1]
    console = coordinator()
    assert console.action(late["ref"], "next_wave").status_code == 200
    _first_lane_only(rt)  # the later lane never ran
    row = _board(console)[late["id"]]
    assert row["texted"] == 1 and row["queued"] == []


def test_a_later_plan_from_before_the_reason_was_kept_still_says_it_waits(rt, coordinator):
    late = _crowd(rt, incidents.CROWDED_AT + 1)[-1]["id"]
    rt.r.hdel(store.incident_plan_key(late), lanes.WHY_FIELD)
    assert _board(coordinator())[late]["queued"] == ["later"]


def test_a_held_or_closed_incident_is_not_said_to_wait(rt, coordinator):
    crowd = _crowd(rt, incidents.CROWDED_AT + 2)
    held, closed = crowd[-2]["id"], crowd[-1]["id"]
    rt.r.hset(store.incident_key(held), "held", "flood cap")
    incidents.set_status(rt.r, closed, "unfounded", time.time(), reason="test")
    rows = _board(coordinator())
    assert rows[held]["queued"] == [] and "held" in rows[held]["reasons"]
    assert closed not in rows


def test_the_waiting_label_costs_the_boards_poll_no_round_trip_per_incident(rt, redis_server):
    """The board reads each plan once already (`board._plans_and_states`): the label is folded into it."""
    import redis as redis_lib
    from test_conversation import CountingConnection

    from bot import runtime
    from bot.dispatch import board

    counted = runtime.Runtime(settings=rt.settings, redis_url=redis_server)
    pool = redis_lib.ConnectionPool.from_url(redis_server, decode_responses=True, connection_class=CountingConnection)
    counted.__dict__["r"] = redis_lib.Redis(connection_pool=pool)
    counted.r.ping()  # the connection is open from here on

    def trips() -> tuple[int, list[dict]]:
        before = CountingConnection.trips
        rows = board.board(counted, time.time())
        return CountingConnection.trips - before, rows

    _crowd(rt, incidents.CROWDED_AT)
    quiet, rows = trips()
    assert not any(row["queued"] for row in rows)
    _crowd(rt, incidents.CROWDED_AT + 6)  # the first three join their own incidents; six more wait on the later lane
    waiting, rows = trips()
    assert sum(1 for row in rows if row["queued"]) == 6
    assert waiting == quiet, "as many round trips for 9 incidents, 6 of them waiting, as for 3"
    pool.disconnect()
