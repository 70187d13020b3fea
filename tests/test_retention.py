"""Closed incidents are thinned after a day and deleted after 30 days; open ones are untouched."""

from __future__ import annotations

import json

from bot import incidents, retention, store

T0 = 1_800_000_000.0


def _incident(r, settings, contact="c1", lat=33.97691234, lon=-118.21612345):
    report = incidents.Report(
        contact_id=contact,
        lat=lat,
        lon=lon,
        precision_m=30,
        kind="raid",
        details={"markings": "plate 7ABC123", "agents": 4, "label": "1234 Main St"},
        language="en",
        channel="sms",
    )
    return incidents.merge_report(r, report, settings, T0).incident_id


def test_closed_incident_is_thinned_after_a_day(rt, r, settings):
    incident_id = _incident(r, settings)
    incidents.set_status(r, incident_id, "closed", T0 + 60, "clear")
    assert retention.purge(rt, T0 + 60 + 23 * 3600) == {"thinned": 0, "deleted": 0}
    assert retention.purge(rt, T0 + 60 + 25 * 3600) == {"thinned": 1, "deleted": 0}
    data = r.hgetall(store.incident_key(incident_id))
    assert data["lat"] == "33.98" and data["lon"] == "-118.22"
    details = json.loads(data["details"])
    assert "markings" not in details and "label" not in details and details["agents"] == 4
    assert not r.exists(store.incident_reporters_key(incident_id))


def test_closed_incident_is_deleted_after_thirty_days(rt, r, settings):
    incident_id = _incident(r, settings)
    incidents.set_status(r, incident_id, "closed", T0, "clear")
    assert retention.purge(rt, T0 + 31 * 86400)["deleted"] == 1
    assert not r.exists(store.incident_key(incident_id), store.incident_timeline_key(incident_id))


def test_open_incident_is_never_purged(rt, r, settings):
    incident_id = _incident(r, settings)
    assert retention.purge(rt, T0 + 365 * 86400) == {"thinned": 0, "deleted": 0}
    assert r.hget(store.incident_key(incident_id), "lat").startswith("33.9769")


def test_purge_command_prints_what_it_did(runner, r):
    from bot.cli import purge_command

    result = runner.invoke(purge_command)
    assert result.exit_code == 0 and json.loads(result.output) == {"thinned": 0, "deleted": 0}
