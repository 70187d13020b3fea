"""The web chat through the Flask test client: page, cookie, CSRF, JSON turns, parity with SMS."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pytest
import yaml

from bot import chat_ids, create_app, incidents, privacy, store
from bot.channels import webchat
from bot.chat import COOKIE
from bot.conversation import sessions
from bot.errors import BadRequest

CHAT_ID = "A" * 24
CASES = sorted((Path(__file__).parent / "flows" / "cases").glob("*.yaml"))
WEB_ONLY_STEP_KEYS = {"send", "replies", "session", "pin"}
"""Case steps a web chat can replay; `texted`, `wait` (later texts) and media are SMS-only."""


class WebChat:
    """One browser on the chat page: its cookie jar (the test client) and its CSRF token."""

    def __init__(self, client, lang: str = "en"):
        self.client, self.lang = client, lang
        self.page = client.get("/chat", headers={"Accept-Language": lang})
        assert self.page.status_code == 200
        self.html = self.page.get_data(as_text=True)
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', self.html).group(1)
        self._n = 0

    @property
    def cookie(self) -> str:
        return self.client.get_cookie(COOKIE, path="/chat").value

    @property
    def chat_id(self) -> str:
        """The chat the signed cookie names (stable while the cookie itself rotates)."""
        return chat_ids.read("test-secret", self.cookie).chat_id

    def post(self, payload, headers: dict | None = None, raw: bytes | None = None):
        base = {"X-CSRF-Token": self.token, "Accept-Language": self.lang, "Content-Type": "application/json"}
        base.update(headers or {})
        data = raw if raw is not None else json.dumps(payload)
        return self.client.post("/chat/messages", data=data, headers=base)

    def next_id(self) -> str:
        self._n += 1
        return f"msg-{self._n:04d}-abcdef"

    def say(self, text: str, message_id: str | None = None, **extra) -> list[str]:
        """Post one message and return the replies (asserting a 200 JSON answer)."""
        response = self.post({"id": message_id or self.next_id(), "text": text, **extra})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        return response.get_json()["replies"]


@pytest.fixture
def chat(client):
    return WebChat(client)


# ---- the page --------------------------------------------------------------
def test_chat_page_sets_httponly_strict_random_cookie(client):
    response = client.get("/chat")
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=")
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/chat" in header
    assert "Secure" in header  # PUBLIC_URL is https in the test settings
    first = client.get_cookie(COOKIE, path="/chat").value
    assert chat_ids.read("test-secret", first) is not None
    other = type(client)(client.application).get("/chat").headers["Set-Cookie"]
    assert first not in other  # each browser gets its own id


def test_chat_page_keeps_an_existing_chat_id(chat):
    first = chat_ids.read("test-secret", chat.cookie)
    again = chat.client.get("/chat")
    # the same chat at the same generation (the cookie's bytes carry its signing second, so they may differ)
    assert chat_ids.read("test-secret", chat.cookie) == first
    assert chat.token in again.get_data(as_text=True)


def test_chat_page_loads_nothing_from_other_sites(chat):
    urls = re.findall(r'(?:src|href)="([^"]+)"', chat.html)
    assert urls, "the page should reference its own script and style"
    assert all(u.startswith(("/", "?", "tel:")) for u in urls), urls
    csp = chat.page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert chat.page.headers["Cache-Control"] == "no-store"
    for path in ("/static/chat.js", "/static/chat.css"):
        with chat.client.get(path) as response:
            body = response.get_data(as_text=True)
        assert "http://" not in body and "https://" not in body


def test_chat_page_labels_follow_accept_language(client):
    english = WebChat(client, "en-US,en;q=0.9").html
    spanish = WebChat(client, "es-MX,es;q=0.9,en;q=0.5").html
    assert '<html lang="en">' in english and ">Send<" in english
    assert '<html lang="es">' in spanish and ">Enviar<" in spanish


def test_chat_page_offers_the_human_number_as_tap_to_call(client, settings):
    spanish = WebChat(client, "es").html
    link = f'<a href="tel:{settings.human_number}">{settings.human_number}</a>'
    assert f"Para hablar con una persona, llame al {link}." in spanish
    assert f"To talk to a person, call {link}." in WebChat(client, "en").html


def test_chat_page_without_a_human_number_has_no_call_line(settings, r, twilio_outbox):
    app = create_app(settings.replace(human_number=""))
    html = app.test_client().get("/chat").get_data(as_text=True)
    assert "To talk to a person" not in html and "tel:" not in html


def test_chat_page_lang_query_overrides_browser_language(client):
    html = client.get("/chat?lang=es", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="es">' in html
    unknown = client.get("/chat?lang=xx", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in unknown


# ---- conversation ------------------------------------------------------------
def test_web_conversation_gets_the_same_replies_as_sms(chat, phone):
    turns = ["hola", "zzz not an answer", "90011"]
    sms = [phone.text(t, from_="+13235550142") for t in turns]
    web = [chat.say(t) for t in turns]
    assert all(sms), sms
    assert web == sms


def _web_replayable(path: Path) -> bool:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    return "from" not in case and all(set(step) <= WEB_ONLY_STEP_KEYS for step in case["steps"])


def _matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("*"))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


WEB_CASES = [p for p in CASES if _web_replayable(p)]


@pytest.mark.parametrize("path", WEB_CASES, ids=[p.stem for p in WEB_CASES])
def test_conversation_case_runs_the_same_in_the_web_chat(path, chat, r, settings):
    """The coordinators' conversation cases (tests/flows/cases), replayed through /chat/messages."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    for index, step in enumerate(case["steps"], 1):
        where = f"{path.name} step {index}"
        if "send" in step:
            extra = {"lat": step["pin"][0], "lon": step["pin"][1]} if "pin" in step else {}
            replies = chat.say(step["send"], **extra)
            expected = step.get("replies")
            if expected is not None:
                assert len(replies) == len(expected) and all(map(_matches, expected, replies)), (
                    f"{where}: expected {expected!r}, got {replies!r}"
                )
        if "session" in step:
            session = sessions.load(r, privacy.contact_id(settings.secret, "web:" + chat.chat_id))
            if step["session"] is None:
                assert session is None, f"{where}: conversation should be over"
            else:
                assert session is not None, f"{where}: no conversation"
                for name, value in step["session"].items():
                    assert session.answers.get(name) == value, f"{where}: {name}"


