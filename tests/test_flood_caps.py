"""Flood caps: one number (or web chat) past its cap of new incidents is kept and shown, not dispatched.

Issue 12's drill: one number sent 500 reports in 21 s and got 500 incidents and
1,509 dispatch texts. Here the cap is small (2 per 10 min, 3 per hour) so each
rule shows in a few reports: held past the cap, trusted exempt, the windows
reset, a coordinator releases, a second reporter releases, the web chat's
shared cap, unplaced reports, and the reporter's reply never changes.
"""

from __future__ import annotations

import re

import pytest
from test_dispatch import add_observer
from test_end_to_end import ANSWERS, PIN, SENT, _report

from bot import handoffs, incidents, privacy, reports, store
from bot.cli.incidents import incidents_command
from bot.conversation import ActionCall
from bot.dispatch import board, digest

T0 = 1_800_000_000.0
SCENE = (33.9795, -118.2200)


@pytest.fixture
def settings(settings):
    return settings.replace(cap_contact_10min=2, cap_contact_hour=3, cap_web_hour=3)


def _call(contact: str, spot: int = 0, now: float = T0, channel: str = "sms", where: dict | None = None) -> ActionCall:
    """A report.submit call `spot` km north of the scene (each spot its own incident)."""
    place = where or {"lat": SCENE[0] + spot / 111.0, "lon": SCENE[1], "precision_m": 20, "label": f"spot {spot}"}
    return ActionCall(
        name="report.submit",
        contact_id=contact,
        e164="+13235550140",
        answers={"activity": "raid", "where": place},
        language="en",
        channel=channel,
        now=now,
    )


def _submit(rt, contact: str, spot: int, now: float = T0, channel: str = "sms") -> incidents.Merge | dict:
    result = reports.submit(rt, _call(contact, spot, now, channel))
    return incidents.get(rt.r, result["incident_id"])


def _dispatched(rt, incident_id: str) -> bool:
    """A dispatch was planned (enqueue_start snapshots the plan): the incident went to the waves."""
    return bool(rt.r.exists(store.incident_plan_key(incident_id)))


def test_past_the_cap_a_new_incident_is_kept_and_shown_but_not_dispatched(
    rt, worker, release_scheduled, twilio_outbox, settings
):
    add_observer(rt.r, settings, "A", "+12135550101", 1)
    first, second, third = (_submit(rt, "flooder", spot) for spot in (0, 5, 10))
    assert [bool(i["held"]) for i in (first, second, third)] == [False, False, True]
    assert _dispatched(rt, first["id"]) and _dispatched(rt, second["id"])
    assert not _dispatched(rt, third["id"]), "the third in 10 minutes is not dispatched"
    assert [e["event"] for e in incidents.timeline(rt.r, third["id"])][-1] == "held"

    row = next(i for i in board.board(rt, T0) if i["id"] == third["id"])
    assert "held" in row["reasons"] and row["needs_action"], "coordinators see it on the console"

    worker()  # the first held report of a quiet minute is told at once
    for spot in (15, 20, 25):  # more: held too, and only counted in the coordinators' digest
        _submit(rt, "flooder", spot)
    worker()
    to_coordinators = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert len(to_coordinators) == 1 and "flood cap" in to_coordinators[0], to_coordinators
    assert third["ref"] in to_coordinators[0], "the first held report is told in full, at once"
    assert "+1323" not in to_coordinators[0], "no number in the notice"
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    to_coordinators = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert len(to_coordinators) == 2 and "3 held reports" in to_coordinators[1], to_coordinators


def test_a_trusted_contact_is_never_capped(rt):
    incidents.set_trust(rt.r, "newsroom", "trusted")
    held = [_submit(rt, "newsroom", spot)["held"] for spot in range(0, 30, 5)]
    assert not any(held)


def test_the_caps_reset_as_their_windows_pass(rt):
    assert not _submit(rt, "busy", 0, T0)["held"]
    assert not _submit(rt, "busy", 5, T0 + 1)["held"]
    assert _submit(rt, "busy", 10, T0 + 2)["held"], "2 in 10 minutes"
    # 11 minutes on: the 10-minute cap is free again, but 3 (one held) count against the hour's 3
    assert _submit(rt, "busy", 15, T0 + 660)["held"], "held incidents count too: a flood stays held"
    # an hour on, both windows are empty
    assert not _submit(rt, "busy", 20, T0 + 3700)["held"]
    assert not _submit(rt, "busy", 25, T0 + 3701)["held"]


def test_hour_cap_holds_a_steady_trickle_under_the_ten_minute_cap(rt):
    held = [bool(_submit(rt, "trickle", spot, T0 + spot * 120)["held"]) for spot in range(0, 25, 5)]  # every 10 min
    assert held == [False, False, False, True, True]


def test_a_coordinator_releases_a_held_incident_to_dispatch(rt, coordinator, worker, twilio_outbox, settings):
    observer = "+12135550101"
    add_observer(rt.r, settings, "A", observer, 1)
    for spot in (20, 25):
        _submit(rt, "flooder", spot)
    held = _submit(rt, "flooder", 0)
    assert held["held"]
    worker()
    assert not [m for m in twilio_outbox.messages() if m["to"] == observer]

    console = coordinator()
    answer = console.action(held["ref"], "release", note="called them back: real")
    assert answer.status_code == 200, answer.get_json()
    assert not incidents.get(rt.r, held["id"])["held"]
    worker()
    assert [m for m in twilio_outbox.messages() if m["to"] == observer], "released: the observer is texted"
    events = [e for e in incidents.timeline(rt.r, held["id"]) if e["event"] == "released"]
    assert events and events[0]["by"] == console.name

    again = console.action(held["ref"], "release")
    assert again.status_code == 400 and "not held" in again.get_json()["error"]


