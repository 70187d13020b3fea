"""The Flask extensions the console uses, built once and bound to each app.

The login rate limit is not here: every app gets its own Limiter (`bot/guard.py`).

Flask-WTF's CSRF check is switched off app-wide (`WTF_CSRF_CHECK_DEFAULT`) and
called by the console's own `before_request`: Twilio's webhooks and the web chat
are not forms a browser session submits, and must not need a token.
"""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Configure cookies, CSRF and sessions for one app."""
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
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "dashboard.login"