def test_web_report_becomes_an_incident_like_a_texted_one(chat, r, rt):
    replies = chat.say("hola, hay migra en Pacific y Florence ahora")
    assert replies and replies[0].startswith("Reporte ")  # place + activity: sent on the first message
    chat.say("cinco agentes y dos camionetas")
    (incident,) = incidents.list_open(r)
    assert incident["channel"] == "web" and incident["language"] == "es"
    assert incident["reporters"] == 1 and incident["details"]["agents"] == 5
    assert incident["ref"] in replies[0]
    assert rt.queue("dispatch").count == 1  # dispatch enqueued exactly as for SMS


def _one_texter(path: Path) -> bool:
    """A case where only the reporter writes (no step texts as an observer, as `debrief_*` and alerts do)."""
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]
    return not any("from" in step or "as" in step for step in steps)


def test_most_conversation_cases_are_replayed_on_the_web():
    reporter_cases = [p for p in CASES if _one_texter(p)]
    assert len(WEB_CASES) >= len(reporter_cases) // 2, [p.name for p in WEB_CASES]


def test_web_chat_session_is_keyed_by_hmac_of_web_address(chat, r):
    chat.say("hello")
    cid = privacy.contact_id("test-secret", "web:" + chat.chat_id)
    assert r.exists(store.session_key(cid))


def _everything_stored(url: str) -> bytes:
    """Every key and value in the test Redis as one bytes blob (RQ stores binary, so no decoding)."""
    raw = store.connect_raw(url)
    blob = []
    for key in raw.scan_iter(count=1000):
        blob.append(key)
        kind = raw.type(key)
        if kind == b"string":
            blob.append(raw.get(key) or b"")
        elif kind == b"hash":
            fields = raw.hgetall(key)
            blob.extend(b for pair in fields.items() for b in pair)
            if b"data" in fields:  # an RQ job: its arguments are a (usually zlib-compressed) pickle
                try:
                    blob.append(zlib.decompress(fields[b"data"]))
                except zlib.error:  # stored uncompressed: already in the blob as is
                    pass
        elif kind == b"list":
            blob.extend(raw.lrange(key, 0, -1))
        elif kind == b"set":
            blob.extend(raw.smembers(key))
        elif kind == b"zset":
            blob.extend(raw.zrange(key, 0, -1))
        elif kind == b"stream":
            blob.extend(b for _, fields in raw.xrange(key) for pair in fields.items() for b in pair)
    raw.close()
    return b"\n".join(blob)


def test_raw_chat_id_is_never_stored_in_redis(chat, r, redis_server):
    chat.say("migra en Pacific y Florence ahora")
    chat.say("1")
    everything = _everything_stored(redis_server)
    assert len(everything) > 100  # the conversation did store something
    assert chat.chat_id.encode() not in everything and chat.cookie.encode() not in everything


def test_duplicate_message_id_is_answered_again_but_processed_once(chat, phone):
    first = chat.say("hello", message_id="retry-0001-abcdef")
    again = chat.say("hello", message_id="retry-0001-abcdef")
    assert again == first
    # Had the retry been processed, the session would be one step further than SMS's.
    sms_first = phone.text("hello", from_="+13235550143")
    sms_second = phone.text("1", from_="+13235550143")
    assert first == sms_first
    assert chat.say("1") == sms_second


def test_same_message_id_in_another_chat_is_a_new_message(client, app):
    one = WebChat(client)
    other = WebChat(app.test_client())
    assert one.chat_id != other.chat_id
    one.say("hello", message_id="same-0001-abcdef")
    assert other.say("hello", message_id="same-0001-abcdef")  # not the empty in-flight answer
    assert webchat.message_sid(one.chat_id, "x" * 8) != webchat.message_sid(other.chat_id, "x" * 8)


