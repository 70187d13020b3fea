"""The web chat in real headless Chromium (Debian's `chromium`, driven by Playwright).

The hotline app is served by werkzeug on a loopback port in a thread; the
browser types like a person and must see the hotline's replies. Skipped when
Chromium or Playwright is missing, unless HOTLINE_REQUIRE_BROWSER=1 (CI), where
a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from bot import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
"""The Debian package's binary; Playwright's own browser downloads are never used."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless in a container, and no calls home (updates, sync, QUIC probes)."""

TIMEOUT_MS = 15_000
"""Generous for a loaded 2-core machine; a wait ends as soon as its condition holds."""


def _unavailable(reason: str):
    if os.environ.get("HOTLINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"HOTLINE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_api():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="module")
def browser(playwright_api):
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log: it would log the client's IP address."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@pytest.fixture
def served(settings, r, twilio_outbox):
    """The hotline app on a real loopback HTTP server (plain http, so no PUBLIC_URL)."""
    app = create_app(settings.replace(public_url=None))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page_at(browser, served):
    """Open /chat in a fresh browser context, recording every request the page makes."""
    contexts = []

    def open_chat(locale: str = "en-US", **options):
        context = browser.new_context(locale=locale, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.requested = []
        page.on("request", lambda request: page.requested.append(request.url))
        page.goto(served + "/chat")
        return page

    yield open_chat
    for context in contexts:
        context.close()


def _bot_replies(page) -> list[str]:
    return [t.strip() for t in page.locator("#log li.bot").all_inner_texts()]


def _send(page, text: str, replies_before: int) -> list[str]:
    page.fill("#text", text)
    page.click("#send")
    page.wait_for_function(
        "n => document.querySelectorAll('#log li.bot').length > n && !document.querySelector('#log li.pending')",
        arg=replies_before,
    )
    return _bot_replies(page)[replies_before:]


def test_typed_text_gets_the_hotlines_reply(page_at, served, phone):
    page = page_at()
    replies = _send(page, "hello", 0)
    assert replies == phone.text("hello", from_="+13235550150")
    assert page.locator("#log li.me").first.inner_text().strip() == "hello"
    own = urlparse(served).netloc
    assert page.requested and all(urlparse(u).netloc == own for u in page.requested), page.requested


def test_conversation_continues_across_turns_with_enter_key(page_at, phone):
    page = page_at()
    first = _send(page, "hello", 0)
    assert first == phone.text("hello", from_="+13235550151")
    page.fill("#text", "1")
    page.press("#text", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#log li.bot').length > n && !document.querySelector('#log li.pending')",
        arg=len(first),
    )
    assert _bot_replies(page)[len(first) :] == phone.text("1", from_="+13235550151")


def test_chat_fits_a_phone_screen_and_works_by_touch(page_at, playwright_api, phone):
    device = playwright_api.devices["Pixel 5"]
    page = page_at(
        viewport=device["viewport"],
        device_scale_factor=device["device_scale_factor"],
        is_mobile=True,
        has_touch=True,
        user_agent=device["user_agent"],
    )
    width = page.evaluate("() => window.innerWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scroll
    for selector in ("#text", "#send", "#locate"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, selector
        assert box["y"] + box["height"] <= device["viewport"]["height"], selector
    assert page.locator("#send").bounding_box()["height"] >= 40  # a thumb-sized target
    page.fill("#text", "hello")
    page.tap("#send")
    page.wait_for_function("() => document.querySelectorAll('#log li.bot').length > 0")
    assert _bot_replies(page) == phone.text("hello", from_="+13235550152")


def test_spanish_browser_gets_spanish_labels(page_at):
    page = page_at(locale="es-MX")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("#send").inner_text().strip() == "Enviar"


def test_shared_location_is_posted_as_a_pin(page_at):
    page = page_at(geolocation={"latitude": 34.0522, "longitude": -118.2437}, permissions=["geolocation"])
    _send(page, "hello", 0)
    posts = []
    page.on("request", lambda req: posts.append(req.post_data_json) if req.method == "POST" else None)
    page.click("#locate")
    page.wait_for_function(
        "() => document.querySelectorAll('#log li.me').length == 2 && !document.querySelector('#log li.pending')"
    )
    assert posts and posts[-1]["lat"] == 34.0522 and posts[-1]["lon"] == -118.2437
    assert not page.locator("#log li.error").count()


def test_a_refused_chat_cookie_restarts_the_chat_in_the_page(page_at, served, phone):
    """The cookie rotates on every answer; a stale or forged one gets a fresh chat without a reload."""
    page = page_at(locale="es-MX")
    first = _send(page, "hola", 0)
    context = page.context
    (cookie,) = [c for c in context.cookies() if c["name"] == "hotline_chat"]
    context.add_cookies([{**cookie, "value": cookie["value"][:-4] + "AAAA"}])  # altered: the signature fails
    page.fill("#text", "hola")
    page.click("#send")
    page.wait_for_function("() => document.querySelectorAll('#log li.error').length == 1")
    assert "empezó uno nuevo" in page.locator("#log li.error").inner_text()
    assert page.locator("#log li.me.unsent").count() == 1  # shown as not sent, not left pending
    assert _send(page, "hola", len(first)) == phone.text("hola", from_="+13235550153")
    (renewed,) = [c for c in context.cookies() if c["name"] == "hotline_chat"]
    assert renewed["value"] not in (cookie["value"],) and renewed["httpOnly"]


def test_the_page_is_served_with_hsts_and_the_security_headers(page_at, served):
    page = page_at()
    response = page.goto(served + "/chat")
    headers = response.headers
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
