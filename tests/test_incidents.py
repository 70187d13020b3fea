"""Incidents against the real Redis: merge/split edges, kinds, corroboration, trust, expiry, timeline."""

from __future__ import annotations

import math
import threading

import pytest

from bot import incidents, store
from bot.config import Settings
from bot.errors import NoSuchIncident
from bot.incidents import Report

EARTH_M = 6372797.560856
"""Redis GEO's earth radius, so test offsets match its distances."""

T0 = 1_780_000_000.0
HP = (33.98166, -118.22505)
"""Florence Ave & Pacific Blvd, Huntington Park."""


@pytest.fixture
def cfg() -> Settings:
    return Settings(dedupe_radius_m=400, dedupe_window_min=30, incident_ttl_min=240)


def north(point, metres):
    """Return the point `metres` due north of `point`."""
    return point[0] + math.degrees(metres / EARTH_M), point[1]


def report(contact="c1", point=HP, precision_m=30, kind="raid", **extra):
    lat, lon = point if point else (None, None)
    return Report(contact, lat, lon, precision_m, kind, extra.get("details", {"agents": 3}), "en", "sms")


def test_first_report_opens_new_incident_to_dispatch(r, cfg):
    merge = incidents.merge_report(r, report(), cfg, T0)
    assert merge.is_new and merge.should_dispatch
    assert (merge.reporters, merge.status) == (1, "reported")
    got = incidents.get(r, merge.incident_id)
    assert got["lat"] == pytest.approx(HP[0]) and got["precision"] == "exact"
    assert got["ref"] == merge.ref and len(merge.ref) == 5
    assert got["details"] == {"agents": 3}
    assert got["believed"] == []  # one unverified report: nothing believed yet
    assert got["created_at"].startswith("2026-05-28T")


def test_second_report_within_window_joins_incident(r, cfg):
    first = incidents.merge_report(r, report("c1"), cfg, T0)
    second = incidents.merge_report(r, report("c2", north(HP, 200)), cfg, T0 + 29 * 60)
    assert second.incident_id == first.incident_id and not second.is_new
    assert second.reporters == 2 and second.status == "corroborated" and second.escalated
    assert incidents.get(r, first.incident_id)["believed"] == ["2 distinct reporters"]


def test_report_just_inside_radius_joins_and_just_outside_splits(r, cfg):
    first = incidents.merge_report(r, report("c1"), cfg, T0)
    radius = cfg.dedupe_radius_m + 30  # base + the worse precision of two exact reports
    inside = incidents.merge_report(r, report("c2", north(HP, radius - 3)), cfg, T0 + 1)
    assert inside.incident_id == first.incident_id
    outside = incidents.merge_report(r, report("c3", north(HP, -(radius + 3))), cfg, T0 + 2)
    assert outside.is_new


def test_report_at_window_edge_joins_and_one_second_later_splits(r, cfg):
    first = incidents.merge_report(r, report("c1"), cfg, T0)
    window_s = cfg.dedupe_window_min * 60
    edge = incidents.merge_report(r, report("c2"), cfg, T0 + window_s)
    assert edge.incident_id == first.incident_id
    # the window runs from the latest report, so the scene is now alive until T0 + 2 windows
    late = incidents.merge_report(r, report("c3"), cfg, T0 + 2 * window_s + 1)
    assert late.is_new


def test_late_replayed_report_joins_without_rewinding_the_window(r, cfg):
    first = incidents.merge_report(r, report("c1"), cfg, T0 + 600)
    late = incidents.merge_report(r, report("c2"), cfg, T0)  # e.g. replayed from the outage spool
    assert late.incident_id == first.incident_id
    assert incidents.get(r, first.incident_id)["last_at"] == incidents._iso(T0 + 600)
    window_s = cfg.dedupe_window_min * 60
    assert incidents.merge_report(r, report("c3"), cfg, T0 + 600 + window_s).incident_id == first.incident_id


def test_radius_grows_with_worse_precision(r, cfg):
    zip_level = incidents.merge_report(r, report("c1", precision_m=2500), cfg, T0)
    far_exact = incidents.merge_report(r, report("c2", north(HP, 2000)), cfg, T0 + 1)
    assert far_exact.incident_id == zip_level.incident_id
    beyond = incidents.merge_report(r, report("c3", north(HP, -(400 + 2500 + 50))), cfg, T0 + 2)
    assert beyond.is_new


