"""Dispatch through the signed webhooks: a whole report reaches an observer, whose texts and
Twilio's status callbacks come back in through `/twilio/messages` and `/twilio/status`."""

from __future__ import annotations

import time

from bot import dispatch, incidents, observers, privacy, store

OBSERVER = "+12135550101"
REPORTER = "+13235550123"


def enroll_observer(rt, e164: str = OBSERVER, km_north: float = 2.0, radius_km: float = 10) -> str:
    row = {
        "name": "Ana",
        "phone": e164,
        "languages": "en;es",
        "radius_km": str(radius_km),
        "location": f"{33.9795 + km_north / 111.0:.6f},-118.2200",
        "on_call": "yes",
    }
    return observers.upsert(rt.r, rt.settings, observers.parse_row(row, rt.settings), now=0)


def report(phone, where: str = "33.9795,-118.2200") -> list[str]:
    replies = []
    for body in ("hi", where, "1"):  # where, then what: the report is sent
        replies = phone.text(body, from_=REPORTER)
    return replies


def test_a_report_by_text_reaches_the_observer_in_range_and_their_yes_is_recorded(rt, phone, worker, twilio_outbox):
    enroll_observer(rt)
    far = enroll_observer(rt, "+12135550102", km_north=40)
    assert "observers are being alerted" in report(phone)[0]
    worker()
    sent = twilio_outbox.messages()
    assert [m["to"] for m in sent] == [OBSERVER], "2 km away is texted, 40 km away is not"
    answer = phone.text("SI", from_=OBSERVER)
    assert "you're going" in answer[0] and "maps.google.com" in answer[0]
    incident = incidents.list_open(rt.r)[0]
    assert (incident["texted"], incident["accepted"]) == (1, 1)
    assert not rt.r.hexists(store.incident_dispatch_key(incident["id"]), far)


def test_status_callback_route_frees_the_slot_of_an_undelivered_text(rt, phone, worker, twilio_outbox):
    enroll_observer(rt)
    enroll_observer(rt, "+12135550102", km_north=3)
    enroll_observer(rt, "+12135550103", km_north=4)
    enroll_observer(rt, "+12135550104", km_north=5)
    report(phone)
    worker()
    first = twilio_outbox.messages()[0]
    form = {
        "MessageSid": first["sid"],
        "MessageStatus": "undelivered",
        "ErrorCode": "30008",
        "AccountSid": rt.settings.twilio_account_sid,
        "To": first["to"],
    }
    response = phone.post(form, path="/twilio/status")
    assert response.status_code == 200
    worker()
    assert [m["to"] for m in twilio_outbox.messages()][-1] == "+12135550104"


def test_status_callback_without_a_signature_is_refused(rt, phone):
    response = phone.post({"MessageSid": "SMx", "MessageStatus": "delivered"}, path="/twilio/status", sign=False)
    assert response.status_code == 403


def test_join_code_by_text_enrolls_a_volunteer_who_then_goes_on_duty(rt, phone):
    code = observers.issue_join_code(rt.r, {"languages": "en", "location": "90255", "radius_km": "8"}, now=1.0)
    assert phone.text("JOIN NOPE99", from_="+13235550177") == [
        "That join code is not valid. Ask your coordinator for a new one."
    ]
    assert "Welcome to the rapid-response roster" in phone.text(f"join {code}", from_="+13235550177")[0]
    oid = privacy.contact_id(rt.settings.secret, "+13235550177")
    assert not observers.is_on_duty(observers.get(rt.r, oid), time.time()), "enrolled off duty"
    assert phone.text("ON", from_="+13235550177")[0].startswith("You are ON duty")
    assert observers.is_on_duty(observers.get(rt.r, oid), time.time())


def test_observer_stop_is_honoured_for_dispatch_texts(rt, phone, worker, twilio_outbox):
    oid = enroll_observer(rt)
    phone.text("STOP", from_=OBSERVER)
    report(phone)
    worker()
    assert [m for m in twilio_outbox.messages() if m["to"] == OBSERVER] == []
    incident = incidents.list_open(rt.r)[0]
    assert rt.r.hget(store.incident_dispatch_key(incident["id"]), oid) == dispatch.UNREACHABLE
