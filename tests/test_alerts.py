"""Community alerts: sign-up, verified-only broadcast to the incident's area, coarse place, STOP, pacing."""

from __future__ import annotations

import time

import pytest

from bot import alerts, dispatch, incidents, observers, outbox, privacy, store
from bot.conversation import ActionCall

SCENE = (33.9795, -118.2200)  # Huntington Park, ZIP 90255


def call(e164: str, zip_code: str, language: str = "en") -> ActionCall:
    cid = privacy.contact_id("test-secret", e164)
    return ActionCall("alerts.subscribe", cid, e164, {"zip": zip_code}, language, "sms", time.time())


def new_incident(rt, where=SCENE) -> str:
    cid = privacy.contact_id(rt.settings.secret, "+13235550123")
    return incidents.merge_report(
        rt.r,
        incidents.Report(cid, where[0], where[1], 30, "raid", {"label": "2901 E Florence Ave"}, "en", "sms"),
        rt.settings,
        time.time(),
    ).incident_id


def verify_by_observer(rt, incident_id, worker) -> None:
    """An observer accepts and reports VERIFIED, as in the field."""
    row = {
        "name": "Obs",
        "phone": "+12135550101",
        "languages": "en",
        "radius_km": "10",
        "location": f"{SCENE[0]},{SCENE[1]}",
        "on_call": "yes",
    }
    oid = observers.upsert(rt.r, rt.settings, observers.parse_row(row, rt.settings), now=0)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    dispatch.handle_reply(rt, oid, "yes", time.time())
    dispatch.handle_reply(rt, oid, "verified ICE, no ID", time.time())


def test_subscribe_stores_a_sealed_number_under_the_zip_and_moves_on_resubscribe(rt):
    c = call("+13235550140", "90255")
    assert alerts.subscribe(rt, c) == {"ok": True, "zip": "90255"}
    assert rt.r.sismember(store.subscribers_key("90255"), c.contact_id)
    assert "3235550140" not in str(rt.r.hgetall(store.subscriber_key(c.contact_id)))
    alerts.subscribe(rt, call("+13235550140", "90201"))
    assert not rt.r.sismember(store.subscribers_key("90255"), c.contact_id)
    assert alerts.unsubscribe(rt, c) == {"ok": True}
    assert not rt.r.exists(store.subscriber_key(c.contact_id))


@pytest.mark.parametrize("bad", ["", "9025", "abcde", None])
def test_subscribe_refuses_a_zip_that_is_not_five_digits(rt, bad):
    assert alerts.subscribe(rt, call("+13235550140", bad)) == {"ok": False}


def test_only_a_verified_incident_is_broadcast_to_its_area_in_coarse_form(rt, worker, twilio_outbox):
    near = call("+13235550141", "90255")
    far = call("+13235550142", "90731")  # San Pedro, 30 km away
    for c in (near, far):
        alerts.subscribe(rt, c)
    incident_id = new_incident(rt)
    rt.queue("broadcast").enqueue(alerts.broadcast, incident_id)
    worker()
    assert not [m for m in twilio_outbox.messages() if m["to"] in (near.e164, far.e164)], (
        "an unverified report is never announced"
    )
    rt.r.delete(store.broadcast_key(incident_id))
    verify_by_observer(rt, incident_id, worker)
    worker()
    to_subscribers = [m for m in twilio_outbox.messages() if m["to"] in (near.e164, far.e164)]
    assert [m["to"] for m in to_subscribers] == [near.e164]
    body = to_subscribers[0]["body"]
    assert "Huntington Park 90255" in body
    assert "Florence" not in body and "33.97" not in body, "the public gets the area, never the street"
    assert "alert_broadcast" in [e["event"] for e in incidents.timeline(rt.r, incident_id)]


def test_broadcast_goes_out_once_even_if_verified_twice(rt, worker, twilio_outbox):
    alerts.subscribe(rt, call("+13235550141", "90255"))
    incident_id = new_incident(rt)
    incidents.set_status(rt.r, incident_id, "verified", time.time(), "test")
    for _ in range(2):
        rt.queue("broadcast").enqueue(alerts.broadcast, incident_id)
        worker()
    assert len([m for m in twilio_outbox.messages() if m["to"] == "+13235550141"]) == 1


def test_stop_is_honoured_for_alerts(rt, worker, twilio_outbox):
    stopped, active = call("+13235550143", "90255"), call("+13235550144", "90255")
    for c in (stopped, active):
        alerts.subscribe(rt, c)
    rt.r.sadd(store.optout_key(), stopped.contact_id)
    incident_id = new_incident(rt)
    incidents.set_status(rt.r, incident_id, "verified", time.time(), "test")
    rt.queue("broadcast").enqueue(alerts.broadcast, incident_id)
    worker()
    assert [m["to"] for m in twilio_outbox.messages()] == [active.e164]
    record = outbox.read_record(rt.r.hget(store.broadcast_sends_key(incident_id), stopped.contact_id))
    assert record["state"] == "suppressed"


def test_large_broadcast_is_split_into_chunks_and_reaches_everyone_once(rt, worker, twilio_outbox):
    n = alerts.CHUNK + 30
    for i in range(n):
        alerts.add_subscriber(rt.r, rt.settings, f"c{i}", f"+1323556{i:04d}", "90255", "en", 0)
    rt.settings = rt.settings.replace(send_rate=100000.0)
    incident_id = new_incident(rt)
    incidents.set_status(rt.r, incident_id, "verified", time.time(), "test")
    rt.queue("broadcast").enqueue(alerts.broadcast, incident_id)
    worker()
    tos = [m["to"] for m in twilio_outbox.messages()]
    assert len(tos) == n and len(set(tos)) == n
    assert rt.r.hget(store.broadcast_key(incident_id), "sent") == str(n)


def test_send_rate_paces_bulk_sends_but_never_a_dispatch(r):
    rate, t = 10.0, 1000.0
    assert outbox.take_send_slot(r, "+13105550100", rate, t) == 0
    assert outbox.take_send_slot(r, "+13105550100", rate, t) == pytest.approx(0.1)
    assert outbox.take_send_slot(r, "+13105550100", rate, t, priority=True) == 0
    assert outbox.take_send_slot(r, "+13105550100", rate, t) == pytest.approx(0.2), (
        "a dispatch text pushes bulk sends back"
    )
    assert outbox.take_send_slot(r, "+13105550100", rate, t + 0.25) == 0
    assert outbox.take_send_slot(r, "+13105550199", rate, t) == 0, "each sending number has its own budget"
