"""The roster: CSV import (good rows in, bad rows reported by line), on-duty rules, shifts, join codes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import observers, privacy, store

PAYLOADS = Path(__file__).parent / "payloads"
LA = ZoneInfo("America/Los_Angeles")


def at(text: str) -> float:
    """Epoch seconds of a Los Angeles wall-clock time like '2026-11-23 19:00' (a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=LA).timestamp()


def test_import_csv_stores_good_rows_with_sealed_numbers(r, settings):
    result = observers.import_csv(r, settings, PAYLOADS / "observers.csv", now=1000.0)
    assert result.imported == 5 and result.errors == []
    oid = privacy.contact_id(settings.secret, "+12135550101")
    ana = observers.get(r, oid)
    assert ana["name"] == "Ana Near" and ana["languages"] == "en,es"
    assert "2135550101" not in str(ana), "the number must be stored only sealed"
    assert observers.number_of(settings, ana) == "+12135550101"
    assert r.geopos(store.observers_geo_key(), oid)[0] is not None
    assert observers.get(r, privacy.contact_id(settings.secret, "+12135550105"))["place"].endswith("90731")


def test_import_csv_reports_each_bad_row_by_line_and_keeps_good_ones(r, settings):
    result = observers.import_csv(r, settings, PAYLOADS / "observers_bad.csv", now=1000.0)
    assert result.imported == 2
    lines = dict(result.errors)
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9, 11]
    assert "name" in lines[3] and "phone" in lines[4] and "languages" in lines[5]
    assert "location" in lines[6] and "radius_km" in lines[7] and "on_call" in lines[8]
    assert "skills" in lines[9] and "repeats line 2" in lines[11]
    assert r.scard(store.observers_all_key()) == 2