@pytest.mark.parametrize("incident_m,report_m", [(300, 30), (30, 300), (150, 150), (5000, 30), (2500, 9999)])
def test_radius_is_base_plus_worse_precision_for_every_class(r, cfg, incident_m, report_m):
    first = incidents.merge_report(r, report("c1", precision_m=incident_m), cfg, T0)
    radius = cfg.dedupe_radius_m + min(max(incident_m, report_m), 5000)
    inside = incidents.merge_report(r, report("c2", north(HP, radius - 3), precision_m=report_m), cfg, T0 + 1)
    assert inside.incident_id == first.incident_id
    outside = incidents.merge_report(r, report("c3", north(HP, -(radius + 3)), precision_m=report_m), cfg, T0 + 2)
    assert outside.is_new


@pytest.mark.parametrize("report_m", [2500, 5000])
def test_a_city_or_zip_report_never_folds_into_a_sharper_incident_km_away(r, cfg, report_m):
    street = incidents.merge_report(r, report("c1", precision_m=150), cfg, T0)
    vague = incidents.merge_report(r, report("c2", north(HP, 2500), precision_m=report_m), cfg, T0 + 1)
    assert vague.is_new and vague.should_dispatch, "the vague report is its own incident, dispatched"
    assert incidents.get(r, street.incident_id)["reporters"] == 1
    close = incidents.merge_report(r, report("c3", north(HP, 400 + 150 - 3), precision_m=report_m), cfg, T0 + 2)
    assert close.incident_id in (street.incident_id, vague.incident_id) and not close.is_new


def test_sharper_report_moves_incident_to_its_point(r, cfg):
    first = incidents.merge_report(r, report("c1", precision_m=2500), cfg, T0)
    pin = north(HP, 1500)
    incidents.merge_report(r, report("c2", pin, precision_m=30), cfg, T0 + 1)
    got = incidents.get(r, first.incident_id)
    assert (got["lat"], got["precision"]) == (pytest.approx(pin[0]), "exact")
    # now exact: a report 1.5 km the other way no longer joins
    assert incidents.merge_report(r, report("c3", north(HP, -100), precision_m=30), cfg, T0 + 2).is_new


def test_checkpoint_near_home_raid_is_a_separate_incident(r, cfg):
    raid = incidents.merge_report(r, report("c1", kind="raid"), cfg, T0)
    checkpoint = incidents.merge_report(r, report("c2", north(HP, 300), kind="checkpoint"), cfg, T0 + 1)
    assert checkpoint.is_new and checkpoint.incident_id != raid.incident_id


def test_agents_sighting_joins_raid_and_generic_kind_is_refined(r, cfg):
    first = incidents.merge_report(r, report("c1", kind="agents"), cfg, T0)
    raid = incidents.merge_report(r, report("c2", kind="raid"), cfg, T0 + 1)
    assert raid.incident_id == first.incident_id
    assert incidents.get(r, first.incident_id)["kind"] == "raid"
    assert incidents.merge_report(r, report("c3", kind="checkpoint"), cfg, T0 + 2).is_new


def test_unknown_kind_is_treated_as_other(r, cfg):
    merge = incidents.merge_report(r, report("c1", kind="ufo"), cfg, T0)
    assert incidents.get(r, merge.incident_id)["kind"] == "other"


def test_one_reporter_texting_five_times_is_one_reporter(r, cfg):
    merges = [incidents.merge_report(r, report("same"), cfg, T0 + i) for i in range(5)]
    assert len({m.incident_id for m in merges}) == 1
    assert [m.reporters for m in merges] == [1, 1, 1, 1, 1]
    got = incidents.get(r, merges[0].incident_id)
    assert (got["status"], got["reports"]) == ("reported", 5)


def test_nearest_of_two_open_incidents_is_joined(r, cfg):
    a = incidents.merge_report(r, report("c1", HP), cfg, T0)
    b = incidents.merge_report(r, report("c2", north(HP, 800)), cfg, T0)
    near_b = incidents.merge_report(r, report("c3", north(HP, 500)), cfg, T0 + 1)
    assert near_b.incident_id == b.incident_id != a.incident_id


