"""Console logins: named accounts, sessions that end, CSRF on every change, the login rate limit."""

from __future__ import annotations

import time

from conftest import COORDINATOR_PASSWORD, csrf_of, log_in

from bot import audit, coordinators
from bot.cli.coordinators import coordinators_group


def _account(rt, name="maria", role="dispatcher"):
    coordinators.add(rt.r, name, COORDINATOR_PASSWORD, role, time.time())


def test_login_form_has_the_contract_fields(client):
    response = client.get("/dashboard/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for field in ('name="username"', 'name="password"', 'name="csrf_token"', '<meta name="csrf-token"'):
        assert field in html
    assert "form-action 'self'" in response.headers["Content-Security-Policy"]


def test_login_sets_a_safe_cookie_and_logout_ends_the_session(app, rt):
    _account(rt)
    client, response = log_in(app, "Maria")  # a phone keyboard's capital letter still logs in
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie  # PUBLIC_URL is https
    page = client.get("/dashboard")
    assert page.status_code == 200 and "maria" in page.get_data(as_text=True)
    csrf = csrf_of(page.get_data(as_text=True))
    kept = client.get_cookie("session").value
    assert client.post("/dashboard/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/dashboard/api/incidents").status_code == 401
    client.set_cookie("session", kept)  # a copy of the cookie kept from before logging out is dead too
    assert client.get("/dashboard/api/incidents").status_code == 401
    assert [e["action"] for e in audit.entries(rt.r)][:2] == ["logout", "login"]


def test_wrong_password_or_unknown_name_is_refused(app, rt):
    _account(rt)
    for name, password in (("maria", "wrong password!"), ("nobody", COORDINATOR_PASSWORD), ("maria", "")):
        client, response = log_in(app, name, password)
        assert response.status_code == 401
        assert (
            "session" not in response.headers.get("Set-Cookie", "")
            or client.get("/dashboard/api/incidents").status_code == 401
        )


def test_anonymous_requests_get_401_for_the_api_and_a_redirect_for_pages(client):
    for path in ("/dashboard/api/incidents", "/dashboard/api/observers", "/dashboard/api/incidents/ABCDE"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json() == {"error": "login required", "code": "login_required"}
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert client.get("/dashboard/incidents/1").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(app, rt, coordinator):
    console = coordinator()
    no_token = console.client.post("/dashboard/api/incidents/ABCDE/actions", json={"action": "close"})
    assert no_token.status_code == 403 and "CSRF" in no_token.get_json()["error"]
    bad_token = console.client.post(
        "/dashboard/api/incidents/ABCDE/actions", json={"action": "close"}, headers={"X-CSRFToken": "forged"}
    )
    assert bad_token.status_code == 403
    login_without = app.test_client().post(
        "/dashboard/login", data={"username": "maria", "password": COORDINATOR_PASSWORD}
    )
    assert login_without.status_code == 403


def _limit_keys(r):
    return [k for k in r.scan_iter("*") if "limits" in k]


def test_repeated_failures_get_429_then_the_window_passes(app, rt, r):
    _account(rt)
    statuses = [log_in(app, "maria", "not her password")[1].status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert log_in(app, "maria")[1].status_code == 429  # even the right password, from this address, for now
    # Another address is not locked out: Maria on her phone still gets in (the limit is per address + name).
    other = app.test_client()
    token = csrf_of(other.get("/dashboard/login").get_data(as_text=True))
    response = other.post(
        "/dashboard/login",
        data={"username": "maria", "password": COORDINATOR_PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 302
    # The lockout lasts at most the window: the address+name counter expires within a minute
    # (the per-address one, 30 failures over any names, within ten)...
    keys = {k: r.ttl(k) for k in _limit_keys(r)}
    per_name = [k for k in keys if "|maria/" in k]
    assert per_name and all(0 < keys[k] <= 60 for k in per_name)
    assert all(0 < ttl <= 600 for ttl in keys.values())
    for key in per_name:  # ...and a minute later Redis has dropped it, as here
        r.delete(key)
    assert log_in(app, "maria")[1].status_code == 302


def test_successful_logins_do_not_count_towards_the_limit(app, rt):
    _account(rt)
    assert all(log_in(app, "maria")[1].status_code == 302 for _ in range(7))


def test_removing_an_account_ends_its_sessions(app, rt, coordinator, runner):
    console = coordinator("ana")
    assert console.get("/dashboard/api/incidents").status_code == 200
    result = runner.invoke(coordinators_group, ["remove", "ana"])
    assert result.exit_code == 0, result.output
    assert console.get("/dashboard/api/incidents").status_code == 401
    assert console.get("/dashboard").status_code == 302


def test_cli_adds_lists_and_removes_with_the_password_from_stdin(runner, app, rt):
    result = runner.invoke(coordinators_group, ["add", "luis", "--role", "admin"], input=COORDINATOR_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    stored = rt.r.hget("hotline:coordinator:luis", "hash")
    assert stored.startswith("$argon2id$") and COORDINATOR_PASSWORD not in stored
    assert log_in(app, "luis")[1].status_code == 302
    listed = runner.invoke(coordinators_group, ["list"]).output
    assert "luis\tadmin\t1 session(s)" in listed
    short = runner.invoke(coordinators_group, ["add", "eva"], input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
    assert runner.invoke(coordinators_group, ["remove", "luis"]).exit_code == 0
    assert runner.invoke(coordinators_group, ["remove", "luis"]).exit_code != 0
    assert "no coordinators" in runner.invoke(coordinators_group, ["list"]).output
