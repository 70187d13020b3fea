"""Statistics that outlive retention: written when things happen, exact after every detail is deleted."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date

from bot import debrief, export, incidents, retention, stats, store
from bot.cli.observers import observers_group
from bot.cli.stats import export_command, stats_command
from bot.geo import areas

T0 = 1_782_900_000.0  # 2026-07-01 10:00 in Los Angeles
DAY = 86400.0

# ZIP centroids across the network's area, so generated scenes land in real ZIP areas.
SPOTS = [
    (33.9772, -118.2253),  # Huntington Park
    (33.9792, -118.1848),  # Bell
    (33.9547, -118.2120),  # South Gate
    (34.0561, -118.2784),  # MacArthur Park
    (34.0407, -118.2468),  # downtown
    (33.9164, -118.3526),  # Hawthorne
    (34.0686, -118.0276),  # El Monte
    (33.8958, -118.2201),  # Compton
]


def _report(contact, lat, lon, kind="raid", **details):
    return incidents.Report(
        contact_id=contact,
        lat=lat,
        lon=lon,
        precision_m=30,
        kind=kind,
        details={"markings": "plate 7ABC123", "activity": kind, **details},
        language="en",
        channel="sms",
    )


def _debriefs(r, settings, rng, incident_id, at, arrests, masked, known):
    """One or two observers' debriefs of a verified scene, through the flow action's own path (`debrief.attach`)."""
    detained = 0
    answers = {}
    for _observer in range(1 + (rng.random() < 0.3)):  # a third of the scenes had the pair's second observer
        answers = {
            "agency": ["ice", "cbp"] if rng.random() < 0.2 else ["ice"],
            "identified": rng.choice(("no", "no", "yes", "unknown", "skip")),
            "masks": "yes" if masked else rng.choice(("no", "unknown")),
            "vehicles": rng.choice(("marked", "unmarked", "both", "skip")),
            "plates": rng.choice(("visible", "none", "unknown")),
            "detained_count": rng.randint(1, 8) if arrests else 0,
        }
        detained = max(detained, answers["detained_count"])
        debrief.attach(r, settings, incident_id, answers, at)
    merged = incidents.get(r, incident_id)["details"]["debrief"]
    known["unidentified"] += merged.get("identified") == "no"
    known["unmarked"] += merged.get("vehicles") in ("unmarked", "both")
    known["no_plates"] += merged.get("plates") == "none"
    return detained


def _history(r, settings, seed=7, operations=950, reporters=1_100):
    """Ten weeks of sightings at the Los Angeles network's scale, through the real merge code.

    Returns what the generator knows: reports sent, distinct reporters, incidents created,
    and the verified / unfounded / arrest outcomes it decided. Four in five verified scenes
    get observers' debriefs (one or two), written by the path the debrief flow's action takes;
    one in ten of those arrives before the verdict (an observer's CLEAR, a coordinator's later verify).
    """
    rng = random.Random(seed)
    pool = [f"reporter-{n}" for n in range(reporters)]
    unused = list(pool)
    rng.shuffle(unused)
    times = sorted(T0 + rng.uniform(0, 70 * DAY) for _ in range(operations))
    known = dict.fromkeys(
        ("reports", "incidents", "verified", "unfounded", "arrest_operations", "masked", "detained"), 0
    ) | dict.fromkeys(("unidentified", "unmarked", "no_plates", "debriefed"), 0)
    seen = set()
    for n, at in enumerate(times):
        lat, lon = rng.choice(SPOTS)
        lat += rng.uniform(-0.01, 0.01)
        lon += rng.uniform(-0.01, 0.01)
        arrests = rng.random() < 0.92
        masked = rng.random() < 0.5
        details = {"detained": "yes" if arrests else "no", "identifiers": ["ice", "masks"] if masked else ["ice"]}
        ids = set()
        for k in range(1 + (n % 3)):  # one to three reports of the same scene within minutes
            contact = unused.pop() if unused else rng.choice(pool)
            seen.add(contact)
            merge = incidents.merge_report(r, _report(contact, lat + k * 1e-4, lon, **details), settings, at + k * 60)
            known["reports"] += 1
            known["incidents"] += merge.is_new
            if merge.is_new:  # a scene that joined an earlier incident leaves its outcome to that one
                ids.add(merge.incident_id)
        outcome = rng.random()
        for incident_id in ids:
            status = "verified" if outcome < 0.75 else "unfounded" if outcome < 0.85 else None
            debriefed = status == "verified" and rng.random() < 0.8
            early = debriefed and rng.random() < 0.1
            detained = _debriefs(r, settings, rng, incident_id, at + 600, arrests, masked, known) if early else 0
            try:
                if status:
                    incidents.set_status(r, incident_id, status, at + 900, "observer", settings=settings)
            except incidents.BadTransition:  # the scene joined an incident an observer already settled
                continue
            if debriefed and not early:
                detained = _debriefs(r, settings, rng, incident_id, at + 1200, arrests, masked, known)
            if status == "verified":
                known["verified"] += 1
                known["arrest_operations"] += arrests
                known["masked"] += masked
                known["detained"] += detained or int(arrests)  # without an observer's count: one per operation
                known["debriefed"] += debriefed
            elif status == "unfounded":
                known["unfounded"] += 1
    known["reporters"] = len(seen)
    return known, times[-1]


def test_ten_weeks_of_history_survive_retention_exactly(rt, r, settings, runner):
    known, last = _history(r, settings)
    assert 1_800 <= known["reports"] <= 2_000 and known["reporters"] == 1_100
    assert 600 <= known["arrest_operations"] <= 700

    incidents.expire_stale(r, settings, last + DAY)  # nothing new for a day: every incident closes
    retention.purge(rt, last + 40 * DAY)  # and 30 days after closing, retention deletes it
    leftover = [k for k in r.scan_iter(match="hotline:{inc:*") if r.type(k) != "none"]
    assert leftover == [] and r.zcard(store.incidents_closed_key()) == 0

    result = runner.invoke(stats_command, ["--json"])
    assert result.exit_code == 0, result.output
    totals = json.loads(result.output)
    debriefed = known.pop("debriefed")
    assert debriefed > 400 and known["detained"] > 2 * known["arrest_operations"]  # observers counted people
    for name, value in known.items():
        assert totals[name] == value, name
    assert totals["unidentified_share"] == round(known["unidentified"] / known["verified"], 3)


def test_a_scene_reported_three_times_is_one_incident_and_three_reports(r, settings):
    for k, contact in enumerate(("a", "b", "a")):
        incidents.merge_report(r, _report(contact, *SPOTS[0]), settings, T0 + k * 60)
    result = stats.totals(r, settings)
    assert (result["reports"], result["incidents"], result["reporters"]) == (3, 1, 2)


def test_a_reporter_is_counted_once_across_days(r, settings):
    incidents.merge_report(r, _report("a", *SPOTS[0]), settings, T0)
    incidents.merge_report(r, _report("a", *SPOTS[3]), settings, T0 + 3 * DAY)
    assert stats.totals(r, settings)["reporters"] == 1
    assert r.ttl(store.contact_key("a")) > 0  # the "reported" mark lives no longer than a language preference


def test_an_observer_correcting_verified_to_unfounded_moves_the_counts(r, settings):
    merge = incidents.merge_report(r, _report("a", *SPOTS[0], detained="yes"), settings, T0)
    incidents.set_status(r, merge.incident_id, "verified", T0 + 60, "observer", settings=settings)
    assert stats.totals(r, settings)["arrest_operations"] == 1
    incidents.set_status(r, merge.incident_id, "unfounded", T0 + 120, "it was local police", settings=settings)
    result = stats.totals(r, settings)
    assert (result["verified"], result["arrest_operations"], result["unfounded"]) == (0, 0, 1)


def test_verified_by_an_observer_text_is_counted(rt, r, settings, phone, worker, runner, tmp_path):
    """The SMS path (YES, then VERIFIED ICE …) counts through the same lifecycle call."""
    from bot import dispatch

    roster = tmp_path / "roster.csv"
    roster.write_text(
        'name,phone,languages,location,radius_km,on_call\nAna,+12135550101,en,"33.9772,-118.2253",10,yes\n'
    )
    assert runner.invoke(observers_group, ["import", str(roster)]).exit_code == 0
    merge = incidents.merge_report(r, _report("a", *SPOTS[0], detained="yes"), settings, T0)
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    phone.text("YES", from_="+12135550101")
    phone.text("VERIFIED ICE, no ID", from_="+12135550101")
    result = stats.totals(r, settings)
    assert (result["verified"], result["arrest_operations"]) == (1, 1)


def test_breakdowns_suppress_small_cells_but_totals_stay_exact(r, settings, runner):
    for k in range(7):
        incidents.merge_report(r, _report(f"hp{k}", *SPOTS[0]), settings, T0 + k * 3600)
    incidents.merge_report(r, _report("bell", *SPOTS[1]), settings, T0)
    result = runner.invoke(stats_command, ["--by", "city", "--json"])
    out = json.loads(result.output)
    rows = {row["label"]: row for row in out["rows"]}
    assert rows["Huntington Park"]["reports"] == 7
    assert rows["Bell"]["reports"] is None  # one report in Bell could single someone out
    assert out["reports"] == 8 and out["suppressed_below"] == settings.stats_min_cell

    csv_out = runner.invoke(stats_command, ["--by", "city", "--csv"]).output
    lines = list(csv.reader(io.StringIO(csv_out)))
    bell = next(line for line in lines if line[0] == "Bell")
    assert bell[1] == "<5" and lines[-1][0] == "total" and lines[-1][1] == "8"


def test_stats_by_week_and_date_range(r, settings, runner):
    incidents.merge_report(r, _report("a", *SPOTS[0]), settings, T0)  # Wednesday 2026-07-01
    incidents.merge_report(r, _report("b", *SPOTS[3]), settings, T0 + 8 * DAY)
    week = stats.totals(r, settings, by="week")
    assert [cell.label for cell in week["rows"]] == ["2026-06-29", "2026-07-06"]
    only_first = stats.totals(r, settings, since=date(2026, 7, 1), until=date(2026, 7, 2))
    assert only_first["reports"] == 1


def test_stats_refuses_a_malformed_date(runner):
    result = runner.invoke(stats_command, ["--since", "last tuesday"])
    assert result.exit_code == 2 and "is not a date" in result.output


def test_headline_table_reads_like_a_network_report(r, settings, runner):
    merge = incidents.merge_report(r, _report("a", *SPOTS[0], detained="yes"), settings, T0)
    incidents.set_status(r, merge.incident_id, "verified", T0 + 60, "observer", settings=settings)
    out = runner.invoke(stats_command, []).output
    assert "Sightings reported" in out and "Verified operations with arrests" in out
    assert "reporter-" not in out and "+1" not in out


def test_unplaced_reports_are_counted(rt, r, settings):
    """An unplaced report never reaches the merge; report.submit counts it."""
    from bot import reports
    from bot.conversation import ActionCall

    call = ActionCall(
        name="report.submit",
        contact_id="x",
        e164="+13235550123",
        answers={"activity": "raid", "where": {"raw": "somewhere"}},
        language="en",
        channel="sms",
        now=T0,
    )
    reports.submit(rt, call)
    result = stats.totals(r, settings)
    assert (result["reports"], result["unplaced"], result["incidents"]) == (1, 1, 0)


def test_export_is_deidentified_and_audited(r, settings, runner):
    merge = incidents.merge_report(r, _report("secret-contact", 33.96291234, -118.22812345), settings, T0)
    out = runner.invoke(export_command, ["--format", "csv"]).output
    assert out.startswith("# free text: none")
    assert "7ABC123" not in out and "secret-contact" not in out and "33.9629" not in out
    row = next(csv.DictReader(line for line in out.splitlines() if not line.startswith("#")))
    assert row["ref"] == merge.ref and row["area"] == "90255" and row["reporters"] == "1"

    geo = json.loads(runner.invoke(export_command, ["--format", "geojson", "--free-text", "--by", "maria"]).output)
    assert geo["free_text_included"] is True
    assert geo["features"][0]["properties"]["markings"] == "plate 7ABC123"
    lon, lat = geo["features"][0]["geometry"]["coordinates"]
    centroid = next((zlat, zlon) for code, _, zlat, zlon in areas.zip_table(settings.bounds) if code == "90255")
    assert (lat, lon) == centroid  # the area's centroid, never the reported point

    audit = r.xrange(store.audit_key())
    assert [(e[1]["by"], e[1]["format"], e[1]["free_text"]) for e in audit] == [
        ("cli", "csv", "0"),
        ("maria", "geojson", "1"),
    ]


def test_export_date_range(r, settings):
    incidents.merge_report(r, _report("a", *SPOTS[0]), settings, T0)
    incidents.merge_report(r, _report("b", *SPOTS[3]), settings, T0 + 5 * DAY)
    rows = export.rows(r, settings, date(2026, 7, 3), None)
    assert [row["day"] for row in rows] == ["2026-07-06"]


def test_closing_a_verified_incident_keeps_it_verified(r, settings):
    merge = incidents.merge_report(r, _report("a", *SPOTS[0], detained="yes"), settings, T0)
    incidents.set_status(r, merge.incident_id, "verified", T0 + 60, "observer", settings=settings)
    incidents.set_status(r, merge.incident_id, "closed", T0 + 3600, "clear", settings=settings)
    assert stats.totals(r, settings)["verified"] == 1


def _two_observers(runner, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "name,phone,languages,location,radius_km,on_call\n"
        'Ana,+12135550101,en,"33.9772,-118.2253",10,yes\n'
        'Ben,+12135550102,en,"33.9780,-118.2250",10,yes\n'
    )
    assert runner.invoke(observers_group, ["import", str(roster)]).exit_code == 0


def test_dispatch_milestones_are_counted_as_they_happen(rt, r, settings, phone, worker, runner, tmp_path):
    """First accept and first arrival land in minute buckets; the second YES completes a pair."""
    import time

    from bot import dispatch

    _two_observers(runner, tmp_path)
    merge = incidents.merge_report(r, _report("a", *SPOTS[0]), settings, time.time())
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    phone.text("YES", from_="+12135550101")
    phone.text("YES", from_="+12135550102")
    phone.text("ARRIVED", from_="+12135550101")
    phone.text("ARRIVED", from_="+12135550102")  # a second arrival is not a first arrival
    result = stats.totals(r, settings)
    assert result["first_accept"]["le_2m"] == 1 and sum(result["first_accept"].values()) == 1
    assert result["first_arrival"]["le_2m"] == 1 and sum(result["first_arrival"].values()) == 1
    assert result["two_observers"] == 1 and result["escalations"] == 0


def test_an_escalation_is_counted_once(rt, r, settings, worker):
    from bot import dispatch

    merge = incidents.merge_report(r, _report("a", *SPOTS[0]), settings, T0)  # nobody on the roster
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    assert stats.totals(r, settings)["escalations"] == 1


def test_durations_fall_in_their_buckets(r, settings):
    incident = {"created_at": "2026-07-01T17:00:00+00:00", "lat": SPOTS[0][0], "lon": SPOTS[0][1], "kind": "raid"}
    created = 1_782_925_200.0
    for minutes in (1, 4, 4, 90):
        stats.record_dispatch(r, settings, incident, "first_accept", created + minutes * 60)
    buckets = stats.totals(r, settings)["first_accept"]
    assert (buckets["le_2m"], buckets["le_5m"], buckets["over_60m"]) == (1, 2, 1)


def test_console_stats_page_shows_the_headline_and_weekly_bars(rt, r, settings, coordinator, client):
    for k in range(6):
        merge = incidents.merge_report(r, _report(f"hp{k}", *SPOTS[0], detained="yes"), settings, T0 + k * DAY)
        incidents.set_status(r, merge.incident_id, "verified", T0 + k * DAY + 60, "observer", settings=settings)
    incidents.merge_report(r, _report("bell", *SPOTS[1]), settings, T0)
    assert client.get("/dashboard/stats").status_code in (302, 401), "anonymous: no statistics"
    console = coordinator()
    page = console.client.get("/dashboard/stats")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "script" not in page.headers["Content-Security-Policy"].split("script-src")[0]
    assert "Sightings reported" in html and "<svg" in html and html.count('class="reports"') >= 1
    assert "Huntington Park" in html and "&lt;5" in html  # Bell's single report is suppressed
    assert "bell" not in html and "hp0" not in html  # no contact id ever reaches the page


def test_console_stats_page_in_spanish(r, coordinator):
    console = coordinator()
    html = console.client.get("/dashboard/stats", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Avistamientos reportados" in html
