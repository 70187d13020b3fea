"""A Redis outage must not drop a report: the message is spooled sealed and replayed later."""

from __future__ import annotations

from conftest import Phone, replies_of

from bot import create_app, router, spool, store


def _dead_redis_url() -> str:
    return f"redis://127.0.0.1:{store.free_port()}/0"  # nothing listens there


def test_message_during_outage_is_spooled_sealed_and_replayed(settings, r, twilio_outbox):
    down = create_app(settings.replace(redis_url=_dead_redis_url()))
    phone = Phone(down.test_client(), settings)
    response = phone.send("hay migra en 90255", from_="+13235550177")
    assert response.status_code == 200
    assert replies_of(response.get_data(as_text=True)) == [router.OUTAGE_REPLY]
    assert spool.pending(settings) == 1
    raw = spool.path(settings).read_bytes()
    assert b"3235550177" not in raw and b"migra" not in raw, "the spool is sealed"

    up = create_app(settings)
    assert router.replay_spool(up.extensions["hotline"]) == 1
    assert spool.pending(settings) == 0
    sent = twilio_outbox.messages()
    assert sent and sent[0]["to"] == "+13235550177", "the caller gets the real reply by text"
    assert r.keys(store.message_key("*")), "the replayed message was processed"


def test_health_reports_redis_down_as_503(settings, r):
    down = create_app(settings.replace(redis_url=_dead_redis_url()))
    response = down.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"] is False


def test_health_ok_when_redis_answers(client):
    response = client.get("/healthz")
    body = response.get_json()
    assert body["redis"] is True and set(body["queues"]) == {"dispatch", "default", "broadcast"}
