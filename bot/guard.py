"""What every HTTP response and route of the hotline shares: security headers and rate limits.

Headers: one `after_request` (installed by `create_app`) puts HSTS, a strict CSP,
nosniff, no-referrer, frame denial and a Permissions-Policy on *every* response --
webhooks, health, chat, console, static files, 404s and 500s alike -- so no route
can be forgotten. A blueprint or view that needs a different value for one header
(the console's Referrer-Policy, the chat page's geolocation) sets it itself; this
fills in whatever is missing.

Rate limits: Flask-Limiter on the hotline's Redis, one `Limiter` *per app*, kept in
`app.extensions`. A module-level Limiter re-initialised for each app (the factory
is called many times in tests and by the CLI) keeps only the last app's storage
and stacks its hooks, which gave flaky 429s. Views are marked with `limited(...)`
at import time and each app's own Limiter wraps them when the app is built.

A client is counted by a keyed hash of its address (`client_key`), never the
address itself: the limiter's counters live in Redis, and the hotline keeps no IP
addresses. The web chat's per-client flood cap (`bot.incidents.caps`) counts the
same key, so both agree on who a client is. Behind reverse proxies, set
HOTLINE_PROXY_HOPS (`create_app` wraps the app in werkzeug's ProxyFix) so
`remote_addr` is the client, not the proxy; with 0, an `X-Forwarded-For` header
is ignored (a script cannot choose its own client).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import redis
from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import parse_many

from . import store

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Everything comes from this origin: no CDN, no analytics, no map tiles from elsewhere, no framing."""

HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Defaults for every response. HSTS: browsers ignore it over plain http (the demo), and two years is
what a hotline on https wants (an incident place must never travel in clear). `Cache-Control` is only
a default: static files keep Flask's own revalidation header."""


def secure_headers(response):
    """Fill in every security header the view did not set itself (the app's one after_request)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def csp_with_images_from(origin: str) -> str:
    """The CSP, also allowing images from one more origin (the network's own map tile server)."""
    return CSP.replace("img-src 'self'", f"img-src 'self' {origin}", 1)


# ---- rate limits ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limit:
    """One limit a view declares; each app's Limiter applies it."""

    value: str | Callable[[], str]
    key: Callable[[], str]
    methods: tuple[str, ...] | None = None
    deduct_when: Callable | None = None


LIMITS_ATTR = "_hotline_limits"


def limited(value: str | Callable[[], str], *, key: Callable[[], str], methods=None, deduct_when=None):
    """Mark a view with a rate limit (Flask-Limiter syntax, like "5 per minute", or a callable returning it)."""

    def mark(view):
        limits = getattr(view, LIMITS_ATTR, ())
        setattr(view, LIMITS_ATTR, (*limits, Limit(value, key, tuple(methods) if methods else None, deduct_when)))
        return view

    return mark


def take(value: str, scope: str, key: str) -> float | None:
    """Count one event of `scope` for `key` against `value` (Flask-Limiter syntax) on this app's Limiter's
    own storage and strategy; None when within it, else the seconds until it allows another.

    For a limit on an event that is not a whole request (a new web chat, whichever view mints it): a view
    decorator would count every request of the view. Fails open like the declared limits when Redis is down.
    """
    own = limiter()
    try:
        for item in parse_many(value):
            identifiers = (store.login_limit_prefix(), scope, key)
            if not own.limiter.hit(item, *identifiers):
                reset = own.limiter.get_window_stats(item, *identifiers).reset_time
                return max(1.0, reset - time.time())
    except redis.RedisError:
        return None  # a counter must never cost a report
    return None


def client_key() -> str:
    """The client, as a keyed hash of its address (an IPv6 client by its /64, which one host usually holds)."""
    address = request.remote_addr or "?"
    try:
        ip = ipaddress.ip_address(address)
        if ip.version == 6:
            address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    except ValueError:
        pass
    secret = current_app.config["SECRET_KEY"]
    return hmac.new(secret.encode(), b"client:" + address.encode(), hashlib.sha256).hexdigest()[:20]


def limiter(app: Flask | None = None) -> Limiter:
    """This app's own Limiter."""
    return (app or current_app).extensions["hotline_limiter"]


def init_app(app: Flask) -> Limiter:
    """Give the app its own Limiter on the hotline's Redis and apply every limit its views declared.

    Call after every blueprint is registered. Limits fail open when Redis is down
    (`RATELIMIT_SWALLOW_ERRORS`): a report must never be lost to a counter.
    """
    rt = app.extensions["hotline"]
    app.config.update(RATELIMIT_HEADERS_ENABLED=True, RATELIMIT_SWALLOW_ERRORS=True)
    if rt.redis_url:
        app.config["RATELIMIT_STORAGE_URI"] = rt.redis_url
    else:  # the embedded server: found (or started) on the first limited request, not when a CLI command builds the app
        app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1"
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {
            "connection_pool": redis.ConnectionPool(connection_class=_EmbeddedConnection, runtime=rt)
        }
    own = Limiter(key_func=client_key, default_limits=[], key_prefix=store.login_limit_prefix())
    own.init_app(app)
    app.extensions["hotline_limiter"] = own
    for endpoint, view in list(app.view_functions.items()):
        wrapped = view
        for limit in reversed(getattr(view, LIMITS_ATTR, ())):
            methods = list(limit.methods) if limit.methods else None
            decorate = own.limit(limit.value, key_func=limit.key, methods=methods, deduct_when=limit.deduct_when)
            wrapped = decorate(wrapped)
        app.view_functions[endpoint] = wrapped
    return own


class _EmbeddedConnection(redis.Connection):
    """A connection to the runtime's embedded Redis, whose port is only known once it runs.

    Building the app must not start a server (`hotline flows check` builds one);
    redis-py makes connections on the first command, so the port is looked up then.
    """

    def __init__(self, runtime, **kwargs):
        url = urlparse(runtime.url)
        super().__init__(host=url.hostname, port=url.port, db=int(url.path.strip("/") or 0), **kwargs)