def test_shared_location_pin_is_accepted_without_text(chat):
    chat.say("hello")
    response = chat.post({"id": chat.next_id(), "text": "", "lat": 34.0522, "lon": -118.2437})
    assert response.status_code == 200
    assert isinstance(response.get_json()["replies"], list)


def test_first_reply_follows_accept_language(client):
    english = WebChat(client, "en").say("?")
    spanish = WebChat(client.application.test_client(), "es-419,es;q=0.9").say("?")
    assert english and spanish
    assert english != spanish


# ---- refusals ------------------------------------------------------------------
@pytest.mark.parametrize(
    "label, raw",
    [
        ("not json", b"{text: hello"),
        ("not an object", b'["hello"]'),
        ("no id", b'{"text": "hello"}'),
        ("id too short", b'{"id": "x", "text": "hello"}'),
        ("id with odd characters", b'{"id": "../../etc/passwd", "text": "hello"}'),
        ("text not a string", b'{"id": "abcdefgh1", "text": 5}'),
        ("empty text, no pin", b'{"id": "abcdefgh1", "text": "   "}'),
        ("lat without lon", b'{"id": "abcdefgh1", "text": "", "lat": 34.0}'),
        ("lat out of range", b'{"id": "abcdefgh1", "text": "", "lat": 134.0, "lon": 1}'),
        ("boolean coordinate", b'{"id": "abcdefgh1", "text": "", "lat": true, "lon": 1}'),
        ("unknown field", b'{"id": "abcdefgh1", "text": "hi", "from": "+13235550100"}'),
        ("not utf-8", b'{"id": "abcdefgh1", "text": "\xff\xfe"}'),
    ],
)
def test_malformed_post_is_400_never_500(chat, label, raw):
    response = chat.post(None, raw=raw)
    assert response.status_code == 400, label
    assert "error" in response.get_json()


def test_text_longer_than_one_twilio_message_is_400(chat):
    response = chat.post({"id": chat.next_id(), "text": "a" * (webchat.MAX_TEXT_CHARS + 1)})
    assert response.status_code == 400


def test_enormous_body_is_refused_before_parsing(chat):
    response = chat.post(None, raw=b'{"id": "abcdefgh1", "text": "' + b"a" * 300_000 + b'"}')
    assert response.status_code in (400, 413)
    mid = chat.post(None, raw=b'{"id": "abcdefgh1", "text": "' + b"a" * 20_000 + b'"}')
    assert mid.status_code == 400


def test_form_encoded_post_is_400(chat):
    response = chat.post(None, raw=b"text=hello", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400


def test_post_without_chat_cookie_is_403(app):
    fresh = app.test_client()
    response = fresh.post("/chat/messages", json={"id": "abcdefgh1", "text": "hi"}, headers={"X-CSRF-Token": "0" * 32})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"X-CSRF-Token": ""},
        {"X-CSRF-Token": "0" * 32},
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_or_tokenless_post_is_403_and_not_processed(chat, r, headers):
    response = chat.post({"id": chat.next_id(), "text": "hello"}, headers=headers)
    assert response.status_code == 403
    assert not list(r.scan_iter(store.message_key("*")))


def test_same_origin_browser_post_is_accepted(chat):
    response = chat.post(
        {"id": chat.next_id(), "text": "hello"}, headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 200


def test_token_of_one_chat_does_not_work_for_another(client, app):
    mine = WebChat(client)
    theirs = WebChat(app.test_client())
    theirs.token = mine.token
    response = theirs.post({"id": theirs.next_id(), "text": "hello"})
    assert response.status_code == 403


# ---- the wire format alone ----------------------------------------------------------
def test_parse_inbound_builds_a_web_inbound():
    inbound = webchat.parse_inbound(b'{"id": "abcdefgh1", "text": "hi", "lat": 34.05, "lon": -118.25}', CHAT_ID, "es")
    assert inbound.channel == "web" and inbound.address == "web:" + CHAT_ID
    assert inbound.body == "hi" and inbound.has_pin and inbound.profile_language == "es"
    assert inbound.message_sid == webchat.message_sid(CHAT_ID, "abcdefgh1")
    assert CHAT_ID not in inbound.message_sid and "abcdefgh1" not in inbound.message_sid


def test_parse_inbound_refuses_a_bad_chat_id():
    with pytest.raises(BadRequest):
        webchat.parse_inbound(b'{"id": "abcdefgh1", "text": "hi"}', "short", None)


def test_csrf_token_depends_on_secret_and_chat_id():
    token = webchat.csrf_token("s1", CHAT_ID)
    assert webchat.check_csrf("s1", CHAT_ID, token)
    assert not webchat.check_csrf("s2", CHAT_ID, token)
    assert not webchat.check_csrf("s1", "B" * 24, token)
    assert not webchat.check_csrf("s1", CHAT_ID, None)
