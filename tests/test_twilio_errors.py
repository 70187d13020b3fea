"""Twilio's error classes through the real twilio client against the fake: what each does to the roster.

recipient → that observer unreachable; transient → slot moves on, roster untouched;
content → slot moves on, coordinators warned once; sender/account → sending pauses,
the queue is kept, nobody is touched, and it resumes by itself.
"""

from __future__ import annotations

import time

import pytest
from conftest import HEALTH_TOKEN, TOKEN
from test_dispatch import add_observer, name_states, new_incident

from bot import dispatch, incidents, observers, outbox, sending, store
from bot.channels.twilio import StatusUpdate
from bot.channels.twilio_errors import CONTENT, RECIPIENT, RETRY, SENDER, TRANSIENT, classify, table
from bot.dispatch import escalation
from bot.errors import PermanentSend, RetryableSend, SendingPaused

COORDINATOR = "+13105550199"
OPERATOR = {"X-Health-Token": HEALTH_TOKEN}


@pytest.fixture
def settings(settings):
    return settings.replace(wave_size=2, wave_timeout_s=60, observers_needed=2)


@pytest.fixture
def roster(rt):
    r, s = rt.r, rt.settings
    people = [("A", 1), ("B", 2), ("C", 3), ("D", 4)]
    return {name: add_observer(r, s, name, f"+1213555010{i}", km) for i, (name, km) in enumerate(people, start=1)}


def unreachable(rt, roster) -> dict:
    found = {name: observers.get(rt.r, oid).get("unreachable") for name, oid in roster.items()}
    return {name: reason for name, reason in found.items() if reason}


def to_observers(outbox_) -> list[str]:
    return [m["to"][-4:] for m in outbox_.messages() if m["to"] != COORDINATOR]


def test_every_code_in_the_table_has_a_kind_and_a_twilio_source():
    rows = table()
    assert len(rows) > 40 and {row.kind for row in rows} == {RECIPIENT, TRANSIENT, CONTENT, SENDER, RETRY}
    assert all(row.source == f"https://www.twilio.com/docs/api/errors/{row.code}" for row in rows)
    assert classify(None, 401).kind == SENDER and classify(99999, 400).kind == CONTENT, (
        "unknown 4xx never blames a person"
    )
    assert classify(99999).kind == TRANSIENT and classify(20003).kind == SENDER


def test_a_rotated_auth_token_during_a_dispatch_touches_nobody_and_the_dispatch_completes_once_fixed(
    rt, roster, worker, release_scheduled, twilio_outbox, client
):
    twilio_outbox.set_auth_token("rotated-at-twilio")  # Twilio now answers 401/20003 to our token
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert twilio_outbox.messages() == [], "nothing went out"
    assert unreachable(rt, roster) == {}, "an error about our account never touches the roster"
    assert all(observers.is_on_duty(observers.get(rt.r, oid), time.time()) for oid in roster.values())
    assert sending.paused(rt.r)["code"] == "20003"
    health = client.get("/healthz", headers={"X-Health-Token": HEALTH_TOKEN})  # details are for operators
    assert health.status_code == 503 and any("sending paused" in p for p in health.get_json()["dispatch"]["problems"])
    assert dispatch.redrive_due(rt, time.time() + 3600) == [], "no busy loop of re-drives while paused"

    release_scheduled(sending.PROBE_FIRST_S + 1)  # the probe: still broken, so it waits longer
    worker()
    assert sending.paused(rt.r) and twilio_outbox.messages() == []

    twilio_outbox.set_auth_token(TOKEN)  # the operator deployed the new token (or rotated back)
    release_scheduled(sending.PROBE_MAX_S + 1)
    worker()
    assert not sending.paused(rt.r), "resumed by itself"
    assert to_observers(twilio_outbox) == ["0101", "0102"], "the kept queue went out, nearest first, once each"
    assert name_states(rt, incident_id, roster) == {"A": "texted", "B": "texted"}
    assert unreachable(rt, roster) == {}
    assert client.get("/healthz", headers={"X-Health-Token": HEALTH_TOKEN}).get_json()["dispatch"]["problems"] == []


