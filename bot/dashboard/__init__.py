"""The coordinators' console at `/dashboard`: named logins, the board, the API, the incident actions.

One blueprint, `bp`, carries every console route; each concern is its own module:
`auth` (accounts' login/logout, sessions, the login rate limit), `api` (JSON for
the pages and outside tools), `pages` (HTML). Flask-Login keeps who is logged in,
Flask-WTF checks a CSRF token on every state change, Flask-Limiter (on the
hotline's Redis) slows password guessing. Everything here is a thin layer over
`bot.coordinators`, `bot.dispatch.lifecycle` and `bot.dispatch.board`.

Every response carries a strict CSP: no third-party content at all (no tiles, no
CDN, no analytics), so nothing outside learns where the network's incidents are.
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .. import guard
from ..errors import HotlineError
from .extensions import csrf, init_app

bp = Blueprint("dashboard", __name__)

REFERRER_POLICY = "same-origin"
"""Flask-WTF's https check needs a same-origin Referer; nothing leaves. Every other header is the app's
(`bot/guard.py`: HSTS, the strict CSP, nosniff, no framing, no-store so incident places never linger)."""

PUBLIC_ENDPOINTS = {"dashboard.login"}
"""The only console endpoints open without a login."""

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def runtime():
    """The Runtime of the running app."""
    return current_app.extensions["hotline"]


def is_api() -> bool:
    """Tell whether this request is for the JSON API or the event stream (401 JSON instead of a redirect)."""
    return request.path.startswith(("/dashboard/api/", "/dashboard/events", "/dashboard/basemap.json"))


@bp.record_once
def _setup(state) -> None:
    init_app(state.app)


@bp.before_request
def require_login():
    if request.method in STATE_CHANGING:
        csrf.protect()  # raises CSRFError → 403 below, before anything is read or done
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user.is_authenticated:
        return None
    if is_api():
        return refusals.refuse(401, "login_required")
    return redirect(url_for("dashboard.login", next=request.full_path if request.query_string else request.path))


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError):
    if is_api() or request.mimetype == "application/json":
        return refusals.refuse(403, "csrf")
    text = refusals.message("csrf_page", console.language())
    return text + "\n", 403, {"Content-Type": "text/plain; charset=utf-8"}


@bp.errorhandler(429)
def rate_limited(exc):
    """Over a rate limit (the login's): JSON with a code for a script, else the page's own plain sentence."""
    if is_api() or request.mimetype == "application/json":
        return refusals.refuse(429, "rate_limited")
    text = refusals.message("rate_limited", console.language())
    return text + "\n", 429, {"Content-Type": "text/plain; charset=utf-8"}


@bp.errorhandler(HotlineError)
def hotline_refused(exc: HotlineError):
    """A HotlineError no view caught: on the API a coded, translated refusal (a 5xx stays the app's own answer)."""
    if not is_api() or exc.status >= 500:
        if exc.status >= 500:
            logging.getLogger("bot").error("internal error", exc_info=exc)
        return {"error": str(exc) if exc.status < 500 else "internal error"}, exc.status  # as create_app's handler
    return refusals.refuse_error(exc)


@bp.errorhandler(HTTPException)
def http_refused(exc: HTTPException):
    """Werkzeug's own 4xx inside an API view (a malformed body, a bad method): JSON with a code, never HTML."""
    if not is_api() or exc.code is None or not 400 <= exc.code < 500:
        return exc
    return refusals.refuse(exc.code, "bad_request" if exc.code in (400, 405, 411, 413, 415, 422) else "error")


@bp.after_request
def secure(response):
    """The console's own Referrer-Policy and map tiles; the app's `guard.secure_headers` adds the rest."""
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    tiles = runtime().settings.map_tiles
    if tiles:  # the network's own tile server (HOTLINE_MAP_TILES), and no other origin, may serve map images
        origin = "{0.scheme}://{0.netloc}".format(urlparse(tiles))
        response.headers["Content-Security-Policy"] = guard.csp_with_images_from(origin)
    return response


from . import api, auth, basemap, console, events, pages, queue, refusals, stats_page  # noqa: E402,F401  (modules that add routes to bp)
