"""A Redis outage must not drop a report: messages are spooled sealed and replayed, in order, by themselves.

The Redis here is each test's own (`blip_redis`: a real redis-server on its own
port and data dir) so it can be stopped and started; replay is done by the
app's own replay thread, never by the test.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import HEALTH_TOKEN, Phone, replies_of

from bot import create_app, privacy, router, spool, store
from bot.channels import Inbound

ROSA = "+13235550177"
OPERATOR = {"X-Health-Token": HEALTH_TOKEN}


def _app(settings, url: str):
    app = create_app(settings.replace(redis_url=url))
    app.config["TESTING"] = True
    return app


def _texts_to(twilio_outbox, number: str) -> list[str]:
    return [m["body"] for m in twilio_outbox.messages() if m["to"] == number]


def _control(phone: Phone, bodies: list[str], sender: str) -> list[str]:
    replies: list[str] = []
    for body in bodies:
        replies += phone.text(body, from_=sender)
    return replies


def test_message_during_outage_is_spooled_sealed_and_replayed_once_redis_answers(
    settings, blip_redis, twilio_outbox, wait_until
):
    app = _app(settings, blip_redis.url)
    phone = Phone(app.test_client(), settings)
    blip_redis.stop()
    response = phone.send("hay migra en 90255", from_=ROSA)
    assert response.status_code == 200
    assert replies_of(response.get_data(as_text=True)) == [router.OUTAGE_REPLY]
    assert spool.pending(settings) == 1
    raw = b"".join(p.read_bytes() for p in spool.files(settings))
    assert b"3235550177" not in raw and b"migra" not in raw, "the spool is sealed"

    blip_redis.start()  # nobody texts again: the replay thread notices Redis by itself
    assert wait_until(lambda: _texts_to(twilio_outbox, ROSA)), "the caller gets the next question by text"
    assert wait_until(lambda: spool.pending(settings) == 0)
    assert store.connect(blip_redis.url).keys(store.message_key("*")), "the replayed message was processed"


def test_spooled_texts_replay_in_order_and_before_a_later_live_text(
    settings, blip_redis, twilio_outbox, wait_until, phone
):
    expected = _control(phone, ["hola", "1", "redada"], "+13235550100")
    app = _app(settings, blip_redis.url)
    down = Phone(app.test_client(), settings)
    blip_redis.stop()
    assert down.text("hola", from_=ROSA) == [router.OUTAGE_REPLY]
    assert down.text("1", from_=ROSA) == [router.OUTAGE_REPLY]
    with router._replaying:  # keep this process's replay thread out until another replayer holds them
        blip_redis.start()
        held = spool.claim(settings)  # another machine is replaying these right now
    assert held and len(held.items) == 2
    later = down.text("redada", from_=ROSA)
    assert later == [router.OUTAGE_REPLY], "a live text waits behind the same contact's spooled ones"
    held.finish(settings)  # that replayer gave up before processing anything: all goes back, in order

    assert wait_until(lambda: len(_texts_to(twilio_outbox, ROSA)) >= len(expected))
    assert _texts_to(twilio_outbox, ROSA) == expected, "the conversation saw hola, 1, redada in that order"


def test_a_claim_left_pending_by_the_failed_delivery_does_not_make_replay_skip(
    settings, r, twilio_outbox, rt, wait_until
):
    sid = "SM" + "5" * 32
    # The live delivery claimed the MessageSid, then lost Redis before finishing and spooled it.
    r.set(store.message_key(sid), router.PENDING)
    spool.append(settings, Inbound("sms", ROSA, "hola", sid), 1.0, privacy.contact_id(settings.secret, ROSA))
    assert wait_until(lambda: _texts_to(twilio_outbox, ROSA)), "the message was processed, not skipped"
    assert r.get(store.message_key(sid)) != router.PENDING


def test_a_torn_line_is_kept_aside_and_the_rest_of_the_file_replayed(settings, blip_redis, twilio_outbox, wait_until):
    app = _app(settings, blip_redis.url)
    down = Phone(app.test_client(), settings)
    blip_redis.stop()
    down.text("hola", from_=ROSA)
    with open(spool.files(settings)[0], "ab") as fh:
        fh.write(b"1700000000.000000 abc gAAAAABtorn-in-the-middle-of-a-write\n")
    down.text("hola", from_="+13235550178")
    blip_redis.start()
    assert wait_until(lambda: _texts_to(twilio_outbox, "+13235550178") and _texts_to(twilio_outbox, ROSA))
    assert wait_until(lambda: spool.pending(settings) == 0)
    state = spool.status(settings, 0)
    assert state["corrupt"] == 1, "the unreadable line is kept for an operator"
    health = app.test_client().get("/healthz", headers=OPERATOR).get_json()
    assert health["spool"]["corrupt"] == 1


def test_redis_out_of_memory_spools_like_an_outage(settings, blip_redis, twilio_outbox, wait_until):
    app = _app(settings, blip_redis.url)
    admin = store.connect(blip_redis.url)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")  # every write is now refused with OOM
    response = Phone(app.test_client(), settings).send("hay migra en 90255", from_=ROSA)
    assert response.status_code == 200, "not a 500"
    assert replies_of(response.get_data(as_text=True)) == [router.OUTAGE_REPLY]
    admin.config_set("maxmemory", "0")
    assert wait_until(lambda: _texts_to(twilio_outbox, ROSA)), "replayed once Redis takes writes again"
    admin.close()


def test_a_spool_older_than_a_minute_is_unhealthy(settings, r, client, wait_until):
    inbound = Inbound("sms", ROSA, "hola", "SM" + "7" * 32)
    with router._replaying:  # this process's replay thread must not drain it first
        spool.append(settings, inbound, time.time() - 2 * spool.STALE_AFTER_S, "cid")
        held = spool.claim(settings)  # a replayer that is stuck holds it
    try:
        response = client.get("/healthz", headers=OPERATOR)
        assert response.status_code == 503
        assert "spool not draining" in response.get_json()["problems"]
    finally:
        held.finish(settings)
    # The message goes back and is replayed; wait for it here, or this app's replay thread texts it
    # into the next test's fake Twilio.
    assert wait_until(lambda: spool.pending(settings) == 0)


SESSION_SAVE = b"Store a conversation session only if"
"""Bytes of bot/lua/session_save.lua: the EVAL that stores a turn."""


@pytest.mark.parametrize("lost", [router.PENDING.encode(), SESSION_SAVE], ids=["claim", "session-save"])
def test_a_write_redis_made_before_it_died_unanswered_is_replayed_neither_lost_nor_twice(
    settings, lossy, phone, twilio_outbox, wait_until, lost
):
    """Before the fix, a session saved whose answer was lost left the message's claim pending: the replay ran
    the text again on the step it had already moved to, and the conversation (and the report) went out of step."""
    expected = _control(phone, ["hola", "1", "redada"], "+13235550100")
    app = _app(settings, lossy.url)
    lossy_phone = Phone(app.test_client(), settings)
    got = lossy_phone.text("hola", from_=ROSA)
    lossy.lose_answer_to(lost)
    with router._replaying:  # no replay over a connection the relay left open until Redis is "back"
        assert lossy_phone.text("1", from_=ROSA) == [router.OUTAGE_REPLY]
        assert lossy.lost == 1, "Redis ran the command whose answer was lost"
        assert lossy_phone.text("redada", from_=ROSA) == [router.OUTAGE_REPLY]
        lossy.up()
    assert wait_until(lambda: len(got + _texts_to(twilio_outbox, ROSA)) >= len(expected))
    assert wait_until(lambda: spool.pending(settings) == 0)
    assert got + _texts_to(twilio_outbox, ROSA) == expected, "each text answered once, in order, by SMS"


def test_a_spooled_message_whose_replies_redis_had_stored_is_texted_them(settings, r, rt, twilio_outbox, wait_until):
    sid = "SM" + "6" * 32
    # Redis stored the replies with the session, then the connection failed: the texter heard only OUTAGE_REPLY.
    r.set(store.message_key(sid), json.dumps(["Where is it happening?"]))
    spool.append(settings, Inbound("sms", ROSA, "hola", sid), 1.0, privacy.contact_id(settings.secret, ROSA))
    assert wait_until(lambda: _texts_to(twilio_outbox, ROSA) == ["Where is it happening?"]), "owed, and sent once"
    assert wait_until(lambda: spool.pending(settings) == 0)
    assert r.get(store.message_key(sid)) == json.dumps(["Where is it happening?"]), "not processed a second time"


def test_a_message_spooled_during_an_outage_is_still_deleted_at_twilio_after_its_replay(
    settings, blip_redis, twilio_outbox, wait_until
):
    app = _app(settings, blip_redis.url)
    phone = Phone(app.test_client(), settings)
    blip_redis.stop()
    form = phone.form("hay migra en 90255", ROSA)
    assert phone.post(form).status_code == 200
    blip_redis.start()
    r = store.connect(blip_redis.url)
    assert wait_until(lambda: spool.pending(settings) == 0)
    assert r.zscore(store.twilio_deletions_key(), form["MessageSid"]) is not None, (
        "the replay's claim queued the deletion the outage kept the webhook from queueing"
    )
