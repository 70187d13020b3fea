"""Observers' debrief (flows/debrief.yaml): offered after VERIFIED/UNFOUNDED/CLEAR or a coordinator's close,
answered through the signed webhook, attached to the incident as codes, counted in `hotline stats`."""

from __future__ import annotations

import json
import time

from test_console_actions import ANA, BETO, enroll, open_incident

from bot import debrief, dispatch, incidents, store
from bot.cli.stats import stats_command
from bot.dispatch.plan import ACCEPTED


def _accepted(rt, phone, worker, e164=ANA, detained="no"):
    """An incident dispatched and accepted by the observer at `e164`; returns (merge, code)."""
    merge = open_incident(rt)
    if detained:
        incidents.update_report(rt.r, merge.incident_id, {"detained": detained}, None, time.time())
    dispatch.enqueue_start(rt, merge.incident_id)
    worker()
    code = rt.r.hget(store.incident_plan_key(merge.incident_id), "code")
    assert "you're going" in phone.text(f"YES {code}", from_=e164)[0]
    return merge, code


def _debrief_of(rt, incident_id: str) -> dict:
    return incidents.get(rt.r, incident_id)["details"].get("debrief", {})


def _stats(runner) -> dict:
    result = runner.invoke(stats_command, ["--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_debrief_answered_by_text_changes_hotline_stats(rt, phone, worker, runner):
    enroll(rt, "Ana", ANA)
    merge, code = _accepted(rt, phone, worker)
    replies = phone.text(f"VERIFIED {code} ICE", from_=ANA)
    assert replies[0].startswith("Verified recorded")
    assert f"observing {merge.ref}" in replies[1] and "Never names, never faces" in replies[1]
    assert replies[2].startswith("Which agency?")
    before = _stats(runner)
    assert (before["verified"], before["masked"], before["unidentified"], before["detained"]) == (1, 0, 0, 0)
    assert before["arrest_operations"] == 0  # the reporter said nobody was detained

    for answer, next_question in (
        ("1 2", "Did agents identify"),
        ("no", "Did they show a badge"),
        ("skip", "Did they show a warrant"),
        ("2", "Were agents masked"),
        ("yes", "Their vehicles?"),
        ("2", "Were license plates visible?"),
        ("2", "Did agents use force"),
        ("3", "Did a family ask for legal help?"),
        ("1", "Last one: how many people were detained?"),
    ):
        [reply] = phone.text(answer, from_=ANA)
        assert reply.startswith(next_question), (answer, reply)
    assert _stats(runner)["masked"] == 1  # counted as soon as it is answered, not at the end
    [thanks] = phone.text("3", from_=ANA)
    assert thanks.startswith(f"Thank you, it is on the record for {merge.ref}")

    assert _debrief_of(rt, merge.incident_id) == {
        "agency": ["ice", "cbp"],
        "identified": "no",
        "warrant": "administrative",
        "masks": "yes",
        "vehicles": "unmarked",
        "plates": "none",
        "force": "unknown",
        "legal_help": "yes",
        "detained_count": 3,
    }
    after = _stats(runner)
    assert (after["masked"], after["unidentified"], after["unmarked"], after["no_plates"]) == (1, 1, 1, 1)
    assert (after["detained"], after["arrest_operations"], after["unidentified_share"]) == (3, 1, 1.0)
    assert rt.r.exists(store.session_key(debrief_contact(rt, ANA))) == 0  # the conversation is over
    events = [e for e in incidents.timeline(rt.r, merge.incident_id) if e["event"] == "debrief"]
    assert events and all("ICE" not in json.dumps(e) for e in events)  # codes only, never the words typed


def debrief_contact(rt, e164: str) -> str:
    from bot import privacy

    return privacy.contact_id(rt.settings.secret, e164)


def test_done_stops_and_keeps_what_was_answered_and_a_later_text_resumes(rt, phone, worker, runner):
    enroll(rt, "Ana", ANA)
    merge, code = _accepted(rt, phone, worker)
    phone.text(f"CLEAR {code}", from_=ANA)  # closed without a verdict: nothing counted, still debriefed
    assert phone.text("5", from_=ANA)[0].startswith("Did agents identify")
    assert phone.text("no", from_=ANA)[0].startswith("Did they show a badge")
    # the observer goes quiet; hours later a text continues where they stopped (the flow keeps a day)
    assert phone.text("1", from_=ANA)[0].startswith("Did they show a warrant")
    [thanks] = phone.text("DONE", from_=ANA)
    assert thanks.startswith("Thank you, it is on the record")
    assert _debrief_of(rt, merge.incident_id) == {"agency": ["police"], "identified": "no", "badge": "yes"}
    assert _stats(runner)["unidentified"] == 0  # never verified: the finding, not the debrief, decides counting
    assert phone.text("CLEAR", from_=ANA) != []  # no second offer for the same incident
    assert rt.r.exists(store.session_key(debrief_contact(rt, ANA))) == 0


def test_two_observers_debriefs_merge_and_skip_never_erases(rt, phone, worker, runner):
    enroll(rt, "Ana", ANA)
    enroll(rt, "Beto", BETO, km_north=3)
    merge = open_incident(rt)
    incidents.set_status(rt.r, merge.incident_id, "verified", time.time(), "coordinator", settings=rt.settings)
    debrief.attach(rt.r, rt.settings, merge.incident_id, {"masks": "yes", "detained_count": 4}, time.time())
    debrief.attach(rt.r, rt.settings, merge.incident_id, {"masks": "skip", "detained_count": 2}, time.time())
    assert _debrief_of(rt, merge.incident_id) == {"masks": "yes", "detained_count": 4}
    result = _stats(runner)
    assert (result["detained"], result["masked"], result["arrest_operations"]) == (4, 1, 1)
    incidents.set_status(rt.r, merge.incident_id, "unfounded", time.time(), "it was a film shoot", settings=rt.settings)
    result = _stats(runner)  # an observer's correction takes the debrief's counts back out too
    assert (result["detained"], result["masked"], result["arrest_operations"], result["unfounded"]) == (0, 0, 0, 1)


def test_a_new_dispatch_takes_yes_during_a_debrief(rt, phone, worker):
    """The rule: YES with a code is always the dispatch's; a bare YES/1 is the dispatch's while one waits for
    this observer's answer, and the debrief's otherwise. The debrief's question waits meanwhile."""
    enroll(rt, "Ana", ANA)
    first, code = _accepted(rt, phone, worker)
    phone.text(f"VERIFIED {code}", from_=ANA)
    assert phone.text("1", from_=ANA)[0].startswith("Did agents identify")

    second = open_incident(rt, "d" * 32, north_m=4000)
    dispatch.enqueue_start(rt, second.incident_id)
    worker()
    new_code = rt.r.hget(store.incident_plan_key(second.incident_id), "code")
    assert new_code != code
    replies = phone.text("YES", from_=ANA)  # a raid now outranks the record of the last one
    assert "you're going" in replies[0]
    assert rt.r.hget(store.incident_dispatch_key(second.incident_id), debrief_contact(rt, ANA)) == ACCEPTED
    assert phone.text("2", from_=ANA)[0].startswith("Did they show a badge")  # nothing waits: the debrief's
    assert _debrief_of(rt, first.incident_id)["identified"] == "no"

    assert phone.text(f"CLEAR {code}", from_=ANA)[0].startswith("Clear recorded")  # a scene report: dispatch's
    third = open_incident(rt, "e" * 32, north_m=8000)  # (her attention budget had two open dispatches)
    dispatch.enqueue_start(rt, third.incident_id)
    worker()
    third_code = rt.r.hget(store.incident_plan_key(third.incident_id), "code")
    assert "you're going" in phone.text(f"YES {third_code}", from_=ANA)[0]
    assert phone.text("1", from_=ANA)[0].startswith("Did they show a warrant")


def test_the_debrief_waits_for_an_observers_own_report(rt, phone, worker):
    enroll(rt, "Ana", ANA)
    _merge, code = _accepted(rt, phone, worker)
    assert phone.text("migra at Pacific and Florence", from_=ANA)[0].startswith("Report")  # her own sighting
    replies = phone.text(f"VERIFIED {code}", from_=ANA)
    assert len(replies) == 1 and replies[0].startswith("Verified recorded")  # the report is not cut short
    session = rt.r.hget(store.session_key(debrief_contact(rt, ANA)), "flow")
    assert session == "sighting"
    for answer in ("4 agents 2 cars", "9", "no", "now"):
        phone.text(answer, from_=ANA)
    replies = phone.text("1", from_=ANA)  # "Are you safe?" 1 yes: the report ends, the debrief begins
    assert replies[0].startswith("Thank you. Text again")
    assert replies[1].startswith("Thank you for observing") and replies[2].startswith("Which agency?")


def test_a_coordinator_closing_an_incident_texts_its_observers_the_debrief(
    rt, phone, worker, coordinator, twilio_outbox
):
    enroll(rt, "Ana", ANA)
    merge, code = _accepted(rt, phone, worker)
    phone.text(f"ARRIVED {code}", from_=ANA)
    seen = len(twilio_outbox.messages())
    response = coordinator().action(merge.ref, "close", note="all clear")
    assert response.status_code == 200, response.get_json()
    worker()
    bodies = [m["body"] for m in twilio_outbox.messages()[seen:] if m["to"] == ANA]
    assert bodies[0].startswith(f"Hotline {code} is closed")
    greeting, question = bodies[1].split("\n")  # one SMS, kept in the send records: a retried job sends it once
    assert greeting.startswith(f"Thank you for observing {merge.ref}") and question.startswith("Which agency?")
    assert len(bodies) == 2
    assert debrief.offer_by_text([debrief_contact(rt, ANA)], merge.incident_id) == 0  # a retry texts nothing again
    assert phone.text("1", from_=ANA)[0].startswith("Did agents identify")
    assert _debrief_of(rt, merge.incident_id) == {"agency": ["ice"]}


def test_an_observer_who_said_stop_is_not_debriefed(rt, phone, worker, coordinator, twilio_outbox):
    enroll(rt, "Ana", ANA)
    merge, _code = _accepted(rt, phone, worker)
    phone.text("STOP", from_=ANA)
    coordinator().action(merge.ref, "close")
    worker()
    assert not any("observing" in m["body"] for m in twilio_outbox.messages())


def test_the_export_carries_the_debrief_codes_and_never_the_words(rt, runner):
    from bot.cli.stats import export_command

    merge = open_incident(rt)
    debrief.attach(rt.r, rt.settings, merge.incident_id, {"agency": ["ice", "cbp"], "warrant": "none"}, time.time())
    out = runner.invoke(export_command, ["--format", "csv"]).output
    header, row = [line.split(",") for line in out.splitlines()[1:3]]
    cells = dict(zip(header, row))
    assert (cells["debrief_agency"], cells["debrief_warrant"], cells["debrief_masks"]) == ("ice;cbp", "none", "")