def test_trusted_contact_report_starts_corroborated(r, cfg):
    r.hset(store.contact_key("trusted1"), "trust", "trusted")
    merge = incidents.merge_report(r, report("trusted1"), cfg, T0)
    assert merge.status == "corroborated" and merge.should_dispatch
    assert incidents.get(r, merge.incident_id)["believed"] == ["trusted reporter"]


def test_trusted_contact_joining_corroborates(r, cfg):
    first = incidents.merge_report(r, report("c1"), cfg, T0)
    r.hset(store.contact_key("t"), "trust", "trusted")
    joined = incidents.merge_report(r, report("t"), cfg, T0 + 1)
    assert (joined.incident_id, joined.status, joined.escalated) == (first.incident_id, "corroborated", True)


def test_blocked_contact_is_never_dispatched_nor_counted(r, cfg):
    r.hset(store.contact_key("troll"), mapping={"trust": "blocked", "language": "es"})
    alone = incidents.merge_report(r, report("troll"), cfg, T0)
    assert alone.is_new and not alone.should_dispatch and alone.ref
    assert incidents.list_open(r) == []  # never absorbs real reports either
    real = incidents.merge_report(r, report("c1"), cfg, T0 + 1)
    assert real.is_new and real.should_dispatch
    again = incidents.merge_report(r, report("troll"), cfg, T0 + 2)
    assert again.incident_id == real.incident_id and not again.should_dispatch
    assert incidents.get(r, real.incident_id)["reporters"] == 1
    assert incidents.timeline(r, real.incident_id)[-1]["event"] == "report_ignored"
    assert r.hget(store.contact_key("troll"), "language") == "es"


def test_unplaced_report_opens_its_own_incident(r, cfg):
    first = incidents.merge_report(r, report("c1", point=None, precision_m=None), cfg, T0)
    second = incidents.merge_report(r, report("c2", point=None, precision_m=None), cfg, T0)
    assert first.is_new and second.is_new
    assert [i["precision"] for i in incidents.list_open(r)] == ["unknown", "unknown"]


def test_incident_expires_from_open_set_after_ttl_with_nothing_new(r, cfg):
    old = incidents.merge_report(r, report("c1"), cfg, T0)
    ttl_s = cfg.incident_ttl_min * 60
    incidents.add_event(r, old.incident_id, "observer_arrived", T0 + 60, observer="o1")
    assert [i["id"] for i in incidents.list_open(r, T0 + ttl_s, cfg)] == [old.incident_id]
    assert incidents.list_open(r, T0 + 60 + ttl_s + 1, cfg) == []
    got = incidents.get(r, old.incident_id)
    assert got["status"] == "closed"
    assert incidents.timeline(r, old.incident_id)[-1]["reason"] == "expired"


def test_new_report_expires_stale_incidents_and_does_not_join_them(r, cfg):
    old = incidents.merge_report(r, report("c1"), cfg, T0)
    fresh = incidents.merge_report(r, report("c2"), cfg, T0 + cfg.incident_ttl_min * 60 + 1)
    assert fresh.is_new
    assert incidents.get(r, old.incident_id)["status"] == "closed"
    assert r.zscore(store.incidents_time_key(), old.incident_id) is None


def test_status_moves_forward_and_refuses_going_back(r, cfg):
    merge = incidents.merge_report(r, report("c1"), cfg, T0)
    assert incidents.set_status(r, merge.incident_id, "verified", T0 + 5, "observer saw ICE vests") == "reported"
    assert incidents.get(r, merge.incident_id)["believed"] == ["verified: observer saw ICE vests"]
    with pytest.raises(incidents.BadTransition):
        incidents.set_status(r, merge.incident_id, "reported", T0 + 6, "oops")
    incidents.set_status(r, merge.incident_id, "closed", T0 + 7, "scene clear")
    with pytest.raises(incidents.BadTransition):
        incidents.set_status(r, merge.incident_id, "verified", T0 + 8, "late")
    with pytest.raises(incidents.BadTransition):
        incidents.set_status(r, merge.incident_id, "bogus", T0 + 8, "")


