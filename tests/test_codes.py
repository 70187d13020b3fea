"""Dispatch codes: short, unique among an observer's open dispatches, and a stale one never means another incident.

The drill this answers: codes were a sequence modulo 90 and never checked; after
90 incidents, 95 codes named two open incidents, and an observer's "YES 11" meant
for one incident accepted another 11 km away. Real Redis, signed webhooks from
the observer's phone, the fake Twilio.
"""

from __future__ import annotations

import re
import time

import pytest
from test_dispatch import SCENE, add_observer, new_incident

from bot import dispatch, incidents, store
from bot.dispatch import lifecycle, plan

ANA = "+12135550301"
BETO = "+12135550302"


@pytest.fixture
def settings(settings):
    return settings.replace(wave_size=2, wave_timeout_s=600, observers_needed=2)


def _texts_to(twilio_outbox, number: str) -> list[str]:
    return [m["body"] for m in twilio_outbox.messages() if m["to"] == number]


def _code_of(body: str) -> str:
    return re.match(r"(?:Hotline|Línea) (\d+)", body).group(1)


def _place_of(body: str) -> tuple[float, float]:
    lat, lon = re.search(r"\((-?\d+\.\d+),(-?\d+\.\d+)\)", body).groups()
    return float(lat), float(lon)


def test_every_code_an_observer_holds_names_the_incident_it_was_texted_with(rt, phone, worker, twilio_outbox):
    add_observer(rt.r, rt.settings, "Ana", ANA, km_north=0, radius_km=50)
    ids = [new_incident(rt, reporter=f"+1323555{1000 + n}", where=(SCENE[0] + n * 0.01, SCENE[1])) for n in range(100)]
    for incident_id in ids:
        dispatch.enqueue_start(rt, incident_id)
    worker()
    sent = _texts_to(twilio_outbox, ANA)
    assert len(sent) >= 2
    codes = [_code_of(body) for body in sent]
    assert len(set(codes)) == len(codes), "no two open dispatches of one observer share a code"
    held = [c for c in (rt.r.hget(store.incident_plan_key(i), "code") for i in ids) if c]
    assert len(set(held)) == len(held) and all(len(c) in (2, 3) for c in held), "unique among open incidents, short"
    assert all(len(c) == 2 for c in held[:90]), "two digits while fewer than ninety are open"
    by_place = {(round(i["lat"], 5), round(i["lon"], 5)): i["id"] for i in incidents.list_open(rt.r)}
    accepted: set[str] = set()
    for body in (sent[0], sent[-1]):  # a reply with a code accepts exactly the incident texted with it
        assert phone.text(f"YES {_code_of(body)}", from_=ANA)[0].startswith("Thank you")
        accepted.add(by_place[_place_of(body)])
        assert {i for i in ids if "accepted" in rt.r.hvals(store.incident_dispatch_key(i))} == accepted


def test_a_stale_code_gets_no_open_dispatch_even_when_another_incident_holds_it_now(rt, phone, worker, twilio_outbox):
    ana = add_observer(rt.r, rt.settings, "Ana", ANA, km_north=1)
    first = new_incident(rt)
    dispatch.enqueue_start(rt, first)
    worker()
    code = _code_of(_texts_to(twilio_outbox, ANA)[0])
    incidents.set_status(rt.r, first, "closed", time.time(), "expired")  # closed without telling anyone
    # the code comes round to an incident 11 km away that Ana was never texted about
    rt.r.set(store.dispatch_code_seq_key(), int(code) - 10 - 1)
    far = new_incident(rt, reporter="+13235550999", where=(SCENE[0] + 0.1, SCENE[1]))
    assert plan.snapshot_plan(rt.r, rt.settings, far, time.time())["code"] == code
    assert phone.text(f"YES {code}", from_=ANA) == [f"There is no open dispatch {code}. You have none open right now."]
    assert ana not in rt.r.hkeys(store.incident_dispatch_key(far)), "never accepts the other incident"


def test_a_stale_code_lists_the_observers_open_codes_in_spanish(rt, phone, worker, twilio_outbox):
    add_observer(rt.r, rt.settings, "Beto", BETO, km_north=1, languages="es")
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    code = _code_of(_texts_to(twilio_outbox, BETO)[0])
    stale = "11" if code != "11" else "12"
    assert phone.text(f"SI {stale}", from_=BETO) == [f"No hay despacho abierto {stale}. Los suyos: {code}."]
    lifecycle.close(rt, incident_id, "maria", time.time(), tell=False)
    assert phone.text(f"SI {code}", from_=BETO) == [f"No hay despacho abierto {code}. No tiene ninguno abierto ahora."]


