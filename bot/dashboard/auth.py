"""Logging in and out of the console, and who the current coordinator is.

A session is the pair (account name, random token) in Flask's signed cookie;
the token must also be live in Redis (`bot.coordinators`), so logging out,
expiry and `hotline coordinators remove` end a session even if the cookie is kept.

Login attempts are limited per client address *and* user name, counting only
failures, in a short window (`LOGIN_LIMITS`): an attacker guessing Maria's
password from their own address slows only themselves, and cannot lock Maria
out from her phone; a lockout from one address lasts at most a minute. A looser
per-address limit stops one address trying many names.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

from flask import redirect, render_template, request, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import audit, coordinators, guard
from . import bp, runtime
from .extensions import login_manager

LOGIN_LIMIT = "5 per minute"
"""Failed logins allowed per address and user name: a coordinator's typos fit, a guesser gets 7,200 a day."""

ADDRESS_LIMIT = "30 per 10 minutes"
"""Failed logins allowed per address over any names: stops one machine spraying a common password."""


class Coordinator(UserMixin):
    """The logged-in coordinator: name and role, plus the session token that proves it."""

    def __init__(self, name: str, role: str, token: str):
        self.name, self.role, self.token = name, role, token

    def get_id(self) -> str:
        return f"{self.name}:{self.token}"

    def may(self, what: str) -> bool:
        return coordinators.may(self.role, what)


@login_manager.user_loader
def load_coordinator(session_id: str) -> Coordinator | None:
    name, _, token = (session_id or "").partition(":")
    account = coordinators.session_account(runtime().r, name, token, time.time()) if token else None
    return Coordinator(account["name"], account["role"], token) if account else None


class LoginForm(FlaskForm):
    """The login form: `username`, `password` and Flask-WTF's hidden `csrf_token`."""

    username = StringField("Name", validators=[DataRequired(), Length(max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _login_key() -> str:
    return f"{guard.client_key()}|{coordinators.normalize(request.form.get('username', ''))[:40]}"


def _failed(response) -> bool:
    return response.status_code == 401


def _safe_next(target: str | None) -> str:
    """Only follow a `next` that stays inside the console (no open redirect)."""
    if target and target.startswith("/dashboard") and not urlparse(target).netloc and "\\" not in target:
        return target
    return url_for("dashboard.index")


@bp.route("/dashboard/login", methods=["GET", "POST"])
@guard.limited(LOGIN_LIMIT, key=_login_key, methods=["POST"], deduct_when=_failed)
@guard.limited(ADDRESS_LIMIT, key=guard.client_key, methods=["POST"], deduct_when=_failed)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        r = runtime().r
        account = coordinators.check_password(r, form.username.data, form.password.data)
        if account:
            now = time.time()
            token = coordinators.start_session(r, account["name"], now)
            login_user(Coordinator(account["name"], account["role"], token))
            audit.record(r, "login", account["name"], now)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong name or password."
    elif request.method == "POST":
        error = "Enter your name and password."
    status = 401 if request.method == "POST" else 200
    return render_template("dashboard_login.html", form=form, error=error), status


@bp.post("/dashboard/logout")
def logout():
    user = current_user
    r = runtime().r
    coordinators.end_session(r, user.name, user.token)
    audit.record(r, "logout", user.name, time.time())
    logout_user()
    return redirect(url_for("dashboard.login"))
