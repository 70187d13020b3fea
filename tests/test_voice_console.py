"""The board's calls panel: a live call by language and taker; only the taker sees the number and files the incident."""

from __future__ import annotations

import time

from voicecall import Caller

from bot import audit, coordinators, incidents, store
from bot.voice import calls

MARIA = "+13105550161"


def _taken_by_maria(client, settings, rt) -> Caller:
    coordinators.add(rt.r, "maria", "correct horse battery staple", "dispatcher", time.time())
    coordinators.set_phone(rt.r, settings.secret, "maria", MARIA)
    caller = Caller(client, settings)
    caller.ring()
    caller.press("2")
    dial = caller.press("1").one("Dial")
    whisper = caller.follow(dial.find("Number").get("url"))
    caller.follow(whisper.gather.get("action"), Digits="1")
    return caller


def test_the_board_shows_the_live_call_and_who_took_it_never_the_number(client, settings, rt, coordinator):
    caller = _taken_by_maria(client, settings, rt)
    luis = coordinator("luis")
    [shown] = luis.get("/dashboard/api/calls").get_json()
    assert shown["state"] == "taken" and shown["taken_by"] == "maria" and shown["language_name"] == "Spanish"
    assert shown["mine"] is False and "3235550177" not in str(shown)
    assert luis.post(f"/dashboard/api/calls/{caller.sid}/number").status_code == 403
    assert "Llamadas" in luis.get("/dashboard?lang=es").get_data(as_text=True)  # the panel, translated


def test_only_the_dispatcher_who_took_the_call_unseals_the_number_audited(client, settings, rt, coordinator):
    caller = _taken_by_maria(client, settings, rt)
    maria = coordinator("maria")
    [shown] = maria.get("/dashboard/api/calls").get_json()
    assert shown["mine"] is True and "number" not in shown
    number = maria.post(f"/dashboard/api/calls/{caller.sid}/number")
    assert number.status_code == 200 and number.get_json() == {"number": caller.number}
    entries = audit.entries(rt.r)
    assert [(e["action"], e["by"]) for e in entries][0] == ("call_number_unsealed", "maria")
    assert "3235550177" not in str(entries)


def test_the_taker_creates_an_incident_from_the_call_that_dispatches_like_any_report(
    client, settings, rt, coordinator, r
):
    caller = _taken_by_maria(client, settings, rt)
    maria, luis = coordinator("maria"), coordinator("luis")
    url = f"/dashboard/api/calls/{caller.sid}/incident"
    assert luis.post(url, place="90255", activity="raid").status_code == 403
    assert maria.post(url, place="", activity="raid").status_code == 400
    assert maria.post(url, place="90255", activity="party").status_code == 400
    assert maria.client.post(url, json={"place": "90255", "activity": "raid"}).status_code == 403  # no CSRF token
    made = maria.post(url, place="90255", activity="raid")
    assert made.status_code == 200, made.get_data(as_text=True)
    body = made.get_json()
    assert body["placed"] and body["incident_id"]
    incident = incidents.get(r, body["incident_id"])
    assert incident["kind"] == "raid" and incident["channel"] == "call" and incident["language"] == "es"
    assert calls.get(r, caller.sid)["contact_id"] in r.smembers(store.incident_reporters_key(body["incident_id"]))
    assert rt.queue("dispatch").count >= 1  # dispatch enqueued, as for a texted report
    assert maria.get("/dashboard/api/calls").get_json()[0]["incident_ref"] == body["ref"]
    kinds = [e["kind"] for e in maria.get(f"/dashboard/api/incidents/{body['ref']}").get_json()["timeline"]]
    assert "from_call" in kinds


def test_a_missed_call_is_on_the_board(client, settings, rt, coordinator, r):
    caller = Caller(client, settings)
    caller.ring()
    caller.press("1")
    dial = caller.press("1").one("Dial")
    caller.follow(dial.get("action"), DialCallStatus="no-answer")
    [shown] = coordinator("luis").get("/dashboard/api/calls").get_json()
    assert shown["state"] == "missed" and shown["taken_by"] == ""


def test_the_calls_api_needs_a_login(client):
    assert client.get("/dashboard/api/calls").status_code == 401
    assert client.post("/dashboard/api/calls/CA00/incident", json={}).status_code in (401, 403)
