"""The coordinators' console in real headless Chromium (Debian's `chromium`, driven by Playwright).

The app is served by werkzeug on a loopback port; reports and observers' replies
arrive as signed Twilio webhooks (the `phone` fixture) on the same Redis, and the
board must show them live, without a reload. The browser fixtures and the
HOTLINE_REQUIRE_BROWSER rule (skip without Chromium, fail in CI) are the web
chat's (tests/test_browser_chat.py).

Screenshots for docs/console.md:
    HOTLINE_SCREENSHOTS=docs/img python -m pytest tests/test_browser_console.py -k screenshots
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from test_browser_chat import QuietHandler, browser, playwright_api  # noqa: F401  (the shared browser fixtures)
from test_end_to_end import ANSWERS, _report
from werkzeug.serving import make_server

from bot import coordinators, create_app, incidents, observers, store

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
"""Generous for a loaded 2-core machine; every wait ends as soon as its condition holds."""

NAME, PASSWORD = "maria", "correct horse battery"
ANA, BETO = "+13235550201", "+13235550202"
REPORTERS = iter(f"+1323555{n:04d}" for n in range(300, 400))
NEAR_PIN = {"Latitude": "33.97690", "Longitude": "-118.21610"}  # Huntington Park: Ana and Beto are near
FAR_PIN = {"Latitude": "34.60000", "Longitude": "-117.30000"}  # the high desert: nobody within their radius
MARKUP = "<img src=x id=pwned><b>bold</b>"


def report(phone, pin=NEAR_PIN, identifiers="1 6 7") -> None:
    """One reporter's whole conversation through signed webhooks, placed by a shared pin."""
    answers = tuple(
        (words, {"Body": "", **pin} if "where" in words else {"Body": identifiers} if "identifies" in words else a)
        for words, a in ANSWERS
    )
    _report(phone, from_=next(REPORTERS), answers=answers, until=("are you safe",))  # every detail answered


@pytest.fixture
def served(settings, r, twilio_outbox, tmp_path):
    """The hotline on a real loopback HTTP server, an admin coordinator and a two-observer roster."""
    settings = settings.replace(public_url=None)
    app = create_app(settings)
    coordinators.add(r, NAME, PASSWORD, "admin", time.time())
    csv = tmp_path / "observers.csv"
    csv.write_text(
        "name,phone,languages,location,radius_km,on_call\n"
        f'Ana,{ANA},en;es,"33.99490,-118.21610",10,yes\n'
        f'Beto,{BETO},es,"33.96000,-118.20000",10,yes\n'
    )
    assert observers.import_csv(r, settings, str(csv)).imported == 2
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def console(browser, served):  # noqa: F811
    """Open the console in a fresh browser context and log in, recording every request the page makes."""
    contexts = []

    def open_console(path: str = "/dashboard", **options):
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.requested = []
        page.on("request", lambda request: page.requested.append(request.url))
        page.goto(served + path)
        page.fill("#username", NAME)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector(".live.ok")  # the page's first data arrived
        return page

    yield open_console
    for context in contexts:
        context.close()


def card(page, ref: str):
    return page.locator(f'li.incident[data-ref="{ref}"]')


def open_incident(page, ref: str) -> None:
    card(page, ref).locator("button.open").click()
    page.wait_for_selector(f"dialog[open] h2:has-text('{ref}')")


def only_loopback(page, served: str) -> None:
    own = urlparse(served).netloc
    assert page.requested
    assert [u for u in page.requested if urlparse(u).netloc != own] == []


