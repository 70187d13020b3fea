"""Web chat ids are the server's: issued, rotated, and never taken from a browser.

The attack these tests replay: a second browser that knows (or chose) a chat's id
sets it as its own cookie and types into someone else's report. Every check is by
behaviour — the victim's conversation must run exactly as the same texts do over
SMS — so it holds whatever the ids look like inside.
"""

from __future__ import annotations

import re

import pytest
from test_webchat import WebChat

from bot.chat import COOKIE


@pytest.fixture
def chat(client):
    return WebChat(client)


def _steal(thief, cookie: str) -> WebChat:
    """Give a second browser someone's chat cookie, then open the page with it (as an attacker would)."""
    thief.set_cookie(COOKIE, cookie, path="/chat")
    return WebChat(thief)


def test_a_chat_id_the_browser_chose_is_never_adopted(app):
    chosen = "A" * 24
    browser = app.test_client()
    browser.set_cookie(COOKIE, chosen, path="/chat")
    page = browser.get("/chat")
    assert page.status_code == 200
    assert browser.get_cookie(COOKIE, path="/chat").value != chosen  # the server issued its own


def test_a_stolen_chat_cookie_cannot_inject_answers_after_the_owner_writes_again(app, phone):
    victim = WebChat(app.test_client())
    sms_number = "+13235550160"
    assert victim.say("hello") == phone.text("hello", from_=sms_number)
    stolen = victim.client.get_cookie(COOKIE, path="/chat").value
    assert victim.say("90011") == phone.text("90011", from_=sms_number)  # the owner writes: the id rotates
    thief = _steal(app.test_client(), stolen)
    thief.post({"id": "thief-0001-abcdef", "text": "3"})  # "checkpoint", typed into the victim's report
    # Whatever the thief got, the victim's report did not take the thief's answer: "1" (a raid) is
    # still the answer to "what do you see?", which sends the report.
    (sent, _details) = victim.say("1")
    assert _without_ref(sent) == _without_ref(phone.text("1", from_=sms_number)[0])


def _without_ref(reply: str) -> str:
    """A "Report <ref> sent" reply without its ref (SMS and web made different incidents)."""
    assert reply.startswith("Report "), reply
    return re.sub(r"^Report \w+", "Report", reply)


def test_the_cookie_changes_on_every_answered_post(chat):
    seen = {chat.client.get_cookie(COOKIE, path="/chat").value}
    for text in ("hello", "1", "2"):
        chat.say(text)
        seen.add(chat.client.get_cookie(COOKIE, path="/chat").value)
    assert len(seen) == 4


def test_a_forged_cookie_is_refused_with_a_fresh_start_in_the_users_language(app, r):
    browser = WebChat(app.test_client(), "es")
    cookie = browser.client.get_cookie(COOKIE, path="/chat").value
    browser.client.set_cookie(COOKIE, cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"), path="/chat")
    response = browser.post({"id": browser.next_id(), "text": "hola"})
    assert response.status_code == 403
    body = response.get_json()
    assert body["restart"] is True and body["error"]
    (message,) = body["replies"]
    assert "nuevo" in message.lower()  # Spanish, the page's language
    fresh = browser.client.get_cookie(COOKIE, path="/chat").value
    assert fresh not in (cookie,) and re.fullmatch(r"[A-Za-z0-9_.\-]+", fresh)
    browser.token = body["csrf"]
    assert browser.say("hola")  # the fresh start works straight away, no reload


def test_a_replayed_post_after_a_lost_answer_is_answered_again(chat):
    """A phone loses the answer (and the new cookie) and resends the same message with the old cookie."""
    before = chat.client.get_cookie(COOKIE, path="/chat").value
    first = chat.say("hello", message_id="lost-0001-abcdef")
    chat.client.set_cookie(COOKIE, before, path="/chat")
    assert chat.say("hello", message_id="lost-0001-abcdef") == first
    # ...but the old cookie is good for that replay only, not for a new message:
    chat.client.set_cookie(COOKIE, before, path="/chat")
    assert chat.post({"id": chat.next_id(), "text": "1"}).status_code == 403
