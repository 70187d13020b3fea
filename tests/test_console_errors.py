"""The console API's refusals: a stable `code` beside `error`, and `error` in the console's language.

A coordinator whose console is in Spanish (the switch, or their browser) gets every
refusal in Spanish; an English one in English; both get the same code and status.
Real Redis, the real login and CSRF check, the real catalogs.
"""

from __future__ import annotations

import time

import pytest
from conftest import csrf_of

from bot import handoffs, incidents, observers
from bot.dashboard import refusals
from bot.dispatch import lifecycle

PLACE = (33.9795, -118.2200)


def open_incident(rt, contact: str = "c" * 32) -> incidents.Merge:
    report = incidents.Report(
        contact_id=contact, lat=PLACE[0], lon=PLACE[1], precision_m=10, kind="raid", details={"label": "Pacific Blvd"}
    )
    return incidents.merge_report(rt.r, report, rt.settings, time.time())


@pytest.fixture
def consoles(coordinator):
    """An English and a Spanish coordinator (Spanish picked with the console's switch, as a person does)."""
    english = coordinator("maria")
    spanish = coordinator("lucia", role="admin")
    assert spanish.get("/dashboard?lang=es").status_code == 200
    return english, spanish


def refused(response, status: int, code: str) -> str:
    body = response.get_json()
    assert response.status_code == status and body["code"] == code, (response.status_code, body)
    return body["error"]


def test_refused_actions_come_in_each_coordinators_language_with_the_same_code(rt, consoles):
    english, spanish = consoles
    merge = open_incident(rt)
    lifecycle.close(rt, merge.incident_id, "cli", time.time())  # closed from the command line meanwhile
    ref = merge.ref
    cases = [
        # an incident closed under a stale dialog: release and dispatch need an open one
        (("release",), {}, 409, "incident_not_open", f"incident {ref} is closed", f"el incidente {ref} está cerrado"),
        # closing it again: the lifecycle refuses the transition, statuses by their board names
        (("close",), {}, 409, "bad_transition", "is closed; cannot become closed", "no puede pasar a cerrado"),
        # bad input (4xx): an action that does not exist, a note with nothing in it, an observer not on the roster
        (("explode",), {}, 400, "unknown_action", "`action` must be one of verify", "`action` debe ser una de verify"),
        (("note",), {"text": "  "}, 400, "note_needs_text", "a note needs `text`", "una nota necesita `text`"),
        (("dispatch",), {"observers": ["Zed"]}, 400, "unknown_observer", "no observer named 'Zed'", "llamado 'Zed'"),
        (("dispatch",), {"observers": "Ana"}, 400, "dispatch_needs_observers", "a list of", "una lista de"),
        (("merge",), {"into": {"ref": 1}}, 400, "merge_needs_into", "merge needs `into`", "unir necesita `into`"),
    ]
    for (action,), fields, status, code, in_english, in_spanish in cases:
        assert in_english in refused(english.action(ref, action, **fields), status, code)
        assert in_spanish in refused(spanish.action(ref, action, **fields), status, code)
    assert incidents.get(rt.r, merge.incident_id)["status"] == "closed"


def test_malformed_requests_are_a_coded_4xx_in_the_consoles_language_never_a_500(rt, consoles):
    english, spanish = consoles
    merge = open_incident(rt)
    row = {"name": "Ana", "phone": "+12135550101", "languages": "en", "radius_km": "10", "location": "33.98,-118.22"}
    observers.upsert(rt.r, rt.settings, observers.parse_row(row, rt.settings), now=0)
    posts = [(english, f"/dashboard/api/incidents/{merge.ref}/actions", "the request is not understood")]
    posts.append((spanish, f"/dashboard/api/incidents/{merge.ref}/actions", "no se entiende la solicitud"))
    posts.append((spanish, "/dashboard/api/observers/Ana/actions", "no se entiende la solicitud"))  # admin only
    for console, path, words in posts:
        for body in (b"{not json", b"[1, 2]", b'"close"', b""):
            response = console.client.post(
                path, data=body, headers={"X-CSRFToken": console.csrf}, content_type="application/json"
            )
            assert words in refused(response, 400, "bad_request"), (path, body)
    assert "debe ser una de on, off" in refused(
        spanish.post("/dashboard/api/observers/Ana/actions", action=["on"]), 400, "unknown_action"
    )
    for console in consoles:  # a call's incident from a body that is not an object
        response = console.client.post(
            "/dashboard/api/calls/CA123/incident", json=["x"], headers={"X-CSRFToken": console.csrf}
        )
        refused(response, 404, "no_such_call")
    assert "no existe ese incidente" in refused(spanish.action("ZZZZZ", "close"), 404, "no_such_incident")
    assert refused(english.action("ZZZZZ", "close"), 404, "no_such_incident") == "no such incident"


