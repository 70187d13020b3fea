"""Dispatch end to end on the real Redis, a burst RQ worker and the fake Twilio over HTTP.

Waves and escalation, claims (also from threads at once), declines, status
callbacks, retries without duplicates, scene reports, reporter follow-up.
"""

from __future__ import annotations

import threading
import time

import pytest

from bot import dispatch, incidents, observers, outbox, privacy, sending, store
from bot.channels.twilio import StatusUpdate
from bot.dispatch import plan as dispatch_plan
from bot.dispatch import replies

SCENE = (33.9795, -118.2200)


@pytest.fixture
def settings(settings):
    """Small waves and a known timeout, so waves and escalation show in a few observers."""
    return settings.replace(wave_size=2, wave_timeout_s=60, observers_needed=2)


def add_observer(
    r,
    settings,
    name: str,
    e164: str,
    km_north: float,
    radius_km: float = 10,
    languages: str = "en",
    on_call: str = "yes",
) -> str:
    """Put one observer on the roster `km_north` km north of the scene."""
    row = {
        "name": name,
        "phone": e164,
        "languages": languages,
        "radius_km": str(radius_km),
        "location": f"{SCENE[0] + km_north / 111.0:.6f},{SCENE[1]:.6f}",
        "on_call": on_call,
    }
    return observers.upsert(r, settings, observers.parse_row(row, settings), now=0)


def new_incident(rt, reporter: str = "+13235550123", language: str = "en", where=SCENE) -> str:
    """Open an incident through incidents.merge_report, as reports.submit does."""
    cid = privacy.contact_id(rt.settings.secret, reporter)
    merge = incidents.merge_report(
        rt.r,
        incidents.Report(
            contact_id=cid,
            lat=where[0],
            lon=where[1],
            precision_m=30,
            kind="raid",
            details={"label": "Florence y Pacific", "agents": 4},
            language=language,
            channel="sms",
        ),
        rt.settings,
        time.time(),
    )
    assert merge.is_new
    return merge.incident_id


@pytest.fixture
def roster(rt):
    """Five observers at 1..5 km and one off duty nearest of all."""
    r, s = rt.r, rt.settings
    ids = {
        name: add_observer(r, s, name, f"+1213555010{i}", km)
        for i, (name, km) in enumerate([("A", 1), ("B", 2), ("C", 3), ("D", 4), ("E", 5)], start=1)
    }
    ids["Off"] = add_observer(r, s, "Off", "+12135550109", 0.1, on_call="no")
    ids["Far"] = add_observer(r, s, "Far", "+12135550108", 40)
    return ids


def texted(outbox_, number_suffix: str) -> list[dict]:
    return [m for m in outbox_.messages() if m["to"].endswith(number_suffix)]


def states(rt, incident_id) -> dict:
    return rt.r.hgetall(store.incident_dispatch_key(incident_id))


def name_states(rt, incident_id, roster) -> dict:
    back = {oid: name for name, oid in roster.items()}
    return {back[o]: s for o, s in states(rt, incident_id).items()}


