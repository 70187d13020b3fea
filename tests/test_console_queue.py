"""The coordinators' queue: unplaced reports and call-backs; take one, see the words, unseal a number (audited)."""

from __future__ import annotations

import time

from bot import audit, reports
from bot.conversation import ActionCall

CALL = dict(contact_id="c-queue", e164="+13235550140", language="es", channel="sms")


def _unplaced(rt, words: str):
    call = ActionCall(
        name="report.submit", answers={"activity": "raid", "where": {"raw": words}}, now=time.time(), **CALL
    )
    return reports.submit(rt, call)


def _callback(rt):
    call = ActionCall(name="handoff.callback", answers={}, now=time.time(), **CALL)
    return reports.request_callback(rt, call)


def test_an_unplaced_report_waits_on_the_queue_with_the_callers_words(rt, coordinator):
    ref = _unplaced(rt, "behind the swap meet <b>now</b>")["ref"]
    console = coordinator()
    [item] = console.get("/dashboard/api/queue").get_json()
    assert (item["kind"], item["ref"], item["activity"]) == ("unplaced", ref, "raid")
    assert item["words"] == "behind the swap meet <b>now</b>"  # JSON: the page escapes it when it shows it
    assert console.post(f"/dashboard/api/queue/{item['id']}/done").status_code == 200  # placed by hand, say
    assert console.get("/dashboard/api/queue").get_json() == []
    assert [e["action"] for e in audit.entries(rt.r)][0] == "queue_done"


def test_two_coordinators_cannot_take_the_same_call_back_and_only_the_taker_sees_the_number(rt, coordinator):
    assert _callback(rt)["status"] == "queued"
    maria, luis = coordinator("maria"), coordinator("luis")
    [item] = maria.get("/dashboard/api/queue").get_json()
    assert item["kind"] == "callback" and item["has_number"] and "+1323" not in str(item)
    assert maria.post(f"/dashboard/api/queue/{item['id']}/number").status_code == 403  # not taken yet
    taken = maria.post(f"/dashboard/api/queue/{item['id']}/take")
    assert taken.status_code == 200 and taken.get_json()["taken_by"] == "maria"
    late = luis.post(f"/dashboard/api/queue/{item['id']}/take")
    assert late.status_code == 409 and late.get_json()["taken_by"] == "maria"
    assert luis.post(f"/dashboard/api/queue/{item['id']}/number").status_code == 403
    assert luis.get("/dashboard/api/queue").get_json()[0]["taken_by"] == "maria"  # everyone sees who has it
    number = maria.post(f"/dashboard/api/queue/{item['id']}/number")
    assert number.status_code == 200 and number.get_json() == {"number": "+13235550140"}
    logged = [(e["action"], e["by"], e.get("item")) for e in audit.entries(rt.r)]
    assert ("callback_unsealed", "maria", item["id"]) in logged and ("queue_taken", "maria", item["id"]) in logged
    assert not any(a == "callback_unsealed" and b == "luis" for a, b, _ in logged)
    assert "+1323" not in str(audit.entries(rt.r))
    assert luis.post(f"/dashboard/api/queue/{item['id']}/done").status_code == 403
    assert maria.post(f"/dashboard/api/queue/{item['id']}/done").status_code == 200
    assert maria.get("/dashboard/api/queue").get_json() == []
    assert maria.post(f"/dashboard/api/queue/{item['id']}/take").status_code == 404


def test_the_queue_needs_a_login_and_a_csrf_token(rt, client, coordinator):
    _callback(rt)
    assert client.get("/dashboard/api/queue").status_code == 401
    console = coordinator()
    [item] = console.get("/dashboard/api/queue").get_json()
    assert console.client.post(f"/dashboard/api/queue/{item['id']}/take").status_code == 403