def test_a_coordinators_raid(console, served, phone, r, worker):
    page = console()
    assert page.locator("#empty").is_visible()

    report(phone, FAR_PIN)  # nobody in range: dispatch escalates
    (far,) = incidents.list_open(r)
    card(page, far["ref"]).wait_for()  # no reload: the event stream brought it
    worker()
    report(phone, NEAR_PIN)
    near = next(i for i in incidents.list_open(r) if i["id"] != far["id"])
    card(page, near["ref"]).wait_for()

    # the escalated one rises to the top of the board, with its reason
    page.wait_for_selector(f'#urgent li.incident[data-ref="{far["ref"]}"]')
    assert page.locator("li.incident").first.get_attribute("data-ref") == far["ref"]
    assert "escalated" in card(page, far["ref"]).inner_text()
    assert page.locator(f'#rest li.incident[data-ref="{near["ref"]}"]').count() == 1

    # dispatch by hand to a named observer, who accepts by SMS
    open_incident(page, far["ref"])
    page.click("button[data-action=dispatch]")
    page.check('.roster-pick input[value="Ana"]')
    page.click("button[data-action=dispatch-confirm]")
    page.wait_for_selector("dialog .timeline :text('dispatch_by_hand')")
    worker()  # the hand dispatch is an RQ job, texted like any wave
    code = r.hget(store.incident_plan_key(far["id"]), "code")
    assert phone.text(f"YES {code}", from_=ANA)
    page.wait_for_selector("dialog .facts dd:has-text('Ana')")  # the open incident updates live too
    page.click("dialog .close-dialog")
    assert "Ana" in card(page, far["ref"]).locator(".going").inner_text()

    # verify, seeing the community alert before it goes
    open_incident(page, far["ref"])
    page.click("button[data-action=verify]")
    preview = page.locator(".preview-count")
    preview.wait_for()
    assert "subscriber" in preview.inner_text() and page.locator(".preview-text").inner_text()
    page.click("button[data-action=verify-confirm]")
    page.wait_for_selector("dialog .badge.status-verified")
    assert incidents.get(r, far["id"])["status"] == "verified"
    page.click("dialog .close-dialog")

    # merge the near one into it (one scene after all), then close
    open_incident(page, near["ref"])
    page.click("button[data-action=merge]")
    page.select_option("#merge-into", far["ref"])
    page.click("button[data-action=merge-confirm]")
    page.click("dialog .close-dialog")
    card(page, near["ref"]).wait_for(state="detached")
    assert incidents.get(r, near["id"])["status"] == "closed"
    open_incident(page, far["ref"])
    page.click("button[data-action=close]")
    page.wait_for_selector("dialog .badge.status-closed")
    page.click("dialog .close-dialog")
    page.locator("#empty").wait_for()
    by = [e.get("by") for e in incidents.timeline(r, far["id"]) if e.get("event") in ("verified", "closed", "status")]
    assert NAME in by

    page.click("#logout")
    page.wait_for_selector("#username")
    assert page.request.get(served + "/dashboard/api/incidents").status == 401
    only_loopback(page, served)


def test_csrf_less_and_anonymous_requests_are_refused(console, browser, served, phone, r):  # noqa: F811
    report(phone)
    (incident,) = incidents.list_open(r)
    page = console()
    url = f"{served}/dashboard/api/incidents/{incident['ref']}/actions"
    assert page.request.post(url, data={"action": "close"}).status == 403  # logged in, but no X-CSRFToken
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert page.request.post(url, data={"action": "note", "text": "ok"}, headers={"X-CSRFToken": csrf}).ok
    anonymous = browser.new_context()
    try:
        for path in ("/dashboard/api/incidents", "/dashboard/events", "/dashboard/basemap.json"):
            assert anonymous.request.get(served + path, max_redirects=0).status == 401, path
        assert anonymous.request.post(url, data={"action": "close"}).status in (401, 403)
    finally:
        anonymous.close()
    assert incidents.get(r, incident["id"])["status"] == "reported"


def test_markup_in_a_report_is_shown_as_text(console, phone, r):
    page = console()
    report(phone, identifiers=f"1 6 {MARKUP}")
    (incident,) = incidents.list_open(r)
    card(page, incident["ref"]).wait_for()
    open_incident(page, incident["ref"])
    assert MARKUP in page.locator("dialog .facts").inner_text()
    assert page.locator("#pwned").count() == 0 and page.locator("dialog .facts b").count() == 0


def test_spanish_console(console, phone, r):
    page = console(locale="es-MX")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator(".urgent-title").inner_text().strip().lower() != "needs action"
    page.click(".langs a[lang=en]")
    page.wait_for_selector("#live.ok")
    assert page.locator(".urgent-title").inner_text().strip().lower() == "needs action"


def test_the_map_draws_incidents_from_the_consoles_own_data(console, served, phone, r):
    page = console(viewport={"width": 1280, "height": 800})
    report(phone)
    (incident,) = incidents.list_open(r)
    page.wait_for_selector(f".incident-label:has-text('{incident['ref']}')")
    page.wait_for_selector(".county-label:has-text('Los Angeles')")
    only_loopback(page, served)


