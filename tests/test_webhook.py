"""The Twilio webhook as one table of labeled cases (courier's handlers_test.go idea)."""

from __future__ import annotations

import pytest
from conftest import PUBLIC_URL, replies_of

from bot import store

PIN = {"Latitude": "33.9817", "Longitude": "-118.2251"}


def _valid(phone):
    return phone.form("hola", "+13235550123")


CASES = [
    # label, build params, how to send, expected status
    ("valid", _valid, {}, 200),
    ("invalid signature", _valid, {"signature": "bm90IGEgc2lnbmF0dXJl"}, 403),
    ("missing signature", _valid, {"sign": False}, 403),
    ("no params", lambda p: {}, {}, 400),
    ("missing From", lambda p: {k: v for k, v in _valid(p).items() if k != "From"}, {}, 400),
    ("missing MessageSid", lambda p: {k: v for k, v in _valid(p).items() if k != "MessageSid"}, {}, 400),
    ("latitude garbage", lambda p: {**_valid(p), "Latitude": "north", "Longitude": "-118"}, {}, 400),
    ("latitude without longitude", lambda p: {**_valid(p), "Latitude": "33.9"}, {}, 400),
    ("NumMedia garbage", lambda p: {**_valid(p), "NumMedia": "many"}, {}, 400),
    ("whatsapp pin", lambda p: {**p.form("", "whatsapp:+13235550123"), **PIN}, {}, 200),
    ("empty body", lambda p: p.form("", "+13235550123"), {}, 200),
    ("enormous body", lambda p: p.form("x" * 5000, "+13235550123"), {}, 200),
    ("garbled bytes", lambda p: p.form("\ufffd\x00\x07%%%", "+13235550123"), {}, 200),
]


@pytest.mark.parametrize("label,build,how,status", CASES, ids=[c[0] for c in CASES])
def test_inbound_webhook_cases(phone, label, build, how, status):
    response = phone.post(build(phone), **how)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 200:
        assert response.mimetype == "application/xml"
        replies = replies_of(response.get_data(as_text=True))
        assert replies and all(replies), "a texter always gets a reply"


def test_signature_for_another_url_is_refused(phone):
    params = _valid(phone)
    signature = phone.validator.compute_signature("https://evil.example/twilio/messages", params)
    assert phone.post(params, signature=signature).status_code == 403


def test_signature_covers_query_string(phone):
    params = _valid(phone)
    path = "/twilio/messages?channel=sms"
    signature = phone.validator.compute_signature(PUBLIC_URL + path, params)
    response = phone.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


def test_get_is_not_allowed(client):
    assert client.get("/twilio/messages").status_code == 405


def test_json_body_is_a_bad_request_not_a_crash(phone):
    signature = phone.validator.compute_signature(PUBLIC_URL + "/twilio/messages", {})
    response = phone.client.post(
        "/twilio/messages", json={"From": "+1", "Body": "x"}, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 400


def test_duplicate_message_sid_is_answered_again_but_processed_once(phone, r):
    params = phone.form("hola, hay migra", "+13235550123")
    first = phone.post(params)
    session_before = {k: v for k, v in r.hgetall(_session_key(phone)).items() if k != "updated_at"}
    second = phone.post(params)
    session_after = {k: v for k, v in r.hgetall(_session_key(phone)).items() if k != "updated_at"}
    assert first.status_code == second.status_code == 200
    assert replies_of(first.get_data(as_text=True)) == replies_of(second.get_data(as_text=True))
    assert session_before == session_after, "the redelivery must not advance the conversation"


def _session_key(phone):
    from bot.privacy import contact_id

    return store.session_key(contact_id(phone.settings.secret, "+13235550123"))


STATUS_CASES = [
    ("status valid", {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}, True, 200),
    ("status unsigned", {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}, False, 403),
    ("status unknown", {"MessageSid": "SM" + "a" * 32, "MessageStatus": "exploded"}, True, 400),
    ("status no sid", {"MessageStatus": "failed"}, True, 400),
    ("status bad code", {"MessageSid": "SM" + "a" * 32, "MessageStatus": "failed", "ErrorCode": "x"}, True, 400),
]


@pytest.mark.parametrize("label,params,sign,status", STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_status_callback_cases(phone, label, params, sign, status):
    response = phone.post(params, path="/twilio/status", sign=sign)
    assert response.status_code == status
