"""One rule for how long an idle conversation lives, whether a text or a timer stored it last."""

from __future__ import annotations

from bot import privacy, store
from bot.conversation import sessions
from bot.conversation.model import Flow, Pos

SIGHTING_EXPIRE_S = 2 * 3600
"""flows/sighting.yaml says `expire: 2h` and has no on_expire step."""


def _flow(expire_s, on_expire=None) -> Flow:
    return Flow("f", "f.yaml", Pos("f.yaml", 1), "a", {}, "v1", expire_s=expire_s, on_expire=on_expire)


def test_ttl_rule():
    assert sessions.ttl_s(None, 7200) == 7200
    assert sessions.ttl_s(_flow(None), 7200) == 7200
    assert sessions.ttl_s(_flow(3600), 7200) == 3600
    assert sessions.ttl_s(_flow(3600, "bye"), 7200) == 3600 + sessions.EXPIRE_GRACE_S


def test_a_reminder_stores_the_session_with_the_ttl_a_text_gives_it(phone, settings, r, release_scheduled, worker):
    sender = "+13235550188"
    key = store.session_key(privacy.contact_id(settings.secret, sender))
    assert phone.text("report", from_=sender)[0].startswith("Hotline: where is it happening?")
    assert 0 < r.ttl(key) <= SIGHTING_EXPIRE_S
    assert release_scheduled(11 * 60) >= 1  # the reminder (and the deletion at Twilio of the processed text)
    worker()
    assert r.hget(key, "reminded")  # the reminder ran and stored the session again
    assert 0 < r.ttl(key) <= SIGHTING_EXPIRE_S  # not the flow's expiry plus a grace it has no use for