def test_screenshots(console, playwright_api, phone, r, worker, tmp_path):  # noqa: F811
    """The board on a phone and on a laptop, for docs/console.md (HOTLINE_SCREENSHOTS=docs/img)."""
    out = Path(os.environ.get("HOTLINE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    report(phone, FAR_PIN)
    worker()
    report(phone, NEAR_PIN)
    report(phone, {"Latitude": "34.05000", "Longitude": "-118.25000"})
    worker()
    device = playwright_api.devices["Pixel 5"]
    phone_page = console(
        viewport=device["viewport"],
        device_scale_factor=device["device_scale_factor"],
        is_mobile=True,
        has_touch=True,
        user_agent=device["user_agent"],
    )
    phone_page.wait_for_selector("#urgent li.incident")
    width = phone_page.evaluate("() => window.innerWidth")
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scroll
    phone_page.screenshot(path=str(out / "console-phone.png"))
    laptop = console(viewport={"width": 1366, "height": 800})
    laptop.wait_for_selector(".incident-label")
    laptop.wait_for_selector(".county-label")
    laptop.screenshot(path=str(out / "console-laptop.png"))
    open_incident(phone_page, incidents.list_open(r)[0]["ref"])
    phone_page.screenshot(path=str(out / "console-phone-incident.png"))
    assert (out / "console-phone.png").stat().st_size > 10_000


def test_the_roster_page_turns_duty_off_clears_a_mark_and_removes(console, served, r):
    (beto_id,) = [o for o in r.smembers("hotline:observers:all") if observers.get(r, o)["name"] == "Beto"]
    observers.mark_unreachable(r, beto_id, "30003", time.time())
    page = console("/dashboard/roster")
    beto = page.locator('tr[data-name="Beto"]')
    beto.locator(".mark").wait_for()
    assert "1 of 2 on duty" in page.locator("#on-duty").inner_text()  # an unreachable observer is not on duty
    beto.locator("button[data-action=clear_unreachable]").click()
    page.wait_for_selector('tr[data-name="Beto"] button[data-action=off]')
    assert observers.is_on_duty(observers.get(r, beto_id), time.time())
    page.locator('tr[data-name="Ana"] button[data-action=off]').click()
    page.wait_for_selector('tr[data-name="Ana"] button[data-action=on]')
    page.once("dialog", lambda dialog: dialog.accept())
    beto.locator("button[data-action=remove]").click()
    page.locator('tr[data-name="Beto"]').wait_for(state="detached")
    assert observers.get(r, beto_id) is None
    only_loopback(page, served)


def test_a_live_update_keeps_what_the_coordinator_was_typing(console, phone, r):
    page = console()
    report(phone)
    (incident,) = incidents.list_open(r)
    card(page, incident["ref"]).wait_for()
    open_incident(page, incident["ref"])
    page.fill("#note-text", "calling the family now")
    page.click("button[data-action=dispatch]")
    page.locator(".roster-pick").wait_for()
    report(phone)  # a second neighbour reports the same scene while the dialog is open
    page.wait_for_selector("dialog .facts dd:text-is('2')")  # the facts followed live
    assert page.input_value("#note-text") == "calling the family now"
    assert page.locator(".roster-pick").count() == 1


def test_the_statistics_page_draws_its_chart_without_scripts_from_elsewhere(
    console, served, phone, r, worker, tmp_path
):
    """The console's statistics: headline table and weekly SVG bars, reached from the bar's navigation."""
    report(phone, NEAR_PIN)
    worker()
    page = console(viewport={"width": 1366, "height": 900})
    page.click("nav a[href$='/dashboard/stats']")
    page.wait_for_selector("svg.chart rect.reports")
    assert "Sightings reported" in page.locator("table.headline").inner_text()
    assert page.locator("nav a[aria-current=page]").inner_text().strip() == "Statistics"
    only_loopback(page, served)
    out = Path(os.environ.get("HOTLINE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "console-stats.png"), full_page=True)


def test_an_observers_debrief_is_shown_as_its_coded_answers(console, phone, r, settings):
    """details.debrief is an object: the dialog lists its codes, never "[object Object]"."""
    from bot import debrief

    page = console()
    report(phone)
    (incident,) = incidents.list_open(r)
    debrief.attach(r, settings, incident["id"], {"agency": ["ice"], "masks": "yes", "identified": "no"}, time.time())
    card(page, incident["ref"]).wait_for()
    open_incident(page, incident["ref"])
    shown = page.locator("dialog .facts").inner_text()
    assert "agency: ice" in shown and "masks: yes" in shown and "identified: no" in shown, shown
    assert "[object Object]" not in shown


HELD = "not dispatched: flood cap"
FLOODER_SPOTS = [(34.60, -117.30), (34.65, -117.30), (34.70, -117.30)]  # the high desert: nobody in range
HELD_SPOTS = [(33.97690, -118.21610), (33.98600, -118.23000), (33.96500, -118.19000)]  # near Ana and Beto


def flood(spots, contact: str = "flooder") -> list[dict]:
    """One number's reports, each a new scene: past its flood cap (3 in 10 minutes) they are held."""
    from bot import reports, runtime
    from bot.conversation import ActionCall

    made = []
    for lat, lon in spots:
        call = ActionCall(
            name="report.submit",
            contact_id=contact,
            e164="+13235550999",
            answers={"activity": "raid", "where": {"lat": lat, "lon": lon, "precision_m": 20, "label": "a corner"}},
            language="en",
            channel="sms",
            now=time.time(),
        )
        rt = runtime.get()
        made.append(incidents.get(rt.r, reports.submit(rt, call)["incident_id"]))
    return made


def test_a_coordinator_releases_a_report_a_flood_cap_held(console, served, r, worker, twilio_outbox, settings):
    assert settings.cap_contact_10min == 3
    page = console()
    flood(FLOODER_SPOTS)
    (held,) = flood(HELD_SPOTS[:1])
    assert held["held"]
    worker()  # the three before it escalate (nobody in range); the held one is not dispatched
    assert not [m for m in twilio_outbox.messages() if m["to"] in (ANA, BETO)]

    held_reason = card(page, held["ref"]).locator(".reason", has_text=HELD)
    held_reason.wait_for()  # on the board, live, among what needs action
    assert page.locator(f'#urgent li.incident[data-ref="{held["ref"]}"]').count() == 1
    open_incident(page, held["ref"])
    assert page.locator("dialog .reason", has_text=HELD).count() == 1
    page.fill("#note-text", "called back: real")
    page.click("button[data-action=release]")
    page.wait_for_selector("dialog .timeline :text('released to dispatch')")
    page.locator("dialog .reason", has_text=HELD).wait_for(state="detached")
    assert page.locator("dialog button[data-action=release]").count() == 0, "nothing left to release"
    assert not incidents.get(r, held["id"])["held"]
    released = [e for e in incidents.timeline(r, held["id"]) if e["event"] == "released"]
    assert released and released[0]["by"] == NAME

    worker()  # the release started the dispatch: the observers near it are texted through the fake Twilio
    code = r.hget(store.incident_plan_key(held["id"]), "code")
    texted = [m for m in twilio_outbox.messages() if m["to"] in (ANA, BETO)]
    assert texted and all(code in m["body"] for m in texted), texted
    page.click("dialog .close-dialog")
    held_reason.wait_for(state="detached")  # the board no longer shows it held
    assert card(page, held["ref"]).count() == 1 and HELD not in card(page, held["ref"]).inner_text()
    only_loopback(page, served)


def test_releasing_what_is_no_longer_held_says_why_and_shows_it_as_it_is(console, served, r, settings):
    """A coordinator whose console missed the news (another released it, or it closed) gets a reason, not a 500."""
    from bot import runtime
    from bot.dispatch import lifecycle

    flood(FLOODER_SPOTS)
    gone, closing = flood(HELD_SPOTS[1:])
    assert gone["held"] and closing["held"]
    other = console()  # a coordinator's console, live
    stale = console()  # another that stops hearing live updates (a phone on a bad network)
    with stale.expect_event("requestfailed", lambda req: "/dashboard/events" in req.url):
        stale.route("**/dashboard/events*", lambda route: route.abort())
    open_incident(stale, gone["ref"])
    assert stale.locator("dialog button[data-action=release]").count() == 1

    open_incident(other, gone["ref"])
    other.fill("#note-text", "checking with the reporter")
    lifecycle.release(runtime.get(), gone["id"], "cli", time.time())  # released from the command line first
    other.locator("dialog button[data-action=release]").wait_for(state="detached")  # the live console follows
    assert other.locator("dialog .reason", has_text=HELD).count() == 0
    assert other.input_value("#note-text") == "checking with the reporter", "the redraw keeps the typed note"
    stale.click("dialog button[data-action=release]")
    error = stale.locator("dialog .error")
    error.wait_for()
    assert "released already" in error.inner_text() and gone["ref"] in error.inner_text(), error.inner_text()
    stale.locator("dialog button[data-action=release]").wait_for(state="detached")  # shown as it is now
    assert stale.locator("dialog .reason", has_text=HELD).count() == 0 and error.is_visible()
    assert len([e for e in incidents.timeline(r, gone["id"]) if e["event"] == "released"]) == 1, "released once"
    stale.click("dialog .close-dialog")

    open_incident(stale, closing["ref"])
    lifecycle.close(runtime.get(), closing["id"], "cli", time.time())  # closed from the command line meanwhile
    stale.click("dialog button[data-action=release]")
    error.wait_for()
    stale.wait_for_selector("dialog .badge.status-closed")
    assert f"incident {closing['ref']} is closed" in error.inner_text(), error.inner_text()
    assert stale.locator("dialog button[data-action=release]").count() == 0
    assert incidents.get(r, closing["id"])["status"] == "closed"

    # the API the console calls answers both with a reason and a 4xx, never a 500
    csrf = stale.locator('meta[name="csrf-token"]').get_attribute("content")
    for incident, status, words in ((gone, 400, "released already"), (closing, 409, "is closed")):
        answer = stale.request.post(
            f"{served}/dashboard/api/incidents/{incident['ref']}/actions",
            data={"action": "release"},
            headers={"X-CSRFToken": csrf},
        )
        assert answer.status == status and words in answer.json()["error"], (answer.status, answer.text())


CROWDED = "queued behind first reports: crowded area"
REPEAT = "queued behind first reports: this contact's later report"
CROWDED_ES = "en cola tras los primeros reportes: zona con muchos reportes"
CROWD_SPOTS = [(33.97690, -118.21610), (33.98230, -118.21610), (33.97690, -118.20960), (33.98230, -118.20960)]
"""Four new scenes within 1 km of each other near Ana and Beto: the fourth opens where 3 others just did."""


def test_a_dispatch_queued_behind_first_reports_says_why_until_an_observer_is_texted(
    console, served, r, worker, twilio_outbox
):
    page = console()
    spanish = console(locale="es-MX")
    first, *later = flood(FLOODER_SPOTS)  # one number's three scenes in the high desert: not crowded
    crowd = [flood([spot], contact=f"neighbour-{n}")[0] for n, spot in enumerate(CROWD_SPOTS)]
    crowded = crowd[-1]

    card(page, crowded["ref"]).locator(".queued", has_text=CROWDED).wait_for()  # live, no reload
    for incident in later:
        assert card(page, incident["ref"]).locator(".queued").inner_text() == REPEAT
    for incident in (first, *crowd[:-1]):
        assert card(page, incident["ref"]).locator(".queued").count() == 0, "first-lane dispatches do not wait"
    assert page.locator(f'#urgent li.incident[data-ref="{crowded["ref"]}"]').count() == 0, "waiting is no alarm"
    card(spanish, crowded["ref"]).locator(".queued", has_text=CROWDED_ES).wait_for()

    # the coordinator does not wait for the lane: dispatch by hand texts Ana now
    open_incident(page, crowded["ref"])
    assert page.locator("dialog .queued").inner_text() == CROWDED
    page.click("button[data-action=dispatch]")
    page.check('.roster-pick input[value="Ana"]')
    page.click("button[data-action=dispatch-confirm]")
    page.wait_for_selector("dialog .timeline :text('dispatch_by_hand')")
    worker()  # the hand dispatch and every lane's start jobs run: Ana is texted the crowded one's code
    code = r.hget(store.incident_plan_key(crowded["id"]), "code")
    assert any(m["to"] == ANA and f"YES {code}" in m["body"] for m in twilio_outbox.messages())
    page.locator("dialog .queued").wait_for(state="detached")  # the open incident follows live
    page.click("dialog .close-dialog")
    page.wait_for_function("() => !document.querySelector('li.incident .queued')")  # every wait ended
    spanish.wait_for_function("() => !document.querySelector('li.incident .queued')")
    only_loopback(page, served)


def test_a_refused_action_is_shown_in_the_consoles_language_with_its_code(console, served, r):
    """A Spanish console's merge into an incident closed meanwhile: the API's reason, in Spanish, coded."""
    from bot import runtime
    from bot.dispatch import lifecycle

    page = console(locale="es-MX")
    kept, closing = flood(HELD_SPOTS[1:], contact="two-scenes")  # two scenes from one number, under its cap
    assert not kept["held"] and not closing["held"]
    card(page, closing["ref"]).wait_for()
    open_incident(page, kept["ref"])
    page.click("dialog button[data-action=merge]")
    page.select_option("#merge-into", closing["ref"])
    lifecycle.close(runtime.get(), closing["id"], "cli", time.time())  # closed from the command line meanwhile
    page.click("dialog button[data-action=merge-confirm]")
    error = page.locator("dialog .error")
    error.wait_for()
    assert error.get_attribute("data-code") == "incident_not_open"
    assert error.inner_text() == f"el incidente {closing['ref']} está cerrado", error.inner_text()
    assert incidents.get(r, kept["id"]).get("merged_into") in (None, ""), "nothing was merged"