def test_import_csv_without_required_columns_imports_nothing(r, settings, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("name,phone\nAna,2135550101\n")
    result = observers.import_csv(r, settings, path)
    assert result.imported == 0
    assert result.errors[0][0] == 1 and "location" in result.errors[0][1]


def test_reimport_updates_an_observer_instead_of_duplicating(r, settings, tmp_path):
    observers.import_csv(r, settings, PAYLOADS / "observers.csv", now=1.0)
    path = tmp_path / "again.csv"
    path.write_text(
        'name,phone,languages,location,radius_km,on_call\nAna Renamed,+12135550101,es,"33.98,-118.22",3,no\n'
    )
    assert observers.import_csv(r, settings, path, now=2.0).imported == 1
    assert r.scard(store.observers_all_key()) == 5
    ana = observers.get(r, privacy.contact_id(settings.secret, "+12135550101"))
    assert ana["name"] == "Ana Renamed" and ana["radius_km"] == "3.0" and ana["on_call"] == "0"


def test_candidates_are_on_duty_in_radius_nearest_first(r, settings):
    observers.import_csv(r, settings, PAYLOADS / "observers.csv", now=1.0)
    found = observers.candidates_near(r, 33.9795, -118.2200, now=1.0)
    names = [obs["name"] for _, _, obs in found]
    assert names[:2] == ["Ana Near", "Beto Mid"]
    assert "Dan Off" not in names, "on_call no is not on duty"
    assert "Cara Far" not in names, "40 km away is outside a 10 km radius"


def test_shifts_decide_duty_in_the_observers_time_zone():
    obs = {"on_call": "0", "shifts": "mon-fri 18:00-23:00; sat 22:00-02:00", "timezone": "America/Los_Angeles"}
    assert observers.is_on_duty(obs, at("2026-11-23 19:00"))  # Monday evening
    assert not observers.is_on_duty(obs, at("2026-11-23 23:30"))
    assert not observers.is_on_duty(obs, at("2026-11-22 19:00"))  # Sunday
    assert observers.is_on_duty(obs, at("2026-11-29 01:00"))  # Saturday's overnight shift into Sunday
    assert observers.next_shift_change(obs, at("2026-11-23 19:00")) == at("2026-11-23 23:00")


@pytest.mark.parametrize("spec", ["someday 10:00-12:00", "mon 25:00-26:00", "mon 9-5", "mon-fri"])
def test_malformed_shifts_are_refused(spec):
    with pytest.raises(ValueError):
        observers.parse_shifts(spec)


def test_text_override_lasts_until_the_next_shift_change(r, settings):
    oid = observers.upsert(
        r,
        settings,
        observers.parse_row(
            {
                "name": "Sol",
                "phone": "2135550120",
                "languages": "es",
                "location": "33.98,-118.22",
                "radius_km": "5",
                "on_call": "no",
                "shifts": "mon-fri 18:00-23:00",
                "timezone": "America/Los_Angeles",
            },
            settings,
        ),
        now=0,
    )
    monday_7pm = at("2026-11-23 19:00")
    until = observers.set_duty(r, oid, False, monday_7pm)
    assert until == at("2026-11-23 23:00")
    obs = observers.get(r, oid)
    assert not observers.is_on_duty(obs, monday_7pm + 60)
    assert observers.is_on_duty(obs, at("2026-11-24 19:00")), "the next shift puts them back on"


def test_shifts_yaml_applies_by_phone_and_reports_unknown_numbers(r, settings, tmp_path):
    observers.import_csv(r, settings, PAYLOADS / "observers.csv", now=1.0)
    path = tmp_path / "shifts.yaml"
    path.write_text(
        "timezone: America/Los_Angeles\nshifts:\n  '+12135550101': ['mon-fri 18:00-23:00']\n"
        "  '+19995550000': ['sat 08:00-20:00']\n  '2135550102': ['someday 1:00-2:00']\n"
    )
    result = observers.import_shifts_yaml(r, settings, path, now=1.0)
    assert result.imported == 1
    assert [line for line, _ in result.errors] == [4, 5]
    ana = observers.get(r, privacy.contact_id(settings.secret, "+12135550101"))
    assert ana["shifts"] == "mon-fri 18:00-23:00" and ana["timezone"] == "America/Los_Angeles"


def test_join_code_enrolls_a_number_and_a_wrong_code_does_not(r, settings):
    code = observers.issue_join_code(r, {"languages": "es", "location": "90255", "radius_km": "8"}, now=1.0)
    assert observers.enroll(r, settings, "WRONG1", "+13235550177", now=2.0) is None
    oid = observers.enroll(r, settings, code.lower(), "+13235550177", now=2.0)
    assert oid == privacy.contact_id(settings.secret, "+13235550177")
    assert observers.get(r, oid)["languages"] == "es"


def test_cli_import_reports_bad_rows_and_exits_1(runner, r):
    from bot.cli.observers import observers_group

    result = runner.invoke(observers_group, ["import", str(PAYLOADS / "observers_bad.csv")])
    assert result.exit_code == 1
    assert "observers_bad.csv:4: phone" in result.output
    assert "imported 2, 8 bad" in result.output
    ok = runner.invoke(observers_group, ["import", str(PAYLOADS / "observers.csv")])
    assert ok.exit_code == 0 and "imported 5, 0 bad" in ok.output


def test_reimport_clears_an_unreachable_mark(r, settings):
    observers.import_csv(r, settings, PAYLOADS / "observers.csv", now=1.0)
    oid = privacy.contact_id(settings.secret, "+12135550101")
    observers.mark_unreachable(r, oid, "landline_or_unreachable", now=2.0)
    assert not observers.is_on_duty(observers.get(r, oid), 3.0)
    observers.import_csv(r, settings, PAYLOADS / "observers.csv", now=4.0)
    assert observers.is_on_duty(observers.get(r, oid), 5.0)


def test_cli_join_code_and_shifts(runner, r, tmp_path):
    from bot.cli.observers import observers_group

    made = runner.invoke(observers_group, ["join-code", "--location", "90255", "--languages", "es"])
    assert made.exit_code == 0
    code = made.output.strip()
    assert len(code) == 6 and r.exists(store.join_code_key(code))
    bad = runner.invoke(observers_group, ["join-code", "--location", "nowhere at all"])
    assert bad.exit_code == 1 and "location" in bad.output
    runner.invoke(observers_group, ["import", str(PAYLOADS / "observers.csv")])
    shifts = tmp_path / "shifts.yaml"
    shifts.write_text(
        "timezone: America/Los_Angeles\nshifts:\n  '+12135550101': ['mon-fri 18:00-23:00']\n"
        "  '+12135550102': ['tuesday-ish']\n"
    )
    result = runner.invoke(observers_group, ["shifts", str(shifts)])
    assert result.exit_code == 1 and "shifts.yaml:4:" in result.output and "updated 1, 1 bad" in result.output
    listing = runner.invoke(observers_group, ["list"])
    assert "Ana Near" in listing.output and "2135550101" not in listing.output
