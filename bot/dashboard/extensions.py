"""The Flask extensions the console uses, built once and bound to each app.

Flask-WTF's CSRF check is switched off app-wide (`WTF_CSRF_CHECK_DEFAULT`) and
called by the console's own `before_request`: Twilio's webhooks and the web chat
are not forms a browser session submits, and must not need a token.
"""

from __future__ import annotations

from urllib.parse import urlparse

import redis
from flask import Flask
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from .. import store

login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=lambda: "unused", default_limits=[], key_prefix=store.login_limit_prefix())
"""Only the login form is limited (see `auth.LOGIN_LIMITS`); the key function is per limit."""


def init_app(app: Flask) -> None:
    """Configure cookies, CSRF, sessions and the login limit for one app."""
    rt = app.extensions["hotline"]
    https = (rt.settings.public_url or "").startswith("https://")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=https,
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the login (auth's session TTL), not one hour
        RATELIMIT_HEADERS_ENABLED=True,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "dashboard.login"
    if rt.redis_url:
        app.config["RATELIMIT_STORAGE_URI"] = rt.redis_url
    else:  # the embedded server: found (or started) on the first login, not when a CLI command builds the app
        app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1"
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {
            "connection_pool": redis.ConnectionPool(connection_class=_EmbeddedConnection, runtime=rt)
        }
    limiter.init_app(app)


class _EmbeddedConnection(redis.Connection):
    """A connection to the runtime's embedded Redis, whose port is only known once it runs.

    Building the app must not start a server (`hotline flows check` builds one);
    redis-py makes connections on the first command, so the port is looked up then.
    """

    def __init__(self, runtime, **kwargs):
        url = urlparse(runtime.url)
        super().__init__(host=url.hostname, port=url.port, db=int(url.path.strip("/") or 0), **kwargs)
