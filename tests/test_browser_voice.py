"""The board's calls panel in headless Chromium: the taker sees the call, unseals the number, files the incident.

Screenshot for docs/voice.md:
    HOTLINE_SCREENSHOTS=docs/img python -m pytest tests/test_browser_voice.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_browser_chat import browser, playwright_api  # noqa: F401  (the shared browser fixtures)
from test_browser_console import NAME, console, served  # noqa: F401

from bot import incidents
from bot.voice import calls

pytestmark = pytest.mark.browser

CALLER = "+13235550177"


def test_a_dispatcher_takes_a_call_and_files_the_incident_from_the_board(console, r, settings, tmp_path):  # noqa: F811
    now = time.time()
    sid = "CA" + "ab" * 16
    calls.begin(r, settings.secret, sid, CALLER, "es", now)
    calls.update(r, sid, now, state="ringing", dialed=[NAME], lang="es")
    other = "CA" + "cd" * 16
    calls.begin(r, settings.secret, other, "+13235550178", "en", now)
    calls.update(r, other, now, state="missed")
    assert calls.take(r, sid, NAME, now)
    page = console(viewport={"width": 390, "height": 844})
    panel = page.locator("#calls")
    panel.locator(f'li[data-sid="{sid}"]').wait_for()
    assert "taken by maria" in panel.inner_text() and "Spanish" in panel.inner_text()
    assert "Missed call" in panel.locator(f'li[data-sid="{other}"]').inner_text()
    assert CALLER not in page.content()  # sealed until the taker asks
    panel.locator("button.call-show-number").click()
    panel.locator(".call-number").wait_for()
    assert CALLER in panel.locator(".call-number").inner_text()
    assert panel.locator(f'li[data-sid="{other}"] form').count() == 0  # nobody took that one
    panel.locator("form.call-incident input[name=place]").fill("90255")
    panel.screenshot(path=str(Path(os.environ.get("HOTLINE_SCREENSHOTS") or tmp_path) / "voice-calls-panel.png"))
    panel.locator("form.call-incident select").select_option("checkpoint")
    panel.locator("form.call-incident button[type=submit]").click()
    page.wait_for_selector("#calls :text('created from this call')")
    [incident] = incidents.list_open(r)
    assert incident["kind"] == "checkpoint" and incident["channel"] == "call"