@pytest.mark.parametrize(
    "code,status,error,kind",
    [
        (21211, 400, PermanentSend, RECIPIENT),
        (21614, 400, PermanentSend, RECIPIENT),
        (21617, 400, PermanentSend, CONTENT),
        (20429, 429, SendingPaused, RETRY),  # a rate limit pauses everyone's texts (a throttle), not one
        (20500, 500, RetryableSend, RETRY),
        (21606, 400, SendingPaused, SENDER),
        (21212, 400, SendingPaused, SENDER),
        (21408, 400, SendingPaused, SENDER),
        (20404, 404, SendingPaused, SENDER),
        (21603, 400, SendingPaused, SENDER),
    ],
)
def test_each_class_through_the_real_client(rt, twilio_outbox, code, status, error, kind):
    twilio_outbox.fail_next({"status": status, "code": code, "message": "scripted"})
    with pytest.raises(error) as raised:
        outbox.send(rt, "+12135550101", "hello", purpose="dispatch")
    assert raised.value.code == code
    assert raised.value.kind == (sending.THROTTLE if code == 20429 else kind)
    paused = sending.paused(rt.r)
    expected = sending.SENDER if kind == SENDER else sending.THROTTLE if code == 20429 else None
    assert (sending.kind_of(paused) if paused else None) == expected


def test_the_newer_rfc9457_exception_is_classified_like_the_classic_one(rt, twilio_outbox):
    twilio_outbox.fail_next({"status": 401, "code": 20003, "message": "Authenticate", "problem": True})
    with pytest.raises(SendingPaused) as raised:
        outbox.send(rt, "+12135550101", "hello", purpose="dispatch")
    assert raised.value.code == 20003
    twilio_outbox.clear()
    sending.resume(rt.r)
    twilio_outbox.fail_next({"status": 400, "code": 21211, "message": "Invalid 'To'", "problem": True})
    with pytest.raises(PermanentSend) as raised:
        outbox.send(rt, "+12135550101", "hello", purpose="dispatch")
    assert raised.value.kind == RECIPIENT


def test_while_paused_nothing_calls_twilio_and_the_fake_answers_in_twilio_error_shape(rt, twilio_outbox):
    twilio_outbox.set_auth_token("other")
    with pytest.raises(SendingPaused):
        outbox.send(rt, "+12135550101", "hello", purpose="alert")
    twilio_outbox.set_auth_token(None)
    with pytest.raises(SendingPaused):
        outbox.send(rt, "+12135550101", "hello", purpose="alert")
    assert twilio_outbox.messages() == [], "the pause answered without asking Twilio"


def test_a_recipient_error_marks_only_that_observer(rt, roster, worker, twilio_outbox):
    twilio_outbox.fail_next({"status": 400, "code": 21211, "message": "Invalid 'To' Phone Number"})
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert unreachable(rt, roster) == {"A": "21211"}
    assert name_states(rt, incident_id, roster) == {"A": "unreachable", "B": "texted", "C": "texted"}


def test_a_content_refusal_moves_the_slot_warns_coordinators_once_and_marks_nobody(rt, roster, worker, twilio_outbox):
    twilio_outbox.fail_next({"status": 400, "code": 21617, "message": "too long"})
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert unreachable(rt, roster) == {}
    assert name_states(rt, incident_id, roster) == {"A": "undelivered", "B": "texted", "C": "texted"}
    warnings = [m for m in twilio_outbox.messages() if m["to"] == COORDINATOR]
    assert len(warnings) == 1 and "21617" in warnings[0]["body"]
    incident = incidents.get(rt.r, incident_id)
    assert escalation.content_refused(rt, incident, 21617, "dispatch") is False, "once per incident"


@pytest.mark.parametrize(
    "status,code", [("undelivered", 30003), ("failed", 30036), ("canceled", None), ("undelivered", 30008)]
)
def test_a_transient_or_expired_failure_moves_the_slot_now_and_keeps_the_observer(
    rt, roster, worker, twilio_outbox, status, code
):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    sid_a = twilio_outbox.messages()[0]["sid"]
    assert dispatch.record_status(rt, StatusUpdate(sid_a, status, code), time.time()) == "undelivered"
    worker()
    assert name_states(rt, incident_id, roster) == {"A": "undelivered", "B": "texted", "C": "texted"}
    assert unreachable(rt, roster) == {} and observers.is_on_duty(observers.get(rt.r, roster["A"]), time.time())