def test_unfounded_incident_leaves_open_set_and_new_report_opens_another(r, cfg):
    merge = incidents.merge_report(r, report("c1"), cfg, T0)
    incidents.set_status(r, merge.incident_id, "unfounded", T0 + 5, "local police, not ICE")
    assert incidents.list_open(r) == []
    assert incidents.merge_report(r, report("c2"), cfg, T0 + 6).is_new


def test_observer_correction_from_unfounded_to_verified_reopens_coarse_incident(r, cfg):
    merge = incidents.merge_report(r, report("c1", precision_m=2500), cfg, T0)
    incidents.set_status(r, merge.incident_id, "unfounded", T0 + 5, "looked like police")
    assert r.zscore(store.incidents_geo_class_key("zip"), merge.incident_id) is None
    incidents.set_status(r, merge.incident_id, "verified", T0 + 9, "second observer saw HSI vests")
    assert [i["id"] for i in incidents.list_open(r)] == [merge.incident_id]
    assert r.zscore(store.incidents_geo_class_key("zip"), merge.incident_id) is not None
    assert incidents.merge_report(r, report("c2", north(HP, 2000)), cfg, T0 + 10).incident_id == merge.incident_id


def test_closed_incidents_are_indexed_by_closing_time_for_retention(r, cfg):
    r.hset(store.contact_key("troll"), "trust", "blocked")
    blocked = incidents.merge_report(r, report("troll"), cfg, T0)
    closed = incidents.merge_report(r, report("c1", north(HP, 3000)), cfg, T0)
    incidents.set_status(r, closed.incident_id, "closed", T0 + 60, "scene clear")
    assert r.zrange(store.incidents_closed_key(), 0, -1, withscores=True) == [
        (blocked.incident_id, T0),
        (closed.incident_id, T0 + 60),
    ]
    assert all(r.zcard(store.incidents_geo_class_key(c)) == 0 for c in ("exact", "street", "landmark", "zip", "city"))


def test_missing_incident_raises(r):
    with pytest.raises(NoSuchIncident):
        incidents.get(r, "999")
    with pytest.raises(NoSuchIncident):
        incidents.add_event(r, "999", "texted", T0)
    with pytest.raises(NoSuchIncident):
        incidents.set_status(r, "999", "verified", T0, "x")


def test_timeline_is_append_only_record_of_reports_and_events(r, cfg):
    merge = incidents.merge_report(r, report("c1"), cfg, T0)
    incidents.merge_report(r, report("c2"), cfg, T0 + 10)
    incidents.add_event(r, merge.incident_id, "texted", T0 + 20, observer="o1", wave=1)
    events = incidents.timeline(r, merge.incident_id)
    assert [e["event"] for e in events] == ["created", "report", "report", "status", "texted"]
    assert events[-1]["wave"] == "1" and events[-1]["at"] == T0 + 20
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    with pytest.raises(ValueError):
        incidents.add_event(r, merge.incident_id, "x", T0, at=5)


def test_list_open_counts_dispatch_states(r, cfg):
    merge = incidents.merge_report(r, report("c1"), cfg, T0)
    r.hset(
        store.incident_dispatch_key(merge.incident_id),
        mapping={"o1": "texted", "o2": "accepted", "o3": "declined", "o4": "undelivered"},
    )
    (row,) = incidents.list_open(r, T0 + 1)
    assert (row["texted"], row["accepted"], row["reporters"]) == (3, 1, 1)
    assert set(row) >= {"id", "status", "lat", "lon", "precision", "reporters", "texted", "accepted", "created_at"}


def test_reference_codes_are_short_distinct_and_reversible():
    refs = {incidents.ref_for(str(i)) for i in range(1, 5001)}
    assert len(refs) == 5000
    assert incidents.incident_id_for_ref(incidents.ref_for("42")) == "42"
    assert incidents.incident_id_for_ref(incidents.ref_for("42").lower()) == "42"
    assert incidents.incident_id_for_ref("hello!") is None


