"""The coordinators' dashboard: login, open incidents, one incident's timeline, no numbers."""

from __future__ import annotations

import re
import time

import pytest

from bot import incidents, store

LOGIN: dict = {}
"""Pages are read by a logged-in coordinator (the `dash` client); no header needed."""


@pytest.fixture
def dash(coordinator):
    """A test client logged in as a coordinator."""
    return coordinator().client


@pytest.fixture
def incident(r, settings):
    """One open incident made the way reports make them, with two reporters and a dispatch."""
    now = time.time() - 300
    report = incidents.Report(
        contact_id="c" * 32,
        lat=34.0522,
        lon=-118.2437,
        precision_m=10,
        kind="raid",
        details={
            "label": "Pacific Blvd & Florence Ave",
            "agents": 4,
            "identifiers": ["ice", "masks"],
            "markings": "plate 7ABC123, call me at +1 323 555 0123",
        },
        language="es",
        channel="sms",
    )
    merge = incidents.merge_report(r, report, settings, now)
    incidents.merge_report(
        r,
        incidents.Report(contact_id="d" * 32, lat=34.0523, lon=-118.2438, precision_m=10, kind="raid"),
        settings,
        now + 60,
    )
    # Dispatch's per-observer states, as dispatch writes them (one texted, one accepted).
    r.hset(store.incident_dispatch_key(merge.incident_id), mapping={"o1": "texted", "o2": "accepted"})
    return merge


def test_dashboard_without_a_login_redirects_to_the_login_page(client, incident):
    for path in ("/dashboard", f"/dashboard/incidents/{incident.incident_id}"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/dashboard/login" in response.headers["Location"]
        assert "Pacific" not in response.get_data(as_text=True)


def test_dashboard_lists_an_open_incident_with_counts(dash, incident):
    """The board draws its cards from the API (tests/test_browser_console.py drives the page itself)."""
    (row,) = dash.get("/dashboard/api/incidents").get_json()
    assert row["ref"] == incident.ref
    assert row["status"] == "corroborated"  # the second distinct reporter corroborated it
    assert row["details"]["label"] == "Pacific Blvd & Florence Ave" and row["kind"] == "raid"
    assert (row["reporters"], row["texted"], row["accepted"]) == (2, 2, 1)
    assert row["created_at"].endswith(("-08:00", "-07:00", "+00:00"))


def test_dashboard_with_no_incidents_says_so(dash, r):
    html = dash.get("/dashboard", headers=LOGIN).get_data(as_text=True)
    assert "No open incidents." in html and dash.get("/dashboard/api/incidents").get_json() == []


def test_dashboard_is_live_instead_of_refreshing_and_is_never_cached(dash, r):
    response = dash.get("/dashboard", headers=LOGIN)
    html = response.get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html and 'data-events="/dashboard/events"' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_incident_page_shows_details_and_timeline(dash, incident, r):
    incidents.add_event(r, incident.incident_id, "observer_arrived", time.time(), note="two vans")
    response = dash.get(f"/dashboard/incidents/{incident.incident_id}", headers=LOGIN)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"Incident {incident.ref}" in html
    assert "ice, masks" in html and "Agents" in html
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', html, re.S).group(1)
    kinds = re.findall(r"<strong>(.*?)</strong>", timeline)
    assert len(kinds) >= 3 and kinds[-1] == "observer_arrived"
    assert "two vans" in timeline
    assert 'href="geo:34.0522,-118.2437"' in html


def test_dashboard_never_shows_a_phone_number(dash, incident):
    pages = [
        dash.get("/dashboard/api/incidents", headers=LOGIN),
        dash.get(f"/dashboard/incidents/{incident.incident_id}", headers=LOGIN),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert "555 0123" not in html and "5550123" not in html
    assert "[number]" in pages[1].get_data(as_text=True)


@pytest.mark.parametrize("incident_id", ["nope", "..%2F..%2Fetc", "x" * 200])
def test_unknown_incident_is_404(dash, r, incident_id):
    assert dash.get(f"/dashboard/incidents/{incident_id}", headers=LOGIN).status_code == 404


def test_incident_page_lists_the_observers_debrief_as_codes(dash, incident, r, settings):
    from bot import debrief

    debrief.attach(r, settings, incident.incident_id, {"agency": ["ice", "cbp"], "masks": "yes"}, time.time())
    html = dash.get(f"/dashboard/incidents/{incident.incident_id}", headers=LOGIN).get_data(as_text=True)
    assert "agency: ice, cbp" in html and "masks: yes" in html
    assert "{" not in re.search(r"<dt>Debrief</dt><dd>(.*?)</dd>", html, re.S).group(1)
