"""Rate limits of the web chat (Flask-Limiter on the hotline's Redis), and one Limiter per app.

A web chat has no phone number behind it, so what a flood costs is counted per
chat and per client. The limits are set low here (settings) so a test stays short;
the defaults and their reasoning are in docs/webchat.md.
"""

from __future__ import annotations

import pytest
from test_webchat import WebChat

from bot import create_app, guard, store


@pytest.fixture
def limited_app(settings, r, twilio_outbox):
    def make(**limits):
        app = create_app(settings.replace(**limits))
        app.config["TESTING"] = True
        return app

    return make


def _limit_keys(r) -> list[str]:
    return [k for k in r.scan_iter(f"*{store.login_limit_prefix()}/*")]


def test_one_chat_over_its_message_limit_gets_429_in_its_language(limited_app, r):
    app = limited_app(chat_message_limit="3 per minute")
    chat = WebChat(app.test_client(), "es")
    for text in ("hola", "1", "2"):
        chat.say(text)
    response = chat.post({"id": chat.next_id(), "text": "3"})
    assert response.status_code == 429
    assert response.headers["Retry-After"]
    (words,) = response.get_json()["replies"]
    assert words.startswith("Está enviando mensajes")
    assert WebChat(app.test_client(), "es").say("hola")  # another chat is not slowed


def test_one_client_over_its_limit_across_chats_gets_429(limited_app, r):
    app = limited_app(chat_client_limit="4 per minute")
    first, second = WebChat(app.test_client()), WebChat(app.test_client())
    for chat in (first, second, first, second):
        chat.say("hello")
    assert second.post({"id": second.next_id(), "text": "1"}).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert WebChat(elsewhere).say("hello")  # another address is not slowed


def test_new_chats_per_client_are_limited_but_reloads_are_free(limited_app, r):
    app = limited_app(chat_new_limit="2 per minute")
    browser = app.test_client()
    assert browser.get("/chat").status_code == 200
    for _ in range(5):  # the same browser reloading its chat page
        assert browser.get("/chat").status_code == 200
    assert app.test_client().get("/chat").status_code == 200
    third = app.test_client().get("/chat")
    assert third.status_code == 429
    assert "faster than a person types" in third.get_data(as_text=True)


def test_a_post_without_a_current_cookie_counts_as_a_new_chat(limited_app, r):
    """The web-chat flood drill: a script dropping its cookie before each post got a fresh chat from every
    403 restart, 25 chats a minute from one address past a limit of 10 (only the page was counted)."""
    app = limited_app(chat_new_limit="2 per minute")
    assert app.test_client().get("/chat").status_code == 200  # one new chat from the page
    script = app.test_client()
    restarted = script.post("/chat/messages", json={"id": "m1", "text": "hi"}, headers={"Origin": "http://localhost"})
    assert restarted.status_code == 403 and restarted.get_json()["restart"], "the second: a fresh start"
    script.delete_cookie("hotline_chat", path="/chat")
    over = script.post("/chat/messages", json={"id": "m2", "text": "hi"}, headers={"Origin": "http://localhost"})
    assert over.status_code == 429, "the third new chat, however asked for, is over the limit"
    assert over.headers["Retry-After"] and over.get_json()["replies"]
    assert app.test_client().get("/chat").status_code == 429, "and the page counts the same chats"
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert elsewhere.get("/chat").status_code == 200, "another address has its own"


def test_counters_live_in_redis_and_name_no_address(limited_app, r):
    app = limited_app()
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    WebChat(browser).say("hello")
    keys = _limit_keys(r)
    assert keys, "Flask-Limiter should count in the hotline's Redis, not in memory"
    assert not any("10.9.8.7" in k or "127.0.0.1" in k for k in keys), keys
    assert all(0 < r.ttl(k) <= 3600 for k in keys)


def test_each_app_has_its_own_limiter_counting_in_its_own_redis(settings, r, redis_server, twilio_outbox):
    """The factory runs many times (tests, CLI): a later app must not take over an earlier app's limiter."""
    base = redis_server.rsplit("/", 1)[0]
    other_db = next(f"{base}/{db}" for db in range(14, 0, -1) if f"{base}/{db}" != redis_server)
    other = store.connect(other_db)
    other.flushdb()
    try:
        first = create_app(settings.replace(chat_message_limit="2 per minute"))
        second = create_app(settings.replace(redis_url=other_db), redis_url=other_db)
        assert guard.limiter(first) is not guard.limiter(second)
        chat = WebChat(first.test_client())
        chat.say("hello")
        chat.say("1")
        assert chat.post({"id": chat.next_id(), "text": "2"}).status_code == 429  # the first app's own limit
        assert _limit_keys(r) and not _limit_keys(other)  # counted where the first app's Redis is
    finally:
        other.flushdb()
        other.close()