def test_fifty_simultaneous_reports_of_one_scene_make_one_incident(r, cfg, redis_server):
    barrier = threading.Barrier(50)
    merges: list = [None] * 50
    errors: list = []

    def submit(i: int) -> None:
        client = store.connect(redis_server)  # each thread its own connection: real parallel calls
        try:
            barrier.wait(timeout=30)
            merges[i] = incidents.merge_report(
                client, report(f"contact-{i}", north(HP, (i % 10) * 20)), cfg, T0 + i / 100
            )
        except Exception as exc:  # collected and asserted below; a thread's exception would be lost
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({m.incident_id for m in merges}) == 1
    assert sum(m.is_new for m in merges) == 1
    assert sum(m.escalated for m in merges) == 1
    assert sum(m.unusual for m in merges) == 1, "fifty never-seen numbers at once: flagged once"
    (row,) = incidents.list_open(r)
    # a burst of newcomers never lifts an incident above reported on its own (tests/test_corroboration.py)
    assert row["reporters"] == 50 and row["status"] == "reported" and row["unusual"]


# ---- the coordinators' command line ------------------------------------------------
def test_incidents_command_json_lists_open_incidents_with_contract_fields(runner, r, settings):
    from bot.cli.incidents import incidents_command

    first = incidents.merge_report(r, report("c1"), settings, T0)
    incidents.merge_report(r, report("c2"), settings, T0 + 5)
    r.hset(store.incident_dispatch_key(first.incident_id), mapping={"o1": "accepted", "o2": "texted"})
    import json
    import time

    now = time.time()
    incidents.merge_report(r, report("c3", north(HP, 5000)), settings, now)  # the fresh one
    result = runner.invoke(incidents_command, ["--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    # the T0 incidents expired long ago (now is far past T0 + TTL): only the fresh one is open
    assert len(rows) == 1 and rows[0]["reporters"] == 1
    for key, kind in {
        "id": str,
        "status": str,
        "lat": float,
        "lon": float,
        "precision": str,
        "reporters": int,
        "texted": int,
        "accepted": int,
        "created_at": str,
    }.items():
        assert isinstance(rows[0][key], kind), key


def test_incidents_command_counts_dispatch_and_prints_table(runner, r, settings):
    import time

    from bot.cli.incidents import incidents_command

    now = time.time()
    merge = incidents.merge_report(r, report("c1", details={"label": "Florence Ave & Pacific Blvd"}), settings, now)
    r.hset(store.incident_dispatch_key(merge.incident_id), mapping={"o1": "accepted", "o2": "texted"})
    result = runner.invoke(incidents_command, [])
    assert result.exit_code == 0
    header, row = result.output.strip().splitlines()
    assert header.split()[:4] == ["id", "ref", "status", "kind"]
    assert merge.ref in row and "Florence Ave & Pacific Blvd" in row and " 2 " in row and " 1 " in row


def test_incidents_command_says_when_nothing_is_open(runner, r):
    from bot.cli.incidents import incidents_command

    result = runner.invoke(incidents_command, [])
    assert (result.exit_code, result.output.strip()) == (0, "no open incidents")


def test_contacts_trust_block_clear_by_number_touch_only_the_trust_field(runner, r, settings):
    from bot import privacy
    from bot.cli.incidents import contacts_group

    contact = privacy.contact_id(settings.secret, "+13235550142")
    r.hset(store.contact_key(contact), "language", "es")
    result = runner.invoke(contacts_group, ["trust", "(323) 555-0142"])
    assert result.exit_code == 0 and "555" not in result.output
    assert r.hgetall(store.contact_key(contact)) == {"language": "es", "trust": "trusted"}
    runner.invoke(contacts_group, ["block", "+1 323 555 0142"])
    assert incidents.trust_of(r, contact) == "blocked"
    runner.invoke(contacts_group, ["clear", "3235550142"])
    assert r.hgetall(store.contact_key(contact)) == {"language": "es"}


def test_contacts_refuses_an_invalid_number(runner, r):
    from bot.cli.incidents import contacts_group

    result = runner.invoke(contacts_group, ["block", "12345"])
    assert result.exit_code == 1 and "not a valid phone number" in result.output
    assert "12345" not in result.output


def test_set_trust_refuses_unknown_levels(r):
    with pytest.raises(ValueError):
        incidents.set_trust(r, "c1", "vip")


def test_every_kind_has_one_name_for_texts():
    assert tuple(incidents.KIND_NAMES) == incidents.KINDS