def test_csrf_role_and_queue_refusals_follow_the_language_too(rt, consoles):
    english, spanish = consoles
    merge = open_incident(rt)
    path = f"/dashboard/api/incidents/{merge.ref}/actions"
    assert "CSRF" in refused(english.client.post(path, json={"action": "close"}), 403, "csrf")
    assert "falta el token CSRF" in refused(spanish.client.post(path, json={"action": "close"}), 403, "csrf")
    logout = spanish.client.post("/dashboard/logout")  # a page's form without its token: plain text, translated
    assert logout.status_code == 403 and "recargue la página" in logout.get_data(as_text=True)
    # a dispatcher may not change the roster
    assert refused(english.post("/dashboard/api/observers/Ana/actions", action="off"), 403, "role_roster") == (
        "only an admin may change the roster"
    )
    # a call-back another coordinator already took
    item = handoffs.add(rt.r, "callback", time.time(), ref=merge.ref)
    assert english.post(f"/dashboard/api/queue/{item}/take").status_code == 200
    taken = spanish.post(f"/dashboard/api/queue/{item}/take")
    assert refused(taken, 409, "queue_taken") == "maria ya tomó este" and taken.get_json()["taken_by"] == "maria"
    assert "otra persona" in refused(spanish.post(f"/dashboard/api/queue/{item}/done"), 403, "taken_by_another")
    assert refused(english.post("/dashboard/api/queue/nothing/take"), 404, "queue_gone") == (
        "no such item (done or expired)"
    )


def test_the_browsers_language_counts_until_the_switch_says_otherwise(rt, coordinator):
    console = coordinator()
    es = {"Accept-Language": "es-MX,es;q=0.9"}
    response = console.client.post(
        "/dashboard/api/incidents/ZZZZZ/actions", json={"action": "close"}, headers={**es, "X-CSRFToken": console.csrf}
    )
    assert refused(response, 404, "no_such_incident") == "no existe ese incidente"
    assert console.get("/dashboard?lang=en", headers=es).status_code == 200  # the coordinator picks English
    response = console.client.post(
        "/dashboard/api/incidents/ZZZZZ/actions", json={"action": "close"}, headers={**es, "X-CSRFToken": console.csrf}
    )
    assert refused(response, 404, "no_such_incident") == "no such incident"
    anonymous = console.client.application.test_client().get("/dashboard/api/incidents", headers=es)
    assert refused(anonymous, 401, "login_required") == "hace falta entrar"


def test_the_login_rate_limit_says_so_in_the_browsers_language(app, rt, coordinator):
    coordinator("maria")
    client = app.test_client()
    es = {"Accept-Language": "es"}
    statuses = []
    for _ in range(6):
        token = csrf_of(client.get("/dashboard/login", headers=es).get_data(as_text=True))
        response = client.post(
            "/dashboard/login", data={"username": "maria", "password": "not it", "csrf_token": token}, headers=es
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]
    assert "demasiados intentos" in response.get_data(as_text=True)


def test_every_refusal_is_translated_with_its_placeholders(app):
    values = {
        "ref": "ABCDE",
        "status": "closed",
        "wanted": "verified",
        "actions": "a, b",
        "name": "Ana",
        "kinds": "raid",
    }
    with app.test_request_context("/dashboard/api/incidents"):
        for code, msgid in refusals.MESSAGES.items():
            english, spanish = refusals.message(code, "en", **values), refusals.message(code, "es", **values)
            assert english == msgid.format(**values) and spanish != english, code
            assert "{" not in spanish, (code, spanish)