def test_release_from_the_command_line(rt, runner):
    for spot in (0, 5, 10):
        held = _submit(rt, "flooder", spot)
    result = runner.invoke(incidents_command, ["release", held["ref"]])
    assert result.exit_code == 0, result.output
    assert not incidents.get(rt.r, held["id"])["held"] and _dispatched(rt, held["id"])
    refused = runner.invoke(incidents_command, ["release", held["ref"]])
    assert refused.exit_code != 0 and "not held" in refused.output


def test_another_reporter_at_the_scene_releases_it_but_the_flooder_again_does_not(rt):
    for spot in (20, 25):
        _submit(rt, "flooder", spot)
    held = _submit(rt, "flooder", 0)
    result = reports.submit(rt, _call("flooder", 0, T0 + 5))
    assert result["incident_id"] == held["id"] and incidents.get(rt.r, held["id"])["held"]
    assert not _dispatched(rt, held["id"])

    result = reports.submit(rt, _call("neighbour", 0, T0 + 10))
    assert result["incident_id"] == held["id"]
    assert not incidents.get(rt.r, held["id"])["held"] and _dispatched(rt, held["id"])


def test_a_second_reporter_over_their_own_cap_does_not_release(rt):
    for spot in (20, 25):
        _submit(rt, "flooder", spot)
        _submit(rt, "partner", spot + 30)
    held = _submit(rt, "flooder", 0)
    reports.submit(rt, _call("partner", 0, T0 + 10))
    assert incidents.get(rt.r, held["id"])["held"], "two scripted numbers cannot release each other"


def test_every_web_chat_together_shares_one_cap(rt):
    held = [bool(_submit(rt, f"chat{n}", n * 5, channel="web")["held"]) for n in range(4)]
    assert held == [False, False, False, True], "new chat ids cost nothing: the web has a cap of its own"
    assert not _submit(rt, "phone", 40)["held"], "SMS reporters are not held by the web's cap"


def test_unplaced_reports_past_the_cap_are_queued_held_without_texting_coordinators_each(
    rt, worker, release_scheduled, twilio_outbox, settings
):
    for n in range(5):
        result = reports.submit(rt, _call("flooder", where={"raw": f"behind the swap meet {n}"}))
        assert result["ref"].startswith("U")
        worker()
    queue = sorted(handoffs.list_open(rt.r, T0), key=lambda item: int(item["ref"][1:]))
    assert len(queue) == 5, "every report is kept for coordinators"
    assert [bool(item.get("held")) for item in queue] == [False, False, True, True, True]
    worker()
    release_scheduled(digest.WINDOW_S + 1)
    worker()
    to_coordinators = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert len(to_coordinators) == 2, to_coordinators
    assert "could not be placed" in to_coordinators[0], "the first is told in full"
    assert "1 unplaced report" in to_coordinators[1] and "3 held reports" in to_coordinators[1]


def test_the_reporter_gets_the_same_calm_reply_when_held(rt, phone, settings, worker):
    capped = "+13235550177"
    for spot in (20, 25):  # this number already opened two incidents in the last minutes
        reports.submit(rt, _call(privacy.contact_id(settings.secret, capped), spot, now=__import__("time").time()))

    elsewhere = {"Latitude": "34.0617", "Longitude": "-118.2003"}  # Boyle Heights, 10 km from PIN
    other = tuple((words, {**a, **elsewhere} if "Latitude" in a else a) for words, a in ANSWERS)
    assert PIN != elsewhere
    normal = _report(phone, from_="+13235550123")
    held = _report(phone, from_=capped, answers=other)
    assert any(SENT[0] in reply for reply in held), "told observers are being alerted, like anyone"

    def plain(replies):
        return [re.sub(r"\b[0-9A-Z]{5}\b", "REF", reply) for reply in replies]

    assert plain(held) == plain(normal), "nothing in the replies tells a flooder where the cap is"
    merged = {i["id"]: i for i in incidents.list_open(rt.r)}
    assert sorted(bool(i["held"]) for i in merged.values()) == [False, False, False, True]


def test_delete_does_not_reset_a_flooders_cap(rt):
    from bot import contacts

    for spot in (0, 5):
        _submit(rt, "flooder", spot)
    contacts.erase(rt.r, "flooder")  # DELETE / BORRAR
    assert _submit(rt, "flooder", 10)["held"], "texting DELETE between reports must not reset the cap"


def test_a_contacts_later_incidents_queue_behind_every_first_report(rt):
    """Dispatch stays fast under a flood: numbers that already reported this hour wait behind first reports."""
    first = _submit(rt, "busy", 0)
    second = _submit(rt, "busy", 5, T0 + 1)
    fresh = _submit(rt, "newcomer", 10, T0 + 2)
    urgent = rt.queue("dispatch").job_ids
    later = rt.queue("dispatch_later").job_ids
    assert len(urgent) == 2 and len(later) == 1
    assert [rt.queue("dispatch_later").fetch_job(j).args[0] for j in later] == [second["id"]]
    assert {rt.queue("dispatch").fetch_job(j).args[0] for j in urgent} == {first["id"], fresh["id"]}


def test_a_later_dispatch_still_goes_out_when_the_worker_gets_to_it(rt, worker, twilio_outbox, settings):
    add_observer(rt.r, settings, "A", "+12135550101", 1)
    add_observer(rt.r, settings, "B", "+12135550102", 6)
    _submit(rt, "busy", 0)
    second = _submit(rt, "busy", 5, T0 + 1)
    worker()
    assert _dispatched(rt, second["id"]) and rt.queue("dispatch_later").count == 0
    assert len([m for m in twilio_outbox.messages() if m["to"].startswith("+1213555010")]) >= 2
