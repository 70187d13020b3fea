"""Acting on incidents from the console: every action on the timeline and in the audit log with `by`,
dispatch by hand to a named observer whose YES by SMS counts, verify with its preview, merge."""

from __future__ import annotations

import time

import pytest

from bot import alerts, audit, dispatch, incidents, observers, store

ANA, BETO = "+12135550101", "+12135550102"
PLACE = (33.9795, -118.2200)


def enroll(rt, name: str, e164: str, km_north: float = 2.0, on_call: str = "yes") -> str:
    row = {
        "name": name,
        "phone": e164,
        "languages": "en;es",
        "radius_km": "10",
        "location": f"{PLACE[0] + km_north / 111.0:.6f},{PLACE[1]}",
        "on_call": on_call,
    }
    return observers.upsert(rt.r, rt.settings, observers.parse_row(row, rt.settings), now=0)


def open_incident(rt, contact: str = "c" * 32, north_m: float = 0.0, kind: str = "raid") -> incidents.Merge:
    report = incidents.Report(
        contact_id=contact,
        lat=PLACE[0] + north_m / 111_000,
        lon=PLACE[1],
        precision_m=10,
        kind=kind,
        details={"label": "Pacific Blvd & Florence Ave", "started_at": time.time() - 120},
    )
    return incidents.merge_report(rt.r, report, rt.settings, time.time())


def kinds_by(timeline: list[dict]) -> list[tuple[str, str]]:
    return [(e["kind"], e["by"]) for e in timeline]


def test_the_board_carries_ref_code_urgency_and_who_accepted_by_name(rt, coordinator, phone, worker, twilio_outbox):
    enroll(rt, "Ana", ANA)
    merge = open_incident(rt)
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    code = rt.r.hget(store.incident_plan_key(merge.incident_id), "code")
    assert "you're going" in phone.text(f"YES {code}", from_=ANA)[0]
    console = coordinator()
    [row] = console.get("/dashboard/api/incidents").get_json()
    for field in ("id", "status", "lat", "lon", "precision", "reporters", "texted", "accepted", "created_at"):
        assert field in row
    assert (row["ref"], row["code"], row["accepted_by"]) == (merge.ref, code, ["Ana"])
    assert row["needs_action"] is True and "observer alone" in row["reasons"]  # never work alone: 1 of 2


def test_an_escalated_incident_comes_before_a_quiet_one(rt, coordinator, worker):
    quiet = open_incident(rt, "a" * 32)
    lonely = open_incident(rt, "b" * 32, north_m=5000)
    dispatch.enqueue_start(rt, lonely.incident_id)  # nobody on the roster: it escalates at once
    worker()
    rows = coordinator().get("/dashboard/api/incidents").get_json()
    assert [r["ref"] for r in rows] == [lonely.ref, quiet.ref]
    assert rows[0]["needs_action"] and "escalated" in rows[0]["reasons"] and not rows[1]["needs_action"]