def test_filtered_callbacks_for_every_observer_warn_coordinators_once(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    for message in list(twilio_outbox.messages()):
        dispatch.record_status(rt, StatusUpdate(message["sid"], "undelivered", 30007), time.time())
        worker()
    assert unreachable(rt, roster) == {}
    warnings = [m["body"] for m in twilio_outbox.messages() if m["to"] == COORDINATOR]
    assert len(warnings) == 1 and "30007" in warnings[0]


def test_a_sender_error_in_a_callback_pauses_and_the_observer_is_texted_again_after(
    rt, roster, worker, release_scheduled, twilio_outbox
):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    sid_a = twilio_outbox.messages()[0]["sid"]
    assert dispatch.record_status(rt, StatusUpdate(sid_a, "undelivered", 30034), time.time()) == "paused"
    assert sending.paused(rt.r)["code"] == "30034" and unreachable(rt, roster) == {}
    assert roster["A"] not in rt.r.hgetall(store.incident_dispatch_key(incident_id)), "not counted as reached"
    worker()
    release_scheduled(sending.PROBE_FIRST_S + 1)  # the account answers: resume and re-drive
    worker()
    assert not sending.paused(rt.r)
    assert to_observers(twilio_outbox) == ["0101", "0102", "0101"]


def test_an_observer_who_opted_out_and_texts_start_is_eligible_again_with_a_reply_in_their_language(
    rt, worker, twilio_outbox, phone
):
    rt.settings = rt.settings.replace(wave_size=1, observers_needed=1)
    ana = add_observer(rt.r, rt.settings, "Ana", "+12135550131", 1, languages="es")
    twilio_outbox.fail_next({"status": 400, "code": 21610, "message": "Attempt to send to unsubscribed recipient"})
    first = new_incident(rt)
    dispatch.enqueue_start(rt, first)
    worker()
    assert not observers.get(rt.r, ana).get("unreachable"), "an opt-out is Twilio's record, not a dead number"
    assert rt.r.sismember(store.optout_key(), ana)
    assert phone.text("START", from_="+12135550131") == ["Está de vuelta. Escriba lo que ve para reportarlo."]
    assert not rt.r.sismember(store.optout_key(), ana)
    second = new_incident(rt, reporter="+13235550999", where=(33.99, -118.22))
    dispatch.enqueue_start(rt, second)
    worker()
    assert [m["to"] for m in twilio_outbox.messages()][-1] == "+12135550131"


def test_a_status_callback_for_a_sid_we_never_sent_expires(rt):
    dispatch.record_status(rt, StatusUpdate("SMnever", "delivered", None), time.time())
    assert 0 < rt.r.ttl(store.outbound_key("SMnever")) <= 3600


def test_dispatch_texts_carry_a_validity_period_tied_to_the_wave_and_a_service_answers_accepted(
    rt, roster, worker, twilio_outbox
):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert {m["validity_period"] for m in twilio_outbox.messages()} == {60}
    rt.settings = rt.settings.replace(twilio_messaging_service_sid="MG" + "0" * 32)
    outbox.send(rt, "+12135550101", "hola", purpose="alert", validity_s=3600)
    last = twilio_outbox.messages()[-1]
    assert last["status"] == "accepted" and last["validity_period"] == 3600


@pytest.mark.parametrize(
    "status",
    ["accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "partially_delivered", "canceled"],
)
def test_every_twilio_message_status_is_accepted_by_the_callback_route(phone, status):
    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": status, "AccountSid": "AC" + "1" * 32}
    assert phone.post(params, path="/twilio/status").status_code == 200


def test_a_transient_failure_moves_the_slot_now_and_asks_that_observer_again_in_the_next_wave_once(
    rt, roster, worker, release_scheduled, twilio_outbox
):
    rt.settings = rt.settings.replace(twilio_retention="keep")  # count every text the fake got
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    sid_a = twilio_outbox.messages()[0]["sid"]
    dispatch.record_status(rt, StatusUpdate(sid_a, "undelivered", 30003), time.time())  # A's handset was off
    worker()
    assert to_observers(twilio_outbox) == ["0101", "0102", "0103"], "C took A's slot at once"
    release_scheduled(61)  # wave 1's time runs out with nobody accepting
    worker()
    assert to_observers(twilio_outbox)[3:] == ["0101", "0104"], "wave 2 asks A again (nearest), then D"
    assert name_states(rt, incident_id, roster)["A"] == "texted"
    second = [m for m in twilio_outbox.messages() if m["to"].endswith("0101")][-1]["sid"]
    dispatch.record_status(rt, StatusUpdate(second, "undelivered", 30003), time.time())
    worker()
    release_scheduled(121)
    worker()
    assert to_observers(twilio_outbox).count("0101") == 2, "retried once, not forever"
    assert unreachable(rt, roster) == {} and observers.is_on_duty(observers.get(rt.r, roster["A"]), time.time())
