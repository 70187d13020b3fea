"""What happens to a report no offline locator could place: coordinators, or the operator's online geocoder."""

from __future__ import annotations

from test_geo import FakeNominatim

from bot import incidents, reports, runtime
from bot.conversation import ActionCall

CALL = dict(
    name="report.submit",
    contact_id="c-unplaced",
    e164="+13235550140",
    language="en",
    channel="sms",
    now=1_800_000_000.0,
)


def _call(where_raw: str) -> ActionCall:
    return ActionCall(answers={"activity": "raid", "where": {"raw": where_raw}}, **CALL)


def test_unplaced_report_goes_to_coordinators_with_the_callers_words(rt, r, worker, twilio_outbox, settings, caplog):
    caplog.set_level("DEBUG")
    result = reports.submit(rt, _call("behind the swap meet"))
    assert result["ref"].startswith("U") and result["incident_id"] == ""
    worker()
    to_coordinators = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert len(to_coordinators) == 1 and "behind the swap meet" in to_coordinators[0]
    assert "could not be placed" in to_coordinators[0]
    assert "swap meet" not in caplog.text, "the caller's words never reach the logs"
    assert incidents.list_open(r) == []


def test_online_geocoder_places_a_report_and_it_is_dispatched_not_escalated(app, r, worker, twilio_outbox, settings):
    nominatim = FakeNominatim(
        {
            "Ramona Gardens": [
                {
                    "lat": "34.0617",
                    "lon": "-118.2003",
                    "display_name": "Ramona Gardens, Boyle Heights",
                    "boundingbox": ["34.0590", "34.0645", "-118.2040", "-118.1965"],
                }
            ]
        }
    )
    try:
        rt = runtime.configure(settings.replace(geocoder=nominatim.spec))
        reports.submit(rt, _call("Ramona Gardens"))
        assert nominatim.queries == [], "no network call on the webhook's path"
        worker()
        assert len(nominatim.queries) == 1
    finally:
        nominatim.stop()
    [incident] = incidents.list_open(r)
    assert abs(incident["lat"] - 34.0617) < 1e-3
    assert any(e["event"] == "placed_online" for e in incidents.timeline(r, incident["id"]))
    to_coordinators = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert not [b for b in to_coordinators if "could not be placed" in b], "placed, so not escalated as unplaced"


def test_bad_geocoder_setting_is_refused(tmp_path):
    import pytest

    from bot.config import Settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="HOTLINE_GEOCODER"):
        Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_GEOCODER": "google"})