def test_dispatch_by_hand_to_a_named_observer_who_accepts_by_sms(rt, coordinator, phone, worker, twilio_outbox):
    enroll(rt, "Ana", ANA)
    enroll(rt, "Beto", BETO, km_north=30, on_call="no")  # off duty and out of range: no wave would ask him
    merge = open_incident(rt)
    console = coordinator()
    response = console.action(merge.ref, "dispatch", observers=["beto"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"]["queued"] == ["Beto"]
    worker()
    [text] = twilio_outbox.messages()
    code = response.get_json()["result"]["code"]
    assert text["to"] == BETO and f"Hotline {code}:" in text["body"] and f"YES {code}" in text["body"]
    answer = phone.text(f"YES {code}", from_=BETO)
    assert "you're going" in answer[0] and "Z)" not in answer[0]  # the report's time in local time, not UTC
    incident = console.get(f"/dashboard/api/incidents/{merge.ref}").get_json()
    assert incident["accepted_by"] == ["Beto"]
    assert ("dispatch_by_hand", "maria") in kinds_by(incident["timeline"])
    assert ("dispatch_accepted", "Beto") in kinds_by(incident["timeline"])
    assert audit.entries(rt.r)[0]["action"] == "dispatch_by_hand" and audit.entries(rt.r)[0]["by"] == "maria"
    again = console.action(merge.ref, "dispatch", observers=["Beto"]).get_json()["result"]
    assert again["queued"] == [] and again["skipped"] == {"Beto": "already accepted"}
    assert console.action(merge.ref, "dispatch", observers=["Nobody"]).status_code == 400


def test_verify_shows_the_alert_preview_before_it_goes(rt, coordinator, worker, twilio_outbox):
    merge = open_incident(rt)
    zips, area = alerts.area_of(rt.settings, *PLACE)
    alerts.add_subscriber(rt.r, rt.settings, "s" * 32, "+13235550177", zips[0], "en", time.time())
    console = coordinator()
    preview = console.action(merge.ref, "verify", preview=True).get_json()
    assert preview["result"]["preview"]["subscribers"] == 1 and area in preview["result"]["preview"]["text"]
    assert preview["status"] == "reported"  # a preview changes nothing
    assert not twilio_outbox.messages() and worker() is None and not twilio_outbox.messages()
    done = console.action(merge.ref, "verify", note="saw vests").get_json()
    assert done["status"] == "verified" and ("verified", "maria") in kinds_by(done["timeline"])
    worker()
    assert [m["to"] for m in twilio_outbox.messages()] == ["+13235550177"]
    assert area in twilio_outbox.messages()[0]["body"]


def test_every_action_lands_on_the_timeline_and_in_the_audit_log_with_who(rt, coordinator, worker):
    enroll(rt, "Ana", ANA)
    merge = open_incident(rt)
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    console = coordinator()
    steps = [
        ("note", {"text": "caller says two vans, call me at +1 323 555 0123"}, "reported"),
        ("stop", {}, "reported"),
        ("next_wave", {}, "reported"),
        ("unfounded", {"note": "nothing there"}, "unfounded"),
        ("reopen", {}, "reported"),
        ("close", {}, "closed"),
    ]
    for action, fields, status in steps:
        response = console.action(merge.ref, action, **fields)
        assert response.status_code == 200, (action, response.get_json())
        assert response.get_json()["status"] == status, action
    timeline = console.get(f"/dashboard/api/incidents/{merge.incident_id}").get_json()["timeline"]  # by id too
    done = [(k, b) for k, b in kinds_by(timeline) if b == "maria"]
    assert done == [
        ("note", "maria"),
        ("dispatch_stopped", "maria"),
        ("next_wave", "maria"),
        ("unfounded", "maria"),
        ("reopened", "maria"),
        ("closed", "maria"),
    ]
    note = next(e for e in timeline if e["kind"] == "note")
    assert "555 0123" not in note["text"] and "two vans" in note["text"]
    assert all("T" in e["at"] and e["at"].endswith(("-08:00", "-07:00")) for e in timeline)  # local, never Z
    logged = [(e["action"], e["by"], e["ref"]) for e in audit.entries(rt.r) if e.get("incident")]
    actions = ("note", "dispatch_stopped", "next_wave", "unfounded", "reopened", "closed")
    assert logged[::-1] == [(a, "maria", merge.ref) for a in actions]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"action": "explode"}, 400),
        ({}, 400),
        ({"action": "note"}, 400),
        ({"action": "merge", "into": "ZZZZZ"}, 400),
        ({"action": "dispatch", "observers": "Ana"}, 400),
    ],
)
def test_a_bad_action_is_400(rt, coordinator, body, status):
    merge = open_incident(rt)
    console = coordinator()
    assert console.post(f"/dashboard/api/incidents/{merge.ref}/actions", **body).status_code == status


def test_unknown_incident_is_404_and_a_refused_change_409(rt, coordinator):
    merge = open_incident(rt)
    console = coordinator()
    assert console.action("ZZZZZ", "close").status_code == 404
    assert console.action(merge.ref, "close").status_code == 200
    assert console.action(merge.ref, "close").status_code == 409


def test_merge_combines_reporters_timelines_and_dispatches_and_tells_the_observers(
    rt, coordinator, phone, worker, twilio_outbox
):
    enroll(rt, "Ana", ANA)
    first = open_incident(rt, "a" * 32)
    dispatch.enqueue_start(rt, first.incident_id)
    worker()
    old_code = rt.r.hget(store.incident_plan_key(first.incident_id), "code")
    phone.text(f"YES {old_code}", from_=ANA)
    second = open_incident(rt, "b" * 32, kind="checkpoint")  # a checkpoint never merges with a raid by itself
    assert second.is_new
    twilio_outbox.clear()
    console = coordinator()
    merged = console.action(first.ref, "merge", into=second.ref).get_json()
    assert merged["status"] == "closed" and merged["merged_into"] == second.ref
    into = console.get(f"/dashboard/api/incidents/{second.ref}").get_json()
    assert into["reporters"] == 2 and into["accepted_by"] == ["Ana"]
    assert ("merged", "maria") in kinds_by(into["timeline"])
    assert any(e["kind"] == "dispatch_accepted" and e.get("from_ref") == first.ref for e in into["timeline"])
    new_code = into["code"]
    assert rt.r.hget(store.observer_open_key(observers.observer_id_for(rt.settings, ANA)), new_code) == (
        second.incident_id
    )
    worker()
    [told] = twilio_outbox.messages()
    assert told["to"] == ANA and old_code in told["body"] and new_code in told["body"]
    assert [r["ref"] for r in console.get("/dashboard/api/incidents").get_json()] == [second.ref]
    assert "on scene" in phone.text(f"ARRIVED {new_code}", from_=ANA)[0]  # her new code works
    assert console.get("/dashboard/api/incidents").get_json()[0]["arrived_by"] == ["Ana"]


def test_an_observers_verified_by_sms_goes_through_the_same_service(rt, phone, worker, coordinator):
    enroll(rt, "Ana", ANA)
    merge = open_incident(rt)
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    code = rt.r.hget(store.incident_plan_key(merge.incident_id), "code")
    phone.text(f"YES {code}", from_=ANA)
    assert "Verified recorded" in phone.text(f"VERIFIED {code} ICE vests", from_=ANA)[0]
    incident = coordinator().get(f"/dashboard/api/incidents/{merge.ref}").get_json()
    assert incident["status"] == "verified" and ("verified", "Ana") in kinds_by(incident["timeline"])
    assert ("verified", "Ana", merge.ref) in [(e["action"], e["by"], e.get("ref")) for e in audit.entries(rt.r)]