def test_first_wave_texts_nearest_on_duty_observers_only(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    sent = twilio_outbox.messages()
    assert [m["to"] for m in sent] == ["+12135550101", "+12135550102"]
    code = rt.r.hget(store.incident_plan_key(incident_id), "code")
    assert f"YES {code}" in sent[0]["body"] and "Florence y Pacific" in sent[0]["body"]
    assert name_states(rt, incident_id, roster) == {"A": "texted", "B": "texted"}
    assert incidents.get(rt.r, incident_id)["texted"] == 2
    kinds = [e["event"] for e in incidents.timeline(rt.r, incident_id)]
    assert kinds.count("dispatch_texted") == 2 and "dispatch_planned" in kinds


def test_incident_snapshots_its_plan_so_config_changes_do_not_reshuffle_it(rt, roster, worker):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    rt.settings = rt.settings.replace(wave_size=5, observers_needed=1)
    worker()
    plan = rt.r.hgetall(store.incident_plan_key(incident_id))
    assert (plan["wave_size"], plan["needed"], plan["timeout_s"]) == ("2", "2", "60")
    assert len(states(rt, incident_id)) == 2


def test_retried_start_job_never_texts_anyone_twice(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    for _ in range(3):  # a redelivered enqueue, a manual retry, a watchdog re-drive
        rt.queue("dispatch").enqueue(dispatch.start_dispatch, incident_id)
        worker()
    assert len(twilio_outbox.messages()) == 2


def test_yes_claims_a_slot_and_answers_with_the_details(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    code = rt.r.hget(store.incident_plan_key(incident_id), "code")
    answer = dispatch.handle_reply(rt, roster["A"], "Sí", time.time())
    assert "maps.google.com/?q=33.97950,-118.22000" in answer[0] and code in answer[0]
    assert "second observer" in answer[1], "one accept of two needed keeps seeking"
    assert name_states(rt, incident_id, roster)["A"] == "accepted"
    assert dispatch.handle_reply(rt, roster["A"], "yes", time.time())[0].startswith("You already accepted")


def test_simultaneous_accepts_fill_exactly_the_needed_slots(rt, worker, twilio_outbox):
    rt.settings = rt.settings.replace(wave_size=8)
    ids = [add_observer(rt.r, rt.settings, f"O{i}", f"+1213555020{i}", 1 + i * 0.1) for i in range(8)]
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert len(states(rt, incident_id)) == 8
    barrier = threading.Barrier(len(ids))
    answers = {}

    def reply(oid):
        barrier.wait()
        answers[oid] = dispatch.handle_reply(rt, oid, "YES", time.time())

    threads = [threading.Thread(target=reply, args=(oid,)) for oid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = states(rt, incident_id)
    assert sorted(final.values()).count("accepted") == 2
    winners = [o for o, a in answers.items() if "you're going" in a[0]]
    assert len(winners) == 2 and all(final[o] == "accepted" for o in winners)
    assert all("covered" in a[0] for o, a in answers.items() if o not in winners)
    assert rt.r.hget(store.incident_plan_key(incident_id), "state") == "filled"


def test_filled_incident_tells_the_unanswered_it_is_covered(rt, roster, worker, twilio_outbox):
    rt.settings = rt.settings.replace(wave_size=3)
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    for name in ("A", "B"):
        dispatch.handle_reply(rt, roster[name], "YES", time.time())
    worker()
    covered = texted(twilio_outbox, "0103")
    assert len(covered) == 2 and "covered, thank you" in covered[1]["body"]
    assert "a second observer accepted" in texted(twilio_outbox, "0101")[-1]["body"], "never work alone"
    assert len(texted(twilio_outbox, "0102")) == 1, "the second to accept got the details in the reply"
    assert name_states(rt, incident_id, roster)["C"] == "covered"
    late = dispatch.handle_reply(rt, roster["C"], "yes", time.time())
    assert late == [
        f"Hotline {rt.r.hget(store.incident_plan_key(incident_id), 'code')} is covered, thank you. No need to go."
    ]
    assert incidents.get(rt.r, incident_id)["accepted"] == 2


def test_decline_gives_the_slot_to_the_next_observer_at_once(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    code = rt.r.hget(store.incident_plan_key(incident_id), "code")
    assert "ask someone else" in dispatch.handle_reply(rt, roster["A"], f"NO {code}", time.time())[0]
    worker()
    assert name_states(rt, incident_id, roster) == {"A": "declined", "B": "texted", "C": "texted"}
    assert "dispatch_declined" in [e["event"] for e in incidents.timeline(rt.r, incident_id)]


def test_wave_timeout_sends_the_next_wave(rt, roster, worker, release_scheduled, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert release_scheduled(30) == 0, "not due before HOTLINE_WAVE_TIMEOUT_S"
    assert release_scheduled(61) == 1
    worker()
    assert [m["to"][-4:] for m in twilio_outbox.messages()] == ["0101", "0102", "0103", "0104"]
    assert rt.r.hget(store.incident_plan_key(incident_id), "wave") == "2"


def test_exhausted_roster_escalates_to_coordinators_naming_who_declined_and_who_was_silent(
    rt, roster, worker, release_scheduled, twilio_outbox
):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    dispatch.handle_reply(rt, roster["A"], "no", time.time())
    worker()
    for _ in range(3):
        release_scheduled(61)
        worker()
    to_coordinator = [m for m in twilio_outbox.messages() if m["to"] == "+13105550199"]
    assert len(to_coordinator) == 1, "coordinators are told once"
    body = to_coordinator[0]["body"]
    assert "Declined: A." in body and "No answer: B, C, D, E." in body
    assert "Far" not in body and "Off" not in body
    assert "dispatch_escalated" in [e["event"] for e in incidents.timeline(rt.r, incident_id)]


def test_one_observer_in_range_is_asked_and_coordinators_hear_when_the_wave_times_out(
    rt, worker, release_scheduled, twilio_outbox
):
    near = add_observer(rt.r, rt.settings, "Solo", "+12135550107", 1)
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert [m["to"] for m in twilio_outbox.messages()] == ["+12135550107"], "no escalation while one may answer"
    dispatch.handle_reply(rt, near, "yes", time.time())
    release_scheduled(61)
    worker()
    to_coordinator = [m["body"] for m in twilio_outbox.messages() if m["to"] == "+13105550199"]
    assert len(to_coordinator) == 1 and "Needed 2, accepted 1" in to_coordinator[0]


def test_nobody_in_range_escalates_at_once(rt, worker, twilio_outbox):
    add_observer(rt.r, rt.settings, "Far", "+12135550108", 40)
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    sent = twilio_outbox.messages()
    assert [m["to"] for m in sent] == ["+13105550199"]
    assert "not enough observers in range can go" in sent[0]["body"]


def test_undelivered_callback_moves_the_slot_and_late_sent_does_not_downgrade(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    sid_a, sid_b = (m["sid"] for m in twilio_outbox.messages())
    dispatch.record_status(rt, StatusUpdate(sid_a, "undelivered", 30003 + 5), time.time())  # 30008: unknown error
    dispatch.record_status(rt, StatusUpdate(sid_b, "delivered", None), time.time())
    dispatch.record_status(rt, StatusUpdate(sid_b, "sent", None), time.time())
    worker()
    assert rt.r.hget(store.outbound_key(sid_b), "status") == "delivered"
    assert name_states(rt, incident_id, roster) == {"A": "undelivered", "B": "texted", "C": "texted"}
    assert not observers.get(rt.r, roster["A"]).get("unreachable"), "a transient failure is not permanent"


def test_permanent_failure_marks_observer_unreachable_and_tells_coordinators(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    sid_a = twilio_outbox.messages()[0]["sid"]
    assert dispatch.record_status(rt, StatusUpdate(sid_a, "failed", 30006), time.time()) == "unreachable"
    worker()
    assert name_states(rt, incident_id, roster)["A"] == "unreachable"
    assert observers.get(rt.r, roster["A"])["unreachable"] == "landline_or_unreachable"
    assert any("cannot be texted" in m["body"] for m in texted(twilio_outbox, "0199"))
    assert not observers.is_on_duty(observers.get(rt.r, roster["A"]), time.time())


def test_rate_limited_send_is_retried_with_backoff_without_duplicates(
    rt, roster, worker, release_scheduled, twilio_outbox
):
    twilio_outbox.fail_next({"status": 429, "code": 20429, "message": "Too Many Requests"})
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert twilio_outbox.messages() == [], "the 429 sent nothing and sending waits for its probe"
    assert release_scheduled(sending.THROTTLE_FIRST_S + 1) == 1, "the throttle's probe (no RQ retry spent)"
    worker()
    assert sorted(m["to"][-4:] for m in twilio_outbox.messages()) == ["0101", "0102"]


def test_server_error_that_did_send_is_reconciled_not_repeated(rt, roster, twilio_outbox):
    incident_id = new_incident(rt)
    plan = dispatch_plan.snapshot_plan(rt.r, rt.settings, incident_id, time.time())
    obs = observers.get(rt.r, roster["A"])
    body_of_first = None
    # Twilio accepted the message, then the sender died a minute ago: the record stays `claimed`.
    outbox.claim_send(rt.r, store.incident_sends_key(incident_id), roster["A"], time.time() - 60, wave=1)
    rt.r.hset(store.incident_dispatch_key(incident_id), roster["A"], "texted")
    from bot.dispatch import texts

    body_of_first = texts.say(
        rt.settings,
        "en",
        texts.DISPATCH,
        code=plan["code"],
        km="1.0",
        kind=texts.kind_name(rt.settings, "en", "raid"),
        place="Florence y Pacific (33.97950,-118.22000)",
    )
    outbox.send(rt, "+12135550101", body_of_first, purpose="dispatch")
    record = outbox.send_once(
        rt,
        store.incident_sends_key(incident_id),
        roster["A"],
        "+12135550101",
        body_of_first,
        purpose="dispatch",
        now=time.time(),
        extra={"wave": 1},
    )
    assert record["state"] == "sent" and record["sid"] == twilio_outbox.messages()[0]["sid"]
    assert len(twilio_outbox.messages()) == 1
    assert obs is not None


def test_server_error_that_did_not_send_is_sent_on_retry(rt, roster, worker, release_scheduled, twilio_outbox):
    twilio_outbox.fail_next({"status": 500, "code": 20500, "message": "Internal"})
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    release_scheduled(2)
    worker()
    assert sorted(m["to"][-4:] for m in twilio_outbox.messages()) == ["0101", "0102"]


def test_opted_out_observer_is_skipped_and_the_slot_goes_on(rt, roster, worker, twilio_outbox):
    rt.r.sadd(store.optout_key(), roster["A"])
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert [m["to"][-4:] for m in twilio_outbox.messages()] == ["0102", "0103"]
    assert name_states(rt, incident_id, roster)["A"] == "unreachable"


def test_bare_yes_with_two_open_dispatches_asks_which_and_a_code_decides(rt, roster, worker):
    first = new_incident(rt)
    second = new_incident(rt, reporter="+13235550124", where=(SCENE[0] + 0.02, SCENE[1]))
    for incident_id in (first, second):
        dispatch.enqueue_start(rt, incident_id)
    worker()
    code_2 = rt.r.hget(store.incident_plan_key(second), "code")
    answer = dispatch.handle_reply(rt, roster["B"], "yes", time.time())
    assert answer[0].startswith("Which one?") and code_2 in answer[0]
    assert dispatch.handle_reply(rt, roster["B"], f"yes {code_2}", time.time())[0].startswith("Thank you")
    assert states(rt, second)[roster["B"]] == "accepted" and states(rt, first)[roster["B"]] == "texted"
    assert dispatch.handle_reply(rt, roster["B"], "yes 77", time.time())[0].startswith("There is no open dispatch 77")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("YES", ("accept", None)),
        ("sí 48", ("accept", "48")),
        ("1", ("accept", None)),
        ("48 si", ("accept", "48")),
        ("No", ("decline", None)),
        ("2 48", ("decline", "48")),
        ("NO DISPONIBLE", ("off", None)),
        ("Disponible", ("on", None)),
        ("off", ("off", None)),
        ("arrived 48", ("arrived", "48")),
        ("Llegué", ("arrived", None)),
        ("verified 48 ICE no id plates 7ABC123", ("verified", "48")),
        ("falsa alarma", ("unfounded", None)),
        ("clear", ("clear", None)),
        ("yes I saw two vans", (None, None)),
        ("hello", (None, None)),
        ("", (None, None)),
    ],
)
def test_observer_words_parse_in_both_languages(text, expected):
    command, code, _ = replies.parse(text)
    assert (command, code) == expected


def test_on_off_by_text_is_confirmed_and_changes_duty(rt, roster):
    answer = dispatch.handle_reply(rt, roster["Off"], "ON", time.time())
    assert answer == ["You are ON duty. We'll text you about reports near you. Reply OFF to stop."]
    assert observers.is_on_duty(observers.get(rt.r, roster["Off"]), time.time())
    assert "OFF duty" in dispatch.handle_reply(rt, roster["A"], "no disponible", time.time())[0]
    assert not observers.is_on_duty(observers.get(rt.r, roster["A"]), time.time())


def test_a_sentence_from_an_observer_falls_through_to_the_conversation(rt, roster):
    assert dispatch.handle_reply(rt, roster["A"], "I see two vans on Pacific", time.time()) is None


def test_scene_reports_update_status_and_timeline(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    dispatch.handle_reply(rt, roster["A"], "yes", time.time())
    assert "VERIFIED" in dispatch.handle_reply(rt, roster["A"], "arrived", time.time())[0]
    dispatch.handle_reply(rt, roster["A"], "verified ICE and HSI, no ID shown, plates 7ABC123", time.time())
    assert incidents.get(rt.r, incident_id)["status"] == "verified"
    event = [e for e in incidents.timeline(rt.r, incident_id) if e["event"] == "observer_verified"][0]
    assert (event["agency"], event["id_shown"], event["plates"]) == ("ice", "no", "7ABC123")
    dispatch.handle_reply(rt, roster["A"], "clear", time.time())
    assert incidents.get(rt.r, incident_id)["status"] == "closed"


def test_scene_report_from_an_observer_who_did_not_accept_is_refused(rt, roster, worker):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert "first" in dispatch.handle_reply(rt, roster["B"], "verified ICE", time.time())[0]
    assert incidents.get(rt.r, incident_id)["status"] != "verified"


def test_reporter_who_asked_hears_an_observer_is_on_the_way_without_who_or_where(rt, roster, worker, twilio_outbox):
    reporter = "+13235550155"
    cid = privacy.contact_id(rt.settings.secret, reporter)
    rt.r.set(store.reply_to_key(cid), privacy.seal(rt.settings.secret, reporter), ex=600)
    incident_id = new_incident(rt, reporter=reporter)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    dispatch.handle_reply(rt, roster["A"], "yes", time.time())
    dispatch.handle_reply(rt, roster["B"], "yes", time.time())
    worker()
    to_reporter = [m for m in twilio_outbox.messages() if m["to"] == reporter]
    assert len(to_reporter) == 1, "told once, not once per accept"
    body = to_reporter[0]["body"]
    assert "on the way" in body and "A" not in body.split() and "km" not in body


def test_health_reports_roster_without_anyone_on_duty(rt):
    add_observer(rt.r, rt.settings, "Off", "+12135550109", 0.1, on_call="no")
    report = dispatch.health(rt, time.time())
    assert report["ok"] is False and "no observer on duty" in report["problems"]
    dispatch.beat(rt.r, "worker", time.time())
    add_observer(rt.r, rt.settings, "On", "+12135550110", 0.1)
    assert dispatch.health(rt, time.time())["ok"] is True


def test_bare_yes_or_1_with_nothing_open_goes_to_the_conversation(rt, roster):
    assert dispatch.handle_reply(rt, roster["A"], "yes", time.time()) is None
    assert dispatch.handle_reply(rt, roster["A"], "1", time.time()) is None
    assert dispatch.handle_reply(rt, roster["A"], "YES 48", time.time()) == [
        "There is no open dispatch 48. You have none open right now."
    ]


def test_bare_answer_mid_conversation_belongs_to_the_flow_but_a_coded_one_to_dispatch(rt, roster, worker):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    rt.r.hset(store.session_key(roster["A"]), "flow", "sighting")
    assert dispatch.handle_reply(rt, roster["A"], "1", time.time()) is None
    code = rt.r.hget(store.incident_plan_key(incident_id), "code")
    assert dispatch.handle_reply(rt, roster["A"], f"1 {code}", time.time())[0].startswith("Thank you")


def test_health_reports_a_stopped_worker_and_texts_coordinators_once(rt, twilio_outbox):
    add_observer(rt.r, rt.settings, "On", "+12135550110", 0.1)
    dispatch.beat(rt.r, "worker", time.time())
    assert dispatch.health(rt, time.time())["ok"] is True
    rt.r.delete(store.heartbeat_key("worker"))  # its TTL ran out: the worker stopped beating
    for _ in range(2):
        report = dispatch.health(rt, time.time())
        assert report["ok"] is False and "worker heartbeat stopped" in report["problems"]
    warned = twilio_outbox.wait_for(1, timeout_s=10)
    assert [m["to"] for m in warned] == ["+13105550199"] and "restart the worker" in warned[0]["body"]


def test_escalation_that_hit_a_server_error_is_retried_and_sent_once(rt, worker, release_scheduled, twilio_outbox):
    twilio_outbox.fail_next({"status": 500, "code": 20500, "message": "Internal"})
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert twilio_outbox.messages() == []
    release_scheduled(2)
    worker()
    for _ in range(2):  # later drives (watchdog, timers) must not repeat it
        rt.queue("dispatch").enqueue(dispatch.start_dispatch, incident_id)
        worker()
    assert [m["to"] for m in twilio_outbox.messages()] == ["+13105550199"]
    assert [e["event"] for e in incidents.timeline(rt.r, incident_id)].count("dispatch_escalated") == 1


def test_watchdog_redrives_a_dispatch_whose_start_job_was_lost(rt, roster, worker, twilio_outbox):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    rt.queue("dispatch").empty()  # the job vanished with its worker
    assert dispatch.redrive_due(rt, time.time()) == [], "not stalled before its grace period"
    assert dispatch.redrive_due(rt, time.time() + dispatch_plan.START_GRACE_S + 1) == [incident_id]
    worker()
    assert [m["to"][-4:] for m in twilio_outbox.messages()] == ["0101", "0102"]


def test_an_incident_whose_dispatch_never_started_is_driven_by_the_watchdog(rt, roster, worker, twilio_outbox):
    """The Redis-loss drill: Redis died after the merge opened the incident and before its dispatch was
    enqueued; the spooled report's replay only joined the incident, and nobody was ever texted."""
    incident_id = new_incident(rt)  # the merge, and nothing after it
    due = rt.r.zscore(store.dispatch_due_key(), incident_id)
    assert due is not None, "the merge itself made it due for the watchdog"
    assert dispatch.redrive_due(rt, time.time()) == [], "not before the grace a start job gets"
    assert dispatch.redrive_due(rt, time.time() + dispatch_plan.START_GRACE_S + 1) == [incident_id]
    worker()
    assert [m["to"][-4:] for m in twilio_outbox.messages()] == ["0101", "0102"]


def test_a_held_incident_is_not_made_due(rt, settings):
    rt.settings = rt.settings.replace(cap_contact_hour=1)
    new_incident(rt)
    held = new_incident(rt, where=(SCENE[0] + 0.2, SCENE[1]))  # the same contact's second: over its cap
    assert incidents.get(rt.r, held)["held"]
    assert rt.r.zscore(store.dispatch_due_key(), held) is None


def test_watchdog_does_not_touch_a_dispatch_a_live_worker_holds(rt, roster):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    rt.r.set(store.incident_drive_lock_key(incident_id), "someone", px=60000)
    assert dispatch.redrive_due(rt, time.time() + 3600) == []


def test_only_one_watchdog_chain_runs(rt, worker):
    assert dispatch.ensure_watchdog(rt) is True
    assert dispatch.ensure_watchdog(rt) is False, "a chain is already scheduled"
    from rq.registry import ScheduledJobRegistry

    assert len(ScheduledJobRegistry(queue=rt.queue("dispatch")).get_job_ids()) == 1


def test_reporters_language_wins_between_two_observers_at_nearly_the_same_distance(rt, worker, twilio_outbox):
    rt.settings = rt.settings.replace(wave_size=1)
    add_observer(rt.r, rt.settings, "English", "+12135550131", 1.0, languages="en")
    add_observer(rt.r, rt.settings, "Spanish", "+12135550132", 1.1, languages="es")
    add_observer(rt.r, rt.settings, "Far Spanish", "+12135550134", 2.5, languages="es")
    add_observer(rt.r, rt.settings, "Closest", "+12135550133", 0.2, languages="en")
    incident_id = new_incident(rt, language="es")
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert [m["to"] for m in twilio_outbox.messages()] == ["+12135550132"], (
        "0.2 km (en) and 1.1 km (es) are under 1 km apart: the reporter's language goes first"
    )


def test_a_big_roster_is_searched_nearest_first_in_batches(rt, worker, twilio_outbox):
    for i in range(80):
        add_observer(
            rt.r, rt.settings, f"N{i}", f"+1213555{2000 + i:04d}", 0.5 + i * 0.05, on_call="no" if i < 40 else "yes"
        )
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    assert [m["to"] for m in twilio_outbox.messages()] == ["+12135552040", "+12135552041"]


def test_dispatch_codes_stay_unique_among_open_incidents_past_ninety(rt, worker):
    """After 90 incidents the two-digit codes are all held: the next ones get three digits, never a repeat."""
    from bot.dispatch import plan

    ids = [new_incident(rt, where=(33.9 + n * 0.01, -118.2)) for n in range(95)]
    codes = [plan.snapshot_plan(rt.r, rt.settings, i, time.time())["code"] for i in ids]
    assert len(set(codes)) == 95
    assert sum(1 for c in codes if len(c) == 2) == 90 and all(len(c) == 3 for c in codes[90:])
    assert plan.snapshot_plan(rt.r, rt.settings, ids[0], time.time())["code"] == codes[0], "a plan keeps its code"


def test_a_closed_incidents_code_is_reused_only_after_it_closed(rt):
    from bot.dispatch import plan

    first = new_incident(rt)
    code = plan.snapshot_plan(rt.r, rt.settings, first, time.time())["code"]
    rt.r.set(store.dispatch_code_seq_key(), int(code) - 10 - 1)  # the sequence comes round to that code again
    second = new_incident(rt, where=(34.05, -118.25))
    assert plan.snapshot_plan(rt.r, rt.settings, second, time.time())["code"] != code
    incidents.set_status(rt.r, first, "closed", time.time(), "clear")
    rt.r.set(store.dispatch_code_seq_key(), int(code) - 10 - 1)
    third = new_incident(rt, where=(34.10, -118.30))
    assert plan.snapshot_plan(rt.r, rt.settings, third, time.time())["code"] == code


def test_a_stale_code_answers_no_open_dispatch_instead_of_another_incident(rt, roster, worker):
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()
    code = rt.r.hget(store.incident_plan_key(incident_id), "code")
    incidents.set_status(rt.r, incident_id, "closed", time.time(), "clear")
    reply = dispatch.handle_reply(rt, roster["A"], f"yes {code}", time.time())
    assert reply and "no open dispatch" in reply[0].lower()
    assert rt.r.hget(store.incident_dispatch_key(incident_id), roster["A"]) != "accepted"


def test_a_reopened_incident_whose_code_was_taken_gets_a_fresh_one(rt):
    from bot.dispatch import lifecycle, plan

    first = new_incident(rt)
    code = plan.snapshot_plan(rt.r, rt.settings, first, time.time())["code"]
    lifecycle.close(rt, first, "maria", time.time())
    rt.r.set(store.dispatch_code_seq_key(), int(code) - 10 - 1)
    second = new_incident(rt, where=(34.05, -118.25))
    assert plan.snapshot_plan(rt.r, rt.settings, second, time.time())["code"] == code
    lifecycle.reopen(rt, first, "maria", time.time())
    mine = rt.r.hget(store.incident_plan_key(first), "code")
    assert mine != code and rt.r.hget(store.dispatch_codes_key(), mine) == first
    assert rt.r.hget(store.dispatch_codes_key(), code) == second
