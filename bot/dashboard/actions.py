"""The console's state-changing API: incident actions, the roster, the queue (CSRF-checked in `__init__`).

`POST /dashboard/api/incidents/REF/actions` with JSON `{"action": A, ...}`
runs one `bot.dispatch.lifecycle` action as the logged-in coordinator and
answers with the updated incident (200), or 400/403/404/409 with `error` and `code` (`refusals`).
"""

from __future__ import annotations

import time

from flask import jsonify, request
from flask_login import current_user

from .. import incidents
from ..dispatch import board, lifecycle, roster
from ..errors import NoSuchIncident
from . import bp, runtime
from .api import lang, refuse, refuse_error, resolve


def _body() -> dict | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _params(action: str, body: dict) -> dict | tuple:
    """Turn the console's JSON into lifecycle parameters, or a refusal's (code, params)."""
    params = {k: body[k] for k in ("note", "text", "preview") if k in body}
    if action == "dispatch":
        names = body.get("observers")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            return "dispatch_needs_observers", {}
        ids = []
        for name in names:
            observer_id = board.find_observer(runtime(), name)
            if observer_id is None:
                return "unknown_observer", {"name": name[:80]}
            ids.append(observer_id)
        params["observer_ids"] = ids
    if action == "merge":
        into = resolve(str(body.get("into") or ""))
        if into is None:
            return "merge_needs_into", {}
        params["into_id"] = into
    if action == "note" and not str(body.get("text") or "").strip():
        return "note_needs_text", {}
    return params


@bp.post("/dashboard/api/incidents/<ref>/actions")
def api_incident_action(ref: str):
    if not current_user.may("incidents"):
        return refuse(403, "role_incidents")
    incident_id = resolve(ref)
    if incident_id is None:
        return refuse(404, "no_such_incident")
    body = _body()
    if body is None:
        return refuse(400, "bad_request")
    action = body.get("action")
    if not isinstance(action, str) or action not in lifecycle.ACTIONS:
        return refuse(400, "unknown_action", actions=lifecycle.ACTIONS)
    params = _params(action, body)
    if isinstance(params, tuple):
        return refuse(400, params[0], **params[1])
    rt = runtime()
    try:
        result = lifecycle.apply(rt, incident_id, action, current_user.name, params)
        incident = board.detail(rt, incident_id, time.time(), lang())
    except (lifecycle.BadAction, incidents.BadTransition) as exc:
        return refuse_error(exc)
    except NoSuchIncident:
        return refuse(404, "no_such_incident")
    return jsonify({**incident, "result": result})


@bp.post("/dashboard/api/observers/<who>/actions")
def api_observer_action(who: str):
    """Roster changes (admin): `{"action": "on"|"off"|"clear_unreachable"|"remove"}` for an observer by name or id."""
    if not current_user.may("roster"):
        return refuse(403, "role_roster")
    rt = runtime()
    observer_id = board.find_observer(rt, who)
    if observer_id is None:
        return refuse(404, "no_such_observer")
    body = _body()
    if body is None:
        return refuse(400, "bad_request")
    if not isinstance(body.get("action"), str) or body["action"] not in roster.ACTIONS:
        return refuse(400, "unknown_action", actions=roster.ACTIONS)
    try:
        result = roster.apply(rt, observer_id, body["action"], current_user.name, time.time())
    except lifecycle.BadAction as exc:
        return refuse_error(exc)
    return jsonify(result)
