"""HSTS and the security headers on every response: each route of the app's url_map, errors, static files.

The route list is the app's own `url_map`, walked with every method it accepts,
anonymous and logged in, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from bot import create_app, guard

FIXED = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
"""Headers no route may change."""

PRESENT = ("Content-Security-Policy", "Referrer-Policy", "Permissions-Policy")
"""Headers a route may tune (the console's Referrer-Policy, the chat page's geolocation) but never drop."""

STREAMS = {"dashboard.events"}
"""Endpoints that stream forever once logged in: asked anonymously only."""


def _assert_secured(response, where: str) -> None:
    for name, value in FIXED.items():
        assert response.headers.get(name) == value, f"{where}: {name} = {response.headers.get(name)!r}"
    for name in PRESENT:
        assert response.headers.get(name), f"{where}: no {name}"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, f"{where}: {csp}"
    assert response.headers["Referrer-Policy"] in ("no-referrer", "same-origin"), where


def _url(rule) -> str:
    """A concrete URL for a rule: every variable part filled with a plausible value."""
    fillers = {"filename": "chat.js"}
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: fillers.get(m.group(1), "ABCDE"), rule.rule)


def _requests(app: Flask):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"OPTIONS"}) + ["OPTIONS"]:
            yield rule, method, _url(rule)


def test_every_route_and_method_carries_the_headers_anonymously(app, client):
    seen = 0
    for _rule, method, url in _requests(app):
        response = client.open(url, method=method, headers={"Accept": "text/html,application/json"})
        _assert_secured(response, f"{method} {url} ({response.status_code})")
        response.close()
        seen += 1
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"webhook.inbound_message", "webhook.status_callback", "health.healthz", "chat.page"} <= endpoints
    assert {"chat.post_message", "dashboard.login", "static"} <= endpoints
    assert seen > 40


def test_every_console_route_carries_the_headers_when_logged_in(app, coordinator):
    console = coordinator("maria", "admin")
    for rule, method, url in _requests(app):
        if rule.endpoint in STREAMS:
            continue
        headers = {"X-CSRFToken": console.csrf, "Accept": "text/html,application/json"}
        response = console.client.open(url, method=method, headers=headers, json={} if method == "POST" else None)
        _assert_secured(response, f"logged in: {method} {url} ({response.status_code})")
        response.close()


@pytest.mark.parametrize(
    "method, url, status",
    [
        ("GET", "/no/such/page", 404),
        ("GET", "/static/no-such-file.js", 404),
        ("PUT", "/twilio/messages", 405),
        ("POST", "/twilio/messages", 403),  # unsigned
        ("GET", "/static/chat.css", 200),
    ],
)
def test_errors_and_static_files_carry_the_headers(client, method, url, status):
    response = client.open(url, method=method)
    assert response.status_code == status
    _assert_secured(response, f"{method} {url}")
    response.close()


def test_a_body_over_the_size_limit_gets_413_with_the_headers(client):
    response = client.post("/twilio/messages", data={"Body": "a" * 300_000})
    assert response.status_code == 413
    _assert_secured(response, "413")


def test_an_unexpected_error_gets_a_500_with_the_headers(settings, r, twilio_outbox):
    app = create_app(settings)  # not TESTING: the error is handled as in production

    @app.get("/_boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/_boom")
    assert response.status_code == 500
    _assert_secured(response, "500")


def test_a_rate_limited_answer_carries_the_headers(settings, r, twilio_outbox):
    app = create_app(settings.replace(chat_new_limit="1 per minute"))
    browser = app.test_client()
    assert app.test_client().get("/chat").status_code == 200
    response = browser.get("/chat")
    assert response.status_code == 429
    _assert_secured(response, "429")


def test_the_chat_page_may_use_geolocation_and_nothing_else_may(client):
    assert "geolocation=(self)" in client.get("/chat").headers["Permissions-Policy"]
    assert "geolocation=()" in client.get("/healthz").headers["Permissions-Policy"]
    assert guard.HEADERS["Permissions-Policy"] == client.post("/twilio/status").headers["Permissions-Policy"]
