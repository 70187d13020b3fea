"""The console's live feed (`/dashboard/events`), its map data and its roster buttons, through the Flask client."""

from __future__ import annotations

import re
import time

import pytest

from bot import create_app, incidents
from bot.config import ConfigError, Settings

HP = (33.98166, -118.22505)


def _events(console, cursor=None):
    headers = {"Last-Event-ID": cursor} if cursor else {}
    response = console.get("/dashboard/events", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    body = response.get_data(as_text=True)
    events = [
        dict(re.findall(r"^(id|event|data): (.*)$", block, re.M))
        for block in body.split("\n\n")
        if block.strip() and not block.startswith(("retry", ":"))
    ]
    return body, events


def _merge(r, settings, contact="c1", details=None):
    report = incidents.Report(contact, *HP, 30, "raid", details or {"markings": "white van 7ABC123"})
    return incidents.merge_report(r, report, settings, time.time())


def test_a_new_console_gets_a_cursor_then_every_change_after_it(coordinator, r, settings):
    console = coordinator()
    body, (ready,) = _events(console)
    assert body.startswith("retry: ") and ready["event"] == "ready"
    merge = _merge(r, settings)
    incidents.set_status(r, merge.incident_id, "verified", time.time(), "coordinator")
    _, changes = _events(console, ready["id"])
    assert [c["event"] for c in changes] == ["incident", "incident"]
    assert [c["data"] for c in changes] == [
        f'{{"id":"{merge.incident_id}","ref":"{merge.ref}","kind":"created"}}',
        f'{{"id":"{merge.incident_id}","ref":"{merge.ref}","kind":"status"}}',
    ]
    body, after = _events(console, changes[-1]["id"])
    assert after == [] and "7ABC123" not in body  # nothing new; never a reporter's words


def test_each_events_response_ends_at_once_so_no_worker_thread_is_held(coordinator, r, settings):
    console = coordinator()
    _, (ready,) = _events(console)
    response = console.get("/dashboard/events", headers={"Last-Event-ID": ready["id"]})
    assert response.headers.get("Content-Length")  # a complete body with its length: not a held-open stream
    assert int(re.search(r"^retry: (\d+)$", response.get_data(as_text=True), re.M).group(1)) <= 1000


def test_a_console_that_was_away_too_long_is_told_to_reload(coordinator, r, settings):
    console = coordinator()
    merge = _merge(r, settings)
    _, (ready,) = _events(console)
    for _ in range(3):
        incidents.add_event(r, merge.incident_id, "note", time.time())
    r.xtrim("hotline:incidents:feed", maxlen=1, approximate=False)
    _, (reload,) = _events(console, ready["id"])
    assert reload["event"] == "reload"
    _, (ready_again,) = _events(console, "junk; not a cursor")
    assert ready_again["event"] == "ready"


def test_events_and_map_data_need_a_login(client):
    for path in ("/dashboard/events", "/dashboard/basemap.json"):
        assert client.get(path).status_code == 401, path


def test_the_basemap_is_the_projects_own_places_and_zips_inside_the_bounds(coordinator, settings):
    response = coordinator().get("/dashboard/basemap.json")
    data = response.get_json()
    south, west, north, east = settings.bounds
    layers = {f["properties"]["layer"] for f in data["features"]}
    assert layers == {"place", "corner", "zip"}
    for feature in data["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert south <= lat <= north and west <= lon <= east
    assert any(f["properties"]["name"] == "90255" for f in data["features"])  # Huntington Park's ZIP
    assert "http" not in response.get_data(as_text=True)  # nothing points anywhere else


def test_the_board_page_loads_only_its_own_scripts(coordinator):
    console = coordinator()
    page = console.get("/dashboard")
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all('src="/static/' in s or 'type="application/json"' in s for s in scripts), scripts
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]  # no tile server by default
    for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        with console.get(path) as asset:
            assert asset.status_code == 200, path


def test_a_networks_own_tile_server_is_the_one_origin_added_for_images(settings, r, twilio_outbox):
    from conftest import log_in

    from bot import coordinators

    app = create_app(settings.replace(map_tiles="https://tiles.network.example/{z}/{x}/{y}.png"))
    coordinators.add(r, "maria", "correct horse battery staple", "dispatcher", time.time())
    client, _ = log_in(app, "maria")
    page = client.get("/dashboard")
    assert "img-src 'self' https://tiles.network.example data:" in page.headers["Content-Security-Policy"]
    assert 'data-tiles="https://tiles.network.example/{z}/{x}/{y}.png"' in page.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["http://tiles.example/{z}/{x}/{y}.png", "https://tiles.example/tile.png"])
def test_a_tile_url_must_be_https_with_its_placeholders(bad):
    with pytest.raises(ConfigError, match="HOTLINE_MAP_TILES"):
        Settings(map_tiles=bad).resolved()
