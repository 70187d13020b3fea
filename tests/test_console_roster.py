"""The roster for coordinators (distance, duty, unreachable), admin-only roster changes, and the CLI actions."""

from __future__ import annotations

import time

from conftest import HEALTH_TOKEN
from test_console_actions import ANA, BETO, enroll, kinds_by, open_incident

from bot import audit, dispatch, observers, store
from bot.cli.incidents import incidents_command
from bot.cli.observers import observers_group


def test_the_roster_near_an_incident_is_nearest_first_with_distance(rt, coordinator):
    enroll(rt, "Beto", BETO, km_north=8)
    enroll(rt, "Ana", ANA, km_north=2, on_call="no")
    merge = open_incident(rt)
    console = coordinator()
    near = console.get(f"/dashboard/api/observers?near={merge.ref}").get_json()
    assert [(o["name"], o["km"], o["on_duty"]) for o in near] == [("Ana", 2.0, False), ("Beto", 8.0, True)]
    assert set(near[0]) >= {"name", "languages", "on_duty", "unreachable", "open_dispatches"}
    assert "+1213" not in str(near) and "phone" not in near[0]
    assert [o["name"] for o in console.get("/dashboard/api/observers").get_json()] == ["Ana", "Beto"]
    assert console.get("/dashboard/api/observers?near=ZZZZZ").status_code == 404


def test_a_dispatcher_may_not_change_the_roster_but_an_admin_may(rt, coordinator):
    ana = enroll(rt, "Ana", ANA)
    dispatcher = coordinator("maria", "dispatcher")
    assert dispatcher.post("/dashboard/api/observers/Ana/actions", action="off").status_code == 403
    admin = coordinator("luis", "admin")
    assert admin.post("/dashboard/api/observers/Ana/actions", action="off").status_code == 200
    assert not observers.is_on_duty(observers.get(rt.r, ana), time.time())
    assert admin.post("/dashboard/api/observers/ana/actions", action="on").status_code == 200
    assert observers.is_on_duty(observers.get(rt.r, ana), time.time())
    observers.mark_unreachable(rt.r, ana, "21610", time.time())
    assert admin.get("/dashboard/api/observers").get_json()[0]["unreachable"] == "21610"
    assert admin.post("/dashboard/api/observers/Ana/actions", action="clear_unreachable").status_code == 200
    assert admin.get("/dashboard/api/observers").get_json()[0]["unreachable"] is None
    assert admin.post("/dashboard/api/observers/Ana/actions", action="fly").status_code == 400
    assert admin.post("/dashboard/api/observers/Nobody/actions", action="on").status_code == 404
    logged = [(e["action"], e["by"]) for e in audit.entries(rt.r) if e["action"].startswith("observer_")]
    assert logged[::-1] == [
        ("observer_off", "luis"),
        ("observer_on", "luis"),
        ("observer_clear_unreachable", "luis"),
    ]


def test_removing_a_volunteer_erases_their_sealed_number(rt, coordinator, runner):
    ana = enroll(rt, "Ana", ANA)
    assert rt.r.hget(store.observer_key(ana), "phone")
    admin = coordinator("luis", "admin")
    assert admin.post("/dashboard/api/observers/Ana/actions", action="remove").status_code == 200
    assert not rt.r.exists(store.observer_key(ana)) and not rt.r.sismember(store.observers_all_key(), ana)
    beto = enroll(rt, "Beto", BETO)
    result = runner.invoke(observers_group, ["remove", "beto"])
    assert result.exit_code == 0 and "removed Beto" in result.output
    assert not rt.r.exists(store.observer_key(beto))
    assert runner.invoke(observers_group, ["remove", "beto"]).exit_code != 0
    assert [e["by"] for e in audit.entries(rt.r) if e["action"] == "observer_remove"] == ["cli", "luis"]


def test_the_cli_acts_on_incidents_as_cli(rt, runner, worker, twilio_outbox, coordinator):
    enroll(rt, "Ana", ANA)
    merge = open_incident(rt)
    dispatched = runner.invoke(incidents_command, ["dispatch", merge.ref, "--observer", "Ana"])
    assert dispatched.exit_code == 0, dispatched.output
    assert "texting Ana" in dispatched.output
    worker()
    assert [m["to"] for m in twilio_outbox.messages()] == [ANA]
    refused = runner.invoke(incidents_command, ["verify", merge.ref], input="n\n")
    assert refused.exit_code != 0 and "No alert subscribers" in refused.output
    assert runner.invoke(incidents_command, ["verify", merge.ref], input="y\n").exit_code == 0
    assert runner.invoke(incidents_command, ["unfounded", merge.ref, "--note", "gone"]).exit_code == 0
    closed = runner.invoke(incidents_command, ["close", merge.incident_id])
    assert closed.exit_code == 0 and "closed" in closed.output
    assert runner.invoke(incidents_command, ["close", merge.ref]).exit_code != 0  # already closed
    assert runner.invoke(incidents_command, ["close", "ZZZZZ"]).exit_code != 0
    timeline = coordinator().get(f"/dashboard/api/incidents/{merge.ref}").get_json()["timeline"]
    assert [k for k, b in kinds_by(timeline) if b == "cli"] == ["dispatch_by_hand", "verified", "unfounded", "closed"]
    listing = runner.invoke(incidents_command, ["--json"])
    assert listing.exit_code == 0 and listing.output.strip() == "[]"


def test_healthz_is_unhealthy_with_no_observers_on_the_roster(client, rt):
    report = client.get("/healthz", headers={"X-Health-Token": HEALTH_TOKEN})
    assert report.status_code == 503
    assert "no observers on the roster" in report.get_json()["dispatch"]["problems"]
    enroll(rt, "Ana", ANA)
    dispatch.beat(rt.r, "worker", time.time())
    later = client.get("/healthz", headers={"X-Health-Token": HEALTH_TOKEN}).get_json()
    assert "no observers on the roster" not in later["dispatch"]["problems"]


def test_healthz_is_unhealthy_without_twilio_credentials(rt):
    settings = rt.settings.replace(twilio_account_sid=None, twilio_auth_token=None)
    assert "no Twilio credentials" in dispatch.health(rt.__class__(settings=settings, redis_url=rt.url))["problems"]
    assert "no Twilio credentials" not in dispatch.health(rt)["problems"]