def test_a_reopened_incident_renumbered_moves_its_observers_to_the_new_code(rt, phone, worker, twilio_outbox):
    ana = add_observer(rt.r, rt.settings, "Ana", ANA, km_north=1)
    first = new_incident(rt)
    dispatch.enqueue_start(rt, first)
    worker()
    code = _code_of(_texts_to(twilio_outbox, ANA)[0])
    incidents.set_status(rt.r, first, "closed", time.time(), "expired")
    rt.r.set(store.dispatch_code_seq_key(), int(code) - 10 - 1)
    newer = new_incident(rt, reporter="+13235550999", where=(SCENE[0] + 0.1, SCENE[1]))
    plan.snapshot_plan(rt.r, rt.settings, newer, time.time())
    lifecycle.reopen(rt, first, "maria", time.time())
    fresh = rt.r.hget(store.incident_plan_key(first), "code")
    assert fresh != code
    assert rt.r.hgetall(store.observer_open_key(ana)) == {fresh: first}
    assert phone.text(f"YES {code}", from_=ANA) == [f"There is no open dispatch {code}. Your open ones: {fresh}."]
    assert phone.text(f"YES {fresh}", from_=ANA)[0].startswith("Thank you")
    assert rt.r.hget(store.incident_dispatch_key(first), ana) == "accepted"


def test_snapshots_at_once_hold_one_code(rt, redis_server):
    import threading

    incident_id = new_incident(rt)
    barrier = threading.Barrier(8)
    frozen: list[str] = []

    def snapshot():
        client = store.connect(redis_server)
        barrier.wait()
        frozen.append(plan.snapshot_plan(client, rt.settings, incident_id, time.time())["code"])
        client.close()

    threads = [threading.Thread(target=snapshot) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [c for c, i in rt.r.hgetall(store.dispatch_codes_key()).items() if i == incident_id]
    assert len(set(frozen)) == 1 and held == [frozen[0]], "a losing snapshot gives its code back"


def _hold_codes(r, count: int) -> list[str]:
    """`count` open incidents (bare hashes: the allocator reads only their status), each given a code."""
    codes = []
    for n in range(count):
        incident_id = f"9{n:05d}"
        r.hset(store.incident_key(incident_id), "status", "reported")
        codes.append(plan.allocate_code(r, incident_id))
    return codes


def _hgets(r) -> int:
    return int(r.info("commandstats").get("cmdstat_hget", {}).get("calls", 0))


def test_a_flood_of_open_incidents_never_runs_out_of_codes_and_each_take_costs_the_same(rt):
    """The drill: the thousandth open incident found no code (only 10..999) and its report failed; and every
    take read every held code (one HGET per open incident, on the webhook's path)."""
    codes = _hold_codes(rt.r, 1200)
    assert len(set(codes)) == 1200, "unique among open incidents"
    assert sum(len(c) == 4 for c in codes) >= 200, "past 990 open, four digits"
    before = _hgets(rt.r)
    rt.r.hset(store.incident_key("1"), "status", "reported")
    assert len(plan.allocate_code(rt.r, "1")) == 4
    assert _hgets(rt.r) - before <= 2 * plan.CODE_PROBES * len(plan.CODE_RANGES), "bounded, not one per open incident"


def test_a_closed_incidents_code_is_taken_over_when_the_short_range_comes_round(rt):
    codes = _hold_codes(rt.r, 90)
    assert all(len(c) == 2 for c in codes)
    rt.r.hset(store.incident_key("900005"), "status", "closed")  # its code is free now, not given back at once
    freed = codes[5]
    taken = [plan.allocate_code(rt.r, f"8{n:04d}") for n in range(3)]
    for n in range(3):
        rt.r.hset(store.incident_key(f"8{n:04d}"), "status", "reported")
    assert freed in taken, "the next take in the two-digit range takes over the closed incident's code"
    assert rt.r.hget(store.dispatch_codes_key(), freed) in {f"8{n:04d}" for n in range(3)}


def test_an_observer_accepts_with_a_four_digit_code(rt, phone, worker, twilio_outbox):
    _hold_codes(rt.r, 990)  # every two- and three-digit code held by an open incident
    add_observer(rt.r, rt.settings, "Ana", ANA, km_north=0, radius_km=50)
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    code = _code_of(_texts_to(twilio_outbox, ANA)[0])
    assert len(code) == 4
    assert phone.text(f"YES {code}", from_=ANA)[0].startswith("Thank you")
    assert "accepted" in rt.r.hvals(store.incident_dispatch_key(incident_id))
