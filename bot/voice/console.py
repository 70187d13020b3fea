"""The board's calls panel: live and missed calls, and an incident from a call by the dispatcher who took it.

`GET /dashboard/api/calls` lists the calls a dispatcher may act on (ringing,
taken, missed) by language, state and who took it, never a number; the
dispatcher who took a call (and only they) can unseal the caller's number with
`POST /dashboard/api/calls/SID/number`, audited like a call-back's.
`POST /dashboard/api/calls/SID/incident` (`place`, `activity`) runs the same
`report.submit` action a texted report does, with the channel `call`, so it
merges, dispatches and is retained like any report.

Its own small blueprint behind the console's login, CSRF check and headers
(`bot.dashboard`); the board includes `console_calls.html` and
`static/console-calls.js` draws it.
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .. import audit, dashboard, i18n, incidents, reports
from ..actions import ActionCall
from ..conversation.context import make_context
from ..conversation.inputs import Answer, Parsed, location
from ..conversation.registry import for_folder
from ..dashboard import refusals
from . import calls

bp = Blueprint("voice_console", __name__)
bp.before_request(dashboard.require_login)
bp.after_request(dashboard.secure)
bp.register_error_handler(CSRFError, dashboard.csrf_refused)
bp.register_error_handler(HTTPException, dashboard.http_refused)


def register(app) -> None:
    """Add the panel's routes (the console must be registered first: its login guards them)."""
    if "dashboard" in app.blueprints:
        app.register_blueprint(bp)


def _rt():
    return dashboard.runtime()


def _shown(rt, call: dict, me: str) -> dict:
    taken_by = call.get("taken_by", "")
    out = {
        "sid": call["sid"],
        "state": call.get("state", ""),
        "language": call.get("lang", "en"),
        "language_name": i18n.language_name(call.get("lang", "en")),
        "taken_by": taken_by,
        "started_at": float(call.get("started_at") or 0),
        "ended_at": float(call.get("ended_at") or 0) or None,
        "dialed": len(call.get("dialed") or []),
        "legs": call.get("legs") or {},
        "texted": call.get("texted") == "1",
        "incident_ref": call.get("incident_ref", ""),
        "mine": bool(taken_by) and taken_by == me,
    }
    return out


@bp.get("/dashboard/api/calls")
def api_calls():
    rt = _rt()
    now = time.time()
    me = current_user.name
    return jsonify([_shown(rt, c, me) for c in calls.recent(rt.r, now)])


def _mine(rt, sid: str):
    """The call if the logged-in dispatcher took it, else the error response."""
    call = calls.get(rt.r, sid)
    if call is None:
        return None, refusals.refuse(404, "no_such_call")
    if not call.get("taken_by") or call.get("taken_by") != current_user.name:
        return None, refusals.refuse(403, "call_not_yours")
    return call, None


@bp.post("/dashboard/api/calls/<sid>/number")
def call_number(sid: str):
    """The caller's number, for the dispatcher who took the call only (audited; never in the list)."""
    rt = _rt()
    call, refused = _mine(rt, sid)
    if refused:
        return refused
    audit.record(rt.r, "call_number_unsealed", current_user.name, time.time(), call=sid[-6:])
    return jsonify(number=(calls.caller_number(rt.r, rt.settings.secret, sid) or "").removeprefix("whatsapp:"))


@bp.post("/dashboard/api/calls/<sid>/incident")
def incident_from_call(sid: str):
    rt = _rt()
    if not current_user.may("incidents"):
        return refusals.refuse(403, "role_create")
    call, refused = _mine(rt, sid)
    if refused:
        return refused
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return refusals.refuse(400, "bad_request")
    place = str(body.get("place") or "").strip()[:300]
    activity = str(body.get("activity") or "other")
    if not place or activity not in incidents.KINDS:
        return refusals.refuse(400, "call_needs_place", kinds=incidents.KINDS)
    settings, now = rt.settings, time.time()
    where = _place(settings, place, call.get("lang", "en"), now)
    action = ActionCall(
        name="report.submit",
        contact_id=call["contact_id"],
        e164=calls.caller_number(rt.r, settings.secret, sid) or "",
        answers={"activity": activity, "where": where},
        language=call.get("lang", "en"),
        channel="call",
        now=now,
    )
    result = reports.submit(rt, action)
    calls.update(rt.r, sid, now, incident_ref=result["ref"])
    if result.get("incident_id"):
        incidents.add_event(rt.r, result["incident_id"], "from_call", now, by=current_user.name)
    return jsonify(ref=result["ref"], incident_id=result.get("incident_id", ""), placed="lat" in where)


def _place(settings, words: str, lang: str, now: float) -> dict:
    """Place the dispatcher's words as the sighting flow places a texter's (an unplaced report keeps the words)."""
    reg = for_folder(settings.flows_dir, settings.locales_dir)
    ctx = make_context(settings, reg, now)
    found = location(Answer(words, now, lang, None, None, (), ctx.region, ctx.bounds, ctx.places))
    if isinstance(found, Parsed) and isinstance(found.value, dict):
        return found.value
    return {"raw": words}
